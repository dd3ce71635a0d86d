"""Equivariant layers: lift images to the group, convolve on the group, pool the group away.

Every convolution here rotates its *kernel*, never the feature maps: the layer expands its
parameters into one bank of transformed kernels in ``forward`` and makes a single
``F.conv2d`` call with the group axis folded into the channels (docs/design.md).

The bank is built from the parameters as they are *now*, in every ``forward``: hand edits
through ``.data``, pruning, ``load_state_dict``, frozen parameters, ``torch.jit.trace`` and
``vmap`` all see the current weights. Nothing is cached implicitly. For fast evaluation of a
trained model, ``with frozen_banks(model):`` builds each bank once and serves it to forward
passes that record no gradient, until the block ends (``eqcourse.train.predict`` and the
other evaluation helpers use it).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from eqcourse.checks import check_group_map, check_images, check_positive_int
from eqcourse.groups import C4, Group

__all__ = [
    "frozen_banks",
    "lifting_bank",
    "group_bank",
    "LiftingConv2d",
    "GroupConv2d",
    "GroupBatchNorm",
    "GroupMaxPool",
    "SpatialMaxPool",
    "InvariantHead",
]


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
                "lopsided padding, which no longer commutes with rotation (notebook 05, section on "
                "what breaks equivariance). Use 3, 5 or 7."
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
        #: (bank, bias) while inside ``frozen_banks``; None otherwise
        self._frozen: tuple[torch.Tensor, torch.Tensor | None] | None = None

    def __getstate__(self) -> dict:
        """A copy or pickle never inherits a frozen bank: it belongs to the open block only."""
        state = dict(super().__getstate__())
        state["_frozen"] = None
        return state

    def build_bank(self) -> torch.Tensor:
        raise NotImplementedError

    def build_bias(self) -> torch.Tensor | None:
        """The bias of every output channel of the bank: each channel's bias once per element g."""
        return None if self.bias is None else self.bias.repeat_interleave(self.group.order)

    def bank(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The expanded kernels and bias for this forward pass.

        Built from the current parameters, except inside ``frozen_banks`` when no gradient is
        being recorded: then the bank frozen on entering the block is served.
        """
        if self._frozen is not None and not torch.is_grad_enabled():
            return self._frozen
        return self.build_bank(), self.build_bias()

    def _conv(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.bank()
        y = F.conv2d(x, weight, bias, padding=self.padding)
        return y.unflatten(1, (-1, self.group.order))  # (B, C_out, G, H, W)

    def extra_repr(self) -> str:
        return (
            f"{tuple(self.weight.shape)}, group={self.group.name}, padding={self.padding}, bias={self.bias is not None}"
        )


@contextlib.contextmanager
def frozen_banks(model: nn.Module) -> Iterator[nn.Module]:
    """Build every kernel bank of ``model`` once and serve it to passes that record no gradient.

    For evaluating a trained model fast: ``with frozen_banks(model), torch.no_grad(): ...``.
    Inside the block, forward passes under ``torch.no_grad``/``inference_mode`` reuse the banks
    built on entry; a pass that records gradients still builds its own (so saliency maps and
    training steps stay right). Do not change the weights inside the block: the frozen banks
    would not follow (docs/design.md, "Caching"). On leaving, even through an error, the banks
    are dropped and every layer builds its bank in ``forward`` again. Blocks may nest.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"frozen_banks expects a torch.nn.Module; got {type(model).__name__}.")
    layers = [m for m in model.modules() if isinstance(m, _BankConv) and m._frozen is None]
    try:
        with torch.no_grad():  # a plain tensor (not an inference tensor), cut off from autograd
            for layer in layers:
                with torch.inference_mode(False):
                    weight, bias = layer.build_bank(), layer.build_bias()
                layer._frozen = (weight.detach(), None if bias is None else bias.detach())
        yield model
    finally:
        for layer in layers:
            layer._frozen = None


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


class _ChannelsLastMaxPool(torch.autograd.Function):
    """Max pooling computed in the channels-last layout, gradients returned in the default one.

    The same values and the same gradients as ``F.max_pool2d``; PyTorch's CPU kernels are
    several times faster in this layout (``benchmarks/README.md``), but a gradient left in it
    slows every layer below, so the backward pass hands back a contiguous tensor. Used on the
    CPU only; other devices pool with ``F.max_pool2d`` directly.
    """

    @staticmethod
    def forward(ctx, maps: torch.Tensor, k: int) -> torch.Tensor:
        maps = maps.contiguous(memory_format=torch.channels_last)
        out, indices = F.max_pool2d(maps, k, return_indices=True)
        ctx.save_for_backward(maps, indices)
        ctx.k = k
        return out.contiguous()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        maps, indices = ctx.saved_tensors
        k = [ctx.k, ctx.k]
        grad = grad.contiguous(memory_format=torch.channels_last)
        grad_maps = torch.ops.aten.max_pool2d_with_indices_backward(grad, maps, k, k, [0, 0], [1, 1], False, indices)
        return grad_maps.contiguous(), None


class SpatialMaxPool(nn.Module):
    """2x2 max pooling of every map of a group feature map (exact only on even sizes).

    On the CPU it pools in the channels-last layout, where PyTorch's kernels are several times
    faster; elsewhere (CUDA, MPS) with ``F.max_pool2d``. The values are the same either way.
    """

    def __init__(self, kernel_size: int = 2):
        super().__init__()
        self.kernel_size = check_positive_int(kernel_size, "kernel_size")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_group_axis(x, "SpatialMaxPool")
        maps = x.flatten(1, 2)
        if maps.device.type == "cpu" and not torch.jit.is_tracing():
            pooled = _ChannelsLastMaxPool.apply(maps, self.kernel_size)
        else:
            pooled = F.max_pool2d(maps, self.kernel_size)
        return pooled.unflatten(1, x.shape[1:3])


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
