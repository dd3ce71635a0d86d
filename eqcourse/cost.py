"""What a model costs: multiply-accumulates per image, and the time of a training and an eval step.

* ``macs_by_layer(model)`` / ``flops_per_image(model)``: multiply-accumulates (MACs; one MAC is
  a multiplication and an addition, i.e. 2 floating-point operations) of the convolutions and
  linear layers for one 28x28 image, counted with forward hooks. A lifting or group convolution
  is counted as the convolution it really runs: its expanded kernel bank
  ``(C_out * G, C_in * G, k, k)`` over its output size. Batch norm, activations and pooling are
  not counted (they cost a few operations per value, not per kernel tap).
* ``step_times(models)``: median seconds of one training step (forward, backward, AdamW) and one
  eval step (eval mode, ``no_grad``: the group layers serve their cached bank), measured
  round-robin in one run so that a noisy machine slows every model alike.
"""

from __future__ import annotations

import contextlib
import copy
import statistics
import time
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from eqcourse.checks import check_positive_int
from eqcourse.nn import GroupConv2d, LiftingConv2d, frozen_banks

_BANK_CONVS = (LiftingConv2d, GroupConv2d)

__all__ = ["macs_by_layer", "flops_per_image", "step_times", "ratios"]


def _conv_macs(out: torch.Tensor, weight_shape: tuple[int, ...]) -> int:
    """MACs of one convolution call: each output value reads ``prod(weight_shape[1:])`` inputs.

    (The weight is ``(C_out, C_in / groups, *kernel)``, so this holds for grouped convolutions too.)
    """
    per_output = 1
    for size in weight_shape[1:]:
        per_output *= size
    return out.numel() * per_output


def _layer_macs(module: nn.Module, out: object) -> int | None:
    """MACs of one call of ``module`` (its whole output), or None if it is not counted.

    The whole output, not its first row: a model may fold copies of the image into the batch.
    """
    if isinstance(module, _BANK_CONVS):  # the conv it runs: bank (C_out*G, C_in[*G], k, k), output (B, C_out, G, H, W)
        return _conv_macs(out, tuple(module.build_bank().shape))
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return _conv_macs(out, tuple(module.weight.shape))
    if isinstance(module, nn.Linear):
        return out.numel() * module.in_features
    if type(module).__name__ == "R2Conv" and hasattr(module, "in_type"):  # e2cnn, optional
        return out.tensor.numel() * module.in_type.size * module.kernel_size**2 // module.groups
    return None


def _counted_model(model: nn.Module) -> nn.Module:
    """The model whose modules run every convolution; EqCNN's folded path calls F.conv2d itself."""
    if getattr(model, "fold_copies", False):
        twin = copy.deepcopy(model)
        twin.fold_copies = False  # the same convolutions through the Conv3d modules (tested equal)
        return twin
    return model


