"""The state around a computation: a model's device and train/eval mode, torch's thread count.

The context managers put a model's mode and device back after an evaluation helper, so that
calling one inside a student's own training loop changes nothing (docs/design.md, "State").
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn


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
def evaluating(model: nn.Module, mode: bool = False) -> Iterator[nn.Module]:
    """Eval mode (``mode=True``: train mode) inside the block; every submodule's own mode restored after it."""
    modes = [(m, m.training) for m in _check_module(model).modules()]
    model.train(mode)
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


def available_cpus() -> int:
    """CPUs this process may use: its affinity, further capped by a cgroup CPU quota (Binder, Docker)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    try:  # cgroup v2: "max 100000" or "200000 100000"
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cpus


def configure_threads() -> int:
    """Cap torch's threads to the CPUs this process may use; return that number.

    More threads than CPUs make every small convolution wait for the others: on a shared
    two-core machine a training step can become ten times slower. It changes torch's global
    setting, so it runs only where work starts: in ``train``, ``step_times``, ``python -m
    eqcourse`` and the benchmarks, never on ``import eqcourse``. Call it yourself before a long evaluation.
    """
    cpus = available_cpus()
    if torch.get_num_threads() > cpus:
        torch.set_num_threads(cpus)
    return torch.get_num_threads()
