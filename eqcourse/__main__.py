"""The command line: ``python -m eqcourse reproduce`` and ``python -m eqcourse evaluate``.

``reproduce`` trains the runs of a suite (``--suite mnist``, the default: the source's protocol;
``--suite rotmnist``: the rotated-MNIST runs) and prints its table; ``evaluate`` re-measures the
shipped checkpoints on the test set. Both cap torch's threads to the CPUs available
(``configure_threads``) before they start.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from eqcourse.pretrained import (
    CHECKPOINT_DIR,
    dataset_runs,
    format_rot_table,
    format_table,
    load_checkpoint,
    save_checkpoint,
    seed_summary,
    write_results,
)
from eqcourse.train import FAST, configure_threads, fast_mode, load_split, measure, protocol_of, run

SUITE_HELP = (
    "mnist (default): the source's runs on MNIST; rotmnist: the rotated-MNIST runs, "
    "whose --json is updated run by run rather than replaced"
)


def _runs(args: argparse.Namespace) -> list[str]:
    """The requested run names (the whole suite when none), or a clear error naming the known ones."""
    known = dataset_runs(args.suite)
    unknown = [n for n in args.runs or [] if n not in known]
    if unknown:
        what = "rotated-MNIST run(s)" if args.suite == "rotmnist" else "run(s)"
        raise SystemExit(f"error: unknown {what} {', '.join(unknown)}; known runs: {', '.join(known)}")
    return args.runs or known


def _refuse_to_overwrite(paths: list[Path]) -> None:
    existing = [str(p) for p in paths if p.exists()]
    if existing:  # refuse before hours of training, not after
        raise SystemExit(f"error: {', '.join(existing)} exist(s); pass --overwrite to replace.")


def _report(args: argparse.Namespace, results: dict[str, dict], note: str) -> None:
    """Print the suite's table; write ``--json`` (MNIST: a new list; rotated MNIST: updated run by run)."""
    if args.suite == "rotmnist":
        print(format_rot_table(results))
    else:
        print(format_table(list(results.values())))
    print(f"\n({note})")
    if args.json and args.suite == "mnist":
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(list(results.values()), indent=2) + "\n")
    elif args.json:
        write_results(args.json, results)
    if args.json:
        print(f"wrote {args.json}")


def reproduce(args: argparse.Namespace) -> None:
    names, fast, rot = _runs(args), args.fast or fast_mode(), args.suite == "rotmnist"
    if args.seeds and not rot:
        raise SystemExit("error: --seeds is for --suite rotmnist; pass --seed for the MNIST runs")
    seeds = args.seeds or [args.seed]
    if not args.overwrite:
        _refuse_to_overwrite([Path(args.save_checkpoints) / f"{n}.pt" for n in names] if args.save_checkpoints else [])
        _refuse_to_overwrite([Path(args.json)] if args.json and not rot else [])
    changes = {} if args.epochs is None else {"epochs": args.epochs}
    first = protocol_of(names[0], fast, **changes)
    threads = configure_threads()
    mode = "full protocol"
    if fast:
        mode = f"FAST mode ({first.train_size:,} training / {first.test_size:,} test images; not the full protocol)"
    print(f"eqcourse reproduce --suite {args.suite}: {mode}; epochs={first.epochs}, seeds {seeds}, {threads} thread(s)")
    angle_digits = args.angle_digits or (200 if fast else 1000)
    results = {}
    for name in names:
        errors = {}
        for seed in seeds:
            start = time.perf_counter()
            model, metrics = run(name, protocol_of(name, fast, seed=seed, **changes), angle_digits=angle_digits)
            metrics["mode"] = "fast" if fast else "full"
            if rot:
                errors[str(seed)] = metrics["test_error"]
                print(f"  {name} seed {seed}: test error {metrics['test_error']:.2f} %", end="")
            else:
                acc = metrics["accuracy"]
                print(f"  {name}: {acc['0']:.2f} % upright, {acc['90']:.2f} % at 90°", end="")
            print(f" ({time.perf_counter() - start:.0f} s)", flush=True)
            if seed == seeds[0]:  # the first seed's model and figures; every seed's test error
                results[name], shipped = metrics, model
        if rot:
            results[name].update(seed_summary(errors))
            if args.json:  # after each run: nothing lost if stopped
                write_results(args.json, {name: results[name]})
        if args.save_checkpoints:
            save_checkpoint(Path(args.save_checkpoints) / f"{name}.pt", shipped, name, results[name], overwrite=True)
    print()
    test = f"{first.test_size:,}" if first.test_size else "all"
    _report(args, results, f"{mode}; measured on {test} test images")


def evaluate(args: argparse.Namespace) -> None:
    names, fast = _runs(args), args.fast or fast_mode()
    configure_threads()
    if not args.runs:  # by default, every run of the suite that has a checkpoint (the wheel ships only some)
        missing = [n for n in names if not (Path(args.checkpoints) / f"{n}.pt").exists()]
        names = [n for n in names if n not in missing]
        if missing:
            print(f"no checkpoint for {', '.join(missing)} in {args.checkpoints}; skipped")
    if args.json and args.suite == "mnist" and not args.overwrite:
        _refuse_to_overwrite([Path(args.json)])
    test_set = load_split(args.suite, "test", FAST[args.suite]["test_size"] if fast else None)
    angle_digits = args.angle_digits or (200 if fast else 1000)
    results = {}
    for name in names:
        model, recorded = load_checkpoint(Path(args.checkpoints) / f"{name}.pt")
        measured = measure(model, args.suite, test_set, angle_digits)
        results[name] = {**recorded, **measured, "mode": "fast" if fast else recorded.get("mode", "full")}
    _report(args, results, f"shipped checkpoints re-measured on {len(test_set):,} test images")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m eqcourse", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("reproduce", help="train the runs of a suite and print its table")
    p.add_argument("--runs", nargs="+", metavar="RUN", help="runs to train (default: every run of the suite)")
    p.add_argument("--epochs", type=int, help="override the number of epochs")
    p.add_argument("--fast", action="store_true", help="fast mode: small data, few epochs (also EQCOURSE_FAST=1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, nargs="+", metavar="SEED", help="rotmnist: one run per seed")
    p.add_argument("--save-checkpoints", metavar="DIR", help="save each trained model as DIR/RUN.pt")
    e = sub.add_parser("evaluate", help="re-measure the shipped checkpoints on the test set")
    e.add_argument("--runs", nargs="+", metavar="RUN", help="runs to evaluate (default: those with a checkpoint)")
    e.add_argument("--checkpoints", default=str(CHECKPOINT_DIR), metavar="DIR")
    e.add_argument("--fast", action="store_true", help="2,000 test images")
    for q in (p, e):
        q.add_argument("--suite", choices=("mnist", "rotmnist"), default="mnist", help=SUITE_HELP)
        q.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
        q.add_argument("--overwrite", action="store_true", help="replace existing checkpoints or JSON")
        q.add_argument("--angle-digits", type=int, metavar="N", help="rotmnist: test digits for accuracy vs angle")
    p.set_defaults(func=reproduce)
    e.set_defaults(func=evaluate)
    args = parser.parse_args(argv)
    if getattr(args, "epochs", None) is not None and args.epochs < 1:
        parser.error(f"--epochs must be a positive integer; got {args.epochs}")
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
