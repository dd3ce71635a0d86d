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
    from eqcourse.train import available_cpus, configure_threads

    # the package-level loader also knows the rotated-MNIST runs; for MNIST runs it is pretrained.load_pretrained
    assert type(eqcourse.load_pretrained("p4_cnn")) is type(load_pretrained("p4_cnn"))
    assert 1 <= configure_threads() <= available_cpus()


def test_importing_eqcourse_leaves_the_thread_count_alone():
    code = (
        "import torch; torch.set_num_threads(7); "
        "import eqcourse, eqcourse.train, eqcourse.widgets, eqcourse.cost, eqcourse.analysis; "
        "assert torch.get_num_threads() == 7, torch.get_num_threads()"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _mixed_mode_model():
    model = build_model("p4_cnn").train()
    model.bn1.eval()  # a student's choice: this batch norm frozen, the rest training
    return model


def _modes(model):
    return [m.training for m in model.modules()]


def test_evaluation_helpers_restore_every_modules_mode():
    from eqcourse.train import accuracy, accuracy_by_angle, predict
    from eqcourse.widgets import explore

    data = subset(load_mnist("test"), 32)
    model = _mixed_mode_model()
    modes = _modes(model)
    predict(model, data.tensors[0])
    assert _modes(model) == modes
    accuracy(model, data, 45.0)
    accuracy_by_rotation(model, data)
    accuracy_by_angle(model, data, angles=[0, 30])
    explore({"p4": model}, data, 0, 30.0)
    assert _modes(model) == modes
    assert all(getattr(m, "_frozen", None) is None for m in model.modules())  # banks let go


def test_predict_inside_a_training_loop_keeps_batch_norm_training():
    from eqcourse.train import predict

    data = subset(load_mnist("test"), 64)
    model = build_model("p4_cnn").train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    before = model.bn1.running_mean.clone()
    x, y = data.tensors
    for _ in range(2):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        predict(model, x[:8])
    assert model.training and not torch.equal(model.bn1.running_mean, before)


def test_predict_takes_a_device_and_returns_on_the_inputs_device():
    from eqcourse.train import predict

    model = build_model("simple_cnn").eval()
    x = torch.rand(5, 1, 28, 28)
    assert torch.equal(predict(model, x, device="cpu"), predict(model, x))
    assert predict(model, x, device=torch.device("cpu")).device == x.device
    with pytest.raises(ValueError, match="device must be"):
        predict(model, x, device="not-a-device")
    with pytest.raises(ValueError, match="batch_size"):
        predict(model, x, batch_size=0)


def test_rotation_grids_and_draws_are_made_on_the_inputs_device():
    from eqcourse.data import rotate_by_angle
    from eqcourse.train import augment_batch

    x = torch.rand(4, 1, 28, 28, device="meta")  # a device with no data: any CPU tensor mixed in raises
    assert rotate_by_angle(x, 30.0).device == x.device
    assert rotate_by_angle(torch.rand(2, 1, 8, 8), 30.0, device="meta").device.type == "meta"
    with pytest.raises(ValueError, match="how must be one of"):
        augment_batch(torch.rand(2, 1, 8, 8), "flip", torch.Generator())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_everything_runs_on_cuda():
    from eqcourse.cost import macs_per_image, step_times
    from eqcourse.train import accuracy, predict, train

    data = subset(load_mnist("test"), 256)
    model = build_model("p4_cnn")
    history = train(model, data, Protocol(epochs=1, augment="angle"), device="cuda")
    assert next(model.parameters()).is_cuda and len(history.losses) == 1
    cpu_model = load_pretrained("p4_cnn")
    logits = predict(cpu_model, data.tensors[0], device="cuda")
    assert logits.device.type == "cpu" and next(cpu_model.parameters()).device.type == "cpu"
    assert torch.allclose(logits, predict(cpu_model, data.tensors[0]), atol=1e-4)
    assert accuracy(model, data, 30.0) >= 0
    assert macs_per_image(model) == 836_304
    assert step_times({"simple_cnn": build_model("simple_cnn").cuda()}, batch=4, steps=2, warmup=1)
