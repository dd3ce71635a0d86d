"""Wrong answers to notebook 02's exercises: each must score zero on its exercise (tests/test_assignments.py)."""

HURT = '''
def most_hurt_class(upright, rotated):
    """The class whose per-class accuracy falls most from ``upright`` to ``rotated``."""
{body}
'''

TILT = '''
def tolerated_angle(curve, threshold=90.0):
    """The largest a with curve >= threshold at every angle in [-a, a]; None if curve[0] < threshold."""
{body}
'''

GUESS = '''
def guess_rotation(model, images):
    """For each image, the k in 0..3 such that undoing r^k makes ``model`` most confident."""
{body}
'''

WRONG = {
    1: [
        ("counts instead of rates", HURT.format(body='''\
    return int((upright.diag() - rotated.diag()).argmax())''')),
        ("divided by the column sums (transposed axes)", HURT.format(body='''\
    upright, rotated = upright.double(), rotated.double()
    return int((upright.diag() / upright.sum(0) - rotated.diag() / rotated.sum(0)).argmax())''')),
        ("the lowest rotated accuracy, not the largest drop", HURT.format(body='''\
    rotated = rotated.double()
    return int((rotated.diag() / rotated.sum(1)).argmin())''')),
        ("off by one in the class index", HURT.format(body='''\
    upright, rotated = upright.double(), rotated.double()
    return int((upright.diag() / upright.sum(1) - rotated.diag() / rotated.sum(1)).argmax()) + 1''')),
    ],
    2: [
        ("negative angles ignored", TILT.format(body='''\
    best = None
    for a in sorted(angle for angle in curve if angle <= 180):
        if curve[a] < threshold:
            break
        best = a
    return best''')),
        ("the first failing angle (off by one step)", TILT.format(body='''\
    for a in sorted(angle for angle in curve if angle <= 180):
        if curve[a] < threshold or curve[360 - a] < threshold:
            return a
    return 180''')),
        ("strictly above the threshold", TILT.format(body='''\
    best = None
    for a in sorted(angle for angle in curve if angle <= 180):
        if curve[a] <= threshold or curve[360 - a] <= threshold:
            break
        best = a
    return best''')),
        ("0 instead of None when nothing passes", TILT.format(body='''\
    best = 0
    for a in sorted(angle for angle in curve if angle <= 180):
        if curve[a] < threshold or curve[360 - a] < threshold:
            break
        best = a
    return best''')),
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
