"""The kernel bank is always built from the parameters as they are now (issue 13).

Each test is an ordinary PyTorch idiom a student may use on a group layer; before the bank was
built in ``forward`` by default, most of them went silently wrong or raised deep inside torch.
"""

import copy

import pytest
import torch
from torch.nn.utils import prune

from eqcourse import nn as enn
from eqcourse.groups import C4, D4
from eqcourse.models import P4CNN


def _layers():
    return [
        (enn.LiftingConv2d(2, 3, 3, padding=1), torch.randn(2, 2, 8, 8)),
        (enn.GroupConv2d(2, 3, 3, padding=1), torch.randn(2, 2, 4, 8, 8)),
        (enn.GroupConv2d(2, 3, 3, padding=1, group=D4), torch.randn(2, 2, 8, 8, 8)),
    ]


def _reference(layer, x):
    """The layer's output computed from scratch, bypassing anything the layer keeps."""
    bank = layer.build_bank()
    bias = None if layer.bias is None else layer.bias.repeat_interleave(layer.group.order)
    if isinstance(layer, enn.GroupConv2d):
        x = x.flatten(1, 2)
    return torch.nn.functional.conv2d(x, bank, bias, padding=layer.padding).unflatten(1, (-1, layer.group.order))


IDS = ["lift", "gconv-C4", "gconv-D4"]


@pytest.mark.parametrize("i", range(3), ids=IDS)
def test_hand_edits_through_data_are_seen(i):
    layer, x = _layers()[i]
    with torch.no_grad():
        before = layer(x)
        layer.weight.data.mul_(0)  # .data does not bump the version counter
        assert torch.equal(layer(x), _reference(layer, x))
        layer.weight.data[0, 0] = torch.randn_like(layer.weight.data[0, 0])
        after = layer(x)
    assert not torch.allclose(after, before)
    assert torch.equal(after, _reference(layer, x).detach())


@pytest.mark.parametrize("i", range(3), ids=IDS)
def test_load_state_dict_is_seen(i):
    layer, x = _layers()[i]
    other = copy.deepcopy(layer)
    torch.nn.init.normal_(other.weight)
    with torch.no_grad():
        layer(x)
        layer.load_state_dict(other.state_dict())
        assert torch.equal(layer(x), other(x))


@pytest.mark.parametrize("i", range(3), ids=IDS)
def test_frozen_weight_with_trainable_bias_gets_a_gradient(i):
    layer, x = _layers()[i]
    layer.weight.requires_grad_(False)
    y = layer(x)
    assert y.requires_grad
    y.sum().backward()
    assert layer.weight.grad is None and layer.bias.grad is not None and layer.bias.grad.abs().sum() > 0


@pytest.mark.parametrize("i", range(3), ids=IDS)
def test_trainable_weight_with_frozen_bias_gets_a_gradient(i):
    layer, x = _layers()[i]
    layer.bias.requires_grad_(False)
    layer(x).square().sum().backward()
    assert layer.bias.grad is None and layer.weight.grad.abs().sum() > 0


def test_inference_mode_then_a_saliency_pass():
    model = P4CNN().eval()
    x = torch.rand(2, 1, 28, 28)
    with torch.inference_mode():
        model(x)
    model.requires_grad_(False)  # a frozen model; only the input asks for a gradient
    x.requires_grad_(True)
    model(x)[:, 3].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("i", range(3), ids=IDS)
def test_jit_trace_follows_the_parameters(i):
    layer, x = _layers()[i]
    with torch.no_grad():
        layer(x)  # a warm layer
        traced = torch.jit.trace(layer, x)
        layer.weight.mul_(2)
        assert torch.allclose(traced(x), layer(x), atol=1e-6)


@pytest.mark.parametrize("i", range(3), ids=IDS)
def test_deepcopy_is_independent(i):
    layer, x = _layers()[i]
    with torch.no_grad():
        layer(x)
        twin = copy.deepcopy(layer)
        twin.weight.data.add_(1)
        assert torch.equal(layer(x), _reference(layer, x))
        assert torch.equal(twin(x), _reference(twin, x))
        assert not torch.allclose(twin(x), layer(x))


