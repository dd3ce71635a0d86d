import math

import pytest
import torch

from eqcourse.data import (
    ROTATED_SPLITS,
    load_mnist,
    load_rotated_mnist,
    rotate_by_angle,
    rotate_by_radians,
    rotated_mnist_angles,
    rotated_mnist_sources,
    subset,
)


@pytest.fixture(scope="module")
def val():
    return load_rotated_mnist("val")


def test_split_sizes_and_shapes(val):
    assert ROTATED_SPLITS == {"train": 10_000, "val": 2_000, "trainval": 12_000, "test": 50_000}
    images, labels = val.tensors
    assert images.shape == (2000, 1, 28, 28) and labels.shape == (2000,)
    assert images.dtype == torch.float32 and 0 <= images.min() and images.max() <= 1
    for split, size in ROTATED_SPLITS.items():
        assert len(rotated_mnist_sources(split)[1]) == size == len(rotated_mnist_angles(split))


def test_generation_is_deterministic_and_seeded(val):
    again = load_rotated_mnist("val")
    assert torch.equal(again.tensors[0], val.tensors[0]) and torch.equal(again.tensors[1], val.tensors[1])
    other = load_rotated_mnist("val", seed=1)
    assert not torch.equal(other.tensors[0], val.tensors[0])


def test_trainval_is_train_then_val(val):
    train_idx = rotated_mnist_sources("train")[1]
    both_idx = rotated_mnist_sources("trainval")[1]
    assert torch.equal(both_idx, torch.cat([train_idx, rotated_mnist_sources("val")[1]]))
    assert torch.equal(rotated_mnist_angles("trainval")[10_000:], rotated_mnist_angles("val"))


def test_splits_are_disjoint_as_intended():
    train_split, train_idx = rotated_mnist_sources("train")
    val_split, val_idx = rotated_mnist_sources("val")
    test_split, test_idx = rotated_mnist_sources("test")
    assert train_split == val_split == "train" and test_split == "test"  # test digits come from MNIST's test split
    assert len(set(train_idx.tolist())) == 10_000 and len(set(val_idx.tolist())) == 2_000  # no repeats
    assert not set(train_idx.tolist()) & set(val_idx.tolist())
    # every test digit appears exactly five times, at five angles
    assert torch.equal(torch.bincount(test_idx), torch.full((10_000,), 5))


def test_images_are_the_mnist_digits_rotated_by_their_angles(val):
    split, idx = rotated_mnist_sources("val")
    mnist = load_mnist(split)
    angles = rotated_mnist_angles("val")
    for i in (0, 7, 1999):
        source = mnist.tensors[0][idx[i] : idx[i] + 1]
        expected = rotate_by_angle(source, float(angles[i]))
        assert torch.allclose(val.tensors[0][i : i + 1], expected, atol=1e-5)
        assert val.tensors[1][i] == mnist.tensors[1][idx[i]]


def test_angles_are_uniform_in_a_full_turn():
    for split in ("trainval", "test"):
        angles = rotated_mnist_angles(split).double()
        assert 0 <= angles.min() and angles.max() < 360
        # Kolmogorov-Smirnov distance to the uniform distribution on [0, 360)
        ordered = angles.sort().values / 360
        n = len(ordered)
        ks = torch.max(torch.maximum(torch.arange(1, n + 1) / n - ordered, ordered - torch.arange(n) / n)).item()
        assert ks < 1.63 / math.sqrt(n)  # the 1 % critical value
        assert abs(angles.mean().item() - 180) < 3


def test_rotating_by_radians_matches_rotate_by_angle_one_angle_per_image():
    x = torch.rand(3, 1, 28, 28)
    out = rotate_by_radians(x, torch.tensor([10.0, 45.0, 200.0]) * (math.pi / 180.0))
    for i, a in enumerate((10.0, 45.0, 200.0)):
        assert torch.allclose(out[i : i + 1], rotate_by_angle(x[i : i + 1], a), atol=1e-6)


def test_the_first_n_of_the_test_split_are_whole_digits(val):
    first = subset(val, 10, seed=None)
    assert torch.equal(first.tensors[0], val.tensors[0][:10])
    with pytest.raises(ValueError, match="subset size must be an integer between 1 and 2000"):
        subset(val, 0, seed=None)
    assert torch.equal(rotated_mnist_sources("test")[1][:10], torch.arange(2).repeat_interleave(5))


def test_bad_splits_and_seeds_get_clear_errors():
    with pytest.raises(ValueError, match="split must be one of 'train', 'val', 'trainval', 'test'"):
        load_rotated_mnist("validation")
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        load_rotated_mnist("val", seed=-1)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        rotated_mnist_angles("val", seed=1.5)
