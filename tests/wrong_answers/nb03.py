"""Wrong answers to notebook 03's exercises: each must score zero on its exercise (tests/test_assignments.py)."""

FLIP = '''
def copies_of_flipped(stack):
    "C4.orbit(flip(x)) from stack = C4.orbit(x), using only indexing and torch.flip."
{body}
'''

SHIFT = '''
def find_cyclic_shift(before, after, tol=1e-5):
    "The s with after[j] == before[(j + s) % G] for all j; ValueError if there is none."
{body}
'''

LIFT = '''
def lifted_from_copies(copies):
    "The lifted map lift[g] = x ⋆ r^g·w from the copies copy[j] = (r^j·x) ⋆ w."
{body}
'''

WRONG = {
    1: [
        ("forbidden shortcut: recompute the orbit", FLIP.format(body='''\
    return C4.orbit(torch.flip(stack[:, :, 0], dims=(-1,)))''')),
        ("shifted like a rotation instead of reversed", FLIP.format(body='''\
    return torch.flip(torch.roll(stack, 1, dims=2), dims=(-1,))''')),
        ("reversed but not mirrored", FLIP.format(body='''\
    return stack[:, :, [0, 3, 2, 1]]''')),
        ("up-down mirror (transposed axes)", FLIP.format(body='''\
    return torch.flip(stack[:, :, [0, 3, 2, 1]], dims=(-2,))''')),
        ("every copy mirrored in place", FLIP.format(body='''\
    return torch.flip(stack, dims=(-1,))''')),
    ],
    2: [
        ("forbidden shortcut cyclic_shift_errors", SHIFT.format(body='''\
    errors = cyclic_shift_errors(before, after)
    s = min(errors, key=errors.get)
    if errors[s] >= tol:
        raise ValueError("no shift")
    return s''')),
        ("rolled the wrong way", SHIFT.format(body='''\
    for s in range(before.shape[0]):
        if (after - torch.roll(before, s, dims=0)).abs().max() < tol:
            return s
    raise ValueError("no shift")''')),
        ("off by one: the last shift never tried", SHIFT.format(body='''\
    for s in range(before.shape[0] - 1):
        if (after - torch.roll(before, -s, dims=0)).abs().max() < tol:
            return s
    raise ValueError("no shift")''')),
        ("the best shift even when none matches", SHIFT.format(body='''\
    errors = [(after - torch.roll(before, -s, dims=0)).abs().max().item() for s in range(before.shape[0])]
    return errors.index(min(errors))''')),
        ("at or below tol instead of below", SHIFT.format(body='''\
    for s in range(before.shape[0]):
        if (after - torch.roll(before, -s, dims=0)).abs().max() <= tol:
            return s
    raise ValueError("no cyclic shift of the copies maps before onto after")''')),
    ],
    3: [
        ("turned the wrong way", LIFT.format(body='''\
    return torch.stack([torch.rot90(copies[:, :, (-g) % 4], -g, dims=(-2, -1)) for g in range(4)], dim=2)''')),
        ("copy g instead of copy -g", LIFT.format(body='''\
    return torch.stack([torch.rot90(copies[:, :, g], g, dims=(-2, -1)) for g in range(4)], dim=2)''')),
        ("only relabelled, no turn", LIFT.format(body='''\
    return copies[:, :, [0, 3, 2, 1]]''')),
        ("the copies as they are", LIFT.format(body='''\
    return copies''')),
    ],
}
