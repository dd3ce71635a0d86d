"""The ablation's models (EqCNNBN, IdentityGroupConv2d, IdentityP4CNN, LiftedEqCNN) and its script."""

import json

import pytest
import torch
from conftest import load_benchmark

from eqcourse.equivariance import equivariance_error, invariance_error
from eqcourse.groups import C4, D4
from eqcourse.models import (
    P4CNN,
    CopyFramePool,
    EqCNN,
    EqCNNBN,
    IdentityGroupConv2d,
    IdentityP4CNN,
    LiftedEqCNN,
    build_model,
    count_parameters,
)
from eqcourse.nn import GroupConv2d, SpatialMaxPool


def test_identity_group_conv_bank_is_block_diagonal_and_equivariant():
    layer = IdentityGroupConv2d(3, 2, 3, padding=1)
    assert layer.weight.shape == (2, 3, 3, 3)  # only the identity slice is a parameter
    bank = layer.build_bank().detach().unflatten(0, (2, 4)).unflatten(2, (3, 4))  # (O, g, I, h, k, k)
    for g in range(4):
        for h in range(4):
            block = bank[:, g, :, h]
            if g == h:
                assert torch.equal(block, torch.rot90(layer.weight.detach(), g, dims=(-2, -1)))
            else:
                assert not block.any()
    f = torch.randn(2, 3, 4, 10, 10)
    assert max(equivariance_error(layer, f, C4, relative=True).values()) < 1e-5


def test_identity_group_conv_equals_a_masked_group_conv():
    masked = IdentityGroupConv2d(2, 3, 3, group=D4)
    full = GroupConv2d(2, 3, 3, group=D4)
    with torch.no_grad():
        full.weight.zero_()
        full.weight[:, :, 0] = masked.weight
        full.bias.copy_(masked.bias)
    f = torch.randn(2, 2, 8, 7, 7)
    assert torch.allclose(masked(f), full(f), atol=1e-6)


def test_identity_p4cnn_differs_from_p4cnn_only_in_the_group_kernels():
    ident, p4 = IdentityP4CNN(), P4CNN()
    assert [type(m).__name__ for m in ident.modules()] == [
        "IdentityP4CNN" if type(m) is P4CNN else "IdentityGroupConv2d" if type(m) is GroupConv2d else type(m).__name__
        for m in p4.modules()
    ]
    group_kernels = sum(m.weight.numel() for m in p4.modules() if type(m) is GroupConv2d)
    assert count_parameters(p4) - count_parameters(ident) == group_kernels * 3 // 4
    assert max(invariance_error(ident.eval(), torch.rand(3, 1, 28, 28), C4, relative=True).values()) < 1e-5


def test_eqcnn_bn_is_invariant_and_both_paths_agree():
    a, b = EqCNNBN(fold_copies=False), EqCNNBN(fold_copies=True)
    b.load_state_dict(a.state_dict())
    x = torch.rand(5, 1, 28, 28)
    for mode in (True, False):  # batch statistics and running statistics
        a.train(mode), b.train(mode)
        assert torch.allclose(a(x), b(x), atol=1e-5)
    assert count_parameters(a) == count_parameters(EqCNN()) + 2 * (8 + 16 + 16)
    assert max(invariance_error(b.eval(), x, C4, relative=True).values()) < 1e-5


def test_copy_frame_pool_is_equivariant_at_odd_sizes_and_plain_pooling_is_not():
    f = torch.randn(2, 3, 4, 11, 11)
    assert max(equivariance_error(CopyFramePool(2), f, C4, relative=True).values()) < 1e-6
    assert max(equivariance_error(SpatialMaxPool(2), f, C4, relative=True).values()) > 1e-2
    even = torch.randn(2, 3, 4, 12, 12)
    assert torch.equal(CopyFramePool(2)(even), SpatialMaxPool(2)(even))


