"""Median time of one training step (and one eval step) per model, measured in one run.

    python benchmarks/train_step.py [--steps 100] [--batch 64] [--models ...] [--e2cnn]

Models are timed round-robin (one step of each in turn) so that a noisy machine slows all of
them alike; the figures are medians after warm-up, and the ratio to SimpleCNN is what to read.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from eqcourse.models import MODELS, EqCNN, build_model, count_parameters
from eqcourse.train import configure_threads

EXTRA = {"eq_cnn_conv3d": lambda: EqCNN(fold_copies=False)}


def e2cnn_p4() -> torch.nn.Module | None:
    """The P4CNN's architecture built with e2cnn's R2Conv (regular C4 fields), if installed."""
    try:
        from e2cnn import gspaces
        from e2cnn import nn as enn
    except ImportError:
        return None
    from eqcourse.models import P4CNN

    c1, c2, c3 = P4CNN.CHANNELS
    space = gspaces.Rot2dOnR2(N=4)
    fields = [enn.FieldType(space, [space.trivial_repr])] + [
        enn.FieldType(space, c * [space.regular_repr]) for c in (c1, c2, c3)
    ]

    class E2P4(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.input_type = fields[0]
            self.body = enn.SequentialModule(
                enn.R2Conv(fields[0], fields[1], 3, padding=1),
                enn.ELU(fields[1]),  # pointwise, like SiLU
                enn.PointwiseMaxPool(fields[1], 2),
                enn.R2Conv(fields[1], fields[2], 3, padding=1),
                enn.ELU(fields[2]),
                enn.PointwiseMaxPool(fields[2], 2),
                enn.R2Conv(fields[2], fields[3], 3, padding=1),
                enn.ELU(fields[3]),
                enn.GroupPooling(fields[3]),
            )
            self.linear = torch.nn.Linear(c3, 10)

        def forward(self, x):
            y = self.body(enn.GeometricTensor(x, self.input_type)).tensor
            return self.linear(y.amax(dim=(-2, -1)))

    return E2P4()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100, help="timed steps per model (after warm-up)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--models", nargs="+", default=[*MODELS, *EXTRA])
    parser.add_argument("--e2cnn", action="store_true", help="add the same C4 model built with e2cnn")
    args = parser.parse_args()
    threads = configure_threads()
    torch.manual_seed(0)
    models = {name: (EXTRA[name] if name in EXTRA else lambda n=name: build_model(n))() for name in args.models}
    if args.e2cnn:
        model = e2cnn_p4()
        if model is None:
            print("e2cnn is not installed (pip install e2cnn); skipping it")
        else:
            models["e2cnn_p4"] = model
    x, y = torch.rand(args.batch, 1, 28, 28), torch.randint(0, 10, (args.batch,))
    optimizers = {n: torch.optim.AdamW(m.parameters(), lr=5e-4) for n, m in models.items()}

    def train_step(name):
        loss = F.cross_entropy(models[name](x), y)
        optimizers[name].zero_grad()
        loss.backward()
        optimizers[name].step()

    def eval_step(name):
        with torch.no_grad():
            models[name](x)

    results = {}
    for kind, step in (("train", train_step), ("eval", eval_step)):
        for m in models.values():
            m.train(kind == "train")
        times = {n: [] for n in models}
        for i in range(args.warmup + args.steps):
            for name in models:
                start = time.perf_counter()
                step(name)
                if i >= args.warmup:
                    times[name].append(time.perf_counter() - start)
        results[kind] = {n: statistics.median(t) for n, t in times.items()}

    base_train, base_eval = results["train"]["simple_cnn"], results["eval"]["simple_cnn"]
    print(f"batch {args.batch}, {threads} thread(s), medians over {args.steps} steps after {args.warmup} warm-up")
    print(f"{'model':16s} {'params':>7s} {'train ms':>9s} {'x simple':>9s} {'eval ms':>8s} {'x simple':>9s}")
    for name, model in models.items():
        tr, ev = results["train"][name], results["eval"][name]
        print(
            f"{name:16s} {count_parameters(model):7,d} {tr * 1e3:9.2f} {tr / base_train:9.2f} "
            f"{ev * 1e3:8.2f} {ev / base_eval:9.2f}"
        )


if __name__ == "__main__":
    main()
