"""Kernels that rotate by any angle exactly: a steerable basis of circular harmonics.

A kernel is written as a combination of continuous functions on the plane,

    psi(rho, alpha) = sum  c  ·  G_r(rho) · cos(m alpha)   or   G_r(rho) · sin(m alpha),

Gaussian rings ``G_r(rho) = exp(-(rho - r)² / (2 sigma²))`` at radii r = 0, 1, ..., (k-1)/2
times circular harmonics of frequency m = 0, 1, ..., up to a band limit per ring. Rotating
such a function by theta is exact *in the basis*: it turns each (cos, sin) pair of frequency m
by the angle ``m * theta`` (a phase shift of e^{i m alpha}), :meth:`SteerableBasis.rotate_coefficients`.
Only the sampling on the k x k grid is approximate: the rotated function is evaluated at the
same pixel centres, which the grid's 90-degree symmetry maps onto each other only for quarter
turns.

The ring widths and the band limit (a ring of radius r carries frequencies up to about 2r, so
that no harmonic is finer than the pixels on its ring) follow e2cnn (Weiler & Cesa 2019).
``SteerableLiftingConv2d`` and ``SteerableGroupConv2d`` are the layers of :mod:`eqcourse.nn`
with the weights as basis coefficients; whole quarter turns stay exact (``rot90``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from eqcourse.checks import check_positive_int
from eqcourse.groups import C4, Group
from eqcourse.nn import GroupConv2d, LiftingConv2d


def _max_frequency(radius: float, max_radius: float) -> int:
    """e2cnn's band limit: 0 at the centre, at most 2 on the outer ring, else 2r (odd r) or 2r - 1."""
    if radius == 0:
        return 0
    if radius == max_radius:
        return int(min(2 * radius, 2))
    return int(min(2 * radius, 2 * radius - (radius + 1) % 2))


