"""Measured invariance and equivariance errors, and the asserts built on them.

* invariance of a model f: ``max |f(g·x) - f(x)|`` for each group element g;
* equivariance of a layer Φ: ``max |Φ(g·x) - g·Φ(x)|``, where g acts on images or on group
  feature maps ``(B, C, G, H, W)`` as in :mod:`eqcourse.groups`.

``relative=True`` divides by ``max |f(x)|`` so that the figure does not depend on the scale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from eqcourse.groups import C4, Group


def act(group: Group, g: int, x: torch.Tensor) -> torch.Tensor:
    """g·x: on group feature maps (5-D with the group axis at dim 2) or on images otherwise."""
    if x.dim() == 5 and x.shape[2] == group.order:
        return group.act_on_group_map(g, x)
    return group.act_on_image(g, x)


@torch.no_grad()
def _measure(f, x: torch.Tensor, group: Group, elements, relative: bool, act_on_output: bool) -> dict[int, float]:
    """``{g: max |f(g·x) - g·f(x)|}``, or ``- f(x)`` when the output is not acted on."""
    y = f(x)
    scale = (y.abs().max().item() or 1.0) if relative else 1.0
    if elements is None:
        elements = [g for g in group.elements if g != group.identity]
    errors = {}
    for g in elements:
        target = act(group, g, y) if act_on_output else y
        errors[g] = (f(act(group, g, x)) - target).abs().max().item() / scale
    return errors


def invariance_error(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    group: Group = C4,
    elements: Iterable[int] | None = None,
    relative: bool = False,
) -> dict[int, float]:
    """``{g: max |f(g·x) - f(x)|}`` for every non-identity g (or the given ``elements``)."""
    return _measure(model, x, group, elements, relative, act_on_output=False)


def equivariance_error(
    layer: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    group: Group = C4,
    elements: Iterable[int] | None = None,
    relative: bool = False,
) -> dict[int, float]:
    """``{g: max |Φ(g·x) - g·Φ(x)|}``; g acts on input and output as their shapes say."""
    return _measure(layer, x, group, elements, relative, act_on_output=True)


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
