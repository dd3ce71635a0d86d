"""Speed and caching behind the layers of :mod:`eqcourse.nn` (private: the maths lives there).

Neither ``frozen_banks`` nor ``max_pool2d`` changes a number: ``tests/test_speed.py`` compares
both with the plain path (docs/design.md, "Caching").
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

#: layer -> (bank, bias) frozen on entering a block; weak, so a copy or a dropped layer is never in it
_FROZEN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _serve(layer: nn.Module, part: int, method: str) -> torch.Tensor | None:
    """The frozen bank (part 0) or bias (part 1) of ``layer`` when no gradient is recorded, else fresh."""
    frozen = _FROZEN.get(layer)
    if frozen is not None and not torch.is_grad_enabled():
        return frozen[part]
    return getattr(type(layer), method)(layer)


def is_frozen(layer: nn.Module) -> bool:
    """Whether ``layer`` serves a frozen bank (inside a ``frozen_banks`` block)."""
    return layer in _FROZEN


@contextlib.contextmanager
def frozen_banks(model: nn.Module) -> Iterator[nn.Module]:
    """Build every kernel bank of ``model`` once and serve it to passes that record no gradient.

    For evaluating a trained model fast: ``with frozen_banks(model), torch.no_grad(): ...``.
    Inside the block, forward passes under ``torch.no_grad``/``inference_mode`` reuse the banks
    built on entry; a pass that records gradients still builds its own (so saliency maps and
    training steps stay right). Do not change the weights inside the block: the frozen banks
    would not follow (docs/design.md, "Caching"). On leaving, even through an error, the banks
    are dropped and every layer builds its bank in ``forward`` again. Blocks may nest; a copy
    made inside a block builds its own banks.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"frozen_banks expects a torch.nn.Module; got {type(model).__name__}.")
    layers = [m for m in model.modules() if hasattr(type(m), "build_bank") and m not in _FROZEN]
    try:
        for layer in layers:
            with torch.no_grad(), torch.inference_mode(False):  # plain tensors, cut off from autograd
                bank, bias = layer.build_bank(), layer.build_bias()
            _FROZEN[layer] = (bank, bias)
            # the layer's own build_bank/build_bias, shadowed on this instance only until the block ends
            layer.build_bank = partial(_serve, layer, 0, "build_bank")
            layer.build_bias = partial(_serve, layer, 1, "build_bias")
        yield model
    finally:
        for layer in layers:
            _FROZEN.pop(layer, None)
            for method in ("build_bank", "build_bias"):
                layer.__dict__.pop(method, None)


class _ChannelsLastMaxPool(torch.autograd.Function):
    """Max pooling computed in the channels-last layout, gradients returned in the default one.

    The same values and gradients as ``F.max_pool2d``; a gradient left in channels-last would
    slow every layer below, so the backward pass hands back a contiguous tensor.
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


def max_pool2d(maps: torch.Tensor, k: int) -> torch.Tensor:
    """``F.max_pool2d(maps, k)`` of ``(B, C, H, W)``: channels-last on the CPU, plain elsewhere."""
    if maps.device.type == "cpu" and not torch.jit.is_tracing():
        return _ChannelsLastMaxPool.apply(maps, k)
    return F.max_pool2d(maps, k)