class SteerableBasis:
    """Gaussian rings times circular harmonics, sampled on a ``kernel_size`` x ``kernel_size`` grid.

    ``SteerableBasis(kernel_size, sigma=None)``: rings at radii 0, 1, ..., (kernel_size - 1) / 2,
    each ``sigma`` pixels wide (None: e2cnn's widths, 0.6, 0.4 on the outer ring and a point at
    the centre), with e2cnn's band limit. ``len(basis)`` is the number of functions
    (1, 6, 11, 18 for kernel sizes 1, 3, 5, 7; notebook 07 prints them). ``basis.functions``
    lists them as ``(radius, m, "cos" | "sin")``.

    * ``sample(degrees=0, flip=False)``: ``(len, k, k)``, each function rotated by ``degrees``
      (after a left-right mirror if ``flip``) and evaluated at the pixel centres;
    * ``for_group(group)``: ``(G, len, k, k)``, the sample for every element of the group;
    * ``rotate_coefficients(c, degrees)``: the coefficients of the rotated kernel, exactly.

    Every (cos, sin) pair shares one normalisation (unit mean norm on the unrotated grid), so
    that rotating the coefficients and rotating the functions agree.
    """

    def __init__(self, kernel_size: int, sigma: float | None = None) -> None:
        check_positive_int(kernel_size, "kernel_size")
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (a centre pixel to rotate about); got {kernel_size}.")
        if sigma is not None and (not isinstance(sigma, int | float) or isinstance(sigma, bool) or sigma <= 0):
            raise ValueError(
                f"sigma must be a positive number (the width of every ring, in pixels) or None (e2cnn's "
                f"widths); got {sigma!r}."
            )
        self.kernel_size = kernel_size
        max_radius = (kernel_size - 1) // 2
        self.radii = list(range(max_radius + 1))
        #: the width of the ring at each radius
        default = {max_radius: 0.4, 0: 0.005}  # a 1x1 kernel's only ring is the centre point
        self.sigmas = {r: float(sigma) if sigma is not None else default.get(r, 0.6) for r in self.radii}
        self.functions: list[tuple[int, int, str]] = []
        for r in self.radii:
            self.functions.append((r, 0, "cos"))
            for m in range(1, _max_frequency(r, max_radius) + 1):
                self.functions += [(r, m, "cos"), (r, m, "sin")]
        raw = self._evaluate(0.0, False)
        norms = raw.flatten(1).norm(dim=1)
        # one norm per (ring, frequency): the root mean square of the cos and sin functions' norms
        pair_norm: dict[tuple[int, int], list[float]] = {}
        for (r, m, _), n in zip(self.functions, norms.tolist(), strict=True):
            pair_norm.setdefault((r, m), []).append(n * n)
        rms = [math.sqrt(sum(pair_norm[(r, m)]) / len(pair_norm[(r, m)])) for r, m, _ in self.functions]
        self._norms = torch.tensor(rms, dtype=torch.float64)

    def __len__(self) -> int:
        return len(self.functions)

    def __repr__(self) -> str:
        return f"SteerableBasis(kernel_size={self.kernel_size}, functions={len(self)}, radii={self.radii})"

    def _evaluate(self, degrees: float, flip: bool) -> torch.Tensor:
        """The functions at the pixel centres rotated back by ``degrees`` (psi(g⁻¹·x)), float64."""
        k = self.kernel_size
        c = (k - 1) / 2
        steps = torch.arange(k, dtype=torch.float64)
        rows, cols = torch.meshgrid(steps, steps, indexing="ij")
        x, y = cols - c, c - rows  # x to the right, y up: counter-clockwise as displayed
        t = math.radians(degrees)
        x, y = math.cos(t) * x + math.sin(t) * y, -math.sin(t) * x + math.cos(t) * y  # R(-theta)·p
        if flip:
            x = -x
        rho, alpha = torch.sqrt(x * x + y * y), torch.atan2(y, x)
        out = []
        for r, m, kind in self.functions:
            radial = torch.exp(-((rho - r) ** 2) / (2 * self.sigmas[r] ** 2))
            if m == 0:
                out.append(radial)
            else:  # a harmonic has no value at the centre: zero there keeps it continuous
                angular = torch.cos(m * alpha) if kind == "cos" else torch.sin(m * alpha)
                out.append(radial * angular * (rho > 1e-9))
        return torch.stack(out)

    def sample(self, degrees: float = 0.0, flip: bool = False) -> torch.Tensor:
        """``(len, k, k)`` float32: every function mirrored (if ``flip``), rotated, on the grid.

        Whole quarter turns are split off and done with ``rot90`` of the sample, so that a
        multiple of 90 degrees is an exact permutation of the pixels.
        """
        quarters, rest = divmod(float(degrees), 90.0)
        if 90.0 - rest < 1e-9:
            quarters, rest = quarters + 1, 0.0
        values = self._evaluate(rest, flip) / self._norms[:, None, None]
        return C4.transform(int(quarters) % 4, values.float())  # quarter turns: a permutation of pixels

    def for_group(self, group: Group) -> torch.Tensor:
        """``(G, len, k, k)``: the basis transformed by every element g of ``group``."""
        return torch.stack([self.sample(*group.angle_and_flip(g)) for g in group.elements])

    def rotate_coefficients(self, coefficients: torch.Tensor, degrees: float) -> torch.Tensor:
        """Coefficients ``(..., len)`` of a kernel -> those of the kernel rotated by ``degrees``.

        Each pair (a, b) of frequency m turns by ``m * degrees``: exact, no interpolation.
        """
        if coefficients.shape[-1] != len(self):
            raise ValueError(
                f"coefficients must end in an axis of {len(self)} (one per basis function); "
                f"got shape {tuple(coefficients.shape)}."
            )
        out = coefficients.clone()
        t = math.radians(degrees)
        for i, (_, m, kind) in enumerate(self.functions):
            if m and kind == "cos":
                a, b = coefficients[..., i], coefficients[..., i + 1]
                c, s = math.cos(m * t), math.sin(m * t)
                out[..., i], out[..., i + 1] = c * a - s * b, s * a + c * b
        return out

    def kernel(self, coefficients: torch.Tensor, degrees: float = 0.0) -> torch.Tensor:
        """The kernels ``(..., k, k)`` of coefficients ``(..., len)``, sampled rotated by ``degrees``."""
        return torch.einsum("...j,jxy->...xy", coefficients, self.sample(degrees).to(coefficients.dtype))


