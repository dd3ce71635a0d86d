"""Seeded training and evaluation: the source protocol, accuracy per rotation and per angle,
timing, and checkpoints.

The source protocol: MNIST with pixels scaled to [0, 1] only, AdamW with lr 5e-4, batch 64,
5 epochs, cross-entropy. ``EQCOURSE_FAST=1`` (or ``fast=True``) shrinks it for quick runs.
"""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from eqcourse.checks import check_positive_int
from eqcourse.data import load_mnist, rotate_by_angle, subset
from eqcourse.models import MODELS, build_model, count_parameters
from eqcourse.nn import frozen_banks

__all__ = [
    "Protocol",
    "RUNS",
    "fast_mode",
    "progress_enabled",
    "set_seed",
    "configure_threads",
    "train",
    "predict",
    "accuracy",
    "accuracy_by_rotation",
    "accuracy_by_angle",
    "save_checkpoint",
    "load_checkpoint",
    "load_pretrained",
    "CheckpointError",
    "CHECKPOINT_DIR",
]

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
ROTATIONS = (0, 90, 180, 270)

#: run name -> (model name, augmentation): the augmented runs train SimpleCNN on rotated digits.
RUNS: dict[str, tuple[str, str]] = {
    "simple_cnn": ("simple_cnn", "none"),
    "eq_cnn": ("eq_cnn", "none"),
    "matched_eq_cnn": ("matched_eq_cnn", "none"),
    "p4_cnn": ("p4_cnn", "none"),
    "p4m_cnn": ("p4m_cnn", "none"),
    "simple_cnn_aug90": ("simple_cnn", "rot90"),
    "simple_cnn_augangle": ("simple_cnn", "angle"),
}
AUGMENTATIONS = ("none", "rot90", "angle")


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
    two-core machine a training step can become ten times slower.
    """
    cpus = available_cpus()
    if torch.get_num_threads() > cpus:
        torch.set_num_threads(cpus)
    return torch.get_num_threads()


def _progress(iterable, **kwargs):
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=not progress_enabled(), leave=False, **kwargs)


def augment_batch(x: torch.Tensor, how: str, generator: torch.Generator) -> torch.Tensor:
    """Rotate each image of a batch at random: by a multiple of 90 degrees or by any angle."""
    if how == "none":
        return x
    if how == "rot90":
        ks = torch.randint(0, 4, (len(x),), generator=generator)
        out = x.clone()
        for k in range(1, 4):
            out[ks == k] = torch.rot90(x[ks == k], k, dims=(-2, -1))
        return out
    angles = torch.rand(len(x), generator=generator) * 2 * math.pi
    c, s = torch.cos(angles), torch.sin(angles)
    zero = torch.zeros_like(c)
    theta = torch.stack([torch.stack([c, -s, zero], 1), torch.stack([s, c, zero], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


@dataclass
class History:
    """What a training run measured."""

    losses: list[float] = field(default_factory=list)  # mean loss per epoch
    seconds_per_epoch: list[float] = field(default_factory=list)


def train(model: nn.Module, dataset: TensorDataset, protocol: Protocol | None = None) -> History:
    """Train ``model`` in place on ``dataset`` with ``protocol`` (the source's by default)."""
    protocol = protocol or Protocol()
    configure_threads()
    set_seed(protocol.seed)
    generator = torch.Generator().manual_seed(protocol.seed)
    loader = DataLoader(dataset, batch_size=protocol.batch_size, shuffle=True, generator=generator)
    optimizer = torch.optim.AdamW(model.parameters(), lr=protocol.lr)
    history = History()
    model.train()
    for epoch in range(protocol.epochs):
        start, total, count = time.perf_counter(), 0.0, 0
        for x, y in _progress(loader, desc=f"epoch {epoch + 1}/{protocol.epochs}"):
            x = augment_batch(x, protocol.augment, generator)
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, count = total + loss.item() * len(x), count + len(x)
        history.seconds_per_epoch.append(time.perf_counter() - start)
        history.losses.append(total / count)
    model.eval()
    return history


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Logits for ``images (N, 1, H, W)``, computed in batches in eval mode."""
    model.eval()
    with frozen_banks(model):
        return torch.cat([model(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])


def accuracy(model: nn.Module, dataset: TensorDataset, degrees: float = 0.0) -> float:
    """Accuracy in percent on ``dataset`` with every image rotated by ``degrees``."""
    images, labels = dataset.tensors
    logits = predict(model, rotate_by_angle(images, degrees))
    return 100.0 * (logits.argmax(1) == labels).float().mean().item()


def accuracy_by_rotation(model: nn.Module, dataset: TensorDataset) -> dict[int, float]:
    """Accuracy at 0, 90, 180 and 270 degrees."""
    return {d: accuracy(model, dataset, d) for d in ROTATIONS}


def accuracy_by_angle(model: nn.Module, dataset: TensorDataset, angles=range(0, 361, 5)) -> dict[float, float]:
    """Accuracy at each angle (degrees); angles off the 90-degree grid are interpolated."""
    return {a: accuracy(model, dataset, a) for a in angles}


# --- checkpoints -------------------------------------------------------------------------


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, or does not fit the model."""


def save_checkpoint(path: str | Path, model: nn.Module, name: str, metrics: dict, overwrite: bool = False) -> Path:
    """Save a model's weights with its run name and metrics; refuse to overwrite unless asked."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (or --overwrite) to replace it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "run": name,
        "model": RUNS.get(name, (name, "none"))[0],
        "state_dict": model.state_dict(),
        "metrics": metrics,
        "torch": torch.__version__.split("+")[0],
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load_checkpoint(path: str | Path) -> tuple[nn.Module, dict]:
    """A model and its metrics from ``path``, loaded with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} does not exist. Run `python -m eqcourse reproduce "
            "--save-checkpoints DIR` to make one, or restore the shipped ones with git."
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        model_name = payload["model"]
        state = payload["state_dict"]
    except Exception as err:  # unpickling errors come in many types
        raise CheckpointError(f"checkpoint {path} could not be read as an eqcourse checkpoint: {err}") from err
    if model_name not in MODELS:
        raise CheckpointError(f"checkpoint {path} is for model {model_name!r}, which this eqcourse does not know.")
    model = build_model(model_name)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(
            f"checkpoint {path} does not fit {model_name} as defined now (was the architecture "
            f"changed?). Retrain with `python -m eqcourse reproduce`. Details: {err}"
        ) from err
    return model.eval(), payload.get("metrics", {})


