"""Wrong answers to notebook 07's exercises: each must score zero on its exercise (tests/test_assignments.py)."""

TURNED = '''
def turned_conv_error(x, w, degrees):
    "Relative error of conv(turned x, turned w) against turned conv(x, w), inside the disc."
{body}
'''

EXACT = '''
def exact_elements(n):
    "The elements k of C_n whose rotation is a multiple of 90 degrees."
{body}
'''

PAIR = '''
def rotate_pair(a, b, m, degrees):
    "The coefficients of a cos(m alpha) + b sin(m alpha) turned by degrees."
{body}
'''

PARAMS = '''
def steerable_parameters(c_in, c_out, n, k):
    "Trainable parameters of a C_n steerable group convolution c_in -> c_out with k x k kernels."
{body}
'''

WRONG = {
    1: [
        ("kernel not turned", TURNED.format(body='''\
    pad = w.shape[-1] // 2
    out = F.conv2d(rotate_by_angle(x, degrees), w, padding=pad)
    return relative_error(out, rotate_by_angle(F.conv2d(x, w, padding=pad), degrees), disc_mask(x.shape[-1]))''')),
        ("kernel turned the other way", TURNED.format(body='''\
    pad = w.shape[-1] // 2
    out = F.conv2d(rotate_by_angle(x, degrees), rotate_by_angle(w, -degrees), padding=pad)
    return relative_error(out, rotate_by_angle(F.conv2d(x, w, padding=pad), degrees), disc_mask(x.shape[-1]))''')),
        ("whole image instead of the disc (lost corners counted)", TURNED.format(body='''\
    pad = w.shape[-1] // 2
    out = F.conv2d(rotate_by_angle(x, degrees), rotate_by_angle(w, degrees), padding=pad)
    return relative_error(out, rotate_by_angle(F.conv2d(x, w, padding=pad), degrees))''')),
        ("largest absolute deviation instead of the relative error", TURNED.format(body='''\
    pad = w.shape[-1] // 2
    out = F.conv2d(rotate_by_angle(x, degrees), rotate_by_angle(w, degrees), padding=pad)
    target = rotate_by_angle(F.conv2d(x, w, padding=pad), degrees)
    return ((out - target) * disc_mask(x.shape[-1])).abs().max().item()''')),
    ],
    2: [
        ("the four quarter elements, whatever n", EXACT.format(body='''\
    return [0, n // 4, n // 2, 3 * n // 4]''')),
        ("every fourth element", EXACT.format(body='''\
    return [k for k in range(n) if k % 4 == 0]''')),
        ("n k divisible by 4 instead of 4 k divisible by n", EXACT.format(body='''\
    return [k for k in range(n) if (n * k) % 4 == 0]''')),
        ("steps of n / 4 from 1", EXACT.format(body='''\
    return list(range(0, n, max(1, n // 4)))''')),
    ],
    3: [
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
    4: [
        ("bias forgotten", PARAMS.format(body='''\
    return c_out * c_in * n * len(SteerableBasis(k))''')),
        ("group axis of the input forgotten", PARAMS.format(body='''\
    return c_out * c_in * len(SteerableBasis(k)) + c_out''')),
        ("pixels counted instead of basis functions", PARAMS.format(body='''\
    return c_out * c_in * n * k * k + c_out''')),
        ("one bias per output map (channel and group element)", PARAMS.format(body='''\
    return c_out * c_in * n * len(SteerableBasis(k)) + c_out * n''')),
        ("forbidden shortcut: build the layer and count", PARAMS.format(body='''\
    return count_parameters(SteerableGroupConv2d(c_in, c_out, k, group=CyclicGroup(n)))''')),
        ("forbidden shortcut: count the layer's tensors by hand", PARAMS.format(body='''\
    layer = SteerableGroupConv2d(c_in, c_out, k, group=CyclicGroup(n))
    return sum(p.numel() for p in layer.parameters())''')),
    ],
}
