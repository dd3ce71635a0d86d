"""The rotated-MNIST C8 network's train and eval step against the same network built with e2cnn.

    python benchmarks/rot_step.py [--run rot_c8_cnn] [--steps 50] [--warmup 5] [--batch 64] [--threads 1]

``eqcourse``'s network is ``eqcourse.models.build_model(run)`` (a ``RotCNN``: lifting and
group convolutions that rotate a free kernel, expanded into one bank per step). The twin has the
same layers built with e2cnn (optional: ``pip install e2cnn``): ``R2Conv`` on regular C_N fields
with the same field counts and kernel sizes, ``InnerBatchNorm``, SiLU applied pointwise, 2x2
``PointwiseMaxPool``, ``GroupPooling``, global max, ``Linear``. e2cnn expands a steerable basis,
so the same field counts give it fewer parameters. Both are timed round-robin in one run
(``eqcourse.cost.step_times``); read the ratios, not the milliseconds.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from eqcourse.cost import macs_per_image, step_times
from eqcourse.models import KERNELS, ROT_LAYOUT, RotCNN, build_model, count_parameters
from eqcourse.pretrained import dataset_runs


def e2cnn_twin(model: RotCNN) -> torch.nn.Module | None:
    """``model``'s layers built with e2cnn (None if e2cnn is not installed)."""
    try:
        from e2cnn import gspaces
        from e2cnn import nn as enn
    except ImportError:
        return None

    space = gspaces.Rot2dOnR2(N=model.group.order)
    image = enn.FieldType(space, [space.trivial_repr])
    types = [enn.FieldType(space, c * [space.regular_repr]) for c in model.channels]
    layout = ROT_LAYOUT

    class E2Twin(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.input_type = image
            ins = [image, *types[:-1]]
            self.convs = torch.nn.ModuleList(
                enn.R2Conv(t_in, t_out, k, padding=p) for t_in, t_out, (k, p, _) in zip(ins, types, layout, strict=True)
            )
            self.bns = torch.nn.ModuleList(enn.InnerBatchNorm(t) for t in types)
            self.pools = torch.nn.ModuleList(
                enn.PointwiseMaxPool(t, 2) if pool else torch.nn.Identity()
                for t, (_, _, pool) in zip(types, layout, strict=True)
            )
            self.group_pool = enn.GroupPooling(types[-1])
            self.linear = torch.nn.Linear(model.channels[-1], 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = enn.GeometricTensor(x, self.input_type)
            for conv, bn, pool in zip(self.convs, self.bns, self.pools, strict=True):
                y = bn(conv(y))
                y = pool(enn.GeometricTensor(F.silu(y.tensor), y.type))
            y = self.group_pool(y)
            return self.linear(y.tensor.amax(dim=(-2, -1)))

    return E2Twin()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="rot_c8_cnn", choices=dataset_runs("rotmnist")[1:])  # the group runs
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--kernels", nargs="+", choices=KERNELS, help="also time these kernels (default: the run's)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    ours = build_model(args.run)
    twin = e2cnn_twin(ours)
    if twin is None:
        print(f"e2cnn is not installed (pip install e2cnn, optional); {args.run} vs e2cnn skipped")
        return
    models = {args.run: ours}
    for kernel in args.kernels or []:
        if kernel != ours.kernel:
            models[f"{args.run}_{kernel}"] = RotCNN(ours.group, ours.channels, kernel)
    models["e2cnn_twin"] = twin
    times = step_times(models, batch=args.batch, steps=args.steps, warmup=args.warmup)
    print(
        f"{args.run} ({ours.group.name}) vs its e2cnn twin: batch {args.batch}, {torch.get_num_threads()} thread(s), "
        f"medians over {args.steps} steps after {args.warmup} warm-up rounds, round-robin"
    )
    width = max(map(len, models))
    print(f"{'model':{width}s} {'kernel':9s} {'params':>7s} {'MACs/img':>11s} {'train ms':>9s} {'eval ms':>8s}")
    for name, model in models.items():
        kernel = getattr(model, "kernel", "e2cnn")
        print(
            f"{name:{width}s} {kernel:9s} {count_parameters(model):7,d} {macs_per_image(model):11,d} "
            f"{times['train'][name] * 1e3:9.2f} {times['eval'][name] * 1e3:8.2f}"
        )
    for name in models:
        if name == "e2cnn_twin":
            continue
        for kind in ("train", "eval"):
            ratio = times[kind]["e2cnn_twin"] / times[kind][name]
            target = " (target >= 1: eqcourse not slower)" if kind == "train" and name == args.run else ""
            print(f"e2cnn {kind} step / {name} {kind} step = {ratio:.2f}{target}")


if __name__ == "__main__":
    main()
