import gzip
import shutil

import pytest
import torch

from eqcourse.data import DATA_DIR, FILES, MNISTDataError, load_mnist, read_idx, rotate_by_angle, rotated, subset


def test_shipped_files_match_their_md5():
    for name, (size, _) in FILES.items():
        array = read_idx(DATA_DIR / "MNIST" / "raw" / name)  # raises on any MD5 mismatch
        assert array.nbytes + (16 if "images" in name else 8) == size


def test_splits_have_the_mnist_shapes_and_range():
    train, test = load_mnist("train"), load_mnist("test")
    assert train.tensors[0].shape == (60000, 1, 28, 28) and test.tensors[0].shape == (10000, 1, 28, 28)
    x = test.tensors[0]
    assert x.dtype == torch.float32 and x.min() == 0 and x.max() == 1
    assert sorted(test.tensors[1].unique().tolist()) == list(range(10))


def test_missing_file_names_it_and_says_how_to_restore(tmp_path):
    with pytest.raises(MNISTDataError, match=r"t10k-(images|labels)-idx[13]-ubyte.gz is missing.*git checkout"):
        load_mnist("test", root=tmp_path)


def test_corrupt_file_is_caught_by_md5(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(DATA_DIR / "MNIST" / "raw" / name, raw / name)
    data = bytearray(gzip.decompress((raw / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    data[100] = (data[100] + 1) % 10  # one wrong label
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(data)))
    with pytest.raises(MNISTDataError, match=r"t10k-labels-idx1-ubyte.gz is corrupt.*expected 27ae3e4e"):
        load_mnist("test", root=tmp_path)


def test_truncated_gzip_is_a_clear_error(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    shutil.copy(DATA_DIR / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz", raw)
    (raw / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(MNISTDataError, match="not a valid gzip file"):
        load_mnist("test", root=tmp_path)


def test_unknown_split():
    with pytest.raises(ValueError, match="split must be one of"):
        load_mnist("validation")


def test_subset_is_seeded_and_checked():
    test = load_mnist("test")
    a, b = subset(test, 10, seed=3), subset(test, 10, seed=3)
    assert torch.equal(a.tensors[1], b.tensors[1]) and len(a) == 10
    with pytest.raises(ValueError, match="between 1 and 10000"):
        subset(test, 0)
    assert torch.equal(load_mnist("test", 10, seed=3).tensors[0], a.tensors[0])  # same digits, less memory
    with pytest.raises(ValueError, match="subset size"):
        load_mnist("train", size=70_000)


def test_rotated_split_and_angles_agree_with_rot90():
    test = subset(load_mnist("test"), 8)
    assert torch.equal(rotated(test, 1).tensors[0], torch.rot90(test.tensors[0], 1, dims=(-2, -1)))
    x = test.tensors[0]
    assert torch.equal(rotate_by_angle(x, 90.0), torch.rot90(x, 1, dims=(-2, -1)))
    # interpolation just off 90 degrees is close to the exact rotation: same direction
    near = rotate_by_angle(x, 89.0)
    assert (near - torch.rot90(x, 1, dims=(-2, -1))).abs().mean() < (
        near - torch.rot90(x, 3, dims=(-2, -1))
    ).abs().mean()
    assert (rotate_by_angle(x, 1.0) - x).abs().mean() < 0.05


# --- issue 13: data a caller cannot corrupt, IDX files checked before they are read ----------


def test_load_mnist_hands_out_tensors_the_caller_owns():
    first = load_mnist("test")
    labels, images = first.tensors[1].clone(), first.tensors[0].clone()
    first.tensors[1][:5] = 0
    first.tensors[0][:5] = 0.5
    again = load_mnist("test")
    assert torch.equal(again.tensors[1], labels) and torch.equal(again.tensors[0], images)
    small = load_mnist("test", 10, seed=1)
    small.tensors[1][:] = 0
    assert not torch.equal(load_mnist("test", 10, seed=1).tensors[1], small.tensors[1])


def _idx_file(path, payload: bytes) -> None:
    path.write_bytes(gzip.compress(payload))


def test_read_idx_refuses_a_file_it_has_no_checksum_for(tmp_path):
    path = tmp_path / "my-labels-idx1-ubyte.gz"
    _idx_file(path, bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 1, 2]))
    with pytest.raises(MNISTDataError, match=r"no checksum for my-labels-idx1-ubyte.gz.*verify=False"):
        read_idx(path)
    assert read_idx(path, verify=False).tolist() == [7, 1, 2]


@pytest.mark.parametrize(
    "payload, match",
    [
        (bytes([1, 2, 8, 1, 0, 0, 0, 1, 5]), r"magic number.*00 00 08"),  # not an IDX file
        (bytes([0, 0, 13, 1, 0, 0, 0, 1, 5]), r"magic number.*00 00 08"),  # floats, not unsigned bytes
        (bytes([0, 0, 8, 0]), r"1 to 4 dimensions"),
        (bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3]), r"header promises 4 values.*3"),
        (bytes([0, 0]), r"too short"),
    ],
    ids=["magic", "dtype", "ndim", "size", "short"],
)
def test_read_idx_checks_the_magic_number_and_the_header(tmp_path, payload, match):
    path = tmp_path / "odd-idx1-ubyte.gz"
    _idx_file(path, payload)
    with pytest.raises(MNISTDataError, match=match):
        read_idx(path, verify=False)


def test_read_idx_keeps_the_rows_asked_for_in_their_order():
    path = DATA_DIR / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz"
    rows = torch.tensor([9999, 3, 1500, 0, 3])  # unsorted, a repeat, both ends, across 1 MB pieces
    assert (read_idx(path, rows=rows) == read_idx(path)[rows.numpy()]).all()
    with pytest.raises(MNISTDataError, match=r"rows must lie in 0\.\.9999"):
        read_idx(path, rows=[10_000])


def test_a_subset_of_the_training_split_never_holds_the_whole_split():
    """load_mnist("train", n) streams the 47 MB file: its peak allocation is the subset plus 1 MB pieces."""
    import tracemalloc

    tracemalloc.start()
    try:
        images, labels = load_mnist("train", 100, seed=3).tensors
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.0f} MB while loading 100 training digits"
    full_images, full_labels = load_mnist("train").tensors
    idx = torch.randperm(60_000, generator=torch.Generator().manual_seed(3))[:100]
    assert torch.equal(images, full_images[idx]) and torch.equal(labels, full_labels[idx])
