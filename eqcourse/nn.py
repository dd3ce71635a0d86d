"""Equivariant layers: lift images to the group, convolve on the group, pool the group away.

Every convolution here rotates its *kernel*, never the feature maps: the layer expands its
parameters into one bank of transformed kernels in every ``forward`` and makes a single
``F.conv2d`` call with the group axis folded into the channels. Nothing is cached here; the
speed code lives in :mod:`eqcourse._speed` (docs/design.md, "Caching").
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from eqcourse._speed import max_pool2d
from eqcourse.checks import check_group_map, check_images, check_positive_int
from eqcourse.groups import C4, Group


def lifting_bank(weight: torch.Tensor, group: Group = C4) -> torch.Tensor:
    """``(C_out, C_in, k, k)`` -> ``(C_out * G, C_in, k, k)``: every kernel once per element g."""
    c_out, c_in, k, _ = weight.shape
    bank = torch.stack([group.transform(g, weight) for g in group.elements], dim=1)
    return bank.reshape(c_out * group.order, c_in, k, k)


def group_bank(weight: torch.Tensor, group: Group = C4) -> torch.Tensor:
    """``(C_out, C_in, G, k, k)`` -> ``(C_out * G, C_in * G, k, k)``.

    Output element g uses every kernel transformed by g in space *and* read from the group
    axis at g⁻¹h (for C4: rolled by g), so that ``[g, h]`` holds ``g·w[g⁻¹h]``.
    """
    c_out, c_in, n, k, _ = weight.shape
    bank = torch.stack([group.transform(g, weight[:, :, group.permutation(g)]) for g in group.elements], dim=1)
    return bank.reshape(c_out * n, c_in * n, k, k)


class _BankConv(nn.Module):
    """Shared machinery: parameters, initialisation, the bank built in forward, the one conv2d call.

    Subclasses define ``build_bank()``, the only override point: it maps the current
    parameters to the ``(C_out * G, C_in [* G], k, k)`` bank that ``F.conv2d`` uses.
    """

    #: whether the input carries a group axis (group convolution) or not (lifting convolution)
    input_has_group_axis: bool = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        padding: int = 0,
        bias: bool = True,
        group: Group = C4,
    ):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("kernel_size", kernel_size)):
            check_positive_int(value, name)
        if kernel_size % 2 == 0:
            raise ValueError(
                f"kernel_size must be odd; got {kernel_size}. An even kernel has no centre pixel: its "
                "output grid sits half a pixel off the input's, and a map can keep its size only with "
                "lopsided padding, which no longer commutes with rotation (notebook 05, section 5, "
                "how to break equivariance). Use 3, 5 or 7."
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.group = group
        self.padding = padding
        group_axis = (group.order,) if self.input_has_group_axis else ()
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, *group_axis, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        fan_in = self.weight[0].numel()  # PyTorch's default for Conv2d, with the group axis in the fan-in
        bound = 1 / math.sqrt(fan_in)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def build_bank(self) -> torch.Tensor:
        raise NotImplementedError

    def build_bias(self) -> torch.Tensor | None:
        """The bias of every output channel of the bank: each channel's bias once per element g."""
        return None if self.bias is None else self.bias.repeat_interleave(self.group.order)

    def bank(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The kernels and bias that ``F.conv2d`` uses: ``(build_bank(), build_bias())``, built now."""
        return self.build_bank(), self.build_bias()

    def _conv(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv2d(x, *self.bank(), padding=self.padding)
        return y.unflatten(1, (-1, self.group.order))  # (B, C_out, G, H, W)

    def extra_repr(self) -> str:
        return (
            f"{tuple(self.weight.shape)}, group={self.group.name}, padding={self.padding}, bias={self.bias is not None}"
        )


class LiftingConv2d(_BankConv):
    """Images ``(B, C_in, H, W)`` -> group feature maps ``(B, C_out, G, H', W')``.

    Output element g is the convolution with the kernel transformed by g: the kernel rotates.
    """

    def build_bank(self) -> torch.Tensor:
        return lifting_bank(self.weight, self.group)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, channels=self.in_channels, name="input to LiftingConv2d")
        return self._conv(x)


class GroupConv2d(_BankConv):
    """Group feature maps ``(B, C_in, G, H, W)`` -> ``(B, C_out, G, H', W')``.

    Each kernel is rotated in space and shifted along the group axis, once per element g.
    """

    input_has_group_axis = True

    def build_bank(self) -> torch.Tensor:
        return group_bank(self.weight, self.group)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_group_map(x, self.group.order, self.in_channels, name="input to GroupConv2d")
        return self._conv(x.flatten(1, 2))


def _check_group_axis(x: object, layer: str) -> None:
    """For the pooling layers, which work for any group: a 5-D tensor ``(B, C, G, H, W)``."""
    if not isinstance(x, torch.Tensor) or x.dim() != 5:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{layer} expects a group feature map (B, C, G, H, W); got {shape}.")


class SpatialMaxPool(nn.Module):
    """2x2 max pooling of every map of a group feature map (exact only on even sizes)."""

    def __init__(self, kernel_size: int = 2):
        super().__init__()
        self.kernel_size = check_positive_int(kernel_size, "kernel_size")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_group_axis(x, "SpatialMaxPool")
        return max_pool2d(x.flatten(1, 2), self.kernel_size).unflatten(1, x.shape[1:3])


class GroupBatchNorm(nn.BatchNorm3d):
    """Batch norm for ``(B, C, G, H, W)``: one mean and scale per channel, shared by all g.

    Sharing the statistics across the group axis (and space) is what keeps it equivariant:
    permuting the group axis or rotating space leaves every channel's statistics unchanged.
    """

    def __init__(self, channels: int, group: Group = C4):
        super().__init__(channels)
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_group_map(x, self.group.order, self.num_features, name="input to GroupBatchNorm")
        return super().forward(x)


class GroupMaxPool(nn.Module):
    """Max over the group axis: ``(B, C, G, H, W)`` -> ``(B, C, H, W)``, invariant in g."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_group_axis(x, "GroupMaxPool")
        return x.amax(dim=2)


class InvariantHead(nn.Module):
    """Group max, then global spatial max, then a linear classifier: invariant logits."""

    def __init__(self, in_channels: int, num_classes: int = 10):
        super().__init__()
        self.pool = GroupMaxPool()
        self.linear = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.pool(x).amax(dim=(-2, -1)))
