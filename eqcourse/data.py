"""The two datasets: MNIST from the IDX files shipped in ``data/MNIST/raw/`` (checked byte for
byte), and rotated MNIST generated from them; rotations of images by any angle.

Pixels are scaled to [0, 1] and nothing else (the source's ``ToTensor`` only); nothing is downloaded.

Rotated MNIST is built the way MNIST-rot was made (Larochelle et al. 2007), whose files cannot be
downloaded here; in memory, in a few seconds (``load_rotated_mnist``):

* **train / val / trainval**: 12,000 digits drawn without replacement from MNIST's *training*
  split (``torch.randperm`` seeded with ``seed``); the first 10,000 are "train", the last 2,000
  "val", all 12,000 "trainval". Each digit is rotated once, by its own angle.
* **test**: the 10,000 MNIST *test* digits, each at five angles: 50,000 images, digit-major
  (image ``5 * i + j`` is test digit ``i`` at its ``j``-th angle).

Angles are uniform in [0°, 360°), drawn from a generator seeded with ``seed + 1`` (training
digits) and ``seed + 2`` (test digits). Rotation is ``rotate_by_radians``: counter-clockwise
about the centre, bilinear, zeros outside. Test digits never appear in train or val.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from eqcourse.checks import check_angle, check_images
from eqcourse.groups import C4


def _shipped_data_dir() -> Path:
    """``eqcourse/_data`` in an installed wheel, else the checkout's ``data/`` beside the package."""
    package = Path(__file__).resolve().parent
    installed = package / "_data"  # pyproject.toml maps data/ to eqcourse._data in the wheel
    return installed if (installed / "MNIST" / "raw").is_dir() else package.parent / "data"


#: Where the shipped files live (inside the installed package, or the checkout's ``data/``);
#: ``EQCOURSE_DATA`` points elsewhere (a folder holding ``MNIST/raw/``).
DATA_DIR = Path(os.environ.get("EQCOURSE_DATA") or _shipped_data_dir())

# file name -> (uncompressed bytes, MD5 of the uncompressed bytes)
FILES = {
    "train-images-idx3-ubyte.gz": (47_040_016, "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels-idx1-ubyte.gz": (60_008, "a25bea736e30d166cdddb491f175f624"),
    "t10k-images-idx3-ubyte.gz": (7_840_016, "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels-idx1-ubyte.gz": (10_008, "27ae3e4e09519cfbb04c329615203637"),
}
SPLITS = {"train": "train", "test": "t10k"}


class MNISTDataError(RuntimeError):
    """A shipped MNIST file is missing or does not match its checksum."""


def _restore_hint(path: Path) -> str:
    return f"Restore it with `git checkout -- {path.parent}` from the course repository, or reinstall eqcourse."


#: IDX magic number: two zero bytes, the element type (0x08: unsigned byte), the number of dimensions
_IDX_UBYTE = 0x08


def read_idx(path: Path, verify: bool = True, rows: np.ndarray | torch.Tensor | None = None) -> np.ndarray:
    """Read one gzip-compressed IDX file of unsigned bytes into a NumPy array.

    The file name must be one of ``FILES``, whose size and MD5 are checked, unless
    ``verify=False`` is passed for a file of your own. Either way the IDX magic number (``00 00
    08 ndim``) and the header's shape are checked against the data; a mismatch is a clear
    ``MNISTDataError``. ``rows`` (indices along the first axis) keeps only those entries, in
    that order. The file is decompressed as a stream of 1 MB pieces, so a subset of the training
    split never holds all of its 47 MB in memory (every byte is still read and checked).
    """
    path = Path(path)
    if not path.is_file():
        raise MNISTDataError(f"MNIST file {path} is missing. {_restore_hint(path)}")
    size, md5 = FILES.get(path.name, (None, None))
    if verify and md5 is None:
        raise MNISTDataError(
            f"read_idx has no checksum for {path.name} (it knows {', '.join(FILES)}), so it cannot "
            "tell a good copy from a corrupt one. Pass verify=False to read a file of your own."
        )
    digest = hashlib.md5()
    try:
        with gzip.open(path, "rb") as f:

            def read(n: int) -> bytes:
                data = f.read(n)
                digest.update(data)
                return data

            shape = _read_header(read, path)
            out, got = _read_rows(read, shape, rows, path)
            while extra := read(_CHUNK):  # bytes past the data: counted, and hashed for the MD5
                got += len(extra)
    except (OSError, EOFError) as err:
        raise MNISTDataError(f"MNIST file {path} is not a valid gzip file ({err}). {_restore_hint(path)}") from err
    total = 4 + 4 * len(shape) + got
    if md5 is not None and verify and (total != size or digest.hexdigest() != md5):
        raise MNISTDataError(
            f"MNIST file {path} is corrupt: its uncompressed bytes have MD5 {digest.hexdigest()} "
            f"({total:,} bytes), expected {md5} ({size:,} bytes). {_restore_hint(path)}"
        )
    count = int(np.prod(shape))
    if got != count:
        raise MNISTDataError(f"{path}: the header promises {count:,} values (shape {shape}), the file holds {got:,}.")
    return out


#: how many decompressed bytes ``read_idx`` holds at a time besides the array it returns
_CHUNK = 1 << 20


def _read_header(read, path: Path) -> tuple[int, ...]:
    """The shape an IDX header announces, after checking its magic number."""
    magic = read(4)
    if len(magic) < 4:
        raise MNISTDataError(f"{path} is too short to be an IDX file ({len(magic)} bytes; the header alone is 4+).")
    if magic[0] != 0 or magic[1] != 0 or magic[2] != _IDX_UBYTE:
        raise MNISTDataError(
            f"{path} is not an IDX file of unsigned bytes: its magic number starts "
            f"{magic[0]:02x} {magic[1]:02x} {magic[2]:02x}, expected 00 00 08."
        )
    ndim = magic[3]
    dims = read(4 * ndim)
    if not 1 <= ndim <= 4 or len(dims) < 4 * ndim:
        raise MNISTDataError(f"{path}: an IDX file of images or labels has 1 to 4 dimensions; its header says {ndim}.")
    return tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim))


