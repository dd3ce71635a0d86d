"""The course's models, from the plain CNN of the source to true group convolution networks.

All take MNIST batches ``(B, 1, 28, 28)`` in [0, 1] and return logits ``(B, 10)``; ``MODELS``
names them for ``build_model`` and the checkpoints. The ablation's variants (``EqCNNBN``,
``IdentityP4CNN``, ``"p4_cnn_small"``) are trained by ``benchmarks/ablation.py``; notebook 06
reads their results and counts their parameters and MACs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from eqcourse.checks import check_group_map, check_images, check_positive_int
from eqcourse.groups import C4, D4, CyclicGroup, Group
from eqcourse.nn import GroupBatchNorm, GroupConv2d, InvariantHead, LiftingConv2d, SpatialMaxPool, group_bank
from eqcourse.steerable import SteerableGroupConv2d, SteerableLiftingConv2d


def count_parameters(model: nn.Module) -> int:
    """The number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class SimpleCNN(nn.Module):
    """The source's plain CNN: three convolutions with SiLU, two 2x2 max pools, one linear layer: 13,978 parameters."""

    group: Group | None = None  # no symmetry is built in

    def __init__(self) -> None:
        super().__init__()
        self.cl1 = nn.Conv2d(1, 8, kernel_size=3, padding=1)
        self.max_1 = nn.MaxPool2d(2)
        self.cl2 = nn.Conv2d(8, 16, kernel_size=3, padding=1)
        self.max_2 = nn.MaxPool2d(2)
        self.cl3 = nn.Conv2d(16, 16, kernel_size=7)
        self.dense = nn.Linear(16, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 1, 28, 28)`` -> ``(N, 16)``, before the linear layer."""
        x = self.max_1(F.silu(self.cl1(x)))
        x = self.max_2(F.silu(self.cl2(x)))
        return F.silu(self.cl3(x)).flatten(1)  # flatten(1), not squeeze(): safe at batch size 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, channels=1, size=28)
        return self.dense(self.features(x))


class EqCNN(nn.Module):
    """The source's EqCNN: one stack of Conv3d (1, k, k) layers over the four rotated copies (7,834 parameters).

    The copies live on a group axis of size 4; a max over that axis at the end makes the logits
    invariant. ``fold_copies=True`` runs the same weights with the copies folded into the batch
    (``F.conv2d``), which computes the same numbers; the benchmark picks the faster one.
    """

    group: Group = C4

    def __init__(self, fold_copies: bool = True) -> None:
        super().__init__()
        self.fold_copies = fold_copies
        self.cl1 = nn.Conv3d(1, 8, kernel_size=(1, 3, 3))
        self.max_1 = nn.MaxPool3d(kernel_size=(1, 2, 2))
        self.cl2 = nn.Conv3d(8, 16, kernel_size=(1, 3, 3))
        self.max_2 = nn.MaxPool3d(kernel_size=(1, 2, 2))
        self.cl3 = nn.Conv3d(16, 16, kernel_size=(1, 5, 5))
        self.dense = nn.Linear(16, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 28, 28)`` -> the four copies' features ``(B, 16, 4)``."""
        stack = C4.orbit(x)  # (B, 1, 4, 28, 28): x, r·x, r²·x, r³·x
        if not self.fold_copies:
            y = self.max_1(F.silu(self.norm(0, self.cl1(stack))))
            y = self.max_2(F.silu(self.norm(1, self.cl2(y))))
            return F.silu(self.norm(2, self.cl3(y))).flatten(2)
        b = len(x)
        y = stack.transpose(1, 2).flatten(0, 1)  # (4B, 1, 28, 28)
        y = F.max_pool2d(F.silu(self.norm(0, F.conv2d(y, self.cl1.weight[:, :, 0], self.cl1.bias))), 2)
        y = F.max_pool2d(F.silu(self.norm(1, F.conv2d(y, self.cl2.weight[:, :, 0], self.cl2.bias))), 2)
        y = F.silu(self.norm(2, F.conv2d(y, self.cl3.weight[:, :, 0], self.cl3.bias)))  # (4B, 16, 1, 1)
        return y.reshape(b, 4, -1).transpose(1, 2)

    def norm(self, layer: int, y: torch.Tensor) -> torch.Tensor:
        """What follows convolution ``layer`` before the SiLU: nothing in the source's EqCNN."""
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, channels=1, size=28)
        return self.dense(self.features(x).amax(dim=2))


