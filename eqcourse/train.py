"""Seeded training and evaluation: the source protocol, accuracy per rotation and per angle.

The source protocol: MNIST with pixels scaled to [0, 1] only, AdamW with lr 5e-4, batch 64,
5 epochs, cross-entropy. ``EQCOURSE_FAST=1`` (or ``fast=True``) shrinks it for quick runs.

Every function takes a ``device`` (default: the model's). The evaluation helpers leave the
model as they found it: its train/eval mode and its device are restored afterwards, and its
kernel banks are frozen only for the duration of the call (docs/design.md). ``train`` caps
torch's thread count (``configure_threads``): importing eqcourse does not. The checkpoints and
the run registry live in ``eqcourse.pretrained``; their names are re-exported here.
"""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from eqcourse._speed import frozen_banks
from eqcourse.checks import check_positive_int
from eqcourse.data import load_mnist, rotate_by_angle, rotate_by_radians, subset
from eqcourse.groups import C4
from eqcourse.models import build_model, count_parameters
from eqcourse.pretrained import (
    AUGMENTATIONS,
    CHECKPOINT_DIR,
    RUNS,
    CheckpointError,
    load_checkpoint,
    load_pretrained,
    pretrained_metrics,
    save_checkpoint,
)
from eqcourse.state import available_cpus, configure_threads, evaluating, on_device, resolve_device, synchronize

__all__ = [
    "Protocol",
    "RUNS",
    "fast_mode",
    "progress_enabled",
    "set_seed",
    "configure_threads",
    "available_cpus",
    "train",
    "predict",
    "accuracy",
    "accuracy_by_rotation",
    "accuracy_by_angle",
    "augment_batch",
    "count_parameters",
    "save_checkpoint",
    "load_checkpoint",
    "load_pretrained",
    "pretrained_metrics",
    "CheckpointError",
    "CHECKPOINT_DIR",
]

ROTATIONS = (0, 90, 180, 270)


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() not in ("0", "false", "no", "off", "")


def fast_mode() -> bool:
    """True when ``EQCOURSE_FAST=1``: small data, one epoch, for tests and quick looks."""
    return _env_flag("EQCOURSE_FAST", False)


def progress_enabled() -> bool:
    """False when ``EQCOURSE_PROGRESS=0`` (tqdm ignores ``TQDM_DISABLE`` inside a kernel)."""
    return _env_flag("EQCOURSE_PROGRESS", True)


@dataclass
class Protocol:
    """What a training run does; the defaults are the source's protocol."""

    epochs: int = 5
    lr: float = 5e-4
    batch_size: int = 64
    seed: int = 0
    augment: str = "none"
    train_size: int | None = None  # None: all 60,000
    test_size: int | None = None  # None: all 10,000

    @classmethod
    def fast(cls, **changes) -> Protocol:
        """The fast mode: 10,000 training and 2,000 test digits, one epoch."""
        return cls(**{"epochs": 1, "train_size": 10_000, "test_size": 2000, **changes})

    def __post_init__(self) -> None:
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"augment must be one of {AUGMENTATIONS}; got {self.augment!r}.")
        for name in ("epochs", "batch_size"):
            check_positive_int(getattr(self, name), name)


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _progress(iterable, **kwargs):
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=not progress_enabled(), leave=False, **kwargs)


def augment_batch(x: torch.Tensor, how: str, generator: torch.Generator) -> torch.Tensor:
    """Rotate each image of a batch at random: by a multiple of 90 degrees or by any angle.

    The draws come from ``generator`` on its own device and are moved to ``x``'s device; give
    it a generator on ``x``'s device (as ``train`` does) to make them there.
    """
    if how not in AUGMENTATIONS:
        raise ValueError(f"how must be one of {AUGMENTATIONS}; got {how!r}.")
    if how == "none":
        return x
    if how == "rot90":
        ks = torch.randint(0, 4, (len(x),), generator=generator, device=generator.device).to(x.device)
        out = x.clone()
        for k in range(1, 4):
            out[ks == k] = C4.act_on_image(k, x[ks == k])
        return out
    angles = torch.rand(len(x), generator=generator, device=generator.device).to(x.device) * 2 * math.pi
    return rotate_by_radians(x, angles)


@dataclass
class History:
    """What a training run measured."""

    losses: list[float] = field(default_factory=list)  # mean loss per epoch
    seconds_per_epoch: list[float] = field(default_factory=list)