def load_pretrained(name: str) -> nn.Module:
    """A shipped, trained model by run name, e.g. ``load_pretrained("eq_cnn")``."""
    if name not in RUNS:
        raise KeyError(f"no shipped checkpoint named {name!r}; known runs: {', '.join(RUNS)}.")
    return load_checkpoint(CHECKPOINT_DIR / f"{name}.pt")[0]


def pretrained_metrics(name: str) -> dict:
    """The metrics recorded with a shipped checkpoint (from the run that trained it)."""
    if name not in RUNS:
        raise KeyError(f"no shipped checkpoint named {name!r}; known runs: {', '.join(RUNS)}.")
    return load_checkpoint(CHECKPOINT_DIR / f"{name}.pt")[1]


def _split(split: str, given: TensorDataset | None, size: int | None, seed: int) -> TensorDataset:
    """The data a run uses: ``given`` (or the shipped split), cut to a seeded subset of ``size``."""
    if given is None:
        return load_mnist(split, size, seed=seed)  # subset first: no float copy of the whole split
    return subset(given, size, seed=seed) if size else given


def run(
    name: str, protocol: Protocol, train_set: TensorDataset | None = None, test_set: TensorDataset | None = None
) -> tuple[nn.Module, dict]:
    """Train the run ``name`` from scratch and measure it: the unit of ``reproduce``."""
    if name not in RUNS:
        raise KeyError(f"unknown run {name!r}; known runs: {', '.join(RUNS)}.")
    model_name, augment = RUNS[name]
    protocol = Protocol(**{**asdict(protocol), "augment": augment})
    train_set = _split("train", train_set, protocol.train_size, protocol.seed)
    test_set = _split("test", test_set, protocol.test_size, protocol.seed)
    set_seed(protocol.seed)
    model = build_model(model_name)
    history = train(model, train_set, protocol)
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
