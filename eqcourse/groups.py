"""The groups C_n and D_n (C4 and D4 above all) and how they act on images and group feature maps.

An element is a plain ``int`` from ``0`` to ``order - 1``: in C_n, ``k`` rotates by ``360 * k / n``
degrees counter-clockwise; in D_n, ``k + n * j`` is r^k m^j (mirror left-right ``j`` times, then
rotate by r^k). On group feature maps ``(B, C, G, H, W)`` g transforms space **and** permutes the
group axis: ``(g·f)(h) = g·f(g⁻¹h)``. Multiples of 90 degrees act exactly (``rot90``); other
angles are interpolated (see :class:`CyclicGroup`). Conventions: docs/design.md.
"""

from __future__ import annotations

import torch

from eqcourse.checks import check_group_map, check_positive_int, check_square


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
        """A readable name such as ``"r2"`` or ``"r1 m"``."""
        raise NotImplementedError

    def angle_and_flip(self, g: int) -> tuple[float, bool]:
        """``(degrees, flip)``: g mirrors left-right if ``flip``, then rotates by ``degrees``."""
        raise NotImplementedError(f"{type(self).__name__} must define angle_and_flip(g), how g acts on the grid.")

    @property
    def exact(self) -> bool:
        """True when every element turns by a multiple of 90 degrees: pixels move, none is interpolated."""
        return all(self.angle_and_flip(g)[0] % 90 == 0 for g in self.elements)

    def transform(self, g: int, x: torch.Tensor) -> torch.Tensor:
        """Apply g to the last two axes of ``x``: mirror (``torch.flip``) if g does, then rotate.

        No shape checks (used inside layers). Multiples of 90 degrees are ``torch.rot90``, exact;
        other angles are interpolated (see :class:`CyclicGroup`).
        """
        degrees, flip = self.angle_and_flip(g)
        return _rotate(torch.flip(x, dims=(-1,)) if flip else x, degrees)

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

    def __eq__(self, other: object) -> bool:
        """Groups are equal when they are the same kind with the same n, so act alike: ``C4 == CyclicGroup(4)``.

        Isomorphic groups that act differently are not: ``CyclicGroup(2) != DihedralGroup(1)``.
        """
        return type(self) is type(other) and self.name == other.name

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.name))


