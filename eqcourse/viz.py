"""Figures for the course: every function draws on a matplotlib Axes and returns it (or the Figure).

Each figure has a title, axis labels and, where several things are drawn, a legend.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import matplotlib.pyplot as plt
import torch

from eqcourse.checks import check_positive_int
from eqcourse.groups import C4, Group

# --- orbits, Cayley tables, confusion matrices, mistakes, accuracy against angle


def _single_image(x: torch.Tensor, name: str = "x") -> torch.Tensor:
    """One image as ``(H, W)`` from ``(H, W)``, ``(1, H, W)`` or ``(1, 1, H, W)``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor image; got {type(x).__name__}.")
    img = x.detach().cpu()
    while img.dim() > 2 and img.shape[0] == 1:
        img = img[0]
    if img.dim() != 2:
        raise ValueError(
            f"{name} must be one image shaped (H, W), (1, H, W) or (1, 1, H, W); got shape {tuple(x.shape)}. "
            f"Pick one image first, e.g. {name}[0]."
        )
    return img.float()


def _element_label(group: Group, g: int) -> str:
    """``"r1: 45°"`` or ``"r1 m: mirror, then 45°"``: the angle and mirror of g in ``group``."""
    degrees, flip = group.angle_and_flip(g)
    return f"{group.element_name(g)}: " + ("mirror, then " if flip else "") + f"{degrees:g}°"


def plot_orbit(x: torch.Tensor, group: Group = C4, title: str | None = None) -> plt.Figure:
    """The orbit of one image: g·x for every element g of ``group``, one row per (up to) 8 rotations.

    C4: one row; D4: the rotations, then their mirror images; C16: two rows of eight.
    """
    if not isinstance(group, Group):
        raise TypeError(f"group must be an eqcourse group such as C4 or D4; got {type(group).__name__}.")
    img = _single_image(x)
    if img.shape[0] != img.shape[1]:
        raise ValueError(f"x must be square so that 90-degree rotations map it to itself; got {tuple(img.shape)}.")
    rotations = sum(not group.angle_and_flip(g)[1] for g in group.elements)
    ncols = min(rotations, 8)
    nrows = math.ceil(group.order / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.3 * ncols, 2.5 * nrows + 0.4), squeeze=False)
    for g, ax in zip(group.elements, axes.flat, strict=True):
        ax.imshow(group.act_on_image(g, img).numpy(), cmap="gray", vmin=0.0, vmax=max(1.0, img.max().item()))
        ax.set_title(_element_label(group, g), fontsize=10)
        ax.set_xlabel("column")
        ax.set_ylabel("row")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title or f"The orbit of a digit under {group.name}: g·x for every g")
    fig.tight_layout()
    return fig


def plot_cayley_table(group: Group, ax: plt.Axes | None = None, title: str | None = None) -> plt.Axes:
    """The Cayley table of ``group``: cell (g, h) shows the name of g∘h (h acts first, then g)."""
    if not isinstance(group, Group):
        raise TypeError(f"group must be an eqcourse group such as C4 or D4; got {type(group).__name__}.")
    table = group.cayley_table()
    names = [group.element_name(g) for g in group.elements]
    if ax is None:
        size = 1.0 + 0.55 * group.order
        _, ax = plt.subplots(figsize=(size + 0.5, size))
    cmap, top = ("tab10", 9) if group.order <= 10 else ("tab20", 19)
    ax.imshow(table.numpy(), cmap=cmap, vmin=0, vmax=top)
    for g in group.elements:
        for h in group.elements:
            ax.text(h, g, names[table[g, h]], ha="center", va="center", fontsize=9, color="white", weight="bold")
    ax.set_xticks(range(group.order), names)
    ax.set_yticks(range(group.order), names)
    ax.set_xlabel("h (acts first)")
    ax.set_ylabel("g (acts second)")
    ax.set_title(title or f"Cayley table of {group.name}: the cell (g, h) is g∘h")
    return ax


