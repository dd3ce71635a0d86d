"""Wrong answers to notebook 05's exercises: each must score zero on its exercise (tests/test_assignments.py)."""

BANK = '''
def d4_group_bank(weight):
    """(C_out, C_in, 8, k, k) -> (C_out * 8, C_in * 8, k, k) with [o*8 + g, i*8 + h] = g·w[o, i, g⁻¹∘h]."""
    c_out, c_in, n, k, _ = weight.shape
{body}
'''

FIRST_OK = '''

def first_broken(table, tol=1e-4):
    return next((name for name, error in table.items() if error > tol), None)
'''

TABLE = '''
def equivariance_table(model, x):
    """{{layer name: relative equivariance error of the output after that layer}}, in layer order."""
    def act(k, y):
{act}

    table = {{}}
    with torch.no_grad():
        outputs = [x] + [torch.rot90(x, k, dims=(-2, -1)) for k in (1, 2, 3)]
        for name, layer in model.named_children():
            outputs = [layer(y) for y in outputs]
            table[name] = max({error} for k in (1, 2, 3))
    return table
'''
RIGHT_ACT = '''\
        if y.dim() == 5:
            return torch.rot90(torch.roll(y, k, dims=2), k, dims=(-2, -1))
        if y.dim() == 4:
            return torch.rot90(y, k, dims=(-2, -1))
        return y'''
L2 = "((outputs[k] - act(k, outputs[0])).norm() / act(k, outputs[0]).norm()).item()"  # e_rel, the L2 ratio
TABLE_OK = TABLE.format(act=RIGHT_ACT, error=L2)

ACTION = '''
def p4_act_on_group_map(g, f):
    """The p4 element g = ((a, b), k) acting on a group feature map f (B, C, 4, H, W), shifts circular."""
    (a, b), k = g
{body}
'''

WRONG = {
    1: [
        ("forbidden shortcut group_bank", BANK.format(body='''\
    return group_bank(weight, D4)''')),
        ("h∘g⁻¹ instead of g⁻¹∘h", BANK.format(body='''\
    rows = [D4.act_on_image(g, weight[:, :, [D4.compose(h, D4.inverse(g)) for h in D4.elements]]) for g in D4.elements]
    return torch.stack(rows, dim=1).reshape(c_out * n, c_in * n, k, k)''')),
        ("g∘h: the inverse forgotten", BANK.format(body='''\
    rows = [D4.act_on_image(g, weight[:, :, [D4.compose(g, h) for h in D4.elements]]) for g in D4.elements]
    return torch.stack(rows, dim=1).reshape(c_out * n, c_in * n, k, k)''')),
        ("turned in space by g⁻¹", BANK.format(body='''\
    rows = [D4.act_on_image(D4.inverse(g), weight[:, :, [D4.compose(D4.inverse(g), h) for h in D4.elements]])
            for g in D4.elements]
    return torch.stack(rows, dim=1).reshape(c_out * n, c_in * n, k, k)''')),
        ("blocks transposed (g after the input channel)", BANK.format(body='''\
    rows = [D4.act_on_image(g, weight[:, :, [D4.compose(D4.inverse(g), h) for h in D4.elements]]) for g in D4.elements]
    return torch.stack(rows, dim=2).reshape(c_out * n, c_in * n, k, k)''')),
    ],
    2: [
        ("forbidden shortcut equivariance_error", '''
def equivariance_table(model, x):
    table, layers = {}, []
    for name, layer in model.named_children():
        layers.append(layer)
        prefix = torch.nn.Sequential(*layers)
        table[name] = max(equivariance_error(prefix, x, C4, relative=True).values())
    return table
''' + FIRST_OK),
        ("group maps turned in space only, no roll", TABLE.format(act='''\
        return torch.rot90(y, k, dims=(-2, -1)) if y.dim() >= 4 else y''', error=L2)
         + FIRST_OK),
        ("the group axis rolled the wrong way", TABLE.format(act='''\
        if y.dim() == 5:
            return torch.rot90(torch.roll(y, -k, dims=2), k, dims=(-2, -1))
        if y.dim() == 4:
            return torch.rot90(y, k, dims=(-2, -1))
        return y''', error=L2) + FIRST_OK),
        ("absolute instead of relative errors", TABLE.format(
            act=RIGHT_ACT, error="(outputs[k] - act(k, outputs[0])).abs().max().item()") + FIRST_OK),
        ("a max-abs ratio instead of the relative error e_rel (L2)", TABLE.format(
            act=RIGHT_ACT, error="(outputs[k] - act(k, outputs[0])).abs().max().item() / outputs[0].abs().max().item()")
         + FIRST_OK),
        ("first_broken: the last broken layer", TABLE_OK + '''

def first_broken(table, tol=1e-4):
    broken = [name for name, error in table.items() if error > tol]
    return broken[-1] if broken else None
'''),
    ],
    3: [
        ("forbidden shortcut C4.act_on_group_map", ACTION.format(body='''\
    return torch.roll(C4.act_on_group_map(k, f), (a, b), dims=(-2, -1))''')),
        ("shift first, then rotate (r^k t_v instead of t_v r^k)", ACTION.format(body='''\
    shifted = torch.roll(f, (a, b), dims=(-2, -1))
    return torch.rot90(torch.roll(shifted, k, dims=2), k, dims=(-2, -1))''')),
        ("the group axis rolled the wrong way", ACTION.format(body='''\
    rotated = torch.rot90(torch.roll(f, -k, dims=2), k, dims=(-2, -1))
    return torch.roll(rotated, (a, b), dims=(-2, -1))''')),
        ("space rotated, the group axis not rolled", ACTION.format(body='''\
    return torch.roll(torch.rot90(f, k, dims=(-2, -1)), (a, b), dims=(-2, -1))''')),
        ("shifted by -v (the inverse translation)", ACTION.format(body='''\
    rotated = torch.rot90(torch.roll(f, k, dims=2), k, dims=(-2, -1))
    return torch.roll(rotated, (-a, -b), dims=(-2, -1))''')),
    ],
}