def macs_by_layer(model: nn.Module, image_size: int = 28, channels: int = 1) -> dict[str, int]:
    """``{layer name: MACs}`` for one ``(1, channels, image_size, image_size)`` input, in call order."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
    check_positive_int(image_size, "image_size")
    check_positive_int(channels, "channels")
    counted = _counted_model(model)
    macs: dict[str, int] = {}
    handles = []

    def hook(name):
        def record(module, inputs, out):
            n = _layer_macs(module, out)
            if n is not None:
                macs[name] = macs.get(name, 0) + n

        return record

    for name, module in counted.named_modules():
        if isinstance(module, (*_BANK_CONVS, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)) or (
            type(module).__name__ == "R2Conv"
        ):
            handles.append(module.register_forward_hook(hook(name)))
    was_training = counted.training
    try:
        counted.eval()
        with torch.no_grad():
            counted(torch.zeros(1, channels, image_size, image_size))
    finally:
        counted.train(was_training)
        for handle in handles:
            handle.remove()
    return macs


def flops_per_image(model: nn.Module) -> int:
    """Multiply-accumulates (MACs) of the convolutions and linear layers for one 28x28 image.

    Named after the habit of calling these counts "FLOPs"; one MAC is two floating-point
    operations. Group convolutions count the expanded bank they really convolve with.
    """
    return sum(macs_by_layer(model).values())


def _check_models(models: Mapping[str, nn.Module]) -> None:
    if not isinstance(models, Mapping) or not models:
        raise ValueError("models must be a non-empty dict {name: torch.nn.Module}.")
    for name, model in models.items():
        if not isinstance(model, nn.Module):
            raise TypeError(f"models[{name!r}] must be a torch.nn.Module; got {type(model).__name__}.")


def _train_copy(model: nn.Module) -> nn.Module:
    """A copy in train mode; the original keeps its mode (train mode drops caches some layers keep)."""
    was_training = model.training
    model.train()
    try:
        return copy.deepcopy(model)
    finally:
        model.train(was_training)


def step_times(
    models: Mapping[str, nn.Module],
    batch: int = 64,
    steps: int = 100,
    warmup: int = 10,
    image_size: int = 28,
    seed: int = 0,
    kinds: tuple[str, ...] = ("train", "eval"),
) -> dict[str, dict[str, float]]:
    """Median seconds per step: ``{"train": {name: s}, "eval": {name: s}}``.

    A training step is forward, cross-entropy, backward and an AdamW step (lr 5e-4, the source
    protocol) on a batch of ``batch`` random images; an eval step is a forward pass in eval mode
    under ``torch.no_grad`` (where the group layers reuse their cached kernel bank). The models
    are copied first, so the ones passed in are not trained. Each round times one step of every
    model, starting from a different model each round; the first ``warmup`` rounds are dropped.
    ``kinds`` picks what to time (``"train"``, ``"eval"`` or both).
    """
    _check_models(models)
    if isinstance(kinds, str) or not kinds or any(kind not in ("train", "eval") for kind in kinds):
        raise ValueError(f"kinds must be a non-empty tuple of 'train' and/or 'eval'; got {kinds!r}.")
    for name, value, low in (("batch", batch, 1), ("steps", steps, 1), ("warmup", warmup, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}; got {value!r}.")
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, 1, image_size, image_size, generator=generator)
    y = torch.randint(0, 10, (batch,), generator=generator)
    copies = {name: _train_copy(model) for name, model in models.items()}
    optimizers = {}  # only for training: an AdamW costs time and memory on creation
    if "train" in kinds:
        optimizers = {name: torch.optim.AdamW(m.parameters(), lr=5e-4) for name, m in copies.items()}

    def train_step(name: str) -> None:
        loss = F.cross_entropy(copies[name](x), y)
        optimizers[name].zero_grad()
        loss.backward()
        optimizers[name].step()

    def eval_step(name: str) -> None:
        with torch.no_grad():
            copies[name](x)

    names = list(copies)
    results: dict[str, dict[str, float]] = {}
    for kind, step in (("train", train_step), ("eval", eval_step)):
        if kind not in kinds:
            continue
        times: dict[str, list[float]] = {name: [] for name in names}
        with contextlib.ExitStack() as stack:
            for model in copies.values():
                model.train(kind == "train")
                if kind == "eval":  # a trained model is evaluated with its banks frozen once
                    stack.enter_context(frozen_banks(model))
            for i in range(warmup + steps):
                start_at = i % len(names)
                for name in names[start_at:] + names[:start_at]:
                    start = time.perf_counter()
                    step(name)
                    if i >= warmup:
                        times[name].append(time.perf_counter() - start)
        results[kind] = {name: statistics.median(t) for name, t in times.items()}
    return results


def ratios(times: Mapping[str, float], baseline: str = "simple_cnn") -> dict[str, float]:
    """Each time divided by the baseline's: ``{name: t / t[baseline]}``."""
    if baseline not in times:
        raise KeyError(f"baseline {baseline!r} was not timed; timed: {', '.join(times)}.")
    return {name: t / times[baseline] for name, t in times.items()}
