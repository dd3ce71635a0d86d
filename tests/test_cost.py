import pytest
import torch
from conftest import load_benchmark

from eqcourse._speed import is_frozen
from eqcourse.cost import macs_by_layer, macs_per_image, ratios, step_times
from eqcourse.models import MODELS, P4CNN, P4MCNN, EqCNN, SimpleCNN, build_model


def conv_macs(c_out, c_in, k, out_size):
    return c_out * out_size**2 * c_in * k * k


def test_simple_cnn_matches_the_hand_count():
    expected = {
        "cl1": conv_macs(8, 1, 3, 28),  # 3x3, padding 1: 28x28 out
        "cl2": conv_macs(16, 8, 3, 14),  # after 2x2 pool
        "cl3": conv_macs(16, 16, 7, 1),  # 7x7 on 7x7: one value
        "dense": 16 * 10,
    }
    assert macs_by_layer(SimpleCNN()) == expected
    assert macs_per_image(SimpleCNN()) == 294_944


def test_eq_cnn_costs_exactly_four_copies_of_its_convolutions():
    one_copy = conv_macs(8, 1, 3, 26) + conv_macs(16, 8, 3, 11) + conv_macs(16, 16, 5, 1)  # no padding
    dense = 16 * 10
    assert macs_per_image(EqCNN()) == 4 * one_copy + dense
    assert macs_per_image(EqCNN(fold_copies=False)) == macs_per_image(EqCNN())
    # MatchedEqCNN folds the copies into the batch: four SimpleCNN convolution stacks, one dense
    assert macs_per_image(build_model("matched_eq_cnn")) == 4 * (294_944 - dense) + dense


@pytest.mark.parametrize("model_cls", [P4CNN, P4MCNN], ids=lambda c: c.__name__)
def test_group_cnn_counts_the_expanded_bank(model_cls):
    model = model_cls()
    g = model.group.order
    c1, c2, c3, c4 = model.CHANNELS
    # bank (C_out*G, C_in*G, k, k) over output (C_out*G, H, W); the lift has C_in = 1 without G
    expected = (
        conv_macs(c1 * g, 1, 3, 28)
        + conv_macs(c2 * g, c1 * g, 3, 14)
        + conv_macs(c3 * g, c2 * g, 7, 1)
        + conv_macs(c4 * g, c3 * g, 1, 1)
        + c4 * 10
    )
    assert macs_per_image(model) == expected


#: the counts of the hook-based counter that FlopCounterMode replaced (README, "What it costs")
BEFORE = {
    "simple_cnn": 294_944,
    "eq_cnn": 778_016,
    "matched_eq_cnn": 1_179_296,
    "p4_cnn": 836_304,
    "p4m_cnn": 1_622_896,
    "c8_cnn": 841_272,  # steerable and pixel kernels: the same convolutions (the bank is built before counting)
    "c16_cnn": 1_095_996,
    "c8_cnn_pixel": 841_272,
    "c16_cnn_pixel": 1_095_996,
    # the ablation's variants (benchmarks/ablation.py), counted by the hook-based counter too
    "eq_cnn_bn": 778_016,
    "p4_cnn_identity": 836_304,  # it runs the full bank, zeros included
    "p4_cnn_small": 236_088,
    # the rotated-MNIST models (registered in MODELS since issue 19), as FlopCounterMode counted them at 386e783
    "rot_z2_cnn": 1_706_896,
    "rot_p4_cnn": 6_602_816,
    "rot_c8_cnn": 12_709_440,
    "rot_c16_cnn": 25_983_296,
}


@pytest.mark.parametrize("name", [*MODELS, "eq_cnn_conv3d"])
def test_flop_counter_gives_the_same_numbers_as_before(name):
    model = EqCNN(fold_copies=False) if name == "eq_cnn_conv3d" else build_model(name)
    assert macs_per_image(model) == BEFORE[name.removesuffix("_conv3d")]
    assert sum(macs_by_layer(model).values()) == macs_per_image(model)


def test_counting_leaves_the_model_as_it_was():
    model = P4CNN().train()
    model.bn1.eval()  # a mixed state, as a student may leave it
    macs_per_image(model)
    macs_by_layer(model)
    assert model.training and not model.bn1.training and model.bn2.training


