"""Wrong answers to notebook 04's exercises: each must score zero on its exercise (tests/test_assignments.py)."""

LIFT = '''
def lift_by_rotating_kernels(x, conv3d):
    "conv3d(C4.orbit(x)), computed with one conv2d of x against all rotated kernels."
{body}
'''

BROKEN = '''
def find_broken_copy(features, x, tol=1e-4):
    "The index of the one copy that breaks the law of the copies, or None if all four keep it."
{body}
'''

EARLY = '''
def early_max(model, x, frame):
    "The EqCNN's first stage with the max over the group axis taken right after it: (B, 8, 13, 13)."
{body}


def predicted_behaviour():
    "Your prediction, made before running anything: {{frame: 'the same', 'turned by r' or 'neither'}}."
{prediction}
'''

EARLY_RIGHT = '''\
    copies = F.max_pool3d(F.silu(model.cl1(C4.orbit(x))), (1, 2, 2))
    if frame == "lifted":
        copies = torch.stack([torch.rot90(copies[:, :, (-g) % 4], g, dims=(-2, -1)) for g in range(4)], dim=2)
    return copies.amax(dim=2)'''
PREDICTED_RIGHT = '''\
    return {"copies": "the same", "lifted": "turned by r"}'''

WRONG = {
    1: [
        ("forbidden shortcut: call the layer on the orbit", LIFT.format(body='''\
    return conv3d(C4.orbit(x))''')),
        ("kernels turned the wrong way", LIFT.format(body='''\
    w = conv3d.weight[:, :, 0]
    c = w.shape[0]
    bank = torch.cat([torch.rot90(w, j, dims=(-2, -1)) for j in range(4)])
    out = F.conv2d(x, bank, conv3d.bias.repeat(4), padding=conv3d.padding[1:])
    return torch.stack([torch.rot90(out[:, j * c:(j + 1) * c], j, dims=(-2, -1)) for j in range(4)], dim=2)''')),
        ("output blocks not turned back", LIFT.format(body='''\
    w = conv3d.weight[:, :, 0]
    c = w.shape[0]
    bank = torch.cat([torch.rot90(w, -j, dims=(-2, -1)) for j in range(4)])
    out = F.conv2d(x, bank, conv3d.bias.repeat(4), padding=conv3d.padding[1:])
    return torch.stack([out[:, j * c:(j + 1) * c] for j in range(4)], dim=2)''')),
        ("bias in the wrong order (repeat_interleave)", LIFT.format(body='''\
    w = conv3d.weight[:, :, 0]
    c = w.shape[0]
    bank = torch.cat([torch.rot90(w, -j, dims=(-2, -1)) for j in range(4)])
    out = F.conv2d(x, bank, conv3d.bias.repeat_interleave(4), padding=conv3d.padding[1:])
    return torch.stack([torch.rot90(out[:, j * c:(j + 1) * c], j, dims=(-2, -1)) for j in range(4)], dim=2)''')),
    ],
    2: [
        ("first failing copy under one quarter turn", BROKEN.format(body='''\
    base, turned = features(x), features(torch.rot90(x, 1, dims=(-2, -1)))
    for j in range(4):
        if (turned[..., j] - base[..., (j + 1) % 4]).abs().max() >= tol:
            return j
    return None''')),
        ("each copy checked against copy 0 only (misses a broken copy 0)", BROKEN.format(body='''\
    base = features(x)
    for j in range(4):
        if (base[..., j] - features(torch.rot90(x, j, dims=(-2, -1)))[..., 0]).abs().max() >= tol:
            return j
    return None''')),
        ("copies rolled the wrong way", BROKEN.format(body='''\
    base = features(x)
    failing = []
    for k in (1, 2, 3):
        turned = features(torch.rot90(x, k, dims=(-2, -1)))
        for j in range(4):
            if (turned[..., j] - base[..., (j - k) % 4]).abs().max() >= tol:
                failing.append({j, (j - k) % 4})
    if not failing:
        return None
    common = set.intersection(*failing)
    return common.pop() if len(common) == 1 else 0''')),
        ("compared with the notebook's eq_cnn instead of the law", BROKEN.format(body='''\
    got, ref = features(x), eq_cnn.features(x)
    bad = [j for j in range(4) if (got[..., j] - ref[..., j]).abs().max() >= tol]
    return bad[0] if bad else None''')),
    ],
    3: [
        ("lifted frame = the copies as they are", EARLY.format(body='''\
    return F.max_pool3d(F.silu(model.cl1(C4.orbit(x))), (1, 2, 2)).amax(dim=2)''', prediction=PREDICTED_RIGHT)),
        ("lifted slices turned the wrong way", EARLY.format(body='''\
    copies = F.max_pool3d(F.silu(model.cl1(C4.orbit(x))), (1, 2, 2))
    if frame == "lifted":
        copies = torch.stack([torch.rot90(copies[:, :, (-g) % 4], -g, dims=(-2, -1)) for g in range(4)], dim=2)
    return copies.amax(dim=2)''', prediction=PREDICTED_RIGHT)),
        ("max over the channels instead of the group axis", EARLY.format(body='''\
    copies = F.max_pool3d(F.silu(model.cl1(C4.orbit(x))), (1, 2, 2))
    if frame == "lifted":
        copies = torch.stack([torch.rot90(copies[:, :, (-g) % 4], g, dims=(-2, -1)) for g in range(4)], dim=2)
    return copies.amax(dim=1)''', prediction=PREDICTED_RIGHT)),
        ("prediction swapped: the copy-frame maps turn, the lifted ones stay", EARLY.format(
            body=EARLY_RIGHT, prediction='''\
    return {"copies": "turned by r", "lifted": "the same"}''')),
        ("prediction: both frames give the same maps", EARLY.format(
            body=EARLY_RIGHT, prediction='''\
    return {"copies": "the same", "lifted": "the same"}''')),
    ],
}
