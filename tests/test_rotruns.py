import json

import pytest
import torch

import eqcourse
from eqcourse.__main__ import main
from eqcourse.data import load_mnist, subset
from eqcourse.models import count_parameters
from eqcourse.pretrained import CheckpointError
from eqcourse.rotruns import (
    BUDGET,
    CHECKPOINT_DIR,
    ROT_RUNS,
    RotCNN,
    RotProtocol,
    build_rot_model,
    invariance_errors,
    load_rot_checkpoint,
    save_rot_checkpoint,
)


@pytest.mark.parametrize("name", list(ROT_RUNS))
def test_every_run_is_within_the_parameter_budget(name):
    model = build_rot_model(name)
    assert count_parameters(model) <= BUDGET == 25_000
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.parametrize("name", [n for n, r in ROT_RUNS.items() if r[0] and r[0] % 4 == 0])
def test_quarter_turns_are_exact_for_every_group_run(name, test_digits):
    model = build_rot_model(name).eval()
    for module in model.modules():  # non-trivial batch-norm statistics
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    errors = invariance_errors(model, test_digits.tensors[0][:16], angles=(90, 180, 270))
    assert max(errors.values()) < 1e-5, errors


def test_bad_arguments_get_clear_errors():
    with pytest.raises(ValueError, match="seven positive integers"):
        RotCNN(None, (1, 2, 3))
    with pytest.raises(ValueError, match="kernel must be one of"):
        RotCNN(None, (1,) * 7, kernel="gaussian")
    with pytest.raises(ValueError, match="augment must be 'none' or 'angle'"):
        RotProtocol(augment="flip")
    with pytest.raises(KeyError, match="known runs: rot_z2_cnn"):
        build_rot_model("rot_p5_cnn")


def test_checkpoint_roundtrip(tmp_path):
    model = build_rot_model("rot_c8_cnn").eval()
    path = save_rot_checkpoint(tmp_path / "c8.pt", model, "rot_c8_cnn", {"note": 1})
    loaded, metrics = load_rot_checkpoint(path)
    x = torch.rand(3, 1, 28, 28)
    assert metrics == {"note": 1} and torch.equal(loaded(x), model(x))
    assert loaded.group.order == 8 and loaded.kernel == model.kernel
    with pytest.raises(FileExistsError, match="overwrite"):  # a saved checkpoint is never replaced unasked
        save_rot_checkpoint(path, model, "rot_c8_cnn", {"note": 2})
    save_rot_checkpoint(path, model, "rot_c8_cnn", {"note": 2}, overwrite=True)
    assert load_rot_checkpoint(path)[1] == {"note": 2}
    payload = torch.load(path, weights_only=True)
    torch.save({**payload, "channels": 12}, tmp_path / "odd.pt")
    with pytest.raises(CheckpointError, match="rotated-MNIST checkpoint: 'channels' has type int"):
        load_rot_checkpoint(tmp_path / "odd.pt")
    with pytest.raises(CheckpointError, match="does not exist.*--suite rotmnist"):
        load_rot_checkpoint(tmp_path / "missing.pt")


def test_fast_reproduce_and_evaluate_pipeline(tmp_path, capsys):
    out = tmp_path / "results.json"
    runs = ["rot_p4_cnn"]
    main(
        ["reproduce", "--suite", "rotmnist", "--fast", "--runs", *runs, "--save-checkpoints", str(tmp_path)]
        + ["--json", str(out)]
    )
    trained = json.loads(out.read_text())
    assert list(trained) == runs
    for r in trained.values():
        assert r["mode"] == "fast" and len(r["accuracy_by_angle"]) == 72 and r["test_digits"] == 2000
        assert r["parameters"] <= BUDGET and r["test_error_by_seed"]["0"] == r["test_error"]
    assert trained["rot_p4_cnn"]["invariance_error"]["90"] < 1e-5
    main(
        ["evaluate", "--suite", "rotmnist", "--fast", "--runs", *runs, "--checkpoints", str(tmp_path)]
        + ["--json", str(out)]
    )
    again = json.loads(out.read_text())
    for name in runs:  # the same numbers when re-measured from the saved checkpoint
        assert again[name]["test_error"] == pytest.approx(trained[name]["test_error"], abs=1e-9)
        assert again[name]["accuracy_by_angle"] == pytest.approx(trained[name]["accuracy_by_angle"], abs=1e-9)
    assert "| `rot_p4_cnn` | C4 |" in capsys.readouterr().out


def test_rotmnist_suite_rejects_unknown_runs():
    with pytest.raises(SystemExit, match="unknown rotated-MNIST run"):
        main(["evaluate", "--suite", "rotmnist", "--runs", "p4_cnn"])


@pytest.mark.skipif(not (CHECKPOINT_DIR / "rotmnist_results.json").exists(), reason="no shipped results yet")
def test_shipped_checkpoints_load_and_match_their_results():
    results = json.loads((CHECKPOINT_DIR / "rotmnist_results.json").read_text())
    digits = subset(load_mnist("test"), 64, seed=3)
    for name, r in results.items():
        model = eqcourse.load_pretrained(name)
        assert count_parameters(model) == r["parameters"] <= BUDGET
        assert r["mode"] == "full" and r["test_digits"] == 50_000
        assert len(r["accuracy_by_angle"]) == 72
        assert model(digits.tensors[0]).shape == (64, 10)


@pytest.mark.skipif(not (CHECKPOINT_DIR / "rotmnist_results.json").exists(), reason="no shipped results yet")
def test_readme_rotated_mnist_table_is_the_one_the_command_prints():
    from pathlib import Path

    from eqcourse.rotruns import format_rot_table

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    results = json.loads((CHECKPOINT_DIR / "rotmnist_results.json").read_text())
    assert format_rot_table(results) in readme, "paste `python -m eqcourse evaluate --suite rotmnist` into the README"
