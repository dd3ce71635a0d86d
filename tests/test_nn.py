import pytest
import torch

from eqcourse import nn as enn
from eqcourse.equivariance import equivariance_error, invariance_error
from eqcourse.groups import C4, D4

GROUPS = [C4, D4]


def rel(errors):
    return max(errors.values())


@pytest.mark.parametrize("G", GROUPS, ids=str)
@pytest.mark.parametrize("batch", [1, 3, 64])
def test_every_layer_is_equivariant(G, batch):
    x = torch.randn(batch, 2, 12, 12)
    lift = enn.LiftingConv2d(2, 3, 3, padding=1, group=G)
    gconv = enn.GroupConv2d(3, 4, 5, padding=2, group=G)
    f = lift(x)
    assert f.shape == (batch, 3, G.order, 12, 12)
    assert rel(equivariance_error(lift, x, G, relative=True)) < 1e-5
    assert rel(equivariance_error(gconv, f, G, relative=True)) < 1e-5
    assert rel(equivariance_error(enn.SpatialMaxPool(2), f, G, relative=True)) < 1e-6
    # group pooling leaves a plain image: equivariant under space alone
    pool = enn.GroupMaxPool()
    for g in G.elements:
        assert torch.allclose(pool(G.act_on_group_map(g, f)), G.act_on_image(g, pool(f)), atol=1e-6)
    head = enn.InvariantHead(3, 10)
    assert rel(invariance_error(head, f, G, relative=True)) < 1e-5


def test_unpadded_and_strided_sizes_stay_exact():
    lift = enn.LiftingConv2d(1, 2, 3)  # 9 -> 7
    assert rel(equivariance_error(lift, torch.randn(1, 1, 9, 9), relative=True)) < 1e-5


class _NoRoll(enn.GroupConv2d):
    """A broken group convolution: rotates each kernel but forgets to shift the group axis."""

    def build_bank(self):
        c_out, c_in, n, k, _ = self.weight.shape
        bank = torch.stack([self.group.transform(g, self.weight) for g in self.group.elements], dim=1)
        return bank.reshape(c_out * n, c_in * n, k, k)


class _NoRotation(enn.GroupConv2d):
    """A broken group convolution: shifts the group axis but forgets to rotate the kernels."""

    def build_bank(self):
        c_out, c_in, n, k, _ = self.weight.shape
        bank = torch.stack([self.weight[:, :, self.group.permutation(g)] for g in self.group.elements], dim=1)
        return bank.reshape(c_out * n, c_in * n, k, k)


class _LiftNoRotation(enn.LiftingConv2d):
    def build_bank(self):
        return self.weight.repeat_interleave(self.group.order, dim=0)


@pytest.mark.parametrize("broken", [_NoRoll, _NoRotation])
def test_the_test_catches_a_group_conv_without_roll_or_rotation(broken):
    f = torch.randn(2, 3, 4, 8, 8)
    assert rel(equivariance_error(broken(3, 3, 3, padding=1), f, relative=True)) > 1e-2


def test_the_test_catches_a_lift_without_rotation():
    assert rel(equivariance_error(_LiftNoRotation(1, 3, 3, padding=1), torch.randn(2, 1, 8, 8), relative=True)) > 1e-2


def test_bank_layout_rotates_and_rolls():
    w = torch.randn(2, 3, 4, 3, 3)
    bank = enn.group_bank(w).reshape(2, 4, 3, 4, 3, 3)  # [o, g, i, h]
    for g in range(4):
        expected = torch.rot90(torch.roll(w, g, dims=2), g, dims=(-2, -1))
        assert torch.equal(bank[:, g], expected)


def test_the_bank_never_serves_stale_weights():
    layer = enn.GroupConv2d(2, 2, 3, padding=1)
    f = torch.randn(1, 2, 4, 6, 6)
    with torch.no_grad():
        before = layer(f)
        assert torch.equal(layer(f), before)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    layer(f).sum().backward()
    optimizer.step()  # an in-place update
    with torch.no_grad():
        after = layer(f)
    with torch.enable_grad():
        fresh = layer(f)
    assert not torch.allclose(after, before) and torch.allclose(after, fresh)


def test_gradients_flow_to_the_parameters():
    layer = enn.LiftingConv2d(1, 2, 3)
    layer(torch.randn(2, 1, 7, 7)).sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


def test_layers_validate_input():
    with pytest.raises(ValueError, match=r"group feature map shaped \(B, C, 4, H, W\)"):
        enn.GroupConv2d(2, 2, 3)(torch.randn(1, 2, 8, 8))
    with pytest.raises(ValueError, match="2 channel"):
        enn.GroupConv2d(2, 2, 3)(torch.randn(1, 3, 4, 8, 8))
    with pytest.raises(ValueError, match="1 channel"):
        enn.LiftingConv2d(1, 2, 3)(torch.randn(1, 2, 8, 8))
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        enn.LiftingConv2d(1, 2, 4)


@pytest.mark.parametrize("G", GROUPS, ids=str)
def test_group_batch_norm_is_equivariant_in_train_and_eval_mode(G):
    bn = enn.GroupBatchNorm(3, G)
    f = torch.randn(4, 3, G.order, 6, 6) * 3 + 1
    assert rel(equivariance_error(bn, f, G, relative=True)) < 1e-5  # train mode: batch statistics
    bn.eval()
    assert rel(equivariance_error(bn, f, G, relative=True)) < 1e-5  # eval mode: running statistics
    with pytest.raises(ValueError, match=r"\(B, C, " + str(G.order)):
        bn(torch.randn(4, 3, 6, 6))


@pytest.mark.parametrize("layer", [enn.SpatialMaxPool(2), enn.GroupMaxPool()], ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("x", [torch.rand(2, 16, 28, 28), "image"])
def test_pooling_layers_say_what_they_expect(layer, x):
    name = type(layer).__name__
    with pytest.raises(ValueError, match=name + r" expects a group feature map \(B, C, G, H, W\)"):
        layer(x)
