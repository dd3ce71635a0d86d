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
