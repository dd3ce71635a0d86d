"""The command line: ``python -m eqcourse reproduce`` and ``python -m eqcourse evaluate``.

``reproduce`` trains every run with the source protocol and prints one table beside the
source's reported numbers; ``evaluate`` re-measures the shipped checkpoints on the test set.
Both cap torch's threads to the CPUs available (``configure_threads``) before they start.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from eqcourse.data import load_mnist, subset
from eqcourse.pretrained import CHECKPOINT_DIR, RUNS, load_checkpoint, save_checkpoint
from eqcourse.train import Protocol, accuracy, accuracy_by_rotation, configure_threads, fast_mode, run

#: What the source article reports (percent): Table 1 and Table 2.
SOURCE = {"simple_cnn": {"0": 97.3, "90": 15.1}, "eq_cnn": {"0": 96.5, "90": 96.5}}
RESULTS_FILE = CHECKPOINT_DIR / "results.json"
SUITE_HELP = (
    "mnist (default): the source's runs on MNIST; rotmnist: the rotated-MNIST runs (eqcourse.rotruns), "
    "whose --json is updated run by run rather than replaced"
)


def format_table(results: list[dict]) -> str:
    """A Markdown table: parameters, s/epoch, accuracy at four rotations and at 45 degrees."""
    lines = [
        "| run | parameters | s/epoch | 0° | 90° | 180° | 270° | 45° | source 0° / 90° |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        acc = r["accuracy"]
        src = SOURCE.get(r["run"])
        src_text = f"{src['0']:.1f} / {src['90']:.1f}" if src else "–"
        lines.append(
            f"| {r['run']} | {r['parameters']:,} | {r['seconds_per_epoch']:.1f} | "
            + " | ".join(f"{acc[d]:.2f}" for d in ("0", "90", "180", "270"))
            + f" | {r['accuracy_45']:.2f} | {src_text} |"
        )
    return "\n".join(lines)


def _runs(names: list[str] | None, registry: dict = RUNS, what: str = "run(s)") -> list[str]:
    """The requested run names (all of ``registry`` when none), or a clear error naming the known ones."""
    names = names or list(registry)
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise SystemExit(f"error: unknown {what} {', '.join(unknown)}; known runs: {', '.join(registry)}")
    return names


def _write_json(path: str | None, results: list[dict], overwrite: bool) -> None:
    if not path:
        return
    path = Path(path)
    if path.exists() and not overwrite:
        raise SystemExit(f"error: {path} exists; pass --overwrite to replace it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")


def reproduce(args: argparse.Namespace) -> None:
    if args.suite == "rotmnist":
        return _reproduce_rotmnist(args)
    names = _runs(args.runs)
    fast = args.fast or fast_mode()
    protocol = Protocol.fast(seed=args.seed) if fast else Protocol(seed=args.seed)
    if args.epochs is not None:
        protocol.epochs = args.epochs
    if args.save_checkpoints and not args.overwrite:
        existing = [n for n in names if (Path(args.save_checkpoints) / f"{n}.pt").exists()]
        if existing:  # refuse before hours of training, not after
            raise SystemExit(
                f"error: checkpoints for {', '.join(existing)} exist in {args.save_checkpoints}; "
                "pass --overwrite to replace them."
            )
    if args.json and Path(args.json).exists() and not args.overwrite:
        raise SystemExit(f"error: {args.json} exists; pass --overwrite to replace it.")
    threads = configure_threads()
    mode = "full source protocol"
    if fast:
        mode = "FAST mode (10,000 training / 2,000 test digits; not the source protocol)"
    print(
        f"eqcourse reproduce: {mode}; epochs={protocol.epochs}, seed={protocol.seed}, {threads} thread(s)", flush=True
    )
    train_set, test_set = load_mnist("train"), load_mnist("test")
    results = []
    for name in names:
        start = time.perf_counter()
        model, metrics = run(name, protocol, train_set, test_set)
        metrics["mode"] = "fast" if fast else "full"
        results.append(metrics)
        acc = metrics["accuracy"]
        print(
            f"  {name}: {acc['0']:.2f} % upright, {acc['90']:.2f} % at 90° ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
        if args.save_checkpoints:
            save_checkpoint(Path(args.save_checkpoints) / f"{name}.pt", model, name, metrics, overwrite=True)
    print()
    print(format_table(results))
    print(f"\n({mode}; accuracies in percent on {'2,000' if fast else 'all 10,000'} test digits)")
    _write_json(args.json, results, args.overwrite)


def evaluate(args: argparse.Namespace) -> None:
    if args.suite == "rotmnist":
        return _evaluate_rotmnist(args)
    names = _runs(args.runs)
    configure_threads()
    test_set = load_mnist("test")
    if args.fast or fast_mode():
        test_set = subset(test_set, 2000, seed=0)
    results = []
    for name in names:
        model, metrics = load_checkpoint(Path(args.checkpoints) / f"{name}.pt")
        metrics = dict(metrics)
        metrics["accuracy"] = {str(d): a for d, a in accuracy_by_rotation(model, test_set).items()}
        metrics["accuracy_45"] = accuracy(model, test_set, 45.0)
        results.append(metrics)
    print(format_table(results))
    print(f"\n(shipped checkpoints re-evaluated on {len(test_set):,} test digits; s/epoch as recorded when trained)")
    _write_json(args.json, results, args.overwrite)


def _rot_runs(names: list[str] | None) -> list[str]:
    from eqcourse.rotruns import ROT_RUNS

    return _runs(names, ROT_RUNS, "rotated-MNIST run(s)")


def _reproduce_rotmnist(args: argparse.Namespace) -> None:
    """The rotated-MNIST suite: train on all 12,000 training digits, measure on the 50,000 test images."""
    from eqcourse import rotruns

    names, fast = _rot_runs(args.runs), args.fast or fast_mode()
    if args.epochs is not None:
        raise SystemExit("error: --epochs is not used by --suite rotmnist (each run has its own protocol)")
    seeds = args.seeds or [args.seed]
    if args.save_checkpoints and not args.overwrite:
        existing = [n for n in names if (Path(args.save_checkpoints) / f"{n}.pt").exists()]
        if existing:
            raise SystemExit(
                f"error: checkpoints for {', '.join(existing)} exist in {args.save_checkpoints}; "
                "pass --overwrite to replace them."
            )
    threads = configure_threads()
    mode = "FAST pipeline check (2,000 training digits, two epochs)" if fast else "full protocol"
    print(f"eqcourse reproduce --suite rotmnist: {mode}; seeds {seeds}, {threads} thread(s)", flush=True)
    results = {}
    for name in names:
        model, metrics = rotruns.reproduce_run(name, seeds, fast=fast, angle_digits=args.angle_digits)
        results[name] = metrics
        if args.save_checkpoints:
            path = Path(args.save_checkpoints) / f"{name}.pt"
            rotruns.save_rot_checkpoint(path, model, name, metrics, overwrite=True)  # --overwrite checked above
        if args.json:
            rotruns.write_results(args.json, {name: metrics})  # after each run: nothing lost if stopped
    print()
    print(rotruns.format_rot_table(results))
    if args.json:
        print(f"updated {args.json}")


def _evaluate_rotmnist(args: argparse.Namespace) -> None:
    from eqcourse import rotruns

    configure_threads()
    names, fast = _rot_runs(args.runs), args.fast or fast_mode()
    if not args.runs:  # by default, every run that has a checkpoint (rot_c16_cnn may not ship)
        missing = [n for n in names if not (Path(args.checkpoints) / f"{n}.pt").exists()]
        names = [n for n in names if n not in missing]
        if missing:
            print(f"no checkpoint for {', '.join(missing)} in {args.checkpoints}; skipped")
    results = {
        name: rotruns.evaluate_run(Path(args.checkpoints) / f"{name}.pt", fast=fast, angle_digits=args.angle_digits)
        for name in names
    }
    print(rotruns.format_rot_table(results))
    print("\n(shipped checkpoints re-measured; spread over seeds and s/epoch as recorded when trained)")
    if args.json:
        rotruns.write_results(args.json, results)
        print(f"updated {args.json}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m eqcourse", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("reproduce", help="train every run with the source protocol and print the table")
    p.add_argument("--runs", nargs="+", metavar="RUN", help=f"runs to train (default: all of {', '.join(RUNS)})")
    p.add_argument("--epochs", type=int, help="override the number of epochs")
    p.add_argument("--fast", action="store_true", help="fast mode: small data, one epoch (also EQCOURSE_FAST=1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    p.add_argument("--save-checkpoints", metavar="DIR", help="save each trained model as DIR/RUN.pt")
    p.add_argument("--overwrite", action="store_true", help="replace existing checkpoints or JSON")
    p.add_argument("--suite", choices=("mnist", "rotmnist"), default="mnist", help=SUITE_HELP)
    p.add_argument("--seeds", type=int, nargs="+", metavar="SEED", help="rotmnist: one run per seed")
    p.add_argument("--angle-digits", type=int, metavar="N", help="rotmnist: test digits for accuracy vs angle")
    p.set_defaults(func=reproduce)
    e = sub.add_parser("evaluate", help="re-measure the shipped checkpoints on the test set")
    e.add_argument("--runs", nargs="+", metavar="RUN")
    e.add_argument("--checkpoints", default=str(CHECKPOINT_DIR), metavar="DIR")
    e.add_argument("--fast", action="store_true", help="2,000 test digits instead of 10,000")
    e.add_argument("--json", metavar="PATH")
    e.add_argument("--overwrite", action="store_true")
    e.add_argument("--suite", choices=("mnist", "rotmnist"), default="mnist", help=SUITE_HELP)
    e.add_argument("--angle-digits", type=int, metavar="N", help="rotmnist: test digits for accuracy vs angle")
    e.set_defaults(func=evaluate)
    args = parser.parse_args(argv)
    if getattr(args, "epochs", None) is not None and args.epochs < 1:
        parser.error(f"--epochs must be a positive integer; got {args.epochs}")
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
