import json
import os
import subprocess
import sys

import pytest
import torch

from eqcourse.data import load_mnist, subset
from eqcourse.models import build_model
from eqcourse.train import (
    RUNS,
    CheckpointError,
    Protocol,
    accuracy_by_rotation,
    load_checkpoint,
    load_pretrained,
    run,
    save_checkpoint,
)

TINY = Protocol(epochs=1, train_size=512, test_size=256)


def test_training_is_seeded_and_repeatable():
    a = run("simple_cnn", TINY)[1]
    b = run("simple_cnn", TINY)[1]
    assert a["accuracy"] == b["accuracy"] and a["losses"] == b["losses"]
    assert a["parameters"] == 13_978 and a["protocol"]["lr"] == 5e-4 and a["protocol"]["batch_size"] == 64


def test_a_short_run_learns_something():
    metrics = run("eq_cnn", Protocol.fast(test_size=500))[1]
    acc = metrics["accuracy"]
    assert acc["0"] > 30  # chance is 10 %
    assert acc["0"] == acc["90"] == acc["180"] == acc["270"]  # exactly invariant


def test_protocol_validates():
    with pytest.raises(ValueError, match="augment must be one of"):
        Protocol(augment="flip")
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        Protocol(epochs=0)


def test_checkpoint_roundtrip_and_no_silent_overwrite(tmp_path):
    model = build_model("p4_cnn")
    path = save_checkpoint(tmp_path / "m.pt", model, "p4_cnn", {"note": 1})
    loaded, metrics = load_checkpoint(path)
    assert metrics == {"note": 1}
    x = torch.rand(2, 1, 28, 28)
    assert torch.allclose(loaded(x), model.eval()(x))
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_checkpoint(path, model, "p4_cnn", {})
    save_checkpoint(path, model, "p4_cnn", {"note": 2}, overwrite=True)
    assert load_checkpoint(path)[1] == {"note": 2}


def test_bad_checkpoints_get_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="could not be read"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"model": "eq_cnn", "state_dict": build_model("simple_cnn").state_dict()}, tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match="does not fit eq_cnn"):
        load_checkpoint(tmp_path / "x.pt")
    with pytest.raises(KeyError, match="known runs"):
        load_pretrained("vgg")


@pytest.mark.parametrize("name", list(RUNS))
def test_shipped_checkpoints_load_and_match_their_metrics(name):
    model = load_pretrained(name)
    from eqcourse.train import pretrained_metrics

    metrics = pretrained_metrics(name)
    assert metrics["mode"] == "full" and metrics["protocol"]["epochs"] == 5
    test = load_mnist("test")
    acc = accuracy_by_rotation(model, subset(test, 1000, seed=0))
    assert abs(acc[0] - metrics["accuracy"]["0"]) < 3  # a 1,000-digit sample of the same test set


def test_cli_fast_reproduce_says_fast_and_writes_json(tmp_path):
    out = tmp_path / "r.json"
    cmd = [
        sys.executable,
        "-m",
        "eqcourse",
        "reproduce",
        "--fast",
        "--runs",
        "simple_cnn",
        "eq_cnn",
        "--json",
        str(out),
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "EQCOURSE_PROGRESS": "0"}, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    assert "FAST mode" in proc.stdout and "| simple_cnn | 13,978 |" in proc.stdout
    results = json.loads(out.read_text())
    assert [r["run"] for r in results] == ["simple_cnn", "eq_cnn"] and results[0]["mode"] == "fast"
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert again.returncode != 0 and "--overwrite" in again.stderr  # the JSON is not silently replaced


def test_cli_rejects_unknown_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "eqcourse", "reproduce", "--runs", "vgg"], capture_output=True, text=True
    )
    assert proc.returncode != 0 and "known runs: simple_cnn" in proc.stderr


def test_augmentations_rotate_each_digit():
    from eqcourse.train import augment_batch

    x = load_mnist("test").tensors[0][:16]
    out = augment_batch(x, "rot90", torch.Generator().manual_seed(0))
    for img, orig in zip(out, x, strict=True):
        assert any(torch.equal(img, torch.rot90(orig, k, dims=(-2, -1))) for k in range(4))
    assert not torch.equal(out, x)  # some were rotated
    a = augment_batch(x, "angle", torch.Generator().manual_seed(1))
    b = augment_batch(x, "angle", torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.allclose(a, x)
    assert augment_batch(x, "none", torch.Generator()) is x


def test_package_level_api_and_thread_cap():
    import eqcourse
    from eqcourse.train import available_cpus

    # the package-level loader also knows the rotated-MNIST runs; for MNIST runs it is train.load_pretrained
    assert type(eqcourse.load_pretrained("p4_cnn")) is type(load_pretrained("p4_cnn"))
    assert 1 <= torch.get_num_threads() <= available_cpus()
