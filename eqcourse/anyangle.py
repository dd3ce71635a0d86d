"""Test inputs and grid geometry for C_N at any angle.

For C8 and C16 nothing is exact on pixels and the question becomes *how much*: measure it with
``equivariance_error(..., relative=True, mask="disc")`` (:mod:`eqcourse.equivariance`) on the
smooth random maps made here, and compare with how far a rotation moves the grid off itself.
"""

from __future__ import annotations

import math

import torch

from eqcourse.checks import check_positive_int


def smooth_noise(n: int, size: int, width: float = 1.5, seed: int = 0) -> torch.Tensor:
    """``(n, 1, size, size)`` random maps: white noise blurred by a Gaussian of ``width`` pixels.

    ``width=0`` gives the white noise itself: detail at the pixel scale, the worst case for
    any rotation on a grid.
    """
    check_positive_int(n, "n")
    check_positive_int(size, "size")
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, size, size, generator=generator)
    if width <= 0:
        return x
    half = math.ceil(3 * width)
    t = torch.arange(-half, half + 1, dtype=torch.float32)
    g = torch.exp(-(t**2) / (2 * width**2))
    g = g / g.sum()
    x = torch.nn.functional.conv2d(x, g.view(1, 1, 1, -1), padding=(0, half))
    x = torch.nn.functional.conv2d(x, g.view(1, 1, -1, 1), padding=(half, 0))
    return x / x.std()


def off_grid_distance(kernel_size: int, degrees: float) -> float:
    """The largest distance (in pixels) from a rotated pixel centre of a k x k grid to its nearest pixel centre.

    Zero exactly when the rotation maps the grid onto itself (multiples of 90 degrees).
    """
    check_positive_int(kernel_size, "kernel_size")
    c = (kernel_size - 1) / 2
    steps = torch.arange(kernel_size, dtype=torch.float64) - c
    y, x = torch.meshgrid(steps, steps, indexing="ij")
    t = math.radians(degrees)
    xr, yr = math.cos(t) * x - math.sin(t) * y, math.sin(t) * x + math.cos(t) * y
    # nearest pixel centre: round to the grid (offset by c so that centres sit on integers)
    dx, dy = xr + c - torch.round(xr + c), yr + c - torch.round(yr + c)
    return float(torch.sqrt(dx**2 + dy**2).max())
