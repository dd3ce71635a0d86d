"""Rotated MNIST, generated from the shipped MNIST the way MNIST-rot was made.

The original MNIST-rot files (Larochelle et al. 2007) cannot be downloaded here, so this module
builds a data set of the same shape from ``data/MNIST/raw/``, in memory, in a few seconds:

* **train / val / trainval**: 12,000 digits drawn without replacement from MNIST's *training*
  split (``torch.randperm`` seeded with ``seed``); the first 10,000 are "train", the last 2,000
  "val", all 12,000 "trainval". Each digit is rotated once, by its own angle.
* **test**: the 10,000 MNIST *test* digits, each at five angles: 50,000 images, digit-major
  (image ``5 * i + j`` is test digit ``i`` at its ``j``-th angle).

Angles are uniform in [0°, 360°), drawn from a generator seeded with ``seed + 1`` (training
digits) and ``seed + 2`` (test digits); the draw of the 12,000 training digits uses ``seed``.
Rotation is counter-clockwise about the image centre with bilinear interpolation and zeros
outside the image: the same operation as ``eqcourse.data.rotate_by_angle``, one angle per image.
Test digits never appear in train or val, and train and val are disjoint.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from eqcourse.checks import check_images
from eqcourse.data import load_mnist

__all__ = [
    "SEED",
    "SPLIT_SIZES",
    "TEST_ANGLES_PER_DIGIT",
    "load_rotated_mnist",
    "rotated_mnist_angles",
    "rotated_mnist_sources",
    "rotate_each",
]

#: The seed of the shipped data set (change it only to study the spread over draws).
SEED = 0
TRAIN_SIZE, VAL_SIZE = 10_000, 2_000
TEST_ANGLES_PER_DIGIT = 5
SPLIT_SIZES = {"train": TRAIN_SIZE, "val": VAL_SIZE, "trainval": TRAIN_SIZE + VAL_SIZE, "test": 10_000 * 5}


def rotate_each(images: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Rotate image ``i`` of ``images (B, C, H, W)`` by ``degrees[i]`` counter-clockwise.

    Bilinear interpolation, zeros outside: ``rotate_by_angle`` with one angle per image (for
    angles off the 90° grid; ``rotate_by_angle`` turns exact multiples of 90° with ``rot90``).
    """
    check_images(images, name="images")
    degrees = torch.as_tensor(degrees, dtype=images.dtype)
    if degrees.shape != (len(images),):
        raise ValueError(f"degrees must hold one angle per image, shape ({len(images)},); got {tuple(degrees.shape)}.")
    theta = degrees * (math.pi / 180.0)
    c, s = torch.cos(theta), torch.sin(theta)
    zero = torch.zeros_like(c)
    # affine_grid maps output coordinates to input ones; y points down, hence the signs
    affine = torch.stack([torch.stack([c, -s, zero], 1), torch.stack([s, c, zero], 1)], 1)
    grid = F.affine_grid(affine, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _check_split(split: str) -> str:
    if split not in SPLIT_SIZES:
        raise ValueError(
            f"split must be one of {', '.join(map(repr, SPLIT_SIZES))} "
            f"(sizes {', '.join(f'{k}: {v:,}' for k, v in SPLIT_SIZES.items())}); got {split!r}."
        )
    return split


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}.")
    return seed


def _uniform_degrees(n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).mul_(360.0).float()


def _window(split: str) -> slice:
    return {"train": slice(0, TRAIN_SIZE), "val": slice(TRAIN_SIZE, None), "trainval": slice(None)}[split]


def rotated_mnist_sources(split: str, seed: int = SEED) -> tuple[str, torch.Tensor]:
    """Which MNIST digits a split is made of: ``(mnist_split, indices)``, one index per image."""
    _check_split(split)
    seed = _check_seed(seed)
    if split == "test":
        return "test", torch.arange(10_000).repeat_interleave(TEST_ANGLES_PER_DIGIT)
    order = torch.randperm(60_000, generator=torch.Generator().manual_seed(seed))[: TRAIN_SIZE + VAL_SIZE]
    return "train", order[_window(split)]


def rotated_mnist_angles(split: str, seed: int = SEED) -> torch.Tensor:
    """The angle (degrees, in [0, 360)) each image of a split was rotated by."""
    _check_split(split)
    seed = _check_seed(seed)
    if split == "test":
        return _uniform_degrees(SPLIT_SIZES["test"], seed + 2)
    return _uniform_degrees(TRAIN_SIZE + VAL_SIZE, seed + 1)[_window(split)]


def load_rotated_mnist(split: str = "train", seed: int = SEED) -> TensorDataset:
    """Rotated MNIST ``split`` ("train" 10,000, "val" 2,000, "trainval" 12,000 or "test" 50,000).

    Images ``(N, 1, 28, 28)`` in [0, 1] and labels; generated from the shipped MNIST in a few
    seconds (see the module docstring for the construction and seeds). The same ``seed`` gives
    the same images, bit for bit.
    """
    mnist_split, indices = rotated_mnist_sources(split, seed)
    images, labels = load_mnist(mnist_split).tensors
    angles = rotated_mnist_angles(split, seed)
    out = torch.empty(len(indices), 1, 28, 28)
    for start in range(0, len(indices), 5000):  # in chunks: small peak memory
        chunk = slice(start, start + 5000)
        out[chunk] = rotate_each(images[indices[chunk]], angles[chunk])
    return TensorDataset(out, labels[indices])
