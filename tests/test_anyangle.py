import pytest
import torch

from eqcourse.anyangle import off_grid_distance, smooth_noise
from eqcourse.equivariance import disc_mask, equivariance_error, invariance_error, relative_error
from eqcourse.groups import C4, CyclicGroup
from eqcourse.models import CNCNN, build_model, matched_channels
from eqcourse.nn import LiftingConv2d
from eqcourse.steerable import SteerableLiftingConv2d

C8 = CyclicGroup(8)


def test_disc_mask_and_relative_error():
    mask = disc_mask(6)
    assert mask.shape == (6, 6) and mask[2, 2] and not mask[0, 0]
    a = torch.ones(1, 6, 6)
    assert relative_error(a, a) == 0.0
    assert relative_error(2 * a, a) == pytest.approx(1.0)
    corners = a.clone()
    corners[:, 0, 0] = 5.0
    assert relative_error(corners, a, mask) == 0.0  # outside the disc does not count
    with pytest.raises(ValueError, match="same shape"):
        relative_error(a, a[0])


def test_off_grid_distance_is_zero_only_for_quarter_turns():
    for degrees in (0, 90, 180, 270):
        assert off_grid_distance(3, degrees) < 1e-12
    assert off_grid_distance(3, 45) == pytest.approx(2**0.5 - 1)  # the corner lands on (0, √2)
    assert off_grid_distance(5, 22.5) > 0.3


def test_smooth_noise_is_smoother_than_white_noise():
    white, smooth = smooth_noise(4, 16, 0), smooth_noise(4, 16, 1.5)
    assert white.shape == smooth.shape == (4, 1, 16, 16)
    step = lambda x: (x[..., 1:] - x[..., :-1]).abs().mean() / x.abs().mean()  # noqa: E731
    assert step(smooth) < step(white) / 2


def test_relative_errors_on_the_disc_zero_for_c4_and_smaller_with_the_steerable_basis():
    x = smooth_noise(8, 21, 1.5)
    torch.manual_seed(0)
    exact = equivariance_error(LiftingConv2d(1, 4, 3, padding=1, group=C4), x, C4, relative=True, mask="disc")
    assert max(exact.values()) < 1e-6
    pixel = equivariance_error(LiftingConv2d(1, 4, 3, padding=1, group=C8), x, C8, relative=True, mask="disc")
    torch.manual_seed(0)
    steer = equivariance_error(SteerableLiftingConv2d(1, 4, 3, padding=1, group=C8), x, C8, relative=True, mask="disc")
    assert pixel[2] < 1e-6 and steer[2] < 1e-6  # 90 degrees: exact
    assert steer[1] < pixel[1] / 3, (steer, pixel)
    model = build_model("c8_cnn").eval()
    errors = invariance_error(model, torch.rand(4, 1, 28, 28), C8, relative=True)
    assert errors[4] < 1e-5 and errors[1] > 1e-4


def test_matched_channels_keep_the_number_of_feature_maps():
    assert matched_channels(4) == (4, 6, 9, 24)
    assert matched_channels(8) == (2, 3, 5, 12) and matched_channels(16) == (1, 2, 3, 6)
    assert CNCNN(8).group.order == 8 and CNCNN(16, kernel="pixel").kernel == "pixel"
