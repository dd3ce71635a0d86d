"""Wrong answers to notebook 01's exercises: each must score zero on its exercise (tests/test_assignments.py)."""

NET_ROTATION = '''
def net_rotation(angles):
    """The element of C4 equal to rotating by each angle (degrees) in ``angles`` in turn."""
{body}
'''

CAYLEY = '''
def cayley_table_from_actions(actions, size=7):
    """Table [g, h] = index of the element acting like actions[g] after actions[h]."""
{body}
'''

CENTRE = '''
def centre(table):
    """The elements z with table[z, g] == table[g, z] for every g, as a sorted list of ints."""
{body}
'''

SYMMETRIZE_OK = '''
def symmetrize_kernel(weight):
    return torch.stack([torch.rot90(weight, k, dims=(-2, -1)) for k in range(4)]).mean(dim=0)
'''

ERROR_OK = '''
def rotation_equivariance_error(weight, x):
    pad = weight.shape[-1] // 2
    y = torch.nn.functional.conv2d(x, weight, padding=pad)
    return max(((torch.nn.functional.conv2d(torch.rot90(x, k, dims=(-2, -1)), weight, padding=pad)
                 - torch.rot90(y, k, dims=(-2, -1))).norm() / y.norm()).item() for k in (1, 2, 3))
'''

