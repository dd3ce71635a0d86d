"""How P4CNN's channel counts were chosen: on a validation split, never on the test set.

    python benchmarks/p4_validation.py [--seeds 0 1] [--candidates 4,6,10 4,6,9,24 ...]
                                       [--threads 1] [--out FILE.json]

Every candidate is an ``eqcourse.models.GroupCNN`` for C4 (three channel counts: lift, 3x3 and
7x7 group convolutions; a fourth adds the 1x1 group convolution). It is trained with the
source protocol (AdamW lr 5e-4, batch 64, 5 epochs) on 50,000 training digits and scored on the
other 10,000, a split fixed by ``SPLIT_SEED``; the test set is not loaded. One run takes about
100 s on one thread here, so the defaults (7 candidates, 2 seeds) take about 25 minutes.
``--out`` keeps every finished run in a JSON file and skips it when run again.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from eqcourse.data import load_mnist
from eqcourse.groups import C4
from eqcourse.models import P4CNN, GroupCNN, SimpleCNN, count_parameters
from eqcourse.train import Protocol, accuracy, set_seed, train

SPLIT_SEED = 12345
VALIDATION_SIZE = 10_000
CANDIDATES = ["4,6,10", "4,6,10,12", "4,6,10,16", "4,6,9,24", "4,6,9,32", "4,6,8,40", "4,7,8,24"]
BUDGET = count_parameters(SimpleCNN())  # 13,978


def parse_channels(text: str) -> tuple[int, ...]:
    """``"4,6,9,24"`` -> ``(4, 6, 9, 24)``, checked by ``GroupCNN`` itself."""
    message = f"a candidate is 3 or 4 comma-separated positive integers like 4,6,9,24; got {text!r}"
    try:
        channels = tuple(int(c) for c in text.split(","))
        GroupCNN(C4, channels)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{message} ({err})") from None
    return channels


def run_key(channels: tuple[int, ...], seed: int, threads: int) -> str:
    """How a finished run is named in the ``--out`` file."""
    return f"{','.join(map(str, channels))} seed {seed} threads {threads}"


def split() -> tuple[TensorDataset, TensorDataset]:
    """The training split cut into 50,000 digits to train on and 10,000 to validate on."""
    images, labels = load_mnist("train").tensors
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(SPLIT_SEED))
    fit, held_out = order[:-VALIDATION_SIZE], order[-VALIDATION_SIZE:]
    return TensorDataset(images[fit], labels[fit]), TensorDataset(images[held_out], labels[held_out])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--candidates", type=parse_channels, nargs="+", default=[parse_channels(c) for c in CANDIDATES])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (results depend slightly on it)")
    parser.add_argument("--out", type=Path, default=None, help="JSON file that keeps finished runs")
    args = parser.parse_args()
    if args.threads < 1:
        parser.error(f"--threads must be at least 1; got {args.threads}")
    torch.set_num_threads(args.threads)
    done = json.loads(args.out.read_text()) if args.out and args.out.exists() else {}
    fit, held_out = split()
    parameters = {channels: count_parameters(GroupCNN(C4, channels)) for channels in args.candidates}
    for channels in args.candidates:
        if parameters[channels] > BUDGET:
            print(f"{channels}: {parameters[channels]:,} parameters, over the budget of {BUDGET:,}; skipped")
            continue
        for seed in args.seeds:
            key = run_key(channels, seed, args.threads)
            if key not in done:
                set_seed(seed)
                model = GroupCNN(C4, channels)
                train(model, fit, Protocol(seed=seed))
                done[key] = accuracy(model, held_out)
                if args.out:
                    args.out.write_text(json.dumps(done, indent=1) + "\n")
            print(f"{key}: validation accuracy {done[key]:.2f} %", flush=True)
    print(f"\n{'channels':14s} {'params':>7s}  validation accuracy per seed, mean")
    for channels in args.candidates:
        keys = (run_key(channels, seed, args.threads) for seed in args.seeds)
        scores = [done[key] for key in keys if key in done]
        if scores:
            name = ",".join(map(str, channels))
            marker = "  <- P4CNN" if channels == P4CNN.CHANNELS else ""
            row = " ".join(f"{s:6.2f}" for s in scores)
            print(f"{name:14s} {parameters[channels]:7,d}  {row}  mean {statistics.mean(scores):.2f}{marker}")


if __name__ == "__main__":
    main()
