"""The runs and their shipped checkpoints: the registry ``RUNS``, saving, loading.

``RUNS`` is the one place that names a run: run name -> (model name in
``eqcourse.models.MODELS``, augmentation, ...). ``load_pretrained(name)`` finds
``eqcourse/checkpoints/<name>.pt`` for any run registered there; to add one, see
docs/design.md ("How to add a run").
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from eqcourse.models import MODELS, build_model
from eqcourse.state import resolve_device

__all__ = [
    "RUNS",
    "AUGMENTATIONS",
    "CHECKPOINT_DIR",
    "CheckpointError",
    "read_checkpoint",
    "save_checkpoint",
    "load_checkpoint",
    "load_pretrained",
    "pretrained_metrics",
]

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"

#: how a run may rotate its training digits: not at all, by multiples of 90 degrees, by any angle
AUGMENTATIONS = ("none", "rot90", "angle")

#: run name -> (model name, augmentation, ...): the augmented runs train SimpleCNN on rotated
#: digits. Later entries may carry more fields; code reads only the first two by position.
RUNS: dict[str, tuple[str, ...]] = {
    "simple_cnn": ("simple_cnn", "none"),
    "eq_cnn": ("eq_cnn", "none"),
    "matched_eq_cnn": ("matched_eq_cnn", "none"),
    "p4_cnn": ("p4_cnn", "none"),
    "p4m_cnn": ("p4m_cnn", "none"),
    "simple_cnn_aug90": ("simple_cnn", "rot90"),
    "simple_cnn_augangle": ("simple_cnn", "angle"),
    # notebook 06: C8 and C16 trained upright, steerable (default) and pixel kernels
    "c8_cnn": ("c8_cnn", "none"),
    "c16_cnn": ("c16_cnn", "none"),
    "c8_cnn_pixel": ("c8_cnn_pixel", "none"),
    "c16_cnn_pixel": ("c16_cnn_pixel", "none"),
}


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, or does not fit the model."""


def write_checkpoint(path: str | Path, payload: dict, overwrite: bool = False) -> Path:
    """Write ``payload`` (with the torch version) to ``path`` atomically; refuse to overwrite unless asked."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (or --overwrite) to replace it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({**payload, "torch": torch.__version__.split("+")[0]}, tmp)
    tmp.replace(path)
    return path


def save_checkpoint(path: str | Path, model: nn.Module, name: str, metrics: dict, overwrite: bool = False) -> Path:
    """Save a model's weights with its run name and metrics; refuse to overwrite unless asked."""
    payload = {
        "run": name,
        "model": RUNS.get(name, (name, "none"))[0],
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},  # loadable without a GPU
        "metrics": metrics,
    }
    return write_checkpoint(path, payload, overwrite)


def read_checkpoint(path: str | Path, keys: dict[str, type | tuple[type, ...]], kind: str, remake: str) -> dict:
    """The payload saved at ``path`` by :func:`write_checkpoint`, holding ``keys`` of the types given.

    Loaded with ``weights_only=True``: a checkpoint cannot run code. A missing file says how to
    make one (the command ``remake``); anything unreadable is a :class:`CheckpointError` naming
    the ``kind`` of checkpoint expected.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} does not exist. Run `{remake}` to make one, or restore the shipped ones with git."
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        for key, types in keys.items():
            if not isinstance(payload[key], types):
                raise TypeError(f"{key!r} has type {type(payload[key]).__name__}")
    except Exception as err:  # unpickling errors come in many types
        raise CheckpointError(f"checkpoint {path} could not be read as {kind}: {err}") from err
    return payload


def load_checkpoint(path: str | Path, device: str | torch.device | None = None) -> tuple[nn.Module, dict]:
    """A model (in eval mode, on ``device``, the CPU by default) and its metrics from ``path``.

    Loaded with ``weights_only=True``: a checkpoint cannot run code.
    """
    payload = read_checkpoint(
        path,
        {"model": str, "state_dict": dict},
        "an eqcourse checkpoint",
        "python -m eqcourse reproduce --save-checkpoints DIR",
    )
    model_name, state = payload["model"], payload["state_dict"]
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
    return model.to(resolve_device(device, model)).eval(), payload.get("metrics", {})


def _shipped(name: str) -> Path:
    if name not in RUNS:
        raise KeyError(f"no shipped checkpoint named {name!r}; known runs: {', '.join(RUNS)}.")
    return CHECKPOINT_DIR / f"{name}.pt"


def load_pretrained(name: str, device: str | torch.device | None = None) -> nn.Module:
    """A shipped, trained model by run name, e.g. ``load_pretrained("eq_cnn")``, in eval mode."""
    return load_checkpoint(_shipped(name), device)[0]


def pretrained_metrics(name: str) -> dict:
    """The metrics recorded with a shipped checkpoint (from the run that trained it)."""
    return load_checkpoint(_shipped(name))[1]