class MatchedEqCNN(SimpleCNN):
    """SimpleCNN's own layers run on the four rotated copies, max over copies: 13,978 parameters."""

    group: Group = C4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, channels=1, size=28)
        copies = C4.orbit(x).transpose(1, 2).flatten(0, 1)  # (4B, 1, 28, 28)
        features = self.features(copies).unflatten(0, (len(x), 4))  # (B, 4, 16)
        return self.dense(features.amax(dim=1))


class GroupCNN(nn.Module):
    """SimpleCNN's shape with the kernels let rotate: lift, group convolutions, invariant head.

    28 -> 28 (lift 3x3, pad 1) -> pool 14 -> 14 (group conv 3x3, pad 1) -> pool 7 -> 1 (group
    conv 7x7) -> 1 (group conv 1x1), each followed by group batch norm and SiLU; then a max over
    the group axis and a linear layer. A 1x1 kernel has nothing to rotate, so the last group
    convolution only mixes channels and rolls the group axis: an equivariant dense layer that
    gives the head more invariant features for few parameters (with three channel counts it is
    left out). Every pooled size is even and every kernel odd, so the logits are exactly
    invariant under the group. The batch norm (statistics shared across the group axis) lets
    these narrow layers train within the source's five epochs.

    ``channels = (c1, c2, c3)`` or ``(c1, c2, c3, c4)``: the number of channels *per group element*
    after the lift, the 3x3 and the 7x7 group convolution, and (optional) the 1x1 one; each layer
    holds ``c * |G|`` feature maps, e.g. ``GroupCNN(C4, (4, 6, 9))`` has 16, 24 and 36.
    ``channels=None`` uses the subclass's ``CHANNELS`` (P4CNN ``(4, 6, 9, 24)``, P4MCNN
    ``(3, 4, 7, 24)``); ``GroupCNN`` itself has none and asks for them.
    """

    #: the channel counts a subclass uses when none are given (P4CNN, P4MCNN)
    CHANNELS: tuple[int, ...] | None = None

    def __init__(self, group: Group, channels: tuple[int, ...] | None = None) -> None:
        super().__init__()
        self.group = group
        if channels is None and self.CHANNELS is None:
            raise ValueError(
                "GroupCNN needs channels, e.g. GroupCNN(C4, (4, 6, 9, 24)); P4CNN and P4MCNN set their own."
            )
        channels = tuple(channels or self.CHANNELS)
        if len(channels) not in (3, 4):
            raise ValueError(f"channels must be three or four positive integers (c1, c2, c3[, c4]); got {channels!r}.")
        for i, c in enumerate(channels):
            check_positive_int(c, f"channels[{i}]")
        c1, c2, c3 = channels[:3]
        c4 = channels[3] if len(channels) == 4 else None
        self.lift = LiftingConv2d(1, c1, 3, padding=1, group=group)
        self.bn1 = GroupBatchNorm(c1, group)
        self.gconv1 = GroupConv2d(c1, c2, 3, padding=1, group=group)
        self.bn2 = GroupBatchNorm(c2, group)
        self.gconv2 = GroupConv2d(c2, c3, 7, group=group)
        self.bn3 = GroupBatchNorm(c3, group)
        self.gconv3 = None if c4 is None else GroupConv2d(c3, c4, 1, group=group)
        self.bn4 = None if c4 is None else GroupBatchNorm(c4, group)
        self.pool = SpatialMaxPool(2)
        self.head = InvariantHead(c4 or c3, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 28, 28)`` -> the last group feature map ``(B, C, G, 1, 1)``."""
        x = self.pool(F.silu(self.bn1(self.lift(x))))
        x = self.pool(F.silu(self.bn2(self.gconv1(x))))
        x = F.silu(self.bn3(self.gconv2(x)))
        return x if self.gconv3 is None else F.silu(self.bn4(self.gconv3(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, channels=1, size=28)
        return self.head(self.features(x))


class P4CNN(GroupCNN):
    """The C4 group convolution network, within SimpleCNN's parameter budget."""

    CHANNELS = (4, 6, 9, 24)

    def __init__(self) -> None:
        super().__init__(C4)


class P4MCNN(GroupCNN):
    """The D4 (rotations and mirror images) group convolution network, within the same budget."""

    CHANNELS = (3, 4, 7, 24)

    def __init__(self) -> None:
        super().__init__(D4)


