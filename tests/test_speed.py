"""eqcourse._speed: the frozen-bank cache and the channels-last pooling change speed, never numbers."""

import copy
import pickle

import pytest
import torch
import torch.nn.functional as F

from eqcourse import nn as enn
from eqcourse._speed import frozen_banks, is_frozen, max_pool2d
from eqcourse.groups import C4, D4
from eqcourse.models import P4CNN, GroupCNN


def _bank_layers(model):
    return [m for m in model.modules() if isinstance(m, enn.LiftingConv2d | enn.GroupConv2d)]


@pytest.mark.parametrize("G", [C4, D4], ids=str)
def test_frozen_banks_serve_the_bank_built_on_entry(G):
    model = GroupCNN(G, (2, 3, 4)).eval()
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        fresh = model(x)
        with frozen_banks(model):
            assert all(is_frozen(m) for m in _bank_layers(model))
            assert torch.equal(model(x), fresh)
            model.lift.weight.mul_(0)  # not to be done in practice: shows the frozen bank is served
            assert torch.equal(model(x), fresh)
            with torch.enable_grad():  # a pass that records gradients builds its own bank and sees the edit
                assert not torch.allclose(model(x), fresh)
        assert not torch.allclose(model(x), fresh)  # outside the block the edit is seen
    assert not any(is_frozen(m) for m in _bank_layers(model))
    assert all("build_bank" not in vars(m) for m in _bank_layers(model))


def test_a_gradient_pass_inside_the_block_reaches_the_weights():
    model = P4CNN().eval()
    with frozen_banks(model):
        model(torch.rand(3, 1, 28, 28)).sum().backward()
    assert model.lift.weight.grad is not None and model.lift.weight.grad.abs().sum() > 0


def test_frozen_banks_let_go_after_an_error_and_nest():
    model = P4CNN().eval()
    with pytest.raises(RuntimeError, match="boom"), frozen_banks(model):
        raise RuntimeError("boom")
    assert not any(is_frozen(m) for m in _bank_layers(model))
    with frozen_banks(model):
        with frozen_banks(model):
            pass
        assert all(is_frozen(m) for m in _bank_layers(model))  # the inner block leaves the outer's banks
    assert not any(is_frozen(m) for m in _bank_layers(model))


def test_frozen_banks_rejects_what_is_not_a_module():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        with frozen_banks("p4_cnn"):
            pass


def test_a_subclass_that_overrides_build_bank_is_served_its_own_bank():
    class Masked(enn.GroupConv2d):
        def build_bank(self):
            return super().build_bank() * 0

    layer, x = Masked(2, 3, 3, padding=1, bias=False), torch.randn(1, 2, 4, 6, 6)
    with frozen_banks(layer), torch.no_grad():
        assert torch.equal(layer(x), torch.zeros_like(layer(x)))


@pytest.mark.parametrize(
    "make_copy", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))], ids=["deepcopy", "pickle"]
)
def test_a_copy_made_inside_the_block_builds_its_own_banks(make_copy):
    model = P4CNN().eval()
    x = torch.rand(2, 1, 28, 28)
    with frozen_banks(model), torch.no_grad():
        twin = make_copy(model)
        assert not any(is_frozen(m) for m in _bank_layers(twin))
        twin.lift.weight.mul_(0)
        assert not torch.allclose(twin(x), model(x))


def _pool_and_grad(pool, f, grad):
    f = f.detach().clone().requires_grad_()
    out = pool(f)
    out.backward(grad)
    return out, f.grad


@pytest.mark.parametrize(
    "f",
    [torch.randn(3, 16, 8, 8, dtype=torch.float64), torch.randint(0, 2, (5, 24, 14, 14)).double()],
    ids=["random", "ties"],  # ties (MNIST's blank background gives many) go where max_pool2d puts them
)
def test_max_pool2d_gives_torch_values_and_gradients_in_the_default_layout(f):
    grad = torch.randn(f.shape[0], f.shape[1], f.shape[2] // 2, f.shape[3] // 2, dtype=f.dtype)
    out, f_grad = _pool_and_grad(lambda t: max_pool2d(t, 2), f, grad)
    ref, ref_grad = _pool_and_grad(lambda t: F.max_pool2d(t, 2), f, grad)
    assert torch.equal(out, ref) and out.is_contiguous()
    assert torch.equal(f_grad, ref_grad) and f_grad.is_contiguous()


def test_max_pool2d_passes_gradcheck():
    f = torch.randn(2, 3, 6, 6, dtype=torch.float64, requires_grad=True)  # no ties: differentiable
    assert torch.autograd.gradcheck(lambda t: max_pool2d(t, 2), (f,))


def test_the_frozen_bank_is_what_bank_returns_inside_the_block():
    """Notebook 05 runs a layer through ``layer.bank()`` by hand: it too gets the frozen bank."""
    layer = enn.GroupConv2d(2, 3, 3, padding=1)
    with frozen_banks(layer), torch.no_grad():
        frozen, _ = layer.bank()
        layer.weight.mul_(2)
        assert layer.bank()[0] is frozen
    assert torch.allclose(layer.bank()[0], 2 * frozen)
