import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from eqcourse.analysis import confusion_matrix, misclassified, predicted_labels
from eqcourse.models import SimpleCNN
from eqcourse.train import accuracy


class CornerReader(nn.Module):
    """Predicts the label written (times 0.1) into the top-left pixel: right upright, wrong rotated."""

    def forward(self, x):
        label = (x[:, 0, 0, 0] * 10).round().long().clamp(0, 9)
        return nn.functional.one_hot(label, 10).float()


@pytest.fixture
def corner_digits():
    labels = torch.arange(20) % 10
    images = torch.zeros(20, 1, 28, 28)
    images[:, 0, 0, 0] = labels / 10
    return TensorDataset(images, labels)


def test_confusion_matrix_upright_is_diagonal(corner_digits):
    m = confusion_matrix(CornerReader(), corner_digits)
    assert m.shape == (10, 10) and m.dtype == torch.long
    assert torch.equal(m, 2 * torch.eye(10, dtype=torch.long))


def test_confusion_matrix_rotated_moves_everything_to_column_zero(corner_digits):
    # r·x moves the top-left pixel to the bottom-left: the model reads 0 everywhere
    m = confusion_matrix(CornerReader(), corner_digits, degrees=90)
    expected = torch.zeros(10, 10, dtype=torch.long)
    expected[:, 0] = 2
    assert torch.equal(m, expected)
    assert m.sum(1).tolist() == torch.bincount(corner_digits.tensors[1], minlength=10).tolist()


def test_confusion_matrix_agrees_with_accuracy(test_digits):
    model = SimpleCNN().eval()
    for degrees in (0, 90, 30.0):
        m = confusion_matrix(model, test_digits, degrees)
        assert m.sum() == len(test_digits)
        assert 100 * m.trace().item() / len(test_digits) == pytest.approx(accuracy(model, test_digits, degrees))


def test_misclassified(corner_digits):
    idx, preds = misclassified(CornerReader(), corner_digits, 0, n=5)
    assert len(idx) == 0 and len(preds) == 0
    idx, preds = misclassified(CornerReader(), corner_digits, 270, n=5)
    assert idx.tolist() == [1, 2, 3, 4, 5]  # label 0 (index 0) is read correctly
    assert preds.tolist() == [0] * 5
    idx, _ = misclassified(CornerReader(), corner_digits, 180, n=100)
    assert len(idx) == 18  # fewer mistakes than asked for: all of them


def test_predicted_labels(corner_digits):
    assert torch.equal(predicted_labels(CornerReader(), corner_digits), corner_digits.tensors[1])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"dataset": (torch.zeros(2, 1, 28, 28), torch.zeros(2))}, TypeError, "TensorDataset"),
        ({"degrees": "90"}, TypeError, "degrees"),
        ({"num_classes": 0}, ValueError, "num_classes"),
        ({"num_classes": 5}, ValueError, "labels must lie"),
        ({"model": 3}, TypeError, "model"),
    ],
)
def test_confusion_matrix_rejects_bad_input(corner_digits, kwargs, error, match):
    args = {"model": CornerReader(), "dataset": corner_digits, **kwargs}
    with pytest.raises(error, match=match):
        confusion_matrix(**args)


@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_misclassified_rejects_bad_n(corner_digits, n):
    with pytest.raises(ValueError, match="n must be a positive integer"):
        misclassified(CornerReader(), corner_digits, 90, n=n)


def test_empty_dataset_is_rejected():
    empty = TensorDataset(torch.zeros(0, 1, 28, 28), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match="empty"):
        confusion_matrix(CornerReader(), empty)
