"""Median time of one training step and one eval step per model, measured in one run.

    python benchmarks/train_step.py [--steps 100] [--warmup 10] [--batch 64] [--threads N]
                                    [--models NAME ...] [--no-e2cnn] [--device cpu]

Every model takes one step in turn (round-robin, via ``eqcourse.cost.step_times``) so that a
noisy, shared machine slows all of them alike; the figures are medians after warm-up and the
ratio to SimpleCNN is what to read. Eval steps run in eval mode under ``no_grad`` with the
kernel banks frozen once for the whole timing (``eqcourse.frozen_banks``, as ``predict``
evaluates a trained model); training steps build every bank in every step. Caps torch's
threads first (``configure_threads``; ``--threads`` sets them); ``--device`` times on another
device (default: the CPU), synchronising CUDA before each clock reading.
``eq_cnn_conv3d`` is the source's Conv3d path of EqCNN; ``eq_cnn`` folds the four copies into
the batch; the faster of the two is reported. ``simple_cnn_cl_pool`` is SimpleCNN with the
channels-last max pooling that the group layers use (``eqcourse.nn.SpatialMaxPool``), so that
the ratios can also be read against a baseline given the same pooling.
When the optional ``e2cnn`` package is installed, the P4CNN architecture built with e2cnn's
``R2Conv`` (the same regular C4 field counts) is timed alongside.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from eqcourse.cost import macs_per_image, ratios, step_times
from eqcourse.equivariance import invariance_error
from eqcourse.models import MODELS, P4CNN, EqCNN, SimpleCNN, build_model, count_parameters
from eqcourse.nn import SpatialMaxPool
from eqcourse.train import configure_threads


class ChannelsLastMaxPool(torch.nn.Module):
    """2x2 max pooling of ``(B, C, H, W)`` the way ``SpatialMaxPool`` pools a group map."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = SpatialMaxPool(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x.unsqueeze(2)).squeeze(2)


def simple_cnn_cl_pool() -> SimpleCNN:
    model = SimpleCNN()
    model.max_1, model.max_2 = ChannelsLastMaxPool(), ChannelsLastMaxPool()
    return model


EXTRA = {"eq_cnn_conv3d": lambda: EqCNN(fold_copies=False), "simple_cnn_cl_pool": simple_cnn_cl_pool}