def plot_confusion_matrix(
    matrix: torch.Tensor, ax: plt.Axes | None = None, title: str = "Confusion matrix"
) -> plt.Axes:
    """A confusion matrix as a heatmap with counts; rows are true labels, columns predictions."""
    m = torch.as_tensor(matrix)
    if m.dim() != 2 or m.shape[0] != m.shape[1] or m.numel() == 0:
        raise ValueError(
            f"matrix must be a square (classes, classes) table of counts, e.g. from "
            f"eqcourse.analysis.confusion_matrix; got shape {tuple(m.shape)}."
        )
    if (m < 0).any():
        raise ValueError("matrix holds counts, so no entry may be negative.")
    n = m.shape[0]
    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 + 0.55 * n, 0.6 + 0.5 * n))
    image = ax.imshow(m.numpy(), cmap="Blues")
    ax.figure.colorbar(image, ax=ax, label="number of digits")
    top = m.max().item()
    for t in range(n):
        for p in range(n):
            value = m[t, p].item()
            if value:
                text = f"{value:g}" if m.is_floating_point() else str(value)
                color = "white" if value > top / 2 else "black"
                ax.text(p, t, text, ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    ax.set_title(title)
    return ax


def plot_misclassified(
    images: torch.Tensor,
    labels: torch.Tensor,
    predictions: torch.Tensor,
    ncols: int = 8,
    title: str = "Digits the model gets wrong",
) -> plt.Figure:
    """A gallery of images, each captioned with its true label and the model's prediction."""
    if not isinstance(images, torch.Tensor) or images.dim() not in (3, 4) or len(images) == 0:
        raise ValueError(
            "images must be a non-empty tensor (N, H, W) or (N, 1, H, W); got "
            f"{tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}."
        )
    labels, predictions = torch.as_tensor(labels).flatten(), torch.as_tensor(predictions).flatten()
    if not len(images) == len(labels) == len(predictions):
        raise ValueError(
            f"images, labels and predictions must have the same length; got {len(images)}, "
            f"{len(labels)} and {len(predictions)}."
        )
    check_positive_int(ncols, "ncols")
    ncols = min(ncols, len(images))
    nrows = math.ceil(len(images) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, 1.9 * nrows + 0.5), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= len(images):
            ax.axis("off")
            continue
        ax.imshow(_single_image(images[i], "images[i]").numpy(), cmap="gray")
        ax.set_title(f"true {labels[i].item()}", fontsize=9)
        ax.set_xlabel(f"predicted {predictions[i].item()}", fontsize=9, color="tab:red")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_accuracy_vs_angle(
    curves: dict[str, dict[float, float]],
    ax: plt.Axes | None = None,
    title: str = "Test accuracy against rotation angle",
) -> plt.Axes:
    """One line per model: accuracy (%) against the rotation angle (degrees) of the test digits.

    ``curves`` maps a model's name to ``{angle: accuracy}``, e.g. from
    ``eqcourse.train.accuracy_by_angle``. Dotted lines mark the multiples of 90° (exact rotations).
    Each curve has its own colour and line style (up to four times the colour cycle's length).
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError(
            "curves must be a non-empty dict {model name: {angle: accuracy}}, e.g. "
            "{'SimpleCNN': accuracy_by_angle(model, test_set)}."
        )
    for name, curve in curves.items():
        if not isinstance(curve, Mapping) or not curve:
            raise ValueError(f"curves[{name!r}] must be a non-empty dict {{angle: accuracy}}; got {curve!r}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    angles = sorted(a for curve in curves.values() for a in curve)
    lo, hi = min(0.0, angles[0]), max(360.0, angles[-1])
    for quarter in range(math.ceil(lo / 90), math.floor(hi / 90) + 1):
        ax.axvline(90 * quarter, color="0.8", linestyle=":", zorder=0)
    colours = plt.rcParams["axes.prop_cycle"].by_key().get("color") or ["C0"]
    dashes = ("-", "--", "-.", ":")  # after every colour of the cycle, the next line style: no two curves alike
    for i, (name, curve) in enumerate(curves.items()):
        xs = sorted(curve)
        style = {"color": colours[i % len(colours)], "linestyle": dashes[(i // len(colours)) % len(dashes)]}
        ax.plot(xs, [curve[a] for a in xs], marker=".", label=name, **style)
    ax.axhline(10.0, color="0.5", linestyle="--", label="chance (10 %)")
    ax.set_xlim(lo, hi)
    ax.set_ylim(0, 101)
    ax.set_xticks(range(int(math.ceil(lo / 45) * 45), int(hi) + 1, 45))
    ax.set_xlabel("rotation angle of the test digits (degrees, counter-clockwise)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.legend(loc="best")
    return ax


# --- images side by side, feature maps of the four copies colour-coded

#: one colour (frame and legend) and one colormap per copy of the four-copy stack
COPY_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:purple")
COPY_COLORMAPS = ("Blues", "Oranges", "Greens", "Purples")


def plot_image_row(
    images: list[torch.Tensor],
    titles: list[str],
    title: str,
    signed: bool = False,
    xlabel: str = "column",
) -> plt.Figure:
    """Images side by side, one titled panel each; ``signed=True`` uses a red-blue map centred on 0
    (for kernels and feature maps), otherwise grey in [0, max]."""
    if not isinstance(images, list | tuple) or not images:
        raise ValueError("images must be a non-empty list of single images (H, W), (1, H, W) or (1, 1, H, W).")
    if not isinstance(titles, list | tuple) or len(titles) != len(images):
        raise ValueError(f"titles must be a list with one title per image ({len(images)}); got {titles!r}.")
    imgs = [_single_image(x, f"images[{i}]") for i, x in enumerate(images)]
    fig, axes = plt.subplots(1, len(imgs), figsize=(2.2 * len(imgs), 2.7), squeeze=False)
    for ax, img, name in zip(axes[0], imgs, titles, strict=True):
        if signed:
            bound = max(img.abs().max().item(), 1e-12)
            shown = ax.imshow(img, cmap="RdBu_r", vmin=-bound, vmax=bound)
            fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
        else:
            ax.imshow(img, cmap="gray", vmin=0.0, vmax=max(1.0, img.max().item()))
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][0].set_ylabel("row", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_copy_feature_maps(
    maps: torch.Tensor,
    colors: list[int] | None = None,
    channels: list[int] | None = None,
    title: str = "Feature maps of the four copies",
    legend: str = "copy {c}: computed from r{c}·x",
) -> plt.Figure:
    """The source's Figures 2 and 3: one row per copy of ``maps (4, C, H, W)``, one column per channel.

    Row j is drawn in colour ``colors[j]`` (default j): its colormap and frame come from
    ``COPY_COLORMAPS`` / ``COPY_COLORS``, and the legend names colour c with ``legend.format(c=c)``.
    Giving two figures the same colour for equal maps shows where each copy went.
    """
    from matplotlib.patches import Patch

    if not isinstance(maps, torch.Tensor) or maps.dim() != 4 or len(maps) != 4:
        raise ValueError(
            "maps must be the four copies' feature maps (4, C, H, W), e.g. from "
            f"eqcourse.analysis.copy_feature_maps; got "
            f"{tuple(maps.shape) if isinstance(maps, torch.Tensor) else type(maps).__name__}."
        )
    colors = list(range(4)) if colors is None else list(colors)
    if len(colors) != 4 or any(not isinstance(c, int) or not 0 <= c < 4 for c in colors):
        raise ValueError(f"colors must be four integers in 0..3, one per copy; got {colors!r}.")
    channels = list(range(maps.shape[1])) if channels is None else list(channels)
    if not channels or any(not isinstance(c, int) or not 0 <= c < maps.shape[1] for c in channels):
        raise ValueError(f"channels must be a non-empty list of indices in 0..{maps.shape[1] - 1}; got {channels!r}.")
    data = maps.detach().cpu().float()
    fig, axes = plt.subplots(4, len(channels), figsize=(1.35 * len(channels) + 1.2, 6.0), squeeze=False)
    for j in range(4):
        for col, c in enumerate(channels):
            ax = axes[j][col]
            img = data[j, c]
            ax.imshow(img, cmap=COPY_COLORMAPS[colors[j]], vmin=img.min().item(), vmax=img.max().item() + 1e-12)
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color(COPY_COLORS[colors[j]])
                spine.set_linewidth(3)
            if j == 0:
                ax.set_title(f"channel {c}", fontsize=9)
            if j == 3:
                ax.set_xlabel("column", fontsize=8)
        axes[j][0].set_ylabel(f"copy {j}\nrow", fontsize=9)
    handles = [Patch(color=COPY_COLORS[c], label=legend.format(c=c)) for c in sorted(set(colors))]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


# --- the kernel bank of a group convolution


def plot_group_bank(
    weight: torch.Tensor | torch.nn.Module,
    out_channel: int = 0,
    in_channel: int = 0,
    group: Group | None = None,
    title: str | None = None,
) -> plt.Figure:
    """The bank one group-convolution kernel expands into: row g (output element), column h.

    ``weight`` is a ``GroupConv2d`` or its weight ``(C_out, C_in, G, k, k)``. Panel ``[g, h]`` is the
    kernel that output element g applies to input group slice h: ``g·w[g⁻¹h]``, the kernel
    transformed by g and read from the group axis shifted by g (``eqcourse.nn.group_bank``).
    """
    from eqcourse.nn import group_bank

    if isinstance(weight, torch.nn.Module):
        if not hasattr(weight, "weight") or not hasattr(weight, "group"):
            raise TypeError("weight must be a GroupConv2d or a weight tensor (C_out, C_in, G, k, k).")
        group = weight.group if group is None else group
        weight = weight.weight
    group = C4 if group is None else group
    if not isinstance(weight, torch.Tensor) or weight.dim() != 5 or weight.shape[2] != group.order:
        raise ValueError(
            f"weight must be a group-convolution weight (C_out, C_in, {group.order}, k, k) for {group.name}; got "
            f"{tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__}."
        )
    c_out, c_in, n, k, _ = weight.shape
    if not (isinstance(out_channel, int) and 0 <= out_channel < c_out):
        raise ValueError(f"out_channel must be an integer in 0..{c_out - 1}; got {out_channel!r}.")
    if not (isinstance(in_channel, int) and 0 <= in_channel < c_in):
        raise ValueError(f"in_channel must be an integer in 0..{c_in - 1}; got {in_channel!r}.")
    bank = group_bank(weight.detach().cpu().float(), group).reshape(c_out, n, c_in, n, k, k)
    panels = bank[out_channel, :, in_channel]  # (g, h, k, k)
    bound = max(panels.abs().max().item(), 1e-12)
    fig, axes = plt.subplots(n, n, figsize=(1.5 * n + 1.2, 1.5 * n + 0.6), squeeze=False)
    for g in group.elements:
        source = group.permutation(g)  # column h reads the weight's group slice g⁻¹h
        for h in group.elements:
            ax = axes[g][h]
            shown = ax.imshow(panels[g, h], cmap="RdBu_r", vmin=-bound, vmax=bound)
            ax.set_title(f"{group.element_name(g)}·w[{source[h]}]", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
            if h == 0:
                ax.set_ylabel(f"output g = {group.element_name(g)}", fontsize=8)
            if g == n - 1:
                ax.set_xlabel(f"input slice h = {h}", fontsize=8)
    fig.colorbar(shown, ax=axes, fraction=0.03, pad=0.02, label="kernel weight")
    fig.suptitle(
        title or f"{group.name} kernel bank of one kernel (out {out_channel}, in {in_channel}): rotated and rolled"
    )
    return fig
