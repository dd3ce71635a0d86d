"""The groups C4 and D4 and how they act on images and on group feature maps.

An element is a plain ``int`` from ``0`` to ``order - 1``. In C4 the element ``k`` is the
rotation r^k by ``90 * k`` degrees counter-clockwise. In D4 the element ``k + 4 * m`` is
r^k f^m: first mirror left-right ``m`` times, then rotate by r^k.

Conventions (see docs/design.md):

* images are ``(..., H, W)`` with ``H == W``; r^k acts as ``torch.rot90(x, k, dims=(-2, -1))``;
* group feature maps are ``(B, C, G, H, W)`` with the group axis at dim 2; g acts on them by
  transforming space with g **and** permuting the group axis: ``(g·f)(h) = g·f(g⁻¹h)``.
  For C4 the permutation is a cyclic roll of the group axis by ``k``.
"""

from __future__ import annotations

import torch

from eqcourse.checks import check_group_map, check_square

__all__ = ["Group", "CyclicGroup", "DihedralGroup", "C4", "D4"]


class Group:
    """A finite group of symmetries of the square grid, elements ``0 .. order-1``."""

    name: str = "group"
    order: int = 1

    @property
    def elements(self) -> list[int]:
        """All elements, identity first."""
        return list(range(self.order))

    @property
    def identity(self) -> int:
        """The element that does nothing."""
        return 0

    def compose(self, g: int, h: int) -> int:
        """The element g∘h: act by h first, then by g."""
        raise NotImplementedError

    def inverse(self, g: int) -> int:
        """The element that undoes g."""
        raise NotImplementedError

    def element_name(self, g: int) -> str:
        """A readable name such as ``"r2"`` or ``"r1 f"``."""
        raise NotImplementedError

    def transform(self, g: int, x: torch.Tensor) -> torch.Tensor:
        """Apply g to the last two axes of ``x`` (no shape checks; used inside layers)."""
        raise NotImplementedError

    def _check(self, g: int) -> int:
        if isinstance(g, bool) or not isinstance(g, int) or not 0 <= g < self.order:
            raise ValueError(
                f"{self.name} has elements 0..{self.order - 1}; got {g!r}. Use one of {self.name}.elements."
            )
        return g

    def cayley_table(self) -> torch.Tensor:
        """The ``order x order`` table whose entry ``[g, h]`` is ``compose(g, h)``."""
        return torch.tensor([[self.compose(g, h) for h in self.elements] for g in self.elements])

    def permutation(self, g: int) -> list[int]:
        """Where the group axis of a feature map is read from: ``[g⁻¹∘h for h in G]``."""
        g_inv = self.inverse(self._check(g))
        return [self.compose(g_inv, h) for h in self.elements]

    def act_on_image(self, g: int, x: torch.Tensor) -> torch.Tensor:
        """g·x for images ``(..., H, W)``: rotate (and mirror) the last two axes."""
        check_square(x, "x")
        return self.transform(self._check(g), x)

    def act_on_group_map(self, g: int, x: torch.Tensor) -> torch.Tensor:
        """g·f for group feature maps ``(B, C, G, H, W)``: transform space, permute the group axis."""
        check_group_map(x, self.order, name="x")
        return self.transform(self._check(g), x[:, :, self.permutation(g)])

    def orbit(self, x: torch.Tensor) -> torch.Tensor:
        """All copies g·x of images ``(B, C, H, W)``, stacked on a new group axis: ``(B, C, G, H, W)``."""
        check_square(x, "x")
        return torch.stack([self.transform(g, x) for g in self.elements], dim=2)

    def __repr__(self) -> str:
        return f"{self.name} (order {self.order})"


class CyclicGroup(Group):
    """C_n acting by rotations; only n = 4 acts exactly on the pixel grid."""

    def __init__(self, n: int = 4) -> None:
        if n != 4:
            raise ValueError(f"only C4 acts exactly on a square pixel grid; got n={n}")
        self.order = n
        self.name = f"C{n}"

    def compose(self, g: int, h: int) -> int:
        return (self._check(g) + self._check(h)) % self.order

    def inverse(self, g: int) -> int:
        return -self._check(g) % self.order

    def element_name(self, g: int) -> str:
        return f"r{self._check(g)}"

    def transform(self, g: int, x: torch.Tensor) -> torch.Tensor:
        return torch.rot90(x, g, dims=(-2, -1)) if g else x


class DihedralGroup(Group):
    """D4: the four rotations and four mirror images of the square, element ``k + 4 * m``."""

    def __init__(self, n: int = 4) -> None:
        if n != 4:
            raise ValueError(f"only D4 acts exactly on a square pixel grid; got n={n}")
        self.n = n
        self.order = 2 * n
        self.name = f"D{n}"

    def split(self, g: int) -> tuple[int, int]:
        """``(k, m)`` with g = r^k f^m."""
        g = self._check(g)
        return g % self.n, g // self.n

    def element(self, k: int, flip: bool = False) -> int:
        """The element r^k f (with ``flip``) or r^k."""
        return k % self.n + self.n * int(flip)

    def compose(self, g: int, h: int) -> int:
        (k1, m1), (k2, m2) = self.split(g), self.split(h)
        # f r^k = r^-k f, so r^k1 f^m1 r^k2 f^m2 = r^(k1 ± k2) f^(m1 + m2)
        return self.element(k1 + (-k2 if m1 else k2), bool(m1 ^ m2))

    def inverse(self, g: int) -> int:
        k, m = self.split(g)
        return g if m else self.element(-k)  # every mirror image is its own inverse

    def element_name(self, g: int) -> str:
        k, m = self.split(g)
        return f"r{k}" + (" f" if m else "")

    def transform(self, g: int, x: torch.Tensor) -> torch.Tensor:
        k, m = g % self.n, g // self.n
        if m:
            x = torch.flip(x, dims=(-1,))
        return torch.rot90(x, k, dims=(-2, -1)) if k else x


C4 = CyclicGroup(4)
D4 = DihedralGroup(4)