@pytest.mark.parametrize("i", range(3), ids=IDS)
def test_pruning_is_seen(i):
    layer, x = _layers()[i]
    with torch.no_grad():
        before = layer(x)
        prune.l1_unstructured(layer, "weight", amount=0.5)
        after = layer(x)
        assert (layer.weight == 0).float().mean() >= 0.5
        assert torch.equal(after, _reference(layer, x))
        assert not torch.allclose(after, before)
        prune.l1_unstructured(layer, "weight", amount=0.5)  # again: only the mask buffer changes
        again = layer(x)
        assert (layer.weight == 0).float().mean() >= 0.75
        assert torch.equal(again, _reference(layer, x))
        prune.remove(layer, "weight")
        assert torch.equal(layer(x), again)


def test_vmap_ensemble_under_no_grad():
    layers = [enn.GroupConv2d(2, 3, 3, padding=1) for _ in range(3)]
    x = torch.randn(2, 2, 4, 8, 8)
    params, buffers = torch.func.stack_module_state(layers)

    def one(p, b):
        return torch.func.functional_call(layers[0], (p, b), (x,))

    with torch.no_grad():
        out = torch.vmap(one)(params, buffers)
        for k, layer in enumerate(layers):
            assert torch.allclose(out[k], layer(x), atol=1e-6)


@pytest.mark.parametrize("i", range(3), ids=IDS)
def test_gradients_reach_every_parameter(i):
    layer, x = _layers()[i]
    layer(x).square().sum().backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_gradients_reach_every_parameter_of_a_whole_model():
    model = P4CNN()
    torch.nn.functional.cross_entropy(model(torch.rand(4, 1, 28, 28)), torch.arange(4)).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_frozen_banks_serve_a_fixed_bank_and_let_go():
    model = P4CNN().eval()
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        expected = model(x)
        with enn.frozen_banks(model):
            assert torch.equal(model(x), expected)
            # a gradient pass inside the block still builds its own bank and reaches the weights
            with torch.enable_grad():
                model(x).sum().backward()
            assert model.lift.weight.grad is not None
        model.lift.weight.data.mul_(0)
        assert not torch.allclose(model(x), expected)  # outside the block the edit is seen
    assert all(m._frozen is None for m in model.modules() if isinstance(m, enn.LiftingConv2d | enn.GroupConv2d))


def test_frozen_banks_leave_nothing_behind_after_an_error():
    model = P4CNN().eval()
    with pytest.raises(RuntimeError, match="boom"), enn.frozen_banks(model):
        raise RuntimeError("boom")
    assert all(getattr(m, "_frozen", None) is None for m in model.modules())


def test_frozen_banks_rejects_what_is_not_a_module():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        with enn.frozen_banks("p4_cnn"):
            pass


def test_a_subclass_can_still_override_build_bank():
    class Masked(enn.GroupConv2d):
        def build_bank(self):
            return super().build_bank() * 0

    layer, x = Masked(2, 3, 3, padding=1, bias=False), torch.randn(1, 2, 4, 6, 6)
    assert torch.equal(layer(x), torch.zeros_like(layer(x)))
    with enn.frozen_banks(layer), torch.no_grad():
        assert torch.equal(layer(x), torch.zeros_like(layer(x)))


@pytest.mark.parametrize("G", [C4, D4], ids=str)
def test_frozen_and_fresh_banks_agree_on_a_model(G):
    from eqcourse.models import GroupCNN

    model = GroupCNN(G, (2, 3, 4)).eval()
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        fresh = model(x)
        with enn.frozen_banks(model):
            assert torch.equal(model(x), fresh)


def test_a_copy_made_inside_frozen_banks_is_not_frozen():
    model = P4CNN().eval()
    x = torch.rand(2, 1, 28, 28)
    with enn.frozen_banks(model):
        twin = copy.deepcopy(model)
    assert all(m._frozen is None for m in twin.modules() if isinstance(m, enn.GroupConv2d))
    with torch.no_grad():
        twin.lift.weight.data.mul_(0)
        assert not torch.allclose(twin(x), model(x))
