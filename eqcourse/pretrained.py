"""The runs, their shipped checkpoints and their results tables.

``RUNS`` is the one place that names a run; ``load_pretrained(name)`` finds
``eqcourse/checkpoints/<name>.pt`` for any of them (the rotated-MNIST ones ship in the repository,
not in the student wheel). To add a run, see docs/design.md ("How to add a run").
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from eqcourse.models import MODELS, build_model
from eqcourse.state import resolve_device

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
#: the README's two results tables, as ``python -m eqcourse reproduce --json`` wrote them
RESULTS_FILE, ROT_RESULTS_FILE = CHECKPOINT_DIR / "results.json", CHECKPOINT_DIR / "rotmnist_results.json"

#: the two datasets of the one pipeline (eqcourse.data.load_mnist, load_rotated_mnist)
DATASETS = ("mnist", "rotmnist")

#: how a run may rotate its training digits: not at all, by multiples of 90 degrees, by any angle
AUGMENTATIONS = ("none", "rot90", "angle")

#: the rotated-MNIST protocol (chosen on the validation split: benchmarks/rot_validation.py): AdamW
#: with weight decay 1e-4, a one-cycle learning rate peaking at 3e-3, 15 epochs, whole batches only,
#: every training digit turned by a fresh uniform angle each epoch
ROTMNIST = {
    "dataset": "rotmnist",
    "epochs": 15,
    "lr": 3e-3,
    "weight_decay": 1e-4,
    "schedule": "one_cycle",
    "drop_last": True,
    "augment": "angle",
    "angle_in_degrees": True,
    "skip_a_draw": False,
}

#: run name -> (model name, protocol changes); the augmented runs train SimpleCNN on rotated digits
RUNS: dict[str, tuple[str, dict]] = {
    "simple_cnn": ("simple_cnn", {}),
    "eq_cnn": ("eq_cnn", {}),
    "matched_eq_cnn": ("matched_eq_cnn", {}),
    "p4_cnn": ("p4_cnn", {}),
    "p4m_cnn": ("p4m_cnn", {}),
    "simple_cnn_aug90": ("simple_cnn", {"augment": "rot90"}),
    "simple_cnn_augangle": ("simple_cnn", {"augment": "angle"}),
    # notebook 07: C8 and C16 trained upright, steerable (default) and pixel kernels
    "c8_cnn": ("c8_cnn", {}),
    "c16_cnn": ("c16_cnn", {}),
    "c8_cnn_pixel": ("c8_cnn_pixel", {}),
    "c16_cnn_pixel": ("c16_cnn_pixel", {}),
    # rotated MNIST (the README's second table); checkpoints in the repository, not in the wheel
    "rot_z2_cnn": ("rot_z2_cnn", ROTMNIST),
    "rot_p4_cnn": ("rot_p4_cnn", ROTMNIST),
    "rot_c8_cnn": ("rot_c8_cnn", ROTMNIST),
    "rot_c16_cnn": ("rot_c16_cnn", ROTMNIST),
}


def dataset_runs(dataset: str) -> list[str]:
    """The runs that train on ``dataset`` ("mnist" or "rotmnist"), in registry order."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}; got {dataset!r}.")
    return [name for name, (_, changes) in RUNS.items() if changes.get("dataset", "mnist") == dataset]


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, or does not fit the model."""


def save_checkpoint(path: str | Path, model: nn.Module, name: str, metrics: dict, overwrite: bool = False) -> Path:
    """Save a model's weights with its run name, model name and metrics; refuse to overwrite unless asked."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (or --overwrite) to replace it.")
    payload = {
        "run": name,
        "model": RUNS.get(name, (name,))[0],
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},  # loadable without a GPU
        "metrics": metrics,
        "torch": torch.__version__.split("+")[0],
    }
    return _write_atomically(path, lambda tmp: torch.save(payload, tmp))


def _write_atomically(path: Path, write) -> Path:
    """``write(tmp)`` beside ``path``, then rename it over ``path``: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    write(tmp)
    tmp.replace(path)
    return path


def load_checkpoint(path: str | Path, device: str | torch.device | None = None) -> tuple[nn.Module, dict]:
    """A model (in eval mode, on ``device``, the CPU by default) and its metrics from ``path``.

    Loaded with ``weights_only=True``: a checkpoint cannot run code. A missing file says how to
    make one; anything unreadable or unfit is a :class:`CheckpointError` naming what is wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} does not exist. Run `python -m eqcourse reproduce --save-checkpoints DIR` "
            "(with `--suite rotmnist` for a rot_ run) to make one, or restore the shipped ones with git."
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        for key, types in (("model", str), ("state_dict", dict)):
            if not isinstance(payload[key], types):
                raise TypeError(f"{key!r} has type {type(payload[key]).__name__}")
    except Exception as err:  # unpickling errors come in many types
        raise CheckpointError(f"checkpoint {path} could not be read as an eqcourse checkpoint: {err}") from err
    model_name = payload["model"]
    if model_name not in MODELS:
        raise CheckpointError(f"checkpoint {path} is for model {model_name!r}, which this eqcourse does not know.")
    model = build_model(model_name)
    try:
        model.load_state_dict(payload["state_dict"])
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
    """A shipped, trained model by run name, in eval mode: ``"p4_cnn"`` (MNIST) or ``"rot_p4_cnn"``."""
    return load_checkpoint(_shipped(name), device)[0]