def test_lifted_eqcnn_computes_eqcnn_with_the_copy_frame_pool_only():
    eq = EqCNN().eval()
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(LiftedEqCNN.from_eqcnn(eq)(x), eq(x), atol=1e-5)
        assert not torch.allclose(LiftedEqCNN.from_eqcnn(eq, copy_frame_pool=False)(x), eq(x), atol=1e-3)


def test_lifted_eqcnn_is_eqcnn_in_the_lifted_frame_layer_by_layer():
    eq = EqCNN().eval()
    lifted = LiftedEqCNN.from_eqcnn(eq)
    x = torch.rand(3, 1, 28, 28)
    copies = C4.orbit(x).transpose(1, 2).flatten(0, 1)
    with torch.no_grad():
        first = torch.nn.functional.silu(torch.nn.functional.conv2d(copies, eq.cl1.weight[:, :, 0], eq.cl1.bias))
        first = first.unflatten(0, (3, 4)).transpose(1, 2)  # copy frame (B, C, 4, 26, 26)
        lift = lifted.layer_outputs(x)[0]
    for k in range(4):  # copy k = r^k · lift[-k]
        assert torch.allclose(first[:, :, k], torch.rot90(lift[:, :, -k % 4], k, dims=(-2, -1)), atol=1e-5)
    with pytest.raises(TypeError, match="EqCNN"):
        LiftedEqCNN.from_eqcnn(EqCNNBN())


def test_registry_names():
    assert isinstance(build_model("eq_cnn_bn"), EqCNNBN)
    assert isinstance(build_model("p4_cnn_identity"), IdentityP4CNN)


def test_ablation_script_fast_mode(tmp_path):
    module = load_benchmark("ablation")
    out = tmp_path / "ablation.json"
    summary = module.main(
        ["--fast", "--seeds", "0", "1", "--steps", "2", "--runs", str(tmp_path / "runs"), "--out", str(out)]
    )
    assert json.loads(out.read_text()) == json.loads(json.dumps(summary))
    assert list(summary["variants"]) == module.VARIANTS
    for row in summary["variants"].values():
        assert len(row["validation_accuracy"]) == 2 and 0 <= row["mean"] <= 100 and row["train_step_ratio"] > 0
    assert summary["fast"]


def test_ablation_script_adds_an_extra_variant_to_the_summary(tmp_path):
    """--variants p4m_cnn (an EXTRA) trains it and adds it under "extra", leaving the timed table as it was."""
    module = load_benchmark("ablation")
    out, runs = tmp_path / "ablation.json", str(tmp_path / "runs")
    with pytest.raises(SystemExit):  # nothing to add to yet
        module.main(["--fast", "--variants", "p4m_cnn", "--seeds", "0", "--runs", runs, "--out", str(out)])
    before = module.main(
        ["--fast", "--variants", "eq_cnn", "--seeds", "0", "--steps", "2", "--runs", runs, "--out", str(out)]
    )
    after = module.main(["--fast", "--variants", "p4m_cnn", "--seeds", "0", "1", "--runs", runs, "--out", str(out)])
    assert after["variants"] == json.loads(json.dumps(before["variants"])) and "extra" not in before
    row = after["extra"]["p4m_cnn"]
    assert row["seeds"] == [0, 1] and 0 <= row["mean"] <= 100
    assert row["parameters"] == count_parameters(build_model("p4m_cnn"))
    assert json.loads(out.read_text()) == json.loads(json.dumps(after))


def test_shipped_ablation_covers_every_variant_with_three_seeds():
    from importlib.resources import files

    summary = json.loads((files("eqcourse") / "checkpoints" / "ablation.json").read_text())
    assert not summary["fast"]
    for name, row in {**summary["variants"], **summary.get("extra", {})}.items():
        assert len(row["seeds"]) >= 3, name
        assert row["parameters"] == count_parameters(build_model(name))


def test_readme_shows_the_shipped_ablation_table():
    from importlib.resources import files
    from pathlib import Path

    summary = json.loads((files("eqcourse") / "checkpoints" / "ablation.json").read_text())
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert load_benchmark("ablation").markdown_table(summary) in readme, "paste the table benchmarks/ablation.py prints"
