"""Helpers that leave a model as they found it: its device, its train/eval mode.

The evaluation helpers (``predict``, ``accuracy*``, the explorer, the cost helpers) switch a
model to eval mode and compute on a device; these context managers put both back afterwards,
so that calling them inside a student's own training loop changes nothing (docs/design.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

__all__ = ["model_device", "resolve_device", "evaluating", "on_device", "synchronize"]


def _check_module(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
    return model


def model_device(model: nn.Module) -> torch.device:
    """The device of a model's first parameter or buffer (the CPU for a model with neither)."""
    for tensor in (*_check_module(model).parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def resolve_device(device: str | torch.device | None, model: nn.Module) -> torch.device:
    """``device`` as a ``torch.device``; None means the model's device."""
    if device is None:
        return model_device(model)
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be a torch device such as 'cpu' or 'cuda'; got {device!r}.") from err


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode inside the block; every submodule's own train/eval mode restored after it."""
    modes = [(m, m.training) for m in _check_module(model).modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:  # parents first, so each child ends in its own mode
            module.train(training)  # through train(): layers that override it (e2cnn's) see it


@contextlib.contextmanager
def on_device(model: nn.Module, device: str | torch.device | None) -> Iterator[torch.device]:
    """The model on ``device`` (None: where it is) inside the block, moved back after it."""
    home = model_device(model)
    device = resolve_device(device, model)
    if device.type == home.type and device.index in (None, home.index):
        yield device
        return
    model.to(device)
    try:
        yield device
    finally:
        model.to(home)


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously); a no-op on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