def pretrained_metrics(name: str) -> dict:
    """The metrics recorded with a shipped checkpoint (from the run that trained it)."""
    return load_checkpoint(_shipped(name))[1]


# --- the results tables ----------------------------------------------------------------------

#: what the source article reports (percent): Table 1 and Table 2
SOURCE = {"simple_cnn": {"0": 97.3, "90": 15.1}, "eq_cnn": {"0": 96.5, "90": 96.5}}

#: test errors (percent) published on the original MNIST-rot
PUBLISHED = {
    "Z2CNN": (5.03, "Cohen & Welling 2016, Table 1"),
    "P4CNN with rotation pooling": (3.21, "Cohen & Welling 2016, Table 1"),
    "P4CNN": (2.28, "Cohen & Welling 2016, Table 1"),
    "Harmonic Networks": (1.69, "Worrall et al. 2017"),
    "E(2)-steerable CNN, best": (0.68, "Weiler & Cesa 2019"),
}


def format_table(results: list[dict]) -> str:
    """The MNIST table in Markdown: parameters, accuracy at four rotations and at 45 degrees.

    No training times: the runs' own clocks ran under different loads and are not comparable between
    rows (``benchmarks/train_step.py`` times every model in one run).
    """
    lines = [
        "| run | parameters | 0° | 90° | 180° | 270° | 45° | source 0° / 90° |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        acc = r["accuracy"]
        src = SOURCE.get(r["run"])
        src_text = f"{src['0']:.1f} / {src['90']:.1f}" if src else "–"
        lines.append(
            f"| {r['run']} | {r['parameters']:,} | "
            + " | ".join(f"{acc[d]:.2f}" for d in ("0", "90", "180", "270"))
            + f" | {r['accuracy_45']:.2f} | {src_text} |"
        )
    return "\n".join(lines)


def format_rot_table(results: dict[str, dict], seconds_per_epoch: dict[str, float] | None = None) -> str:
    """The rotated-MNIST table in Markdown, then the published figures beside it.

    An s/epoch column only from ``seconds_per_epoch`` (run name -> seconds), timings made in one run:
    the runs' own training clocks ran under different loads and are not comparable between rows.
    """
    timed = seconds_per_epoch is not None
    lines = [
        "| model | group | parameters | test error | mean ± sd over seeds | " + ("s/epoch | " if timed else "")
        + "accuracy at 0°, 5°, …, 355° |",
        "|---|---|---:|---:|---:|" + ("---:|" if timed else "") + "---:|",
    ]
    for name, r in results.items():
        values = list(r.get("test_error_by_seed", {}).values())
        spread = (
            f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f} % ({len(values)} seeds)" if len(values) > 1 else "–"
        )
        kernel = f", {r['kernel']}" if r.get("group") and r["group"] != "C4" else ""
        angles = "–"
        if "angle_accuracy_mean" in r:
            angles = f"{r['angle_accuracy_mean']:.2f} % ± {r['angle_accuracy_max_deviation']:.2f}"
        lines.append(
            f"| `{name}` | {r['group'] or 'none'}{kernel} | {r['parameters']:,} | {r['test_error']:.2f} % | {spread} | "
            + (f"{seconds_per_epoch[name]:.0f} | " if timed else "")
            + f"{angles} |"
        )
    for model, (error, source) in PUBLISHED.items():
        lines.append(f"| {model} (published: {source}) | | | {error:.2f} % | |" + (" |" if timed else "") + " |")
    return "\n".join(lines)


def seed_summary(errors: dict[str, float]) -> dict:
    """A run's test error per seed, their mean and their sample sd (None for one seed)."""
    values = list(errors.values())
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return {"test_error_by_seed": errors, "test_error_mean": float(np.mean(values)), "test_error_sd": sd}


def _same_experiment(a: dict, b: dict) -> bool:
    """Whether two results are seeds of one experiment (everything but the seed agrees)."""

    def config(r: dict) -> tuple:
        protocol = {k: v for k, v in r.get("protocol", {}).items() if k != "seed"}
        return r.get("group"), r.get("channels"), r.get("kernel"), r.get("mode"), sorted(protocol.items())

    return "seed" in a and "seed" in b and config(a) == config(b)


def write_results(path: str | Path, results: dict[str, dict]) -> Path:
    """Update ``path`` (a JSON object run -> figures) with ``results``, keeping the other runs.

    A result of the same experiment as the stored entry adds its seeds to ``test_error_by_seed``
    (so seeds trained in separate processes end up in one entry); the entry's other figures are
    those of its lowest seed, the checkpoint that ships. Otherwise the result replaces the entry.
    """
    path = Path(path)
    stored = json.loads(path.read_text()) if path.exists() else {}
    for name, new in results.items():
        old = stored.get(name)
        if old is not None and _same_experiment(old, new):
            seeds = {**old.get("test_error_by_seed", {}), **new.get("test_error_by_seed", {})}
            seeds = dict(sorted(seeds.items(), key=lambda kv: int(kv[0])))
            new = {**(new if new["seed"] <= old["seed"] else old), **seed_summary(seeds)}
        stored[name] = new
    ordered = {name: stored[name] for name in [*RUNS, *stored] if name in stored}
    return _write_atomically(path, lambda tmp: tmp.write_text(json.dumps(ordered, indent=1) + "\n"))
