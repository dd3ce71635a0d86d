"""How the rotated-MNIST runs were chosen: on the 2,000-digit validation split, never on the test set.

    python benchmarks/rot_validation.py [--candidates NAME ...] [--seeds 0] [--out FILE.json]
    python benchmarks/rot_validation.py --out benchmarks/rot_validation.json --table   # the README's table

Every candidate is an ``eqcourse.models.RotCNN`` (a group, seven channel counts) with the
rotated-MNIST protocol (``eqcourse.pretrained.ROTMNIST``) changed in epochs, learning rate or
augmentation. It trains on the rotated-MNIST "train" split (10,000 digits) and is scored on
"val" (2,000 digits); the test split is never loaded. Every candidate run is written to
``--out`` (JSON: validation error, parameters, seconds per epoch, the full configuration) and
skipped when the script runs again. One thread per run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import asdict
from pathlib import Path

import torch

from eqcourse.data import load_rotated_mnist
from eqcourse.groups import C4, CyclicGroup
from eqcourse.models import BUDGET, RotCNN, count_parameters
from eqcourse.pretrained import ROTMNIST
from eqcourse.train import Protocol, accuracy, set_seed, train

Z2_WIDE = (16, 20, 24, 24, 24, 24, 40)
P4_WIDE = (8, 10, 12, 12, 12, 12, 32)
P4_HEAD = (6, 10, 12, 12, 12, 12, 40)
C8_WIDE = (6, 7, 8, 8, 8, 8, 32)  # the shipped rot_c8_cnn
C16_WIDE = (4, 5, 6, 6, 6, 6, 32)  # the shipped rot_c16_cnn

#: name -> (group order or None, channels, protocol changes[, kernel])
CANDIDATES: dict[str, tuple] = {
    "z2 e15 aug": (None, Z2_WIDE, {"epochs": 15}),
    "z2 e30 aug": (None, Z2_WIDE, {"epochs": 30}),
    "z2 e15 noaug": (None, Z2_WIDE, {"epochs": 15, "augment": "none"}),
    "z2 e30 aug lr1e-2": (None, Z2_WIDE, {"epochs": 30, "lr": 1e-2}),
    "p4 e15 aug": (4, P4_WIDE, {"epochs": 15}),
    "p4 e30 aug": (4, P4_WIDE, {"epochs": 30}),
    "p4 e15 noaug": (4, P4_WIDE, {"epochs": 15, "augment": "none"}),
    "p4 e15 aug lr1e-2": (4, P4_WIDE, {"epochs": 15, "lr": 1e-2}),
    "p4head e15 aug": (4, P4_HEAD, {"epochs": 15}),
    "c8 e15 aug": (8, C8_WIDE, {"epochs": 15}),
    "c8 steerable e15 aug": (8, C8_WIDE, {"epochs": 15}, "steerable"),
    "c16 steerable e15 aug": (16, C16_WIDE, {"epochs": 15}, "steerable"),
}


def run_key(name: str, seed: int) -> str:
    return f"{name} seed {seed}"


def markdown_table(done: dict[str, dict]) -> str:
    """Every candidate with finished runs: parameters, validation error per seed, mean ± sd (benchmarks/README.md)."""
    lines = ["| candidate | parameters | validation error per seed (%) | mean ± sd (%) |", "|---|---:|---|---:|"]
    for name in CANDIDATES:
        seeded = ((r["protocol"]["seed"], key, r) for key, r in done.items())
        runs = sorted((seed, r) for seed, key, r in seeded if key == run_key(name, seed))
        if not runs:
            continue
        errors = [r["val_error"] for _, r in runs]
        spread = f"{statistics.mean(errors):.2f}" + (f" ± {statistics.stdev(errors):.2f}" if len(errors) > 1 else "")
        per_seed = ", ".join(f"{r['val_error']:.2f} (seed {seed})" for seed, r in runs)
        lines.append(f"| {name} | {runs[0][1]['parameters']:,} | {per_seed} | {spread} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, default=Path("rot_validation.json"), help="JSON of every candidate run")
    parser.add_argument("--table", action="store_true", help="print the Markdown table of --out and stop (no training)")
    args = parser.parse_args()
    if args.table:
        print(markdown_table(json.loads(args.out.read_text())))
        return
    torch.set_num_threads(1)
    fit, val = load_rotated_mnist("train"), load_rotated_mnist("val")
    for name in args.candidates:
        order, channels, changes, kernel = (*CANDIDATES[name], "pixel")[:4]
        for seed in args.seeds:
            key = run_key(name, seed)
            done = json.loads(args.out.read_text()) if args.out.exists() else {}  # others may write it too
            if key in done:
                print(f"{key}: validation error {done[key]['val_error']:.2f} % (kept)", flush=True)
                continue
            group = None if order is None else C4 if order == 4 else CyclicGroup(order)
            set_seed(seed)
            model = RotCNN(group, channels, kernel)
            params = count_parameters(model)
            if params > BUDGET:
                print(f"{key}: {params:,} parameters, over the budget of {BUDGET:,}; skipped", flush=True)
                continue
            protocol = Protocol(**{**ROTMNIST, **changes, "seed": seed})
            start = time.perf_counter()
            seconds = train(model, fit, protocol).seconds_per_epoch
            record = {
                "val_error": 100.0 - accuracy(model, val),
                "group": None if group is None else group.name,
                "channels": list(channels),
                "kernel": kernel,
                "parameters": params,
                "protocol": asdict(protocol),
                "seconds_per_epoch": statistics.median(seconds),
                "seconds": time.perf_counter() - start,
            }
            done = json.loads(args.out.read_text()) if args.out.exists() else {}
            done[key] = record
            args.out.write_text(json.dumps(done, indent=1) + "\n")
            print(f"{key}: validation error {record['val_error']:.2f} % ({record['seconds']:.0f} s)", flush=True)
    done = json.loads(args.out.read_text()) if args.out.exists() else {}
    print(f"\n{'candidate':22s} {'params':>7s} {'s/epoch':>8s}  validation error (%) per seed")
    for name in args.candidates:
        rows = [done[run_key(name, s)] for s in args.seeds if run_key(name, s) in done]
        if rows:
            errs = " ".join(f"{r['val_error']:5.2f}" for r in rows)
            print(f"{name:22s} {rows[0]['parameters']:7,d} {rows[0]['seconds_per_epoch']:8.1f}  {errs}")


if __name__ == "__main__":
    main()
