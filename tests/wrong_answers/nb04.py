"""Wrong answers to notebook 04's exercises: each must score zero on its exercise (tests/test_assignments.py)."""

LIFT = '''
def lift_by_rotating_kernels(x, conv3d):
    "conv3d(C4.orbit(x)), computed with one conv2d of x against all rotated kernels."
{body}
'''

D4INV = '''
def d4_invariant_logits(model, x):
    "Logits of the four-copy model made D4-invariant: max over the features of all eight D4 copies."
{body}
'''

MACS = '''
def copy_conv_macs(c_in, c_out, k, size, padding, copies):
    "MACs of a (1, k, k) Conv3d on `copies` copies of a size x size input (no bias)."
{body}
'''

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
        ("the EqCNN unchanged (rotations only)", D4INV.format(body='''\
    return model(x)''')),
        ("logits averaged over the mirror", D4INV.format(body='''\
    return (model(x) + model(torch.flip(x, dims=(-1,)))) / 2''')),
        ("mean over the eight copies instead of the max", D4INV.format(body='''\
    features = torch.cat([model.features(x), model.features(torch.flip(x, dims=(-1,)))], dim=2)
    return model.dense(features.mean(dim=2))''')),
        ("max over the four rotations only, mirror ignored", D4INV.format(body='''\
    features = torch.cat([model.features(x), model.features(x)], dim=2)
    return model.dense(features.amax(dim=2))''')),
    ],
    3: [
        ("copies forgotten (weights shared, work not)", MACS.format(body='''\
    out = size + 2 * padding - k + 1
    return c_out * c_in * k * k * out * out''')),
        ("output size taken as the input size", MACS.format(body='''\
    return copies * c_out * c_in * k * k * size * size''')),
        ("off by one in the output size", MACS.format(body='''\
    out = size + 2 * padding - k
    return copies * c_out * c_in * k * k * out * out''')),
        ("input channels forgotten", MACS.format(body='''\
    out = size + 2 * padding - k + 1
    return copies * c_out * k * k * out * out''')),
    ],
}
