"""The rotation explorer: the plain ``explore`` function and the ipywidgets container on top."""

import io

import ipywidgets as widgets
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from eqcourse.models import EqCNN, SimpleCNN
from eqcourse.widgets import explore, rotation_explorer


class Corner(nn.Module):
    """Says 1 when the top-left quadrant is brighter than the top-right one, else 0: not invariant."""

    def forward(self, x):
        left, right = x[..., :14, :14].sum((-3, -2, -1)), x[..., :14, 14:].sum((-3, -2, -1))
        return torch.stack([right - left, left - right], dim=1) * 10


@pytest.fixture
def dataset():
    images = torch.zeros(3, 1, 28, 28)
    images[0, 0, 2:10, 2:10] = 1.0  # a blob in the top-left corner
    images[1] = torch.rand(1, 28, 28)
    images[2, 0, 20:26, 20:26] = 1.0
    return TensorDataset(images, torch.tensor([1, 4, 0]))


def test_explore_reports_every_model_with_probabilities(dataset):
    models = {"corner": Corner(), "eq": EqCNN().eval()}
    result = explore(models, dataset, 0, 0)
    assert result["label"] == 1 and result["index"] == 0 and result["degrees"] == 0.0
    assert result["image"].shape == (28, 28)
    assert [len(info["probabilities"]) for info in result["models"].values()] == [2, 10]  # one per class
    for info in result["models"].values():
        assert abs(sum(info["probabilities"]) - 1) < 1e-5
        assert info["predicted"] == max(range(len(info["probabilities"])), key=info["probabilities"].__getitem__)
    assert result["models"]["corner"]["predicted"] == 1
    assert result["models"]["corner"]["probabilities"][1] > 0.99  # softmax of the logits (-640, 640)


def test_explore_leaves_each_model_in_its_mode(dataset):
    plain, eq = SimpleCNN().train(), EqCNN().eval()
    before = explore({"plain": plain.eval()}, dataset, 1, 90)["models"]["plain"]["probabilities"]
    plain.train()
    after = explore({"plain": plain, "eq": eq}, dataset, 1, 90)["models"]["plain"]["probabilities"]
    assert plain.training and not eq.training
    assert after == before  # asked in eval mode (no dropout, running batch-norm statistics) either way


def test_explore_rotates_the_digit(dataset):
    models = {"corner": Corner(), "eq": EqCNN().eval()}
    upright, turned = explore(models, dataset, 0, 0), explore(models, dataset, 0, 270)
    # r³ (270° counter-clockwise) carries the top-left corner to the top-right
    assert torch.equal(turned["image"], torch.rot90(upright["image"], 3))
    assert turned["models"]["corner"]["predicted"] == 0
    eq_up, eq_turned = upright["models"]["eq"]["probabilities"], turned["models"]["eq"]["probabilities"]
    assert max(abs(a - b) for a, b in zip(eq_up, eq_turned, strict=True)) < 1e-5  # the EqCNN does not notice
    blurred = explore(models, dataset, 0, 45)["image"]
    assert blurred.shape == (28, 28) and not torch.equal(blurred, upright["image"])


def test_explore_rejects_bad_arguments(dataset):
    with pytest.raises(ValueError, match="index"):
        explore({"eq": EqCNN()}, dataset, 3, 0)
    with pytest.raises(ValueError, match="models"):
        explore({}, dataset, 0, 0)
    with pytest.raises(TypeError, match="degrees"):
        explore({"eq": EqCNN()}, dataset, 0, "90")
    with pytest.raises(TypeError, match="dataset"):
        explore({"eq": EqCNN()}, [1, 2], 0, 0)


def test_explorer_is_a_live_widget_that_follows_its_controls(dataset):
    box = rotation_explorer({"corner": Corner(), "plain": SimpleCNN().eval()}, dataset, index=0)
    assert isinstance(box, widgets.VBox)
    assert isinstance(box.index, widgets.BoundedIntText) and box.index.max == 2
    assert isinstance(box.angle, widgets.IntSlider) and (box.angle.min, box.angle.max) == (0, 360)
    first_html = box.bars.value
    assert "corner</b>: predicts <b>1</b> (right)" in first_html and "plain</b>" in first_html
    assert torch.allclose(shown(box), box.result["image"], atol=1 / 255)  # the PNG is the digit asked about
    box.angle.value = 270
    assert box.result["degrees"] == 270.0
    assert torch.allclose(shown(box), torch.rot90(dataset.tensors[0][0, 0], 3), atol=1 / 255)
    assert "corner</b>: predicts <b>0</b> (wrong)" in box.bars.value and "270°" in box.bars.value
    box.index.value = 2
    assert box.result["index"] == 2 and box.result["label"] == 0 and box.result["degrees"] == 270.0
    assert torch.allclose(shown(box), torch.rot90(dataset.tensors[0][2, 0], 3), atol=1 / 255)


def shown(box) -> torch.Tensor:
    """The explorer's PNG decoded back to a (28, 28) grey image in [0, 1] (drawn 5x5 per pixel)."""
    import matplotlib.image

    rgba = torch.from_numpy(matplotlib.image.imread(io.BytesIO(box.image.value), format="png"))
    assert rgba.shape == (140, 140, 4), rgba.shape
    return rgba[2::5, 2::5, 0]