def e2cnn_p4() -> torch.nn.Module | None:
    """P4CNN's architecture built with e2cnn (None if e2cnn is not installed).

    The same layers as ``eqcourse.models.P4CNN``: R2Conv 1 -> 4 regular C4 fields (3x3, pad 1),
    InnerBatchNorm, SiLU, 2x2 max pool; R2Conv 4 -> 6 (3x3, pad 1), InnerBatchNorm, SiLU, pool;
    R2Conv 6 -> 9 (7x7), InnerBatchNorm, SiLU; R2Conv 9 -> 24 (1x1), InnerBatchNorm, SiLU; group
    pooling (max over the 4 rotations), global spatial max, Linear 24 -> 10 (field counts from
    ``P4CNN.CHANNELS``). e2cnn has no SiLU module; SiLU is applied pointwise to the
    tensor, which is equivariant for regular fields (it commutes with permuting them).
    """
    try:
        from e2cnn import gspaces
        from e2cnn import nn as enn
    except ImportError:
        return None

    c1, c2, c3, c4 = P4CNN.CHANNELS
    space = gspaces.Rot2dOnR2(N=4)
    image = enn.FieldType(space, [space.trivial_repr])
    t1, t2, t3, t4 = (enn.FieldType(space, c * [space.regular_repr]) for c in (c1, c2, c3, c4))

    class E2P4CNN(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.input_type = image
            self.conv1, self.bn1 = enn.R2Conv(image, t1, 3, padding=1), enn.InnerBatchNorm(t1)
            self.conv2, self.bn2 = enn.R2Conv(t1, t2, 3, padding=1), enn.InnerBatchNorm(t2)
            self.conv3, self.bn3 = enn.R2Conv(t2, t3, 7), enn.InnerBatchNorm(t3)
            self.conv4, self.bn4 = enn.R2Conv(t3, t4, 1), enn.InnerBatchNorm(t4)
            self.pool1, self.pool2 = enn.PointwiseMaxPool(t1, 2), enn.PointwiseMaxPool(t2, 2)
            self.group_pool = enn.GroupPooling(t4)
            self.linear = torch.nn.Linear(c4, 10)

        @staticmethod
        def silu(x):
            return enn.GeometricTensor(F.silu(x.tensor), x.type)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = enn.GeometricTensor(x, self.input_type)
            y = self.pool1(self.silu(self.bn1(self.conv1(y))))
            y = self.pool2(self.silu(self.bn2(self.conv2(y))))
            y = self.silu(self.bn3(self.conv3(y)))
            y = self.group_pool(self.silu(self.bn4(self.conv4(y))))
            return self.linear(y.tensor.amax(dim=(-2, -1)))

    return E2P4CNN()


def pool_layouts(batch: int, steps: int) -> dict[str, dict[str, float]]:
    """Median ms of 2x2 max pooling on P4CNN's first group map, ``F.max_pool2d`` vs ``SpatialMaxPool``."""
    c1 = P4CNN.CHANNELS[0]
    x = torch.rand(batch, c1, 4, 28, 28, requires_grad=True)
    grad = torch.rand(batch, c1, 4, 14, 14)
    pools = {
        "F.max_pool2d (NCHW)": lambda t: F.max_pool2d(t.flatten(1, 2), 2).unflatten(1, (c1, 4)),
        "SpatialMaxPool (channels-last)": SpatialMaxPool(2),
    }
    result: dict[str, dict[str, float]] = {}
    for name, pool in pools.items():
        forward, both = [], []
        for i in range(steps + 10):
            start = time.perf_counter()
            with torch.no_grad():
                pool(x)
            middle = time.perf_counter()
            pool(x).backward(grad)
            end = time.perf_counter()
            if i >= 10:
                forward.append(middle - start)
                both.append(end - middle)
        result[name] = {"forward": 1e3 * statistics.median(forward), "forward+backward": 1e3 * statistics.median(both)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100, help="timed steps per model after warm-up (>= 100)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed rounds first")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: the CPUs available)")
    parser.add_argument("--models", nargs="+", default=[*MODELS, *EXTRA], choices=[*MODELS, *EXTRA])
    parser.add_argument("--no-e2cnn", action="store_true", help="leave out the e2cnn model even if installed")
    parser.add_argument("--device", default="cpu", help="where to time the models (default: cpu)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    threads = configure_threads()
    torch.manual_seed(0)
    models = {name: EXTRA[name]() if name in EXTRA else build_model(name) for name in args.models}
    if "simple_cnn" not in models:
        parser.error("the ratios are to simple_cnn: keep it in --models")
    if not args.no_e2cnn:
        model = e2cnn_p4()
        if model is None:
            print("e2cnn is not installed (pip install e2cnn, optional); timing eqcourse's models only")
        else:
            models["e2cnn_p4"] = model

    width = max(len(name) for name in models)
    x = torch.rand(8, 1, 28, 28)
    print("relative invariance error under C4 (eval mode, max over r1..r3), a check that each model is what it says:")
    for name, model in models.items():
        err = max(invariance_error(model.eval(), x, relative=True).values())
        print(f"  {name:{width}s} {err:.1e}")

    times = step_times(models, batch=args.batch, steps=args.steps, warmup=args.warmup, device=args.device)
    train_ratio, eval_ratio = ratios(times["train"]), ratios(times["eval"])
    print(
        f"\nbatch {args.batch}, {threads} thread(s), medians over {args.steps} steps after {args.warmup} "
        "warm-up rounds, round-robin"
    )
    header = (
        f"{'model':{width}s} {'params':>7s} {'MACs/img':>10s} {'train ms':>9s} {'x simple':>9s} "
        f"{'eval ms':>8s} {'x simple':>9s}"
    )
    print(header)
    print("-" * len(header))
    for name, model in models.items():
        tr, ev = times["train"][name], times["eval"][name]
        print(
            f"{name:{width}s} {count_parameters(model):7,d} {macs_per_image(model):10,d} {tr * 1e3:9.2f} "
            f"{train_ratio[name]:9.2f} {ev * 1e3:8.2f} {eval_ratio[name]:9.2f}"
        )
    if {"eq_cnn", "eq_cnn_conv3d"} <= models.keys():
        fast = min(("eq_cnn", "eq_cnn_conv3d"), key=lambda n: times["train"][n])
        print(f"\nEqCNN's faster implementation by train step here: {fast} ({train_ratio[fast]:.2f}x SimpleCNN)")
    if "p4_cnn" in models:
        print(f"P4CNN train step {train_ratio['p4_cnn']:.2f}x SimpleCNN (target <= 2.5x)")
        print(f"P4CNN eval step (banks frozen) {eval_ratio['p4_cnn']:.2f}x SimpleCNN (target <= 2x)")
        if "simple_cnn_cl_pool" in models:
            same = {kind: times[kind]["p4_cnn"] / times[kind]["simple_cnn_cl_pool"] for kind in times}
            print(
                f"against SimpleCNN with the same channels-last pooling: P4CNN train step {same['train']:.2f}x, "
                f"eval step {same['eval']:.2f}x"
            )
        if "e2cnn_p4" in models:
            rel = times["train"]["e2cnn_p4"] / times["train"]["p4_cnn"]
            print(f"e2cnn P4 train step / P4CNN train step = {rel:.2f} (target >= 1: P4CNN not slower)")

    if torch.device(args.device).type != "cpu":
        return  # the channels-last pooling trick is for the CPU only
    print(f"\n2x2 max pooling of a ({args.batch}, {P4CNN.CHANNELS[0]}, 4, 28, 28) group map, median ms:")
    for name, ms in pool_layouts(args.batch, args.steps).items():
        print(f"  {name:32s} forward {ms['forward']:.2f}   forward+backward {ms['forward+backward']:.2f}")


if __name__ == "__main__":
    main()
