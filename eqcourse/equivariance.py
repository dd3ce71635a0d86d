"""Measured invariance and equivariance errors, and the asserts built on them.

A layer Φ is equivariant when Φ(ρ_in(g)x) = ρ_out(g)Φ(x) for every g; ``act`` applies ρ(g) to
images ``(B, C, H, W)`` (rotate, flip) or to group feature maps ``(B, C, |G|, H, W)`` (rotate and
permute the group axis), as their shapes say. Two figures, one definition each:

* the **absolute error** ``max |Φ(ρ_in(g)x) - ρ_out(g)Φ(x)|``: the right test of an exact symmetry;
* the **relative equivariance error** ``‖Φ(ρ_in(g)x) - ρ_out(g)Φ(x)‖ / ‖ρ_out(g)Φ(x)‖`` (L2 norms,
  over the whole batch, optionally only over the pixels of a mask): how far from equivariant,
  whatever the scale. For invariance ρ_out(g) is the identity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from eqcourse.checks import check_positive_int
from eqcourse.groups import C4, Group

Mask = torch.Tensor | str | None


def act(group: Group, g: int, x: torch.Tensor) -> torch.Tensor:
    """ρ(g)x: on group feature maps (5-D with the group axis at dim 2) or on images otherwise."""
    if x.dim() == 5 and x.shape[2] == group.order:
        return group.act_on_group_map(g, x)
    return group.act_on_image(g, x)


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
    """``‖output - target‖ / ‖target‖`` (L2), over the pixels of ``mask`` (last two axes) if given."""
    if output.shape != target.shape:
        raise ValueError(
            f"output and target must have the same shape; got {tuple(output.shape)} and {tuple(target.shape)}."
        )
    diff = output - target
    if mask is not None:
        mask = mask.to(device=diff.device, dtype=diff.dtype)
        diff, target = diff * mask, target * mask
    return (diff.norm() / target.norm().clamp_min(1e-12)).item()


@torch.no_grad()
def _measure(phi, x: torch.Tensor, group: Group, elements, relative: bool, mask: Mask, act_on_output: bool):
    # the arguments first, before any forward pass
    if mask is not None and not relative:
        raise ValueError("mask= applies to the relative error only: pass relative=True as well.")
    if mask is not None and not isinstance(mask, torch.Tensor) and mask != "disc":
        raise ValueError(f"mask must be None, 'disc' or a bool tensor over the output's last two axes; got {mask!r}.")
    y = phi(x)
    region = disc_mask(y.shape[-1]) if isinstance(mask, str) else mask
    if elements is None:
        elements = [g for g in group.elements if g != group.identity]
    errors = {}
    for g in elements:
        target = act(group, g, y) if act_on_output else y
        output = phi(act(group, g, x))
        errors[g] = relative_error(output, target, region) if relative else (output - target).abs().max().item()
    return errors


def invariance_error(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    group: Group = C4,
    elements: Iterable[int] | None = None,
    relative: bool = False,
    mask: Mask = None,
) -> dict[int, float]:
    """``{g: max |f(ρ(g)x) - f(x)|}`` for every non-identity g (or the given ``elements``).

    ``relative=True``: ``‖f(ρ(g)x) - f(x)‖ / ‖f(x)‖`` instead (see the module's docstring).
    """
    return _measure(model, x, group, elements, relative, mask, act_on_output=False)


def equivariance_error(
    layer: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    group: Group = C4,
    elements: Iterable[int] | None = None,
    relative: bool = False,
    mask: Mask = None,
) -> dict[int, float]:
    """``{g: max |Φ(ρ_in(g)x) - ρ_out(g)Φ(x)|}``; g acts on input and output as their shapes say.

    ``relative=True``: the relative equivariance error ``‖Φ(ρ_in(g)x) - ρ_out(g)Φ(x)‖ / ‖ρ_out(g)Φ(x)‖``;
    ``mask="disc"`` counts only the disc inscribed in the output (:func:`disc_mask`), which every
    rotation maps into the image, or pass your own bool mask.
    """
    return _measure(layer, x, group, elements, relative, mask, act_on_output=True)


def _assert_small(errors: dict[int, float], tol: float, what: str, group: Group) -> None:
    bad = {group.element_name(g): e for g, e in errors.items() if not e < tol}
    if bad:
        raise AssertionError(f"not {what} within {tol:g}: the error per group element is {bad}")


def assert_invariant(
    model, x: torch.Tensor, group: Group = C4, tol: float = 1e-5, relative: bool = True
) -> dict[int, float]:
    """Fail unless every (relative) invariance error is below ``tol``; return the errors."""
    errors = invariance_error(model, x, group, relative=relative)
    _assert_small(errors, tol, "invariant", group)
    return errors


def assert_equivariant(
    layer, x: torch.Tensor, group: Group = C4, tol: float = 1e-5, relative: bool = True
) -> dict[int, float]:
    """Fail unless every (relative) equivariance error is below ``tol``; return the errors."""
    errors = equivariance_error(layer, x, group, relative=relative)
    _assert_small(errors, tol, "equivariant", group)
    return errors
