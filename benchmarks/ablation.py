"""Do the copies need to talk to each other? EqCNN -> P4CNN one change at a time, on validation data.

    python benchmarks/ablation.py [--variants eq_cnn eq_cnn_bn ...] [--seeds 0 1 2]
                                  [--runs DIR] [--out FILE.json] [--fast]

Five variants, each a registry name in ``eqcourse.models.MODELS``:

* ``eq_cnn``: the source's EqCNN (one plain CNN on the four rotated copies, max over copies);
* ``eq_cnn_bn``: the same with batch norm (one statistic per channel, shared by the copies);
* ``p4_cnn_identity``: P4CNN with every group kernel zero off the identity slice, so the copies
  never mix (same lift, widths, batch norm, 1x1 layer and head as P4CNN);
* ``p4_cnn_small``: P4CNN with its widths halved (rounded down): the copies talk, with fewer
  parameters than ``p4_cnn_identity`` (so that a gap between the two is not bought with parameters);
* ``p4_cnn``: P4CNN, whose group convolutions mix the copies.

``--variants p4m_cnn`` (``EXTRA``, not a step of the ablation) scores P4MCNN on the same split and
adds it under ``"extra"`` to the existing summary without timing it; notebook 06 compares it with P4CNN.

Each is trained with the source protocol (AdamW lr 5e-4, batch 64, 5 epochs) on the 50,000
training digits of ``benchmarks/p4_validation.py``'s split and scored on the other 10,000; the
test set is never loaded. Every finished run is kept as one JSON file in ``--runs`` (so two
processes with different ``--variants`` can share the work, and a rerun skips finished runs);
then the training-step time of every variant and of SimpleCNN is measured once
(``eqcourse.cost.step_times``, one round-robin run) and the summary goes to ``--out``
(default ``eqcourse/checkpoints/ablation.json``, shipped with the package). A run needed one to
two minutes of CPU time on one thread here; its wall-clock time (``train_seconds`` in the JSON)
grows with how busy the machine is (benchmarks/README.md says what the shipped runs took).
``--fast`` trains on 1,000 digits for one epoch and scores 1,000 (a smoke test, seconds).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import time
from pathlib import Path

import torch

from eqcourse.cost import ratios, step_times
from eqcourse.data import subset
from eqcourse.models import MODELS, build_model, count_parameters
from eqcourse.train import Protocol, accuracy, set_seed, train

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ["eq_cnn", "eq_cnn_bn", "p4_cnn_identity", "p4_cnn_small", "p4_cnn"]
# Scored on the same split but not a step of the ablation: kept under "extra" in the summary (no step timing)
EXTRA = ["p4m_cnn"]
LABELS = {
    "eq_cnn": "EqCNN (source)",
    "eq_cnn_bn": "EqCNN + batch norm",
    "p4_cnn_identity": "P4CNN, identity-only group kernels",
    "p4_cnn_small": "P4CNN, widths halved (copies talk)",
    "p4_cnn": "P4CNN (copies talk)",
    "p4m_cnn": "P4MCNN (D4: rotations and mirror images)",
}
DEFAULT_OUT = ROOT / "eqcourse" / "checkpoints" / "ablation.json"
DEFAULT_RUNS = ROOT / "benchmarks" / "ablation_runs"


def split():
    """The validation split of ``benchmarks/p4_validation.py`` (50,000 to train, 10,000 to score)."""
    spec = importlib.util.spec_from_file_location("p4_validation", ROOT / "benchmarks" / "p4_validation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.split()


def variant(text: str) -> str:
    if text not in VARIANTS + EXTRA:
        raise argparse.ArgumentTypeError(f"a variant is one of {', '.join(VARIANTS + EXTRA)}; got {text!r}")
    return text


def run_one(name: str, seed: int, fit, held_out, protocol: Protocol) -> dict:
    """Train one variant with one seed; its validation accuracy and training time."""
    set_seed(seed)
    model = build_model(name)
    start = time.perf_counter()
    train(model, fit, protocol)
    return {
        "variant": name,
        "seed": seed,
        "validation_accuracy": accuracy(model, held_out),
        "train_seconds": time.perf_counter() - start,
        "threads": torch.get_num_threads(),
    }


def seed_row(name: str, runs: list[dict]) -> dict:
    """One variant's per-seed validation accuracies, their mean and sd, and its parameter count."""
    mine = sorted((r for r in runs if r["variant"] == name), key=lambda r: r["seed"])
    scores = [r["validation_accuracy"] for r in mine]
    return {
        "label": LABELS[name],
        "seeds": [r["seed"] for r in mine],
        "validation_accuracy": scores,
        "mean": statistics.mean(scores),
        "sd": statistics.stdev(scores) if len(scores) > 1 else 0.0,
        "parameters": count_parameters(build_model(name)),
        "train_seconds": [r["train_seconds"] for r in mine],
    }


