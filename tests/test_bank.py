"""The kernel bank is always built from the parameters as they are now (issue 13).

Each test is an ordinary PyTorch idiom a student may use on a group layer; before the bank was
built in ``forward`` by default, most of them went silently wrong or raised deep inside torch.
"""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils import prune

from eqcourse import nn as enn
from eqcourse.groups import D4
from eqcourse.models import P4CNN


def _layers():
    return [
        (enn.LiftingConv2d(2, 3, 3, padding=1), torch.randn(2, 2, 8, 8)),
        (enn.GroupConv2d(2, 3, 3, padding=1), torch.randn(2, 2, 4, 8, 8)),
        (enn.GroupConv2d(2, 3, 3, padding=1, group=D4), torch.randn(2, 2, 8, 8, 8)),
    ]


def _reference(layer, x):
    """The layer's output from the definition, one conv2d per output element g, without ``build_bank``.

    Lifting: output g convolves x with g·w. Group convolution: output g sums, over input slices h,
    the convolution of slice h with g·w[g⁻¹h].
    """
    G, w = layer.group, layer.weight
    outputs = []
    for g in G.elements:
        if isinstance(layer, enn.GroupConv2d):
            kernel = torch.stack([G.transform(g, w[:, :, G.compose(G.inverse(g), h)]) for h in G.elements], dim=2)
            outputs.append(F.conv2d(x.flatten(1, 2), kernel.flatten(1, 2), layer.bias, padding=layer.padding))
        else:
            outputs.append(F.conv2d(x, G.transform(g, w), layer.bias, padding=layer.padding))
    return torch.stack(outputs, dim=2)


IDS = ["lift", "gconv-C4", "gconv-D4"]


@pytest.mark.parametrize("i", range(3), ids=IDS)
def test_hand_edits_through_data_are_seen(i):
    layer, x = _layers()[i]
    with torch.no_grad():
        before = layer(x)
        layer.weight.data.mul_(0)  # .data does not bump the version counter
        assert torch.allclose(layer(x), _reference(layer, x), atol=1e-6)
        layer.weight.data[0, 0] = torch.randn_like(layer.weight.data[0, 0])
        after = layer(x)
    assert not torch.allclose(after, before)
    assert torch.allclose(after, _reference(layer, x).detach(), atol=1e-6)


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
        assert torch.allclose(layer(x), _reference(layer, x), atol=1e-6)
        assert torch.allclose(twin(x), _reference(twin, x), atol=1e-6)
        assert not torch.allclose(twin(x), layer(x))


@pytest.mark.parametrize("i", range(3), ids=IDS)
def test_pruning_is_seen(i):
    layer, x = _layers()[i]
    with torch.no_grad():
        before = layer(x)
        prune.l1_unstructured(layer, "weight", amount=0.5)
        after = layer(x)
        assert (layer.weight == 0).float().mean() >= 0.5
        assert torch.allclose(after, _reference(layer, x), atol=1e-6)
        assert not torch.allclose(after, before)
        prune.l1_unstructured(layer, "weight", amount=0.5)  # again: only the mask buffer changes
        again = layer(x)
        assert (layer.weight == 0).float().mean() >= 0.75
        assert torch.allclose(again, _reference(layer, x), atol=1e-6)
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