class EqCNNBN(EqCNN):
    """EqCNN with batch norm after each convolution: one mean and scale per channel, shared by the
    four copies (and the batch and space), as in ``GroupBatchNorm``. 7,914 parameters."""

    def __init__(self, fold_copies: bool = True) -> None:
        super().__init__(fold_copies)
        self.bns = nn.ModuleList(nn.BatchNorm2d(c) for c in (8, 16, 16))

    def norm(self, layer: int, y: torch.Tensor) -> torch.Tensor:
        if y.dim() == 4:  # copies folded into the batch: (4B, C, H, W)
            return self.bns[layer](y)
        b, c, n, h, w = y.shape  # (B, C, 4, H, W): the copies stacked along the height
        return self.bns[layer](y.reshape(b, c, n * h, w)).reshape(b, c, n, h, w)


class IdentityGroupConv2d(GroupConv2d):
    """A group convolution whose kernel is zero off the identity slice: ``w[h] = 0`` for ``h ≠ e``.

    Its bank ``[g, h] = g·w[g⁻¹h]`` is then block-diagonal: output element g reads input element g
    only, with the kernel transformed by g. The group elements never mix: in the copy frame this is
    one plain convolution applied to every copy (EqCNN). Only the identity slice is a parameter
    ``(C_out, C_in, k, k)``, initialised like ``GroupConv2d``'s (the same bound).
    """

    def __init__(self, *args, **kwargs) -> None:  # GroupConv2d's arguments
        super().__init__(*args, **kwargs)
        self.weight = nn.Parameter(self.weight.detach()[:, :, self.group.identity].clone())

    def full_weight(self) -> torch.Tensor:
        """The group kernel ``(C_out, C_in, G, k, k)``: the identity slice, zeros elsewhere."""
        c_out, c_in, k, _ = self.weight.shape
        full = self.weight.new_zeros(c_out, c_in, self.group.order, k, k)
        full[:, :, self.group.identity] = self.weight
        return full

    def build_bank(self) -> torch.Tensor:
        return group_bank(self.full_weight(), self.group)


class IdentityP4CNN(GroupCNN):
    """P4CNN with every group convolution identity-only (``IdentityGroupConv2d``): the same lift,
    widths, batch norm, 1x1 layer and head, but the four rotated copies never talk to each other."""

    CHANNELS = P4CNN.CHANNELS

    def __init__(self) -> None:
        super().__init__(C4)
        for name in ("gconv1", "gconv2", "gconv3"):
            layer = getattr(self, name)
            k = layer.weight.shape[-1]
            setattr(self, name, IdentityGroupConv2d(layer.in_channels, layer.out_channels, k, layer.padding, group=C4))


class CopyFramePool(nn.Module):
    """2x2 max pooling of each group entry in its own upright frame: ``r^g·pool(r^-g·f[g])``.

    This is what pooling every copy of the copy frame (EqCNN) looks like in the lifted frame. It is
    C4-equivariant at every size, odd ones included, and equals ``SpatialMaxPool`` on even sizes.
    """

    def __init__(self, kernel_size: int = 2):
        super().__init__()
        self.kernel_size = check_positive_int(kernel_size, "kernel_size")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_group_map(x, 4, name="input to CopyFramePool")
        entries = [
            C4.transform(g, F.max_pool2d(C4.transform(C4.inverse(g), x[:, :, g]), self.kernel_size)) for g in range(4)
        ]
        return torch.stack(entries, dim=2)