def _read_rows(read, shape: tuple[int, ...], rows, path: Path) -> tuple[np.ndarray, int]:
    """The array of ``shape`` (only ``rows`` of it, if given) from the data; and the bytes read."""
    n, row_shape = shape[0], shape[1:]
    row = int(np.prod(row_shape))
    if rows is None:
        wanted = np.arange(n)
    else:
        wanted = np.asarray(rows, dtype=np.int64).reshape(-1)
        if wanted.size and not (0 <= wanted.min() and wanted.max() < n):
            raise MNISTDataError(f"{path}: rows must lie in 0..{n - 1} (the file holds {n} entries).")
    order = np.argsort(wanted, kind="stable")
    ascending = wanted[order]
    out = np.empty((len(wanted), *row_shape), dtype=np.uint8)
    flat = out.reshape(len(wanted), row)
    per_piece = max(1, _CHUNK // max(row, 1))
    got = 0
    for first in range(0, n, per_piece):
        piece = read(min(per_piece, n - first) * row)
        got += len(piece)
        if len(piece) < min(per_piece, n - first) * row:
            break  # too few bytes: the count check names it
        lo, hi = np.searchsorted(ascending, [first, first + per_piece])
        if hi > lo:
            values = np.frombuffer(piece, dtype=np.uint8).reshape(-1, row)
            flat[order[lo:hi]] = values[ascending[lo:hi] - first]
    return out, got


def _load_uint8(split: str, root: str, size: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The images and labels of ``split`` (a seeded subset of ``size`` if given), as read from disk."""
    raw = Path(root) / "MNIST" / "raw"
    prefix = SPLITS[split]
    labels = read_idx(raw / f"{prefix}-labels-idx1-ubyte.gz")
    idx = None if size is None else _subset_indices(len(labels), size, seed)
    images = read_idx(raw / f"{prefix}-images-idx3-ubyte.gz", rows=idx)  # only the kept digits in memory
    if idx is not None:
        labels = labels[idx.numpy()]
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


def load_mnist(
    split: str = "train",
    size: int | None = None,
    seed: int = 0,
    root: str | Path | None = None,
) -> TensorDataset:
    """MNIST ``split`` ("train" or "test") as images ``(N, 1, 28, 28)`` in [0, 1] and labels.

    ``size`` keeps a seeded random subset (the same digits as ``subset(load_mnist(split), size,
    seed)``) without building the whole split in floating point first: a small memory footprint.
    ``root``: a folder holding ``MNIST/raw/`` (default ``DATA_DIR``).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}; got {split!r}.")
    images, labels = _load_uint8(split, str(DATA_DIR if root is None else root), size, seed)
    # read from disk on every call (0.2 s for the training split) rather than cached: nothing of
    # 47 MB stays in memory, and every caller owns fresh tensors
    return TensorDataset(images.unsqueeze(1).float().div_(255.0), labels)


def _check_subset_size(total: int, n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or not 0 < n <= total:
        raise ValueError(f"the subset size must be an integer between 1 and {total} (the split's size); got {n!r}.")


def _subset_indices(total: int, n: int, seed: int) -> torch.Tensor:
    _check_subset_size(total, n)
    return torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:n]


def subset(dataset: TensorDataset, n: int, seed: int | None = 0) -> TensorDataset:
    """``n`` examples drawn without replacement, the same ones for the same seed; the first ``n``
    when ``seed`` is None (rotated MNIST's test split: whole digits, each at its five angles)."""
    if seed is None:
        _check_subset_size(len(dataset), n)
        return TensorDataset(*(t[:n] for t in dataset.tensors))
    idx = _subset_indices(len(dataset), n, seed)
    return TensorDataset(*(t[idx] for t in dataset.tensors))


def rotated(dataset: TensorDataset, k: int) -> TensorDataset:
    """A copy of ``dataset`` with every image rotated by ``90 * k`` degrees."""
    images, labels = dataset.tensors
    k = k % 4
    return TensorDataset(C4.act_on_image(k, images) if k else images.clone(), labels.clone())


def rotate_by_radians(x: torch.Tensor, radians: torch.Tensor) -> torch.Tensor:
    """Rotate each image of ``x (B, C, H, W)`` counter-clockwise by its own angle ``radians (B,)``.

    Bilinear interpolation with zeros outside the image; the grid is made on ``x``'s device.
    """
    radians = radians.to(device=x.device, dtype=x.dtype)
    c, s = torch.cos(radians), torch.sin(radians)
    zero = torch.zeros_like(c)
    # affine_grid maps output coordinates to input ones; y points down, hence the signs
    theta = torch.stack([torch.stack([c, -s, zero], 1), torch.stack([s, c, zero], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def rotate_by_angle(x: torch.Tensor, degrees: float, device: str | torch.device | None = None) -> torch.Tensor:
    """Rotate images ``(B, C, H, W)`` counter-clockwise by any angle about their centre.

    Multiples of 90 degrees use the exact rotation ``C4.act_on_image``; other angles use
    bilinear interpolation with zeros outside the image, so a little blur is part of the
    result. Computed on ``device`` (default: ``x``'s device), and returned there.
    """
    check_images(x, name="x")
    degrees = check_angle(degrees)
    if device is not None:
        x = x.to(device)
    quarter = degrees / 90.0
    if quarter.is_integer():
        k = int(quarter) % 4
        return C4.act_on_image(k, x) if k else x.clone()  # always a new tensor, as for other angles
    radians = torch.deg2rad(torch.tensor(degrees, dtype=x.dtype, device=x.device))
    return rotate_by_radians(x, radians.expand(len(x)))


# --- rotated MNIST (see the module docstring) ---------------------------------------------

_TRAIN, _VAL, _ANGLES_PER_TEST_DIGIT = 10_000, 2_000, 5
#: split -> number of images
ROTATED_SPLITS = {"train": _TRAIN, "val": _VAL, "trainval": _TRAIN + _VAL, "test": 10_000 * _ANGLES_PER_TEST_DIGIT}


def _check_rotated(split: str, seed: int) -> None:
    if split not in ROTATED_SPLITS:
        raise ValueError(
            f"split must be one of {', '.join(map(repr, ROTATED_SPLITS))} "
            f"(sizes {', '.join(f'{k}: {v:,}' for k, v in ROTATED_SPLITS.items())}); got {split!r}."
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}.")


def _window(split: str) -> slice:
    return {"train": slice(0, _TRAIN), "val": slice(_TRAIN, None), "trainval": slice(None)}[split]


def rotated_mnist_sources(split: str, seed: int = 0) -> tuple[str, torch.Tensor]:
    """Which MNIST digits a rotated split is made of: ``(mnist_split, indices)``, one index per image."""
    _check_rotated(split, seed)
    if split == "test":
        return "test", torch.arange(10_000).repeat_interleave(_ANGLES_PER_TEST_DIGIT)
    order = torch.randperm(60_000, generator=torch.Generator().manual_seed(seed))[: _TRAIN + _VAL]
    return "train", order[_window(split)]


def rotated_mnist_angles(split: str, seed: int = 0) -> torch.Tensor:
    """The angle (degrees, in [0, 360)) each image of a rotated split was turned by."""
    _check_rotated(split, seed)
    n, offset = (ROTATED_SPLITS["test"], 2) if split == "test" else (_TRAIN + _VAL, 1)
    degrees = torch.rand(n, generator=torch.Generator().manual_seed(seed + offset), dtype=torch.float64)
    degrees = degrees.mul_(360.0).float()
    return degrees if split == "test" else degrees[_window(split)]


def load_rotated_mnist(split: str = "train", seed: int = 0) -> TensorDataset:
    """Rotated MNIST ``split`` ("train" 10,000, "val" 2,000, "trainval" 12,000 or "test" 50,000).

    Images ``(N, 1, 28, 28)`` in [0, 1] and labels, generated from the shipped MNIST (module
    docstring); the same ``seed`` gives the same images, bit for bit.
    """
    mnist_split, indices = rotated_mnist_sources(split, seed)
    images, labels = load_mnist(mnist_split).tensors
    radians = rotated_mnist_angles(split, seed) * (math.pi / 180.0)
    out = torch.empty(len(indices), 1, 28, 28)
    for start in range(0, len(indices), 5000):  # in chunks: small peak memory
        chunk = slice(start, start + 5000)
        out[chunk] = rotate_by_radians(images[indices[chunk]], radians[chunk])
    return TensorDataset(out, labels[indices])