def summarise(runs: list[dict], variants: list[str], times: dict[str, float], protocol: Protocol, fast: bool) -> dict:
    """The shipped summary: per variant the per-seed accuracies, mean, sd, parameters, step ratio."""
    step_ratio = ratios(times)
    table = {}
    for name in variants:
        row = seed_row(name, runs)
        seconds = row.pop("train_seconds")  # kept last, after the step ratio, as the shipped summary has it
        table[name] = {**row, "train_step_ratio": step_ratio[name], "train_seconds": seconds}
    return {
        "what": "validation accuracy (%) on 10,000 held-out training digits; trained on the other 50,000",
        "protocol": {"epochs": protocol.epochs, "lr": protocol.lr, "batch_size": protocol.batch_size},
        "fast": fast,
        "train_step_seconds": times,
        "variants": table,
    }


def markdown_table(summary: dict) -> str:
    """The table for the README and notebook 06: parameters, step ratio, accuracy mean ± sd over seeds."""
    rows = [
        "| variant | parameters | train step (x SimpleCNN) | validation accuracy (%), mean ± sd | seeds |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in summary["variants"].items():
        rows.append(
            f"| {row['label']} (`{name}`) | {row['parameters']:,} | {row['train_step_ratio']:.2f} | "
            f"{row['mean']:.2f} ± {row['sd']:.2f} | {len(row['seeds'])} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", type=variant, nargs="+", default=VARIANTS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs", type=Path, default=DEFAULT_RUNS, help="directory keeping one JSON file per run")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the summary JSON")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=100, help="timed training steps per model")
    parser.add_argument("--no-summary", action="store_true", help="only train (another process summarises)")
    parser.add_argument("--fast", action="store_true", help="1,000 digits, one epoch: a smoke test")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be at least 1; got {args.threads}")
    torch.set_num_threads(args.threads)
    fit, held_out = split()
    protocol = Protocol()
    if args.fast:
        fit, held_out = subset(fit, 1000, seed=0), subset(held_out, 1000, seed=0)
        protocol = Protocol(epochs=1)
    args.runs.mkdir(parents=True, exist_ok=True)
    runs = []
    for name in args.variants:
        for seed in args.seeds:
            path = args.runs / f"{name}_seed{seed}{'_fast' if args.fast else ''}.json"
            if path.exists():
                result = json.loads(path.read_text())
            else:
                result = run_one(name, seed, fit, held_out, Protocol(**{**protocol.__dict__, "seed": seed}))
                path.write_text(json.dumps(result, indent=1) + "\n")
            runs.append(result)
            print(
                f"{name} seed {seed}: validation accuracy {result['validation_accuracy']:.2f} % "
                f"({result['train_seconds']:.0f} s)",
                flush=True,
            )
    if args.no_summary:
        return {}
    assert all(name in MODELS for name in args.variants)
    steps = [n for n in args.variants if n not in EXTRA]
    extra = {n: seed_row(n, runs) for n in args.variants if n in EXTRA}
    if not steps:  # only extra variants: add them to the existing summary, whose timed table stays as it is
        if not args.out.exists():
            parser.error(f"--variants {' '.join(args.variants)} adds to an existing summary; {args.out} does not exist")
        summary = json.loads(args.out.read_text())
        summary["extra"] = {**summary.get("extra", {}), **extra}
        args.out.write_text(json.dumps(summary, indent=1) + "\n")
        for row in extra.values():
            print(f"{row['label']}: validation accuracy {row['mean']:.2f} ± {row['sd']:.2f} over seeds {row['seeds']}")
        return summary
    times = step_times(
        {"simple_cnn": build_model("simple_cnn"), **{n: build_model(n) for n in steps}},
        steps=args.steps,
        warmup=min(10, args.steps),
        kinds=("train",),
    )["train"]
    summary = summarise(runs, steps, times, protocol, args.fast)
    if extra:
        summary["extra"] = extra
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print("\n" + markdown_table(summary) + "\n")
    print(f"{'variant':38s} {'params':>7s} {'step':>5s}  validation accuracy: seeds, mean ± sd")
    for row in summary["variants"].values():
        seeds = " ".join(f"{s:6.2f}" for s in row["validation_accuracy"])
        print(
            f"{row['label']:38s} {row['parameters']:7,d} {row['train_step_ratio']:5.2f}  {seeds}  "
            f"{row['mean']:.2f} ± {row['sd']:.2f}"
        )
    return summary


if __name__ == "__main__":
    main()