WRONG = {
    1: [
        ("negative angles taken as positive", NET_ROTATION.format(body='''\
    for a in angles:
        if a % 90:
            raise ValueError(a)
    return sum(abs(a) // 90 for a in angles) % 4''')),
        ("not reduced modulo 4 (off by a full turn)", NET_ROTATION.format(body='''\
    for a in angles:
        if a % 90:
            raise ValueError(a)
    return sum(a // 90 for a in angles)''')),
        ("a float from true division", NET_ROTATION.format(body='''\
    for a in angles:
        if a % 90:
            raise ValueError(a)
    return (sum(angles) / 90) % 4''')),
        ("no ValueError for 45 degrees", NET_ROTATION.format(body='''\
    return int(sum(a // 90 for a in angles) % 4)''')),
    ],
    2: [
        ("forbidden shortcut D4.cayley_table", CAYLEY.format(body='''\
    return D4.cayley_table()''')),
        ("transposed: first g, then h", CAYLEY.format(body='''\
    x = torch.rand(size, size)
    images = [a(x) for a in actions]
    n = len(actions)
    return torch.tensor([[next(e for e in range(n) if torch.equal(images[e], actions[h](images[g])))
                          for h in range(n)] for g in range(n)])''')),
        ("a symmetric test image (all ones)", CAYLEY.format(body='''\
    x = torch.ones(size, size)
    images = [a(x) for a in actions]
    n = len(actions)
    return torch.tensor([[next(e for e in range(n) if torch.equal(images[e], actions[g](images[h])))
                          for h in range(n)] for g in range(n)])''')),
        ("the table copied from the figure", CAYLEY.format(body='''\
    rows = [[(k1 + (-k2 if m1 else k2)) % 4 + 4 * (m1 ^ m2) for k2, m2 in [(h % 4, h // 4) for h in range(8)]]
            for k1, m1 in [(g % 4, g // 4) for g in range(8)]]
    return torch.tensor(rows)''')),
        ("reads the notebook's digit instead of making its own image", CAYLEY.format(body='''\
    x = digit[0]  # a notebook global: a digit has no symmetry, but the function ignores its own size
    images = [a(x) for a in actions]
    n = len(actions)
    return torch.tensor([[next(e for e in range(n) if torch.equal(images[e], actions[g](images[h])))
                          for h in range(n)] for g in range(n)])''')),
        ("off by one: the last element never found", CAYLEY.format(body='''\
    x = torch.rand(size, size)
    images = [a(x) for a in actions]
    n = len(actions)
    return torch.tensor([[next((e for e in range(n - 1) if torch.equal(images[e], actions[g](images[h]))), 0)
                          for h in range(n)] for g in range(n)])''')),
    ],
    3: [
        ("commutes with some element instead of all", CENTRE.format(body='''\
    n = table.shape[0]
    return [z for z in range(n) if any(table[z, g] == table[g, z] for g in range(n))]''')),
        ("only the rotations checked (g < 4)", CENTRE.format(body='''\
    n = table.shape[0]
    return [z for z in range(n) if all(table[z, g] == table[g, z] for g in range(min(n, 4)))]''')),
        ("the elements that are their own inverse", CENTRE.format(body='''\
    n = table.shape[0]
    return [z for z in range(n) if table[z, z] == 0]''')),
        ("the D4 answer hard-coded", CENTRE.format(body='''\
    n = table.shape[0]
    return [0, 2] if n == 8 else list(range(n))''')),
    ],
    4: [
        ("forbidden shortcut equivariance_error", '''
def rotation_equivariance_error(weight, x):
    conv = lambda t: torch.nn.functional.conv2d(t, weight, padding=weight.shape[-1] // 2)
    return max(equivariance_error(conv, x, C4, relative=True).values())
''' + SYMMETRIZE_OK),
        ("sum of the rotations, not their average", ERROR_OK + '''
def symmetrize_kernel(weight):
    return sum(torch.rot90(weight, k, dims=(-2, -1)) for k in range(4))
'''),
        ("invariance instead of equivariance (output not rotated)", '''
def rotation_equivariance_error(weight, x):
    pad = weight.shape[-1] // 2
    y = torch.nn.functional.conv2d(x, weight, padding=pad)
    return max(((torch.nn.functional.conv2d(torch.rot90(x, k, dims=(-2, -1)), weight, padding=pad) - y).norm()
                / y.norm()).item()
               for k in (1, 2, 3))
''' + SYMMETRIZE_OK),
        ("rotated over the channel axes (transposed axes)", ERROR_OK + '''
def symmetrize_kernel(weight):
    return torch.stack([torch.rot90(weight, k, dims=(0, 1)) for k in range(4)]).mean(dim=0)
'''),
        ("padding 1: keeps the size of 3x3 kernels only", '''
def rotation_equivariance_error(weight, x):
    y = torch.nn.functional.conv2d(x, weight, padding=1)
    return max(((torch.nn.functional.conv2d(torch.rot90(x, k, dims=(-2, -1)), weight, padding=1)
                 - torch.rot90(y, k, dims=(-2, -1))).norm() / y.norm()).item() for k in (1, 2, 3))
''' + SYMMETRIZE_OK),
        ("the absolute error, not the relative one", '''
def rotation_equivariance_error(weight, x):
    pad = weight.shape[-1] // 2
    y = torch.nn.functional.conv2d(x, weight, padding=pad)
    return max((torch.nn.functional.conv2d(torch.rot90(x, k, dims=(-2, -1)), weight, padding=pad)
                - torch.rot90(y, k, dims=(-2, -1))).abs().max().item() for k in (1, 2, 3))
''' + SYMMETRIZE_OK),
        ("the relative error averaged per image, not over the batch", '''
def rotation_equivariance_error(weight, x):
    pad = weight.shape[-1] // 2
    y = torch.nn.functional.conv2d(x, weight, padding=pad)
    errs = []
    for k in (1, 2, 3):
        d = (torch.nn.functional.conv2d(torch.rot90(x, k, dims=(-2, -1)), weight, padding=pad)
             - torch.rot90(y, k, dims=(-2, -1)))
        errs.append((d.flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1)).mean().item())
    return max(errs)
''' + SYMMETRIZE_OK),
        ("only k = 1 measured (off by one)", '''
def rotation_equivariance_error(weight, x):
    pad = weight.shape[-1] // 2
    y = torch.nn.functional.conv2d(x, weight, padding=pad)
    return max(((torch.nn.functional.conv2d(torch.rot90(x, k, dims=(-2, -1)), weight, padding=pad)
                 - torch.rot90(y, k, dims=(-2, -1))).norm() / y.norm()).item() for k in (1,))
''' + SYMMETRIZE_OK),
    ],
}
