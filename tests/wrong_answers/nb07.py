"""Wrong answers to notebook 07's exercises: each must score zero on its exercise (tests/test_assignments.py)."""

KEPT = '''
def kept_mass(k, degrees):
    "(k, k): for each pixel, the sum of the k x k kernel that is one there, turned by degrees."
    c = (k - 1) / 2
    t = math.radians(degrees)
    steps = torch.arange(k, dtype=torch.float64)
    rows, cols = torch.meshgrid(steps, steps, indexing="ij")
    x, y = cols - c, c - rows
{body}
'''

BILINEAR_SUM = '''\
    kept = torch.zeros(k, k, dtype=torch.float64)
    for i in range(k):
        for j in range(k):
            weight_x = (1 - (read_x - (j - c)).abs()).clamp(min=0)
            weight_y = (1 - (read_y - (c - i)).abs()).clamp(min=0)
            kept[i, j] = (weight_x * weight_y).sum()
    return kept'''

PAIR = '''
def rotate_pair(a, b, m, degrees):
    "The coefficients of a cos(m alpha) + b sin(m alpha) turned by degrees."
{body}
'''

BANK = '''
def steerable_bank(basis, group):
    "(G, J, k, k): every function of basis turned by each element of group, on the grid."
    k = basis.kernel_size
    c = (k - 1) / 2
    steps = torch.arange(k, dtype=torch.float64)
    rows, cols = torch.meshgrid(steps, steps, indexing="ij")
    x0, y0 = cols - c, c - rows
    bank = []
    for g in group.elements:
        t = math.radians(group.degrees(g))
{read}
        rho, alpha = torch.sqrt(x * x + y * y), torch.atan2(y, x)
        functions = []
        for r, m, kind in basis.functions:
            ring = torch.exp(-((rho - r) ** 2) / (2 * basis.sigmas[r] ** 2))
            wave = torch.cos(m * alpha) if kind == "cos" else torch.sin(m * alpha)
            functions.append(ring * (wave * (rho > 1e-9) if m else 1.0))
        functions = torch.stack(functions)
{normalise}
    return torch.stack(bank).float()
'''
READ_BACK = "        x, y = math.cos(t) * x0 + math.sin(t) * y0, -math.sin(t) * x0 + math.cos(t) * y0"
READ_FORWARD = "        x, y = math.cos(t) * x0 - math.sin(t) * y0, math.sin(t) * x0 + math.cos(t) * y0"

WRONG = {
    1: [
        ("reads at the centre turned forward (the turn the other way)", KEPT.format(body='''\
    read_x, read_y = math.cos(t) * x - math.sin(t) * y, math.sin(t) * x + math.cos(t) * y
''' + BILINEAR_SUM)),
        ("forward mapping: a pixel is kept whole if its turned centre stays in the square", KEPT.format(body='''\
    to_x, to_y = math.cos(t) * x - math.sin(t) * y, math.sin(t) * x + math.cos(t) * y
    return ((to_x.abs() <= c + 0.5) & (to_y.abs() <= c + 0.5)).float()''')),
        ("nearest pixel instead of bilinear weights", KEPT.format(body='''\
    read_x, read_y = math.cos(t) * x + math.sin(t) * y, -math.sin(t) * x + math.cos(t) * y
    kept = torch.zeros(k, k, dtype=torch.float64)
    for i in range(k):
        for j in range(k):
            kept[i, j] = ((read_x - (j - c)).abs().le(0.5) & (read_y - (c - i)).abs().le(0.5)).sum()
    return kept''')),
        ("no zeros outside: reads clamped into the square", KEPT.format(body='''\
    read_x, read_y = math.cos(t) * x + math.sin(t) * y, -math.sin(t) * x + math.cos(t) * y
    read_x, read_y = read_x.clamp(-c, c), read_y.clamp(-c, c)
''' + BILINEAR_SUM)),
        ("forbidden shortcut: turn the one-pixel kernels", KEPT.format(body='''\
    one_pixel = torch.eye(k * k).reshape(k * k, 1, k, k)
    return rotate_by_angle(one_pixel, degrees).sum(dim=(1, 2, 3)).reshape(k, k)''')),
    ],
    2: [
        ("frequency forgotten: every pair turned by the angle itself", PAIR.format(body='''\
    t = math.radians(degrees)
    return a * math.cos(t) - b * math.sin(t), a * math.sin(t) + b * math.cos(t)''')),
        ("turned clockwise", PAIR.format(body='''\
    t = math.radians(degrees) * m
    return a * math.cos(t) + b * math.sin(t), -a * math.sin(t) + b * math.cos(t)''')),
        ("degrees used as radians", PAIR.format(body='''\
    t = degrees * m
    return a * math.cos(t) - b * math.sin(t), a * math.sin(t) + b * math.cos(t)''')),
        ("cos and sin coefficients swapped", PAIR.format(body='''\
    t = math.radians(degrees) * m
    return a * math.sin(t) + b * math.cos(t), a * math.cos(t) - b * math.sin(t)''')),
    ],
    3: [
        ("the almost-bank unchanged: each turned function to norm one", BANK.format(read=READ_BACK, normalise='''\
        bank.append(functions / functions.flatten(1).norm(dim=1)[:, None, None])''')),
        ("each turned function to largest value one", BANK.format(read=READ_BACK, normalise='''\
        bank.append(functions / functions.flatten(1).abs().amax(dim=1)[:, None, None])''')),
        ("reads at the centre turned forward (the turn the other way)", BANK.format(read=READ_FORWARD, normalise='''\
        bank.append(functions)''')),
        ("pixels of the unturned sample interpolated", '''
def steerable_bank(basis, group):
    "(G, J, k, k): every function of basis turned by each element of group, on the grid."
    sample = almost_steerable_bank(basis, CyclicGroup(1))[0]  # the unturned functions, (J, k, k)
    return torch.stack([group.transform(g, sample[:, None])[:, 0] for g in group.elements])
'''),
        ("forbidden shortcut: the basis's own bank", '''
def steerable_bank(basis, group):
    "(G, J, k, k): every function of basis turned by each element of group, on the grid."
    return basis.for_group(group)
'''),
    ],
}
