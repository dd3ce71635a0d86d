import pytest
import torch

from eqcourse.equivariance import invariance_error
from eqcourse.groups import C4, D4
from eqcourse.models import MODELS, EqCNN, GroupCNN, build_model, count_parameters

INVARIANT = ["eq_cnn", "matched_eq_cnn", "p4_cnn", "p4m_cnn"]


def test_parameter_counts_match_the_source_and_the_budget():
    assert count_parameters(build_model("simple_cnn")) == 13_978
    assert count_parameters(build_model("eq_cnn")) == 7_834  # not "the same" as SimpleCNN
    assert count_parameters(build_model("matched_eq_cnn")) == 13_978
    assert count_parameters(build_model("p4_cnn")) <= 13_978
    assert count_parameters(build_model("p4m_cnn")) <= 13_978


BAD_INPUTS = [
    (torch.rand(2, 1, 28, 27), ValueError, "square"),
    (torch.rand(2, 3, 28, 28), ValueError, "1 channel"),
    (torch.rand(1, 28, 28), ValueError, r"unsqueeze\(0\)"),
    (torch.randint(0, 255, (2, 1, 28, 28)), TypeError, "floating-point"),
    (torch.rand(2, 1, 32, 32), ValueError, "28x28"),
    ([[0.0]], TypeError, "torch.Tensor"),
]


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_runs_at_every_batch_size_and_explains_bad_input(name):
    """One model built once: batch sizes 1, 3, 64 (no squeeze() bug), then each bad input's message."""
    model = build_model(name)
    if name == "rot_z2_cnn":  # its last maps are 1x1: batch norm in training mode needs two values
        model.eval()
    for batch in (1, 3, 64):
        assert model(torch.rand(batch, 1, 28, 28)).shape == (batch, 10), f"{name} at batch size {batch}"
    for x, error, match in BAD_INPUTS:
        with pytest.raises(error, match=match):
            model(x)


@pytest.mark.parametrize("name", INVARIANT)
def test_equivariant_models_are_invariant(name):
    model = build_model(name).eval()
    group = D4 if name == "p4m_cnn" else C4
    for batch in (1, 3):
        errors = invariance_error(model, torch.rand(batch, 1, 28, 28), group, relative=True)
        assert len(errors) == group.order - 1
        assert max(errors.values()) < 1e-5, (batch, errors)


def test_simple_cnn_is_not_invariant(test_digits):
    model = build_model("simple_cnn").eval()
    errors = invariance_error(model, test_digits.tensors[0][:64], C4, relative=True)
    assert min(errors.values()) > 1e-2, errors  # three orders of magnitude above the equivariant models


def test_eqcnn_conv3d_and_folded_copies_agree():
    a, b = EqCNN(fold_copies=False), EqCNN(fold_copies=True)
    b.load_state_dict(a.state_dict())
    x = torch.rand(5, 1, 28, 28)
    assert torch.allclose(a(x), b(x), atol=1e-6)


def test_eqcnn_rotating_the_input_rolls_the_copies():
    model = EqCNN()
    x = torch.rand(2, 1, 28, 28)
    f, f_rot = model.features(x), model.features(torch.rot90(x, 1, dims=(-2, -1)))
    assert torch.allclose(f_rot, torch.roll(f, -1, dims=2), atol=1e-6)


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(KeyError, match="known models: simple_cnn, eq_cnn"):
        build_model("resnet")


@pytest.mark.parametrize(
    "channels, match",
    [
        ((4, 6), "three or four positive integers"),
        ((4, 0, 9, 24), r"channels\[1\]"),
        ((4, 6, 9.5, 24), r"channels\[2\]"),
        (None, r"GroupCNN needs channels"),
    ],
)
def test_group_cnn_channels_are_checked(channels, match):
    with pytest.raises(ValueError, match=match):
        GroupCNN(C4, channels)


def test_the_last_group_convolution_is_a_1x1_equivariant_dense_layer():
    """A 1x1 kernel has nothing to rotate: its bank only rolls the group axis (a circulant matrix)."""
    layer = build_model("p4_cnn").gconv3
    assert layer.weight.shape[-2:] == (1, 1)
    bank = layer.build_bank().detach()[..., 0, 0].unflatten(0, (-1, 4)).unflatten(2, (-1, 4))  # (O, 4, I, 4)
    for g in range(4):
        assert torch.equal(bank[:, g], bank[:, 0].roll(g, dims=-1))


def test_three_channel_counts_leave_out_the_1x1_layer_and_stay_invariant():
    model = GroupCNN(C4, (4, 6, 10)).eval()
    assert model.gconv3 is None and count_parameters(model) == 12_830
    err = invariance_error(model, torch.rand(3, 1, 28, 28), C4, relative=True)
    assert max(err.values()) < 1e-5
