"""Wrong answers to notebook 02's exercises: each must score zero on its exercise (tests/test_assignments.py)."""

INVARIANT = '''
def invariant_elements(phi, x, group):
    """The sorted elements g of ``group`` with phi(ρ(g)x) = phi(x) up to rounding, measured on ``x``."""
    with torch.no_grad():
        y = phi(x)
        return [g for g in {elements} if {test}]
'''

SHIFT = '''
def shift_invariant_predict(model, images):
    """model's predicted class of each digit, unchanged when the digit is shifted inside the image."""
{body}
'''

# the centre of mass of each digit, as the solution computes it; {rows}/{cols} pick the axes, {sign} the direction
CENTRED = '''\
    mass = images.sum(dim=(1, 2, 3))
    index = torch.arange(images.shape[-1], dtype=images.dtype)
    centre_row = (images.sum(dim={rows}) * index).sum(dim=1) / mass
    centre_col = (images.sum(dim={cols}) * index).sum(dim=1) / mass
    dy = torch.round({sign}(13.5 - centre_row)).long().tolist()
    dx = torch.round({sign}(13.5 - centre_col)).long().tolist()
    centred = torch.stack([torch.roll(image, (a, b), dims=(-2, -1)) for image, a, b in zip(images, dy, dx)])
    with torch.no_grad():
        return model(centred).argmax(dim=1)'''

GUESS = '''
def guess_rotation(model, images):
    """For each image, the k in 0..3 such that undoing r^k makes ``model`` most confident."""
{body}
'''

ALL = "group.elements"
RELATIVE = "((phi(group.act_on_image(g, x)) - y).norm() / y.norm()).item() < {tol}"

WRONG = {
    1: [
        ("exact equality: rounding counts as a difference", INVARIANT.format(
            elements=ALL, test="torch.equal(phi(group.act_on_image(g, x)), y)")),
        ("a fixed absolute tolerance (depends on the scale)", INVARIANT.format(
            elements=ALL, test="(phi(group.act_on_image(g, x)) - y).abs().max().item() < 1e-4")),
        ("a relative tolerance below float32 rounding", INVARIANT.format(elements=ALL, test=RELATIVE.format(tol=1e-9))),
        ("only the rotations checked (mirrors skipped)", INVARIANT.format(
            elements="group.elements[:4]", test=RELATIVE.format(tol=1e-4))),
        ("the identity left out", INVARIANT.format(
            elements="group.elements[1:]", test=RELATIVE.format(tol=1e-4))),
    ],
    2: [
        ("the plain network: not shift-invariant", SHIFT.format(body='''\
    with torch.no_grad():
        return model(images).argmax(dim=1)''')),
        ("shifted the wrong way (away from the centre)", SHIFT.format(
            body=CENTRED.format(rows="(1, 3)", cols="(1, 2)", sign="-"))),
        ("rows and columns swapped (transposed axes)", SHIFT.format(
            body=CENTRED.format(rows="(1, 2)", cols="(1, 3)", sign=""))),
        ("centred on the brightest pixel (invariant, but inaccurate)", SHIFT.format(body='''\
    first = images.flatten(1).argmax(dim=1).tolist()
    centred = torch.stack([torch.roll(image, (14 - i // 28, 14 - i % 28), dims=(-2, -1))
                           for image, i in zip(images, first)])
    with torch.no_grad():
        return model(centred).argmax(dim=1)''')),
    ],
    3: [
        ("wrong direction: returns the rotation that undoes it", GUESS.format(body='''\
    with torch.no_grad():
        conf = torch.stack([torch.softmax(model(torch.rot90(images, k, dims=(-2, -1))), 1).amax(1)
                            for k in range(4)], 1)
    return conf.argmax(1)''')),
        ("least confident instead of most", GUESS.format(body='''\
    with torch.no_grad():
        conf = torch.stack([torch.softmax(model(torch.rot90(images, -k, dims=(-2, -1))), 1).amax(1)
                            for k in range(4)], 1)
    return conf.argmin(1)''')),
        ("off by one: k = 3 never tried", GUESS.format(body='''\
    with torch.no_grad():
        conf = torch.stack([torch.softmax(model(torch.rot90(images, -k, dims=(-2, -1))), 1).amax(1)
                            for k in range(3)], 1)
    return conf.argmax(1)''')),
        ("softmax over the batch axis (transposed axes)", GUESS.format(body='''\
    with torch.no_grad():
        conf = torch.stack([torch.softmax(model(torch.rot90(images, -k, dims=(-2, -1))), 0).amax(1)
                            for k in range(4)], 1)
    return conf.argmax(1)''')),
    ],
}