class LiftedEqCNN(nn.Module):
    """EqCNN's layers in the lifted frame: a lifting convolution, two identity-only group
    convolutions, 2x2 max pools and the invariant head; ``from_eqcnn`` copies an EqCNN's weights.

    The pooled sizes are 26 -> 13 and 11 -> 5. With ``copy_frame_pool=True`` each group entry is
    pooled in its own frame (``CopyFramePool``) and the model computes EqCNN's logits; with
    ``False`` it uses ``SpatialMaxPool``, which does not commute with rotation on the odd size 11.
    """

    group: Group = C4

    def __init__(self, copy_frame_pool: bool = True) -> None:
        super().__init__()
        self.lift = LiftingConv2d(1, 8, 3, group=C4)
        self.gconv1 = IdentityGroupConv2d(8, 16, 3, group=C4)
        self.gconv2 = IdentityGroupConv2d(16, 16, 5, group=C4)
        self.pool = CopyFramePool(2) if copy_frame_pool else SpatialMaxPool(2)
        self.head = InvariantHead(16, 10)

    @classmethod
    def from_eqcnn(cls, eqcnn: EqCNN, copy_frame_pool: bool = True) -> LiftedEqCNN:
        """The same weights: EqCNN's (1, k, k) Conv3d kernels are the identity slices."""
        if type(eqcnn) is not EqCNN:
            raise TypeError(
                f"from_eqcnn expects an EqCNN (the source's, without batch norm); got {type(eqcnn).__name__}."
            )
        model = cls(copy_frame_pool)
        with torch.no_grad():
            for conv, layer in ((eqcnn.cl1, model.lift), (eqcnn.cl2, model.gconv1), (eqcnn.cl3, model.gconv2)):
                layer.weight.copy_(conv.weight[:, :, 0])
                layer.bias.copy_(conv.bias)
            model.head.linear.load_state_dict(eqcnn.dense.state_dict())
        return model.eval()

    def layer_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The group feature maps after each convolution + SiLU (before its pool), ``(B, C, 4, H, W)``."""
        check_images(x, channels=1, size=28)
        a = F.silu(self.lift(x))
        b = F.silu(self.gconv1(self.pool(a)))
        c = F.silu(self.gconv2(self.pool(b)))
        return [a, b, c]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layer_outputs(x)[-1])


MODELS: dict[str, Callable[[], nn.Module]] = {
    "simple_cnn": SimpleCNN,
    "eq_cnn": EqCNN,
    "matched_eq_cnn": MatchedEqCNN,
    "p4_cnn": P4CNN,
    "p4m_cnn": P4MCNN,
    "eq_cnn_bn": EqCNNBN,
    "p4_cnn_identity": IdentityP4CNN,
    # P4CNN with its widths halved (rounded down): fewer parameters than IdentityP4CNN, copies that talk
    "p4_cnn_small": partial(GroupCNN, C4, (2, 3, 4, 12)),
}


def build_model(name: str) -> nn.Module:
    """A fresh model by its registry name, e.g. ``build_model("eq_cnn")``."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(MODELS)}.")
    return MODELS[name]()


# --- any angle: C_N and D_N networks (notebook 07) ---------------------------------------

KERNELS = ("pixel", "steerable")


class AnyAngleCNN(GroupCNN):
    """GroupCNN for any group of rotations (C_N, D_N) with kernels that rotate in one of two ways.

    ``AnyAngleCNN(group, channels=None, kernel="steerable")``: ``group`` e.g.
    ``CyclicGroup(8)``; ``channels`` three or four counts (c1, c2, c3[, c4]) as in
    :class:`GroupCNN` (default P4CNN's (4, 6, 9, 24)); ``kernel`` is

    * ``"pixel"``: the kernels' pixels are rotated by the group's own action (``rot90`` for
      quarter turns, bilinear interpolation otherwise): :class:`eqcourse.nn.LiftingConv2d`;
    * ``"steerable"``: the kernels are combinations of a :class:`eqcourse.steerable.SteerableBasis`
      and rotate exactly in it; only their sampling on the grid is approximate.

    The 1x1 group convolution has nothing to rotate and is the same in both. The logits are
    exactly invariant under the group's quarter turns only; at other angles the pixel grid allows
    approximate invariance at best (measured in notebook 07 and :mod:`eqcourse.anyangle`).
    """

    CHANNELS = P4CNN.CHANNELS

    def __init__(self, group: Group, channels: tuple[int, ...] | None = None, kernel: str = "steerable") -> None:
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}; got {kernel!r}.")
        super().__init__(group, channels)
        self.kernel = kernel
        if kernel == "steerable":
            self.lift = SteerableLiftingConv2d(1, self.lift.out_channels, 3, padding=1, group=group)
            g1, g2 = self.gconv1, self.gconv2
            self.gconv1 = SteerableGroupConv2d(g1.in_channels, g1.out_channels, 3, padding=1, group=group)
            self.gconv2 = SteerableGroupConv2d(g2.in_channels, g2.out_channels, 7, group=group)