def train(
    model: nn.Module,
    dataset: TensorDataset,
    protocol: Protocol | None = None,
    device: str | torch.device | None = None,
) -> History:
    """Train ``model`` in place on ``dataset`` with ``protocol`` (the source's by default).

    The model is moved to ``device`` (default: where it is) and stays there; batches are moved
    to it as they are drawn. It returns in eval mode, ready to evaluate. Caps torch's threads
    first (``configure_threads``). On CUDA the run is repeatable only with
    ``torch.use_deterministic_algorithms(True)`` (docs/design.md, "Devices").
    """
    protocol = protocol or Protocol()
    configure_threads()
    device = resolve_device(device, model)
    model.to(device)
    set_seed(protocol.seed)
    generator = torch.Generator().manual_seed(protocol.seed)  # shuffling: always on the CPU
    # augmentation draws on the batch's device; on the CPU from the same stream as ever
    draws = generator if device.type == "cpu" else torch.Generator(device).manual_seed(protocol.seed)
    loader = DataLoader(dataset, batch_size=protocol.batch_size, shuffle=True, generator=generator)
    optimizer = torch.optim.AdamW(model.parameters(), lr=protocol.lr)
    history = History()
    model.train()
    for epoch in range(protocol.epochs):
        start, total, count = time.perf_counter(), 0.0, 0
        for x, y in _progress(loader, desc=f"epoch {epoch + 1}/{protocol.epochs}"):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            x = augment_batch(x, protocol.augment, draws)
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, count = total + loss.item() * len(x), count + len(x)
        synchronize(device)
        history.seconds_per_epoch.append(time.perf_counter() - start)
        history.losses.append(total / count)
    model.eval()
    return history


def predict(
    model: nn.Module, images: torch.Tensor, batch_size: int = 100, device: str | torch.device | None = None
) -> torch.Tensor:
    """Logits for ``images (N, C, H, W)``, computed ``batch_size`` at a time in eval mode on ``device``.

    100 images at a time keep the activations of a four-copy model near 50 MB (a notebook's
    kernel stays under 1 GB); a larger batch is not faster on a CPU.

    ``device`` defaults to the model's; the logits come back on ``images``' device. The model's
    train/eval mode (and device) are restored afterwards, and its kernel banks are frozen only
    during the call (``eqcourse.nn.frozen_banks``), so this is safe inside a training loop.
    """
    check_positive_int(batch_size, "batch_size")
    with on_device(model, device) as device, evaluating(model), frozen_banks(model), torch.no_grad():
        batches = (images[i : i + batch_size].to(device) for i in range(0, len(images), batch_size))
        logits = [model(x).to(images.device) for x in batches]
    return torch.cat(logits)


def accuracy(
    model: nn.Module, dataset: TensorDataset, degrees: float = 0.0, device: str | torch.device | None = None
) -> float:
    """Accuracy in percent on ``dataset`` with every image rotated by ``degrees``."""
    images, labels = dataset.tensors
    logits = predict(model, rotate_by_angle(images, degrees), device=device)
    return 100.0 * (logits.argmax(1) == labels.to(logits.device)).float().mean().item()


def accuracy_by_rotation(
    model: nn.Module, dataset: TensorDataset, device: str | torch.device | None = None
) -> dict[int, float]:
    """Accuracy at 0, 90, 180 and 270 degrees."""
    return {d: accuracy(model, dataset, d, device) for d in ROTATIONS}


def accuracy_by_angle(
    model: nn.Module, dataset: TensorDataset, angles=range(0, 361, 5), device: str | torch.device | None = None
) -> dict[float, float]:
    """Accuracy at each angle (degrees); angles off the 90-degree grid are interpolated."""
    return {a: accuracy(model, dataset, a, device) for a in angles}


def _split(split: str, given: TensorDataset | None, size: int | None, seed: int) -> TensorDataset:
    """The data a run uses: ``given`` (or the shipped split), cut to a seeded subset of ``size``."""
    if given is None:
        return load_mnist(split, size, seed=seed)  # subset first: no float copy of the whole split
    return subset(given, size, seed=seed) if size else given


def run(
    name: str,
    protocol: Protocol,
    train_set: TensorDataset | None = None,
    test_set: TensorDataset | None = None,
    device: str | torch.device | None = None,
) -> tuple[nn.Module, dict]:
    """Train the run ``name`` (a key of ``RUNS``) from scratch and measure it: the unit of ``reproduce``."""
    if name not in RUNS:
        raise KeyError(f"unknown run {name!r}; known runs: {', '.join(RUNS)}.")
    model_name, augment = RUNS[name][:2]
    protocol = Protocol(**{**asdict(protocol), "augment": augment})
    train_set = _split("train", train_set, protocol.train_size, protocol.seed)
    test_set = _split("test", test_set, protocol.test_size, protocol.seed)
    set_seed(protocol.seed)
    model = build_model(model_name)
    history = train(model, train_set, protocol, device)
    metrics = {
        "run": name,
        "model": model_name,
        "parameters": count_parameters(model),
        "protocol": asdict(protocol),
        "seconds_per_epoch": float(np.median(history.seconds_per_epoch)),
        "losses": history.losses,
        "accuracy": {str(d): a for d, a in accuracy_by_rotation(model, test_set).items()},
        "accuracy_45": accuracy(model, test_set, 45.0),
        "threads": torch.get_num_threads(),
    }
    return model, metrics