def test_step_times_measures_every_model_and_trains_copies_only():
    models = {"simple_cnn": SimpleCNN(), "p4_cnn": P4CNN()}
    before = {n: [p.clone() for p in m.parameters()] for n, m in models.items()}
    times = step_times(models, batch=4, steps=3, warmup=1)
    assert set(times) == {"train", "eval"}
    for kind in times:
        assert set(times[kind]) == set(models) and all(t > 0 for t in times[kind].values())
    for n, m in models.items():
        assert all(torch.equal(a, b) for a, b in zip(before[n], m.parameters(), strict=True))
        assert m.training  # not switched to eval mode
        assert not any(is_frozen(layer) for layer in m.modules())  # the banks were let go
    r = ratios(times["train"])
    assert r["simple_cnn"] == 1.0


def test_bad_input_says_what_to_do():
    with pytest.raises(ValueError, match="non-empty dict"):
        step_times({})
    with pytest.raises(TypeError, match=r"models\['x'\]"):
        step_times({"x": "not a model"})
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        step_times({"a": SimpleCNN()}, steps=0)
    with pytest.raises(ValueError, match="kinds must be"):
        step_times({"a": SimpleCNN()}, kinds="train")
    assert set(step_times({"a": SimpleCNN()}, batch=2, steps=1, warmup=0, kinds=("eval",))) == {"eval"}
    with pytest.raises(KeyError, match="baseline 'simple_cnn' was not timed"):
        ratios({"p4_cnn": 1.0})
    with pytest.raises(TypeError, match="torch.nn.Module"):
        macs_per_image("SimpleCNN")


def test_the_e2cnn_model_has_p4cnns_architecture():
    """Optional: only where e2cnn is installed (it is not a course requirement)."""
    pytest.importorskip("e2cnn")
    model = load_benchmark("train_step").e2cnn_p4().eval()
    # the same convolutions on the same field counts: the same multiply-accumulates per layer
    assert list(macs_by_layer(model).values()) == list(macs_by_layer(P4CNN()).values())
    x = torch.rand(3, 1, 28, 28)
    from eqcourse.equivariance import invariance_error

    assert max(invariance_error(model, x, relative=True).values()) < 1e-5


class _EvalCache(torch.nn.Module):
    """Like e2cnn's R2Conv: in eval mode it keeps a tensor computed from its weight (not a graph leaf)."""

    def __init__(self):
        super().__init__()
        self.inner = SimpleCNN()
        self.cache = None

    def train(self, mode: bool = True):
        super().train(mode)
        self.cache = None if mode else self.inner.dense.weight * 2
        return self

    def forward(self, x):
        return self.inner(x)


def test_step_times_copies_models_that_cache_in_eval_mode():
    model = _EvalCache().eval()
    assert model.cache is not None and not model.cache.is_leaf
    times = step_times({"simple_cnn": SimpleCNN(), "cached": model}, batch=2, steps=1, warmup=0)
    assert set(times["train"]) == {"simple_cnn", "cached"}
    assert not model.training and model.cache is not None  # left as it was


def test_notebook_cost_runs_a_notebook_and_tables_it(tmp_path):
    """benchmarks/notebook_cost.py: a real run of notebook 01 in the fast mode, and its table."""
    script = load_benchmark("notebook_cost")
    [path] = script.notebooks(["01"])
    cost = script.run_notebook(path, "fast", threads=1, timeout=300)
    assert cost["error"] == "" and cost["cpu_s"] > 0 and cost["wall_s"] > cost["cpu_s"] / 2
    assert 300 < cost["peak_mib"] < 1024, cost  # the kernel's peak: torch alone is about 510 MiB
    rows = script.table({"01_groups": {"fast": cost}}, ("fast",)).splitlines()
    assert rows[0].startswith("| notebook | CPU time (s), fast |") and rows[2].startswith("| 01_groups | ")
    import nbformat

    broken = tmp_path / "broken.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("raise ValueError('boom')")]), broken)
    assert script.run_notebook(broken, "normal", timeout=120)["error"] == "ValueError: boom"
    with pytest.raises(SystemExit, match="no notebook starts with 99"):
        script.notebooks(["99"])
    with pytest.raises(ValueError, match="mode must be one of"):
        script.run_notebook(path, "slow")