def _rotate(x: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate the last two axes of ``x`` counter-clockwise by ``degrees`` about the grid's centre.

    Bilinear interpolation (``grid_sample``, ``align_corners=False``) with zeros outside the grid,
    the same as :func:`eqcourse.data.rotate_by_angle`. Whole quarter turns are split off and done
    with ``torch.rot90``, so only the remainder in ``[0, 90)`` degrees is interpolated and a
    rotation by a multiple of 90 degrees stays exact.
    """
    quarters, rest = divmod(float(degrees), 90.0)
    if rest > 1e-9 and 90.0 - rest > 1e-9:
        *lead, h, w = x.shape
        flat = x.reshape(-1, 1, h, w)
        theta = torch.deg2rad(torch.tensor(rest, dtype=torch.float64))
        c, s = torch.cos(theta).item(), torch.sin(theta).item()
        # affine_grid maps output coordinates to input ones, with y pointing down: hence the signs
        affine = torch.tensor([[c, -s, 0.0], [s, c, 0.0]], dtype=x.dtype, device=x.device)
        grid = torch.nn.functional.affine_grid(affine.expand(len(flat), 2, 3), list(flat.shape), align_corners=False)
        flat = torch.nn.functional.grid_sample(flat, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        x = flat.reshape(*lead, h, w)
    elif 90.0 - rest <= 1e-9:
        quarters += 1
    quarters = int(quarters) % 4
    return torch.rot90(x, quarters, dims=(-2, -1)) if quarters else x


class CyclicGroup(Group):
    """C_n, the n rotations by ``360 * k / n`` degrees counter-clockwise, ``k = 0 .. n-1``.

    ``CyclicGroup(n)`` for any integer n >= 1; ``C4 = CyclicGroup(4)``. Composition adds the
    exponents mod n; on group feature maps g rolls the group axis by k (``permutation``).

    How an element acts on a square grid (images, kernels, feature maps):

    * a rotation by a multiple of 90 degrees is ``torch.rot90``: exact, a permutation of pixels
      (so C1, C2 and C4 act exactly, and so do the elements 0, n/4, n/2, 3n/4 of C_n when 4 | n);
    * any other angle ``90 * q + phi`` is ``rot90`` by q after a bilinear rotation by phi about
      the centre of the grid with zeros outside (as :func:`eqcourse.data.rotate_by_angle`).
      This is *not* exact: the grid has only 90-degree symmetry, so the rotated pixel centres
      fall between pixels (blur) and the corners leave the grid while zeros come in. The action
      is then only approximately a homomorphism: the relative error ``max |r·r·w - r²·w| / max |w|``
      of C8 is 0.67 on average over random N(0, 1) 3x3 kernels and 0.34 over MNIST digits
      (``tests/test_groups.py``; a layer's equivariance: notebook 07). Kernels that rotate
      exactly in a basis are in :mod:`eqcourse.steerable`.
    """

    def __init__(self, n: int = 4) -> None:
        check_positive_int(n, "n", " (the number of rotations in C_n)")
        self.n = n
        self.order = n
        self.name = f"C{n}"

    def degrees(self, g: int) -> float:
        """The angle of the rotation g, in degrees counter-clockwise."""
        return 360.0 * self._check(g) / self.n

    def angle_and_flip(self, g: int) -> tuple[float, bool]:
        return self.degrees(g), False

    def compose(self, g: int, h: int) -> int:
        return (self._check(g) + self._check(h)) % self.order

    def inverse(self, g: int) -> int:
        return -self._check(g) % self.order

    def element_name(self, g: int) -> str:
        return f"r{self._check(g)}"


class DihedralGroup(Group):
    """D_n: n rotations and n mirror images, element ``k + n * j`` = r^k m^j, order 2n.

    ``DihedralGroup(n)`` for any integer n >= 1; ``D4 = DihedralGroup(4)``. m mirrors left-right
    (exact, ``torch.flip``); r^k rotates by ``360 * k / n`` degrees counter-clockwise, exactly
    for multiples of 90 degrees and by bilinear interpolation otherwise, as in :class:`CyclicGroup`.
    """

    def __init__(self, n: int = 4) -> None:
        check_positive_int(n, "n", " (the number of rotations in D_n)")
        self.n = n
        self.order = 2 * n
        self.name = f"D{n}"

    def angle_and_flip(self, g: int) -> tuple[float, bool]:
        k, j = self.split(g)
        return 360.0 * k / self.n, bool(j)

    def split(self, g: int) -> tuple[int, int]:
        """``(k, j)`` with g = r^k m^j."""
        g = self._check(g)
        return g % self.n, g // self.n

    def element(self, k: int, flip: bool = False) -> int:
        """The element r^k m (with ``flip``) or r^k."""
        return k % self.n + self.n * int(flip)

    def compose(self, g: int, h: int) -> int:
        (k1, j1), (k2, j2) = self.split(g), self.split(h)
        # m r^k = r^-k m, so r^k1 m^j1 r^k2 m^j2 = r^(k1 ± k2) m^(j1 + j2)
        return self.element(k1 + (-k2 if j1 else k2), bool(j1 ^ j2))

    def inverse(self, g: int) -> int:
        k, j = self.split(g)
        return g if j else self.element(-k)  # every mirror image is its own inverse

    def element_name(self, g: int) -> str:
        k, j = self.split(g)
        return f"r{k}" + (" m" if j else "")


C4 = CyclicGroup(4)
D4 = DihedralGroup(4)
