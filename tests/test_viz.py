import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from eqcourse.groups import C4, D4, CyclicGroup, DihedralGroup  # noqa: E402
from eqcourse.viz import (  # noqa: E402
    plot_accuracy_vs_angle,
    plot_cayley_table,
    plot_confusion_matrix,
    plot_misclassified,
    plot_orbit,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("G", [C4, D4, CyclicGroup(8), CyclicGroup(16), DihedralGroup(8)], ids=str)
def test_plot_orbit_draws_and_labels_every_group_element(G):
    """Each panel shows g·x under a title with g's own angle (not g % 4 quarter turns)."""
    x = torch.rand(1, 1, 6, 6)
    fig = plot_orbit(x, group=G)
    axes = [ax for ax in fig.axes if ax.images]
    assert len(axes) == G.order
    for g, ax in zip(G.elements, axes, strict=True):
        degrees, flip = G.angle_and_flip(g)
        mirror = "mirror, then " if flip else ""
        assert ax.get_title() == f"{G.element_name(g)}: {mirror}{degrees:g}°"
        assert torch.equal(torch.as_tensor(ax.images[0].get_array().data), G.act_on_image(g, x[0, 0]))
    assert fig._suptitle is not None and G.name in fig._suptitle.get_text()


def test_plot_orbit_labels_angles():
    titles = [ax.get_title() for ax in plot_orbit(torch.rand(5, 5), group=D4).axes]
    assert titles[1] == "r1: 90°" and titles[5] == "r1 m: mirror, then 90°"
    titles = [ax.get_title() for ax in plot_orbit(torch.rand(5, 5), group=DihedralGroup(8)).axes]
    assert titles[3] == "r3: 135°" and titles[9] == "r1 m: mirror, then 45°"


@pytest.mark.parametrize("x", [torch.rand(2, 1, 5, 5), torch.rand(5), torch.rand(4, 5)])
def test_plot_orbit_rejects_bad_images(x):
    with pytest.raises(ValueError, match="x must be"):
        plot_orbit(x)


def test_plot_orbit_rejects_a_non_group():
    with pytest.raises(TypeError, match="group"):
        plot_orbit(torch.rand(5, 5), group="C4")


@pytest.mark.parametrize("G", [C4, D4], ids=str)
def test_plot_cayley_table_writes_each_product(G):
    ax = plot_cayley_table(G)
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    assert len(cells) == G.order**2
    for g in G.elements:
        for h in G.elements:
            assert cells[g, h] == G.element_name(G.compose(g, h))
    assert ax.get_xlabel() and ax.get_ylabel() and G.name in ax.get_title()


def test_plot_confusion_matrix():
    m = torch.tensor([[5, 1, 0], [0, 3, 2], [1, 0, 4]])
    fig, ax = plt.subplots()
    out = plot_confusion_matrix(m, ax=ax, title="at 90°")
    assert out is ax and ax.get_title() == "at 90°"
    assert torch.equal(torch.as_tensor(ax.images[0].get_array().data), m)
    assert sorted(t.get_text() for t in ax.texts) == sorted(str(v) for v in m.flatten().tolist() if v)
    assert ax.get_xlabel() == "predicted label" and ax.get_ylabel() == "true label"


@pytest.mark.parametrize("m", [torch.zeros(2, 3), torch.zeros(4), -torch.ones(2, 2)])
def test_plot_confusion_matrix_rejects_bad_matrices(m):
    with pytest.raises(ValueError, match="matrix"):
        plot_confusion_matrix(m)


def test_plot_misclassified():
    images = torch.rand(5, 1, 8, 8)
    fig = plot_misclassified(images, torch.tensor([1, 2, 3, 4, 5]), torch.tensor([7, 7, 7, 7, 7]), ncols=3)
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == 5 and len(fig.axes) == 6
    assert drawn[2].get_title() == "true 3" and drawn[2].get_xlabel() == "predicted 7"


def test_plot_misclassified_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        plot_misclassified(torch.rand(3, 8, 8), torch.tensor([1, 2, 3]), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="non-empty"):
        plot_misclassified(torch.rand(0, 8, 8), torch.tensor([]), torch.tensor([]))


def test_plot_accuracy_vs_angle_draws_one_line_per_model():
    curves = {"A": {0.0: 99.0, 90.0: 15.0, 45.0: 40.0}, "B": {0: 96.0, 90: 96.0}}
    ax = plot_accuracy_vs_angle(curves, title="t")
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["A"].get_xdata()) == [0.0, 45.0, 90.0]  # sorted by angle
    assert list(lines["A"].get_ydata()) == [99.0, 40.0, 15.0]
    assert list(lines["B"].get_ydata()) == [96.0, 96.0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "A" in legend and "B" in legend
    assert ax.get_title() == "t" and "angle" in ax.get_xlabel() and "accuracy" in ax.get_ylabel()


def test_plot_accuracy_vs_angle_gives_every_curve_its_own_style():
    """More curves than the colour cycle has colours (notebook 06 draws 11): no two look alike."""
    curves = {f"run {i}": {0: 90.0 - i, 90: 80.0 - i} for i in range(23)}
    ax = plot_accuracy_vs_angle(curves)
    lines = [line for line in ax.get_lines() if line.get_label() in curves]
    styles = [(matplotlib.colors.to_hex(line.get_color()), line.get_linestyle()) for line in lines]
    assert len(lines) == 23 and len(set(styles)) == 23


def test_plot_accuracy_vs_angle_uses_the_given_axes():
    fig, ax = plt.subplots()
    assert plot_accuracy_vs_angle({"A": {0: 50.0}}, ax=ax) is ax


@pytest.mark.parametrize("curves", [{}, {"A": {}}, [("A", {0: 1.0})], {"A": [1.0]}])
def test_plot_accuracy_vs_angle_rejects_bad_curves(curves):
    with pytest.raises(ValueError, match="curves"):
        plot_accuracy_vs_angle(curves)