class _SteerableMixin:
    """Replace the pixel weights ``(..., k, k)`` by basis coefficients ``(..., len(basis))``."""

    def __init__(self, *args, basis: SteerableBasis | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)  # the pixel layer's arguments: in, out, kernel_size, padding, bias, group
        kernel_size, group = self.weight.shape[-1], self.group
        basis = basis or SteerableBasis(kernel_size)
        if basis.kernel_size != kernel_size:
            raise ValueError(
                f"basis is for {basis.kernel_size}x{basis.kernel_size} kernels; kernel_size is {kernel_size}. "
                f"Pass SteerableBasis({kernel_size}) or no basis."
            )
        self.basis = basis
        self.register_buffer("basis_bank", basis.for_group(group), persistent=False)  # (G, J, k, k)
        shape = (*self.weight.shape[:-2], len(basis))
        # the same expected squared norm per kernel as the pixel initialisation: k² pixels -> J functions
        bound = kernel_size / math.sqrt(len(basis)) / math.sqrt(self.weight[0].numel())
        self.weight = nn.Parameter(torch.empty(shape).uniform_(-bound, bound))
        perms = torch.tensor([group.permutation(g) for g in group.elements])
        self.register_buffer("group_permutations", perms, persistent=False)  # [g, h] = g⁻¹h

    def extra_repr(self) -> str:
        return super().extra_repr() + f", basis={len(self.basis)} functions"


class SteerableLiftingConv2d(_SteerableMixin, LiftingConv2d):
    """A lifting convolution whose kernels live in a :class:`SteerableBasis`.

    ``SteerableLiftingConv2d(in_channels, out_channels, kernel_size, padding=0, bias=True,
    group=C4, basis=None)``: images ``(B, C_in, H, W)`` -> ``(B, C_out, G, H', W')``, like
    :class:`eqcourse.nn.LiftingConv2d`; ``weight`` is ``(C_out, C_in, len(basis))``.
    """

    def build_bank(self) -> torch.Tensor:
        """``(C_out * G, C_in, k, k)``: ``bank[o, g, i] = sum_j weight[o, i, j] · basis_g[j]``."""
        c_out, c_in, _ = self.weight.shape
        k = self.basis.kernel_size
        bank = torch.einsum("oij,gjxy->ogixy", self.weight, self.basis_bank)
        return bank.reshape(c_out * self.group.order, c_in, k, k)


class SteerableGroupConv2d(_SteerableMixin, GroupConv2d):
    """A group convolution whose kernels live in a :class:`SteerableBasis`.

    ``SteerableGroupConv2d(in_channels, out_channels, kernel_size, padding=0, bias=True,
    group=C4, basis=None)``: ``(B, C_in, G, H, W)`` -> ``(B, C_out, G, H', W')``, like
    :class:`eqcourse.nn.GroupConv2d`; ``weight`` is ``(C_out, C_in, G, len(basis))``. Output
    element g uses the kernel rotated by g in the basis and read from the group axis at g⁻¹h.
    """

    def build_bank(self) -> torch.Tensor:
        """``(C_out * G, C_in * G, k, k)``: ``[o, g, i, h] = sum_j weight[o, i, g⁻¹h, j] · basis_g[j]``."""
        c_out, c_in, n, _ = self.weight.shape
        k = self.basis.kernel_size
        permuted = self.weight[:, :, self.group_permutations]  # (C_out, C_in, G[g], G[h], J)
        bank = torch.einsum("oighj,gjxy->ogihxy", permuted, self.basis_bank)
        return bank.reshape(c_out * n, c_in * n, k, k)