def matched_channels(n: int) -> tuple[int, ...]:
    """Channel counts for C_n with at least P4CNN's feature maps per layer: ``ceil(4 * c / n)``.

    ``n * c`` maps per layer is what a layer convolves and stores, so C8 and C16 built this way
    cost about what P4CNN costs per step, with fewer parameters (the finer group shares more).
    """
    check_positive_int(n, "n")
    return tuple(max(1, -(-4 * c // n)) for c in P4CNN.CHANNELS)


class CNCNN(AnyAngleCNN):
    """``CNCNN(n, kernel="steerable")``: C_n with :func:`matched_channels` (C8: 2/3/5/12, C16: 1/2/3/6)."""

    def __init__(self, n: int, kernel: str = "steerable") -> None:
        super().__init__(CyclicGroup(n), matched_channels(n), kernel)


MODELS.update(
    {
        "c8_cnn": partial(CNCNN, 8),
        "c16_cnn": partial(CNCNN, 16),
        "c8_cnn_pixel": partial(CNCNN, 8, kernel="pixel"),
        "c16_cnn_pixel": partial(CNCNN, 16, kernel="pixel"),
    }
)


# --- rotated MNIST: one seven-layer shape for every group (python -m eqcourse reproduce --suite rotmnist) ---

#: the parameter budget of every rotated-MNIST model
BUDGET = 25_000

# (kernel size, padding, pool after) of the six 3x3 convolutions, then the 1x1 one
ROT_LAYOUT = ((3, 1, True), (3, 1, False), (3, 1, True), (3, 0, False), (3, 0, False), (3, 0, False), (1, 0, False))


class _ConvBlock(nn.Module):
    """A convolution (plain, lifting or group; pixel or steerable kernels), its batch norm, SiLU."""

    def __init__(self, c_in: int | None, c_out: int, k: int, padding: int, group: Group | None, kernel: str) -> None:
        super().__init__()
        if group is None:
            self.conv, self.bn = nn.Conv2d(c_in or 1, c_out, k, padding=padding), nn.BatchNorm2d(c_out)
        else:
            steer = kernel == "steerable" and k > 1  # a 1x1 kernel has nothing to rotate
            if steer:
                layer = SteerableLiftingConv2d if c_in is None else SteerableGroupConv2d
            else:
                layer = LiftingConv2d if c_in is None else GroupConv2d
            self.conv = layer(c_in or 1, c_out, k, padding=padding, group=group)
            self.bn = GroupBatchNorm(c_out, group)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.silu(self.bn(self.conv(x)))


class RotCNN(nn.Module):
    """Six 3x3 convolutions (pooled to 14 and 7), a 1x1 convolution, an invariant head.

    lift 3x3 (pad 1) 28 -> pool 14 -> gconv 3x3 (pad 1) -> gconv 3x3 (pad 1) -> pool 7 -> gconv
    3x3 -> 5 -> 3 -> 1 -> gconv 1x1 -> group max, linear; each convolution followed by group batch
    norm and SiLU. ``channels``: the seven output channel counts (per group element).
    ``group=None`` gives the plain CNN of the same shape. ``kernel``: "pixel" (kernels rotated by
    interpolation, ``eqcourse.nn``) or "steerable" (``eqcourse.steerable``). Every pooled size is
    even and every kernel odd, so the logits are exactly invariant under the group's quarter turns.
    """

    def __init__(self, group: Group | None, channels: tuple[int, ...], kernel: str = "pixel") -> None:
        super().__init__()
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}; got {kernel!r}.")
        channels = tuple(channels)
        if len(channels) != 7:
            raise ValueError(f"channels must be seven positive integers (six 3x3 layers and a 1x1); got {channels!r}.")
        for i, c in enumerate(channels):
            check_positive_int(c, f"channels[{i}]")
        self.group, self.channels, self.kernel = group, channels, kernel
        c_ins = (None, *channels[:-1])
        self.blocks = nn.ModuleList(
            _ConvBlock(c_in, c_out, k, pad, group, kernel)
            for c_in, c_out, (k, pad, _) in zip(c_ins, channels, ROT_LAYOUT, strict=True)
        )
        self.pool = nn.MaxPool2d(2) if group is None else SpatialMaxPool(2)
        self.head = nn.Linear(channels[-1], 10) if group is None else InvariantHead(channels[-1], 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, channels=1, size=28)
        for block, (*_, pool) in zip(self.blocks, ROT_LAYOUT, strict=True):
            x = self.pool(block(x)) if pool else block(x)
        return self.head(x.amax(dim=(-2, -1)) if self.group is None else x)


MODELS.update(
    {
        "rot_z2_cnn": partial(RotCNN, None, (16, 20, 24, 24, 24, 24, 40)),
        "rot_p4_cnn": partial(RotCNN, C4, (8, 10, 12, 12, 12, 12, 32)),
        "rot_c8_cnn": partial(RotCNN, CyclicGroup(8), (6, 7, 8, 8, 8, 8, 32), "steerable"),
        "rot_c16_cnn": partial(RotCNN, CyclicGroup(16), (4, 5, 6, 6, 6, 6, 32), "steerable"),
    }
)
