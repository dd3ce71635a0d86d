"""One training pipeline for both datasets: the protocol, ``train``, ``predict``, the accuracies, ``run``.

A run (``eqcourse.pretrained.RUNS``) is a model and a :class:`Protocol`. Angles are keys in
degrees (numbers; strings only in JSON files). The evaluation helpers leave the model as they
found it: mode, device, kernel banks (docs/design.md, "State").
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
from eqcourse.data import load_mnist, load_rotated_mnist, rotate_by_angle, rotate_by_radians, subset
from eqcourse.groups import C4
from eqcourse.models import build_model, count_parameters
from eqcourse.pretrained import (  # noqa: F401 (the loaders and dataset_runs: the notebooks import them from here)
    AUGMENTATIONS,
    DATASETS,
    RUNS,
    dataset_runs,
    load_checkpoint,
    load_pretrained,
    pretrained_metrics,
)
from eqcourse.state import configure_threads, evaluating, on_device, resolve_device, synchronize

ROTATIONS = (0, 90, 180, 270)
SCHEDULES = ("constant", "one_cycle")
#: what fast mode changes, per dataset (rotated MNIST: a pipeline check only)
FAST = {
    "mnist": {"epochs": 1, "train_size": 10_000, "test_size": 2000},
    "rotmnist": {"epochs": 2, "train_size": 2000, "test_size": 2000},
}


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() not in ("0", "false", "no", "off", "")


def fast_mode() -> bool:
    """True when ``EQCOURSE_FAST=1``: small data, one epoch, for tests and quick looks."""
    return _env_flag("EQCOURSE_FAST", False)


@dataclass
class Protocol:
    """What a training run does; the defaults are the source's protocol on MNIST."""

    epochs: int = 5
    lr: float = 5e-4
    batch_size: int = 64
    seed: int = 0
    augment: str = "none"  # "none", "rot90" (multiples of 90 degrees) or "angle" (any angle)
    train_size: int | None = None  # None: the whole training split
    test_size: int | None = None  # None: the whole test split
    dataset: str = "mnist"  # or "rotmnist" (eqcourse.data.load_rotated_mnist)
    weight_decay: float = 0.01  # AdamW's default
    schedule: str = "constant"  # or "one_cycle": warm-up over 20 % of the steps, cosine decay to zero
    drop_last: bool = False  # True: a last, smaller batch is left out
    # "angle" draws rand * 360 degrees rather than rand * 2 pi radians: the same distribution,
    # different rounding; the rotated-MNIST checkpoints were trained so and retrain bit for bit
    angle_in_degrees: bool = False
    # the MNIST runs' shuffling stream skips one number each epoch (tqdm.auto opened a DataLoader
    # iterator and dropped it when they were trained); kept so their checkpoints retrain bit for bit
    skip_a_draw: bool = True

    @classmethod
    def fast(cls, **changes) -> Protocol:
        """The fast mode (``FAST``): MNIST 10,000 training and 2,000 test digits, one epoch."""
        dataset = changes.get("dataset", "mnist")
        return cls(**{**FAST.get(dataset, {}), **changes})

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("augment", self.augment, AUGMENTATIONS),
            ("dataset", self.dataset, DATASETS),
            ("schedule", self.schedule, SCHEDULES),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}; got {value!r}.")
        for name in ("epochs", "batch_size"):
            check_positive_int(getattr(self, name), name)


def protocol_of(name: str, fast: bool = False, **changes) -> Protocol:
    """The protocol run ``name`` (a key of ``RUNS``) trains with; ``fast`` shrinks it; ``changes`` apply last."""
    if name not in RUNS:
        raise KeyError(f"unknown run {name!r}; known runs: {', '.join(RUNS)}.")
    registered = RUNS[name][1]
    shrink = FAST[registered.get("dataset", "mnist")] if fast else {}
    return Protocol(**{**registered, **shrink, **changes})


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _progress(iterable, **kwargs):
    """A tqdm bar, off with ``EQCOURSE_PROGRESS=0`` (tqdm ignores ``TQDM_DISABLE`` inside a kernel)."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=not _env_flag("EQCOURSE_PROGRESS", True), leave=False, **kwargs)


def augment_batch(x: torch.Tensor, how: str, generator: torch.Generator, in_degrees: bool = False) -> torch.Tensor:
    """Rotate each image of a batch at random: by a multiple of 90 degrees or by any angle.

    The draws come from ``generator`` on its own device and are moved to ``x``'s device; give
    it a generator on ``x``'s device (as ``train`` does) to make them there. ``in_degrees``:
    draw any angle as ``rand * 360`` degrees (``Protocol.angle_in_degrees``).
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
    draws = torch.rand(len(x), generator=generator, device=generator.device).to(x.device)
    return rotate_by_radians(x, draws * 360.0 * (math.pi / 180.0) if in_degrees else draws * 2 * math.pi)


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

    AdamW; with ``schedule="one_cycle"`` a learning rate that warms up over the first 20 % of the
    steps and decays to zero (cosine). With an augmentation, every digit is turned afresh each
    time it is drawn.

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
    loader = DataLoader(
        dataset, batch_size=protocol.batch_size, shuffle=True, generator=generator, drop_last=protocol.drop_last
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=protocol.lr, weight_decay=protocol.weight_decay)
    schedule = None
    if protocol.schedule == "one_cycle":
        steps = protocol.epochs * len(loader)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=protocol.lr, total_steps=steps, pct_start=0.2)
    history = History()
    model.train()
    for epoch in range(protocol.epochs):
        start, total, count = time.perf_counter(), 0.0, 0
        if protocol.skip_a_draw:
            torch.empty((), dtype=torch.int64).random_(generator=generator)
        for x, y in _progress(iter(loader), total=len(loader), desc=f"epoch {epoch + 1}/{protocol.epochs}"):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            x = augment_batch(x, protocol.augment, draws, protocol.angle_in_degrees)
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if schedule is not None:
                schedule.step()
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
    during the call (``eqcourse.frozen_banks``), so this is safe inside a training loop.
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


