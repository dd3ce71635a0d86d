"""How far the pixel grid lets C_N be equivariant: relative errors by angle, and where they come from.

:mod:`eqcourse.equivariance` measures the largest absolute deviation, the right test for an
exact symmetry (C4, D4). For C8 and C16 nothing is exact and the question becomes *how much*,
so these figures are relative L2 errors over the disc inscribed in the image (a rotated square
loses its corners, and zeros come in, whatever the layer does).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch

from eqcourse.checks import check_positive_int
from eqcourse.equivariance import act
from eqcourse.groups import Group


def disc_mask(size: int, radius: float | None = None) -> torch.Tensor:
    """``(size, size)`` bool: the pixels whose centres lie within ``radius`` of the grid's centre.

    The default radius, ``size / 2 - 1``, keeps the disc that every rotation maps into the image.
    """
    check_positive_int(size, "size")
    radius = size / 2 - 1 if radius is None else float(radius)
    c = (size - 1) / 2
    steps = torch.arange(size, dtype=torch.float64) - c
    return (steps[:, None] ** 2 + steps[None, :] ** 2) <= radius**2


def relative_error(output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """``|output - target| / |target|`` (L2), over the pixels of ``mask`` (last two axes) if given."""
    if output.shape != target.shape:
        raise ValueError(
            f"output and target must have the same shape; got {tuple(output.shape)} and {tuple(target.shape)}."
        )
    diff = output - target
    if mask is not None:
        diff, target = diff * mask, target * mask
    return (diff.norm() / target.norm().clamp_min(1e-12)).item()


def _elements(group: Group, elements: Iterable[int] | None) -> list[int]:
    return [g for g in group.elements if g != group.identity] if elements is None else list(elements)


@torch.no_grad()
def layer_errors(
    layer: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    group: Group,
    elements: Iterable[int] | None = None,
    radius: float | None = None,
) -> dict[int, float]:
    """``{g: |Φ(g·x) - g·Φ(x)| / |g·Φ(x)|}`` over the inscribed disc of the output (see :func:`disc_mask`)."""
    y = layer(x)
    mask = disc_mask(y.shape[-1], radius).to(y.dtype)
    return {g: relative_error(layer(act(group, g, x)), act(group, g, y), mask) for g in _elements(group, elements)}


@torch.no_grad()
def logit_errors(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    group: Group,
    elements: Iterable[int] | None = None,
) -> dict[int, float]:
    """``{g: |f(g·x) - f(x)| / |f(x)|}`` for a model with invariant output (logits)."""
    y = model(x)
    return {g: relative_error(model(act(group, g, x)), y) for g in _elements(group, elements)}


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
