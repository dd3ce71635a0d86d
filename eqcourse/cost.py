"""What a model costs: multiply-accumulates (MACs) per image, and the time of a training and an eval step.

MACs are counted by PyTorch's ``FlopCounterMode`` from the operations the model really runs
(one MAC is two floating-point operations). Every helper takes a ``device`` (default: the
model's) and leaves the models it is given as they were: mode, device and parameters.
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
from torch.utils.flop_counter import FlopCounterMode

from eqcourse._speed import frozen_banks
from eqcourse.state import configure_threads, evaluating, on_device, resolve_device, synchronize


def _count(model: nn.Module, device: str | torch.device | None) -> dict[str, int]:
    """``{module path: MACs}`` of one forward pass on a 28x28 image, each module with the MACs of all it calls."""
    counter = FlopCounterMode(display=False)
    with on_device(model, device) as device, evaluating(model), torch.no_grad(), frozen_banks(model):
        x = torch.zeros(1, 1, 28, 28, device=device)  # banks built before counting
        with counter:
            model(x)
    return {name: sum(ops.values()) // 2 for name, ops in counter.get_flop_counts().items()}


def macs_by_layer(model: nn.Module, device: str | torch.device | None = None) -> dict[str, int]:
    """``{layer name: MACs}`` for one 28x28 image, in call order.

    A layer's own MACs: what it runs minus what its sublayers run. A model that calls
    ``F.conv2d`` itself (EqCNN with its copies folded into the batch) has its layers counted
    through the equivalent Conv3d path (tested equal).
    """
    if getattr(model, "fold_copies", False):  # EqCNN: the same convolutions through its modules
        model = copy.deepcopy(model)
        model.fold_copies = False
    totals = _count(model, device)
    totals.pop("Global", None)
    own = {}
    for name, macs in totals.items():
        below = [n for n in totals if n.startswith(name + ".")]
        # the nearest counted sublayers (a ModuleList between them is never called, so never counted)
        children = [n for n in below if not any(n.startswith(m + ".") for m in below)]
        rest = macs - sum(totals[c] for c in children)
        if rest:
            own[name.partition(".")[2]] = rest  # without the root's class name
    return own


def macs_per_image(model: nn.Module, device: str | torch.device | None = None) -> int:
    """Multiply-accumulates (MACs) of one forward pass on one 28x28 image.

    Often loosely called "FLOPs"; one MAC is two floating-point operations. Group
    convolutions count the expanded bank they really convolve with.
    """
    return _count(model, device).get("Global", 0)


def _check_models(models: Mapping[str, nn.Module]) -> None:
    if not isinstance(models, Mapping) or not models:
        raise ValueError("models must be a non-empty dict {name: torch.nn.Module}.")
    for name, model in models.items():
        if not isinstance(model, nn.Module):
            raise TypeError(f"models[{name!r}] must be a torch.nn.Module; got {type(model).__name__}.")


def step_times(
    models: Mapping[str, nn.Module],
    batch: int = 64,
    steps: int = 100,
    warmup: int = 10,
    seed: int = 0,
    kinds: tuple[str, ...] = ("train", "eval"),
    device: str | torch.device | None = None,
) -> dict[str, dict[str, float]]:
    """Median seconds per step: ``{"train": {name: s}, "eval": {name: s}}``.

    A training step is forward, cross-entropy, backward and an AdamW step (lr 5e-4, the source
    protocol) on a batch of ``batch`` random images; an eval step is a forward pass in eval mode
    under ``torch.no_grad`` with the kernel banks frozen for the whole timing (``frozen_banks``,
    as when a trained model is evaluated). Models run on ``device`` (default: the first model's);
    CUDA is synchronised before each clock reading. The models are copied first, so the ones
    passed in are not trained, moved or switched. Each round times one step of every model,
    starting from a different model each round; the first ``warmup`` rounds are dropped.
    ``kinds`` picks what to time (``"train"``, ``"eval"`` or both). Like ``train``, it first
    caps torch's threads at the CPUs available (``configure_threads``): timings taken with more
    threads than cores measure the waiting, not the model.
    """
    _check_models(models)
    if isinstance(kinds, str) or not kinds or any(kind not in ("train", "eval") for kind in kinds):
        raise ValueError(f"kinds must be a non-empty tuple of 'train' and/or 'eval'; got {kinds!r}.")
    for name, value, low in (("batch", batch, 1), ("steps", steps, 1), ("warmup", warmup, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}; got {value!r}.")
    configure_threads()
    device = resolve_device(device, next(iter(models.values())))
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, 1, 28, 28, generator=generator).to(device)
    y = torch.randint(0, 10, (batch,), generator=generator).to(device)
    copies = {}
    for name, model in models.items():
        with evaluating(model, mode=True):  # copied in train mode: layers drop the caches they keep in eval
            copies[name] = copy.deepcopy(model).to(device)
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
                    synchronize(device)
                    start = time.perf_counter()
                    step(name)
                    synchronize(device)
                    if i >= warmup:
                        times[name].append(time.perf_counter() - start)
        results[kind] = {name: statistics.median(t) for name, t in times.items()}
    return results


def ratios(times: Mapping[str, float], baseline: str = "simple_cnn") -> dict[str, float]:
    """Each time divided by the baseline's: ``{name: t / t[baseline]}``."""
    if baseline not in times:
        raise KeyError(f"baseline {baseline!r} was not timed; timed: {', '.join(times)}.")
    return {name: t / times[baseline] for name, t in times.items()}