def invariance_by_angle(
    model: nn.Module, images: torch.Tensor, angles=(45, 90, 135, 180), device: str | torch.device | None = None
) -> dict[float, float]:
    """Relative change of the logits, ``max |f(g x) - f(x)| / max |f(x)|``, at each angle (degrees).

    Multiples of 90 degrees rotate pixels exactly; other angles interpolate. The images should be
    roughly round (digits on a black background), so that nothing is cut off.
    """
    base = predict(model, images, device=device)
    change = {a: (predict(model, rotate_by_angle(images, a), device=device) - base).abs().max() for a in angles}
    return {a: (c / base.abs().max()).item() for a, c in change.items()}


def load_split(dataset: str, split: str, size: int | None = None, seed: int = 0) -> TensorDataset:
    """The "train" or "test" split of ``dataset``, cut to ``size`` images.

    MNIST: a seeded random subset (``load_mnist``). Rotated MNIST: "train" is its 12,000 training
    digits ("trainval"), "test" its 50,000 test images, and ``size`` keeps the first images (whole
    test digits, each at its five angles).
    """
    if dataset == "mnist":
        return load_mnist(split, size, seed=seed)  # subset first: no float copy of the whole split
    if dataset != "rotmnist":
        raise ValueError(f"dataset must be one of {DATASETS}; got {dataset!r}.")
    data = load_rotated_mnist("trainval" if split == "train" else split)
    return subset(data, size, seed=None) if size else data


def measure(
    model: nn.Module,
    dataset: str,
    test_set: TensorDataset,
    angle_digits: int = 1000,
    device: str | torch.device | None = None,
) -> dict:
    """What the results table of ``dataset`` reports about a trained model.

    MNIST: ``accuracy`` at 0, 90, 180, 270 degrees and ``accuracy_45``. Rotated MNIST:
    ``test_error`` (percent), ``accuracy_by_angle`` at 0, 5, ..., 355 degrees on ``angle_digits``
    upright MNIST test digits (a seeded subset), its mean and largest deviation from the mean, and
    ``invariance_error`` (``invariance_by_angle`` on 64 of those digits). Keys are strings (JSON).
    """
    if dataset == "mnist":
        by_rotation = accuracy_by_rotation(model, test_set, device)
        return {
            "accuracy": {str(d): a for d, a in by_rotation.items()},
            "accuracy_45": accuracy(model, test_set, 45.0, device),
        }
    images, labels = test_set.tensors
    group = getattr(model, "group", None)
    upright = load_mnist("test", angle_digits, seed=0)
    per_angle = accuracy_by_angle(model, upright, range(0, 360, 5), device)
    values = np.array(list(per_angle.values()))
    invariance = invariance_by_angle(model, upright.tensors[0][:64], device=device)
    return {
        "group": None if group is None else group.name,
        "channels": list(getattr(model, "channels", [])),
        "kernel": getattr(model, "kernel", "pixel"),
        "test_error": 100.0 * (predict(model, images, device=device).argmax(1) != labels).float().mean().item(),
        "test_digits": len(test_set),
        "parameters": count_parameters(model),
        "accuracy_by_angle": {str(a): v for a, v in per_angle.items()},
        "angle_accuracy_mean": float(values.mean()),
        "angle_accuracy_max_deviation": float(np.abs(values - values.mean()).max()),
        "invariance_error": {str(a): e for a, e in invariance.items()},
    }


def run(
    name: str, protocol: Protocol | None = None, device: str | torch.device | None = None, angle_digits: int = 1000
) -> tuple[nn.Module, dict]:
    """Train the run ``name`` (a key of ``RUNS``) from scratch with ``protocol`` (its own by default) and
    measure it (``measure``): the unit of ``python -m eqcourse reproduce``."""
    registered = protocol_of(name)  # a clear KeyError for an unknown run
    protocol = protocol or registered
    model_name = RUNS[name][0]
    train_set = load_split(protocol.dataset, "train", protocol.train_size, protocol.seed)
    test_set = load_split(protocol.dataset, "test", protocol.test_size, protocol.seed)
    set_seed(protocol.seed)
    model = build_model(model_name)
    history = train(model, train_set, protocol, device)
    metrics = {
        "run": name,
        "model": model_name,
        "parameters": count_parameters(model),
        "protocol": asdict(protocol),
        "seed": protocol.seed,
        "seconds_per_epoch": float(np.median(history.seconds_per_epoch)),
        "train_seconds": float(sum(history.seconds_per_epoch)),
        "losses": history.losses,
        "threads": torch.get_num_threads(),
    }
    return model, {**metrics, **measure(model, protocol.dataset, test_set, angle_digits, device)}
