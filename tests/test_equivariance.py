import pytest
import torch

from eqcourse.equivariance import assert_equivariant, assert_invariant, equivariance_error, invariance_error
from eqcourse.groups import C4, D4


def test_invariance_error_of_an_invariant_function_is_zero():
    f = lambda x: x.sum(dim=(-2, -1))  # noqa: E731
    errors = invariance_error(f, torch.rand(3, 1, 6, 6), D4)
    assert set(errors) == set(range(1, 8)) and max(errors.values()) < 1e-5


def test_equivariance_error_measures_pointwise_maps_as_exact():
    assert max(equivariance_error(torch.sigmoid, torch.randn(2, 3, 4, 6, 6), C4).values()) == 0


def test_assert_helpers_fail_with_the_element_named():
    conv = torch.nn.Conv2d(1, 1, 3, padding=1)
    with pytest.raises(AssertionError, match="not equivariant.*r1"):
        assert_equivariant(conv, torch.randn(2, 1, 8, 8))
    with pytest.raises(AssertionError, match="not invariant"):
        assert_invariant(lambda x: x[..., 0, 0], torch.randn(2, 1, 8, 8))


def test_a_convolution_commutes_with_shifts_but_not_rotations():
    conv = torch.nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular")
    x = torch.randn(1, 1, 8, 8)
    shift = (conv(torch.roll(x, 2, dims=-1)) - torch.roll(conv(x), 2, dims=-1)).abs().max()
    assert shift < 1e-5
    assert max(equivariance_error(conv, x, C4).values()) > 1e-2


def test_the_relative_error_is_one_l2_ratio_and_the_absolute_error_a_max():
    """One definition: ‖Φ(ρ_in(g)x) − ρ_out(g)Φ(x)‖₂ / ‖ρ_out(g)Φ(x)‖₂. A map that is wrong in one
    pixel out of 100 by the size of every value has relative error 0.1 (a max-abs ratio would say 1)
    and absolute error 1."""
    x = torch.ones(1, 1, 10, 10)

    calls = []

    def layer(t):
        calls.append(t)
        out = t.clone()
        if len(calls) > 1:  # every call after the first is Φ(ρ(g)x)
            out[..., 0, 0] += 1.0
        return out

    relative = equivariance_error(layer, x, C4, elements=[1], relative=True)[1]
    calls.clear()
    absolute = equivariance_error(layer, x, C4, elements=[1])[1]
    assert relative == pytest.approx(0.1) and absolute == pytest.approx(1.0)
    calls.clear()
    # the corner pixel lies outside the inscribed disc: there the layer is exact
    assert equivariance_error(layer, x, C4, elements=[1], relative=True, mask="disc")[1] == 0.0
    calls.clear()
    assert invariance_error(layer, x, C4, elements=[1], relative=True)[1] == pytest.approx(0.1)


def test_mask_without_relative_and_unknown_masks_are_refused():
    def never_run(t):
        raise AssertionError("the arguments are checked before any forward pass")

    with pytest.raises(ValueError, match="relative=True"):
        equivariance_error(never_run, torch.randn(1, 1, 6, 6), mask="disc")
    with pytest.raises(ValueError, match="'disc'"):
        equivariance_error(never_run, torch.randn(1, 1, 6, 6), relative=True, mask="circle")
