"""The helpers that look inside the EqCNN and measure invariance and cost (eqcourse.analysis, A2 part)."""

import pytest
import torch
import torch.nn.functional as F

from eqcourse.analysis import (
    EQCNN_STAGES,
    copy_feature_maps,
    cyclic_shift_errors,
    eqcnn_activations,
    format_table,
    rotation_logits,
    rotation_summary,
)
from eqcourse.models import EqCNN, SimpleCNN


@pytest.fixture(scope="module")
def eqcnn():
    torch.manual_seed(0)
    return EqCNN().eval()


def test_activations_follow_the_source_layout_and_end_in_the_features(eqcnn):
    x = torch.rand(3, 1, 28, 28)
    acts = eqcnn_activations(eqcnn, x)
    assert list(acts) == list(EQCNN_STAGES)
    assert acts["copies"].shape == (3, 1, 4, 28, 28)
    assert acts["cl1"].shape == (3, 8, 4, 26, 26)
    assert acts["cl3"].shape == (3, 16, 4, 1, 1)
    # the Conv3d path computed here is the same network as the model's own (folded) forward pass
    assert torch.allclose(acts["cl3"].flatten(2), eqcnn.features(x), atol=1e-6)


def test_copy_j_is_the_plain_convolution_of_the_rotated_digit(eqcnn):
    x = torch.rand(1, 1, 28, 28)
    maps = copy_feature_maps(eqcnn, x[0, 0])
    assert maps.shape == (4, 8, 26, 26)
    w, b = eqcnn.cl1.weight[:, :, 0], eqcnn.cl1.bias
    for j in range(4):
        expected = F.silu(F.conv2d(torch.rot90(x, j, (-2, -1)), w, b))[0]
        assert torch.allclose(maps[j], expected, atol=1e-6), j


def test_rotating_the_input_shifts_the_copies_by_one(eqcnn):
    x = torch.rand(1, 1, 28, 28)
    before = copy_feature_maps(eqcnn, x)
    after = copy_feature_maps(eqcnn, torch.rot90(x, 1, (-2, -1)))
    errors = cyclic_shift_errors(before, after)
    assert errors[1] < 1e-6
    assert min(errors[s] for s in (0, 2, 3)) > 1e-2


def test_cyclic_shift_errors_finds_a_known_roll():
    before = torch.randn(4, 2, 5, 5)
    for s in range(4):
        errors = cyclic_shift_errors(before, torch.roll(before, -s, dims=0))
        assert min(errors, key=errors.get) == s
        assert errors[s] == 0.0 and all(e > 0 for t, e in errors.items() if t != s)


def test_cyclic_shift_errors_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        cyclic_shift_errors(torch.zeros(4, 3), torch.zeros(4, 2))


def test_copy_feature_maps_rejects_bad_input(eqcnn):
    with pytest.raises(ValueError, match="one digit"):
        copy_feature_maps(eqcnn, torch.rand(2, 1, 28, 28))
    with pytest.raises(ValueError, match="stage"):
        copy_feature_maps(eqcnn, torch.rand(28, 28), stage="cl9")
    with pytest.raises(TypeError, match="EqCNN"):
        copy_feature_maps(SimpleCNN(), torch.rand(28, 28))


def test_rotation_summary_separates_invariant_from_plain_models(eqcnn):
    torch.manual_seed(1)
    x, y = torch.rand(6, 1, 28, 28), torch.randint(0, 10, (6,))
    eq = rotation_summary(rotation_logits(eqcnn, x), y)
    plain = rotation_summary(rotation_logits(SimpleCNN().eval(), x), y)
    assert set(eq["accuracy"]) == {0, 90, 180, 270} and set(eq["max_logit_difference"]) == {90, 180, 270}
    assert max(eq["max_logit_difference"].values()) < 1e-5
    assert len(set(eq["accuracy"].values())) == 1
    assert min(plain["max_logit_difference"].values()) > 1e-3


def test_rotation_summary_counts_accuracy():
    logits = torch.zeros(4, 4, 3)
    logits[:, :, 0] = 1.0  # every rotation predicts class 0
    summary = rotation_summary(logits, torch.tensor([0, 0, 1, 2]))
    assert summary["accuracy"] == {0: 50.0, 90: 50.0, 180: 50.0, 270: 50.0}
    with pytest.raises(ValueError, match="labels"):
        rotation_summary(logits, torch.tensor([0, 1]))


def test_format_table_aligns_and_formats():
    text = format_table(
        [{"model": "EqCNN", "parameters": 7834, "accuracy": 96.644}, {"model": "x", "parameters": 1, "accuracy": 5.0}]
    )
    lines = text.splitlines()
    assert lines[0].split() == ["model", "parameters", "accuracy"]
    assert "7,834" in lines[2] and "96.64" in lines[2]
    assert len({len(line) for line in lines}) == 1
    with pytest.raises(ValueError, match="same keys"):
        format_table([{"a": 1}, {"b": 2}])

