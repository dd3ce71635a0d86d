"""Interactive explorers (ipywidgets) for JupyterLab."""

from __future__ import annotations

import html
import io

import torch
from torch.utils.data import TensorDataset

from eqcourse.checks import check_angle
from eqcourse.data import rotate_by_angle
from eqcourse.train import predict


def _check_explore_args(models, dataset, index) -> None:
    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict {name: model}, e.g. {'SimpleCNN': simple, 'EqCNN': eq}.")
    for name, model in models.items():
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"models[{name!r}] must be a torch.nn.Module; got {type(model).__name__}.")
    if not isinstance(dataset, TensorDataset) or len(dataset.tensors) != 2 or len(dataset) == 0:
        raise TypeError(
            "dataset must be a non-empty TensorDataset of (images, labels), e.g. load_mnist('test'); "
            f"got {type(dataset).__name__}."
        )
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(dataset):
        raise ValueError(f"index must be an integer in 0..{len(dataset) - 1} (a digit of dataset); got {index!r}.")


def explore(
    models: dict[str, torch.nn.Module],
    dataset: TensorDataset,
    index: int,
    degrees: float,
    device: str | torch.device | None = None,
) -> dict:
    """Rotate digit ``index`` of ``dataset`` by ``degrees`` and ask every model about it.

    Returns ``{"index", "label", "degrees", "image" (H, W), "models": {name: {"predicted": int,
    "probabilities": list of floats}}}``; the probabilities are the softmax of the logits. Each
    model runs on ``device`` (default: its own) in eval mode, and is left in the mode it was in.
    """
    _check_explore_args(models, dataset, index)
    check_angle(degrees)
    image, label = dataset[index]
    x = rotate_by_angle(image.unsqueeze(0).float().cpu(), float(degrees))
    result = {"index": index, "label": int(label), "degrees": float(degrees), "image": x[0, 0], "models": {}}
    for name, model in models.items():
        probabilities = torch.softmax(predict(model, x, device=device), dim=1)[0]
        result["models"][name] = {
            "predicted": int(probabilities.argmax()),
            "probabilities": [float(p) for p in probabilities],
        }
    return result


def _png(image: torch.Tensor, scale: int = 5) -> bytes:
    """A grey image (H, W) in [0, 1] as PNG bytes, each pixel drawn as a ``scale`` x ``scale`` block."""
    import matplotlib.pyplot as plt

    array = image.clamp(0, 1).repeat_interleave(scale, 0).repeat_interleave(scale, 1).numpy()
    buffer = io.BytesIO()
    plt.imsave(buffer, array, cmap="gray", vmin=0.0, vmax=1.0, format="png")
    return buffer.getvalue()


def _bars_html(result: dict) -> str:
    """Per-model probability bars as HTML, the predicted class highlighted."""
    blocks = []
    for name, info in result["models"].items():
        rows = []
        for c, p in enumerate(info["probabilities"]):
            color = "#1f77b4" if c != info["predicted"] else ("#2ca02c" if c == result["label"] else "#d62728")
            rows.append(
                f"<tr><td style='padding:0 4px'>{c}</td><td style='width:160px'>"
                f"<div style='background:{color};height:10px;width:{100 * p:.1f}%'></div></td>"
                f"<td style='padding:0 4px;font-family:monospace'>{p:.3f}</td></tr>"
            )
        verdict = "right" if info["predicted"] == result["label"] else "wrong"
        blocks.append(
            f"<div class='eqcourse-model' style='margin-right:24px'><b>{html.escape(name)}</b>: "
            f"predicts <b>{info['predicted']}</b> ({verdict})"
            f"<table style='border-collapse:collapse'>{''.join(rows)}</table></div>"
        )
    header = (
        f"<div>digit #{result['index']}, true label <b>{result['label']}</b>, "
        f"rotated by <b>{result['degrees']:g}°</b> counter-clockwise; bars: class probabilities</div>"
    )
    return header + f"<div style='display:flex'>{''.join(blocks)}</div>"


def rotation_explorer(
    models: dict[str, torch.nn.Module],
    dataset: TensorDataset,
    index: int = 0,
    device: str | torch.device | None = None,
):
    """An ipywidgets explorer: pick a digit, rotate it with a slider, see every model's probabilities.

    Every model runs on ``device`` (default: its own) and keeps its train/eval mode.

    Returns a ``VBox`` whose attributes ``index`` (BoundedIntText), ``angle`` (IntSlider, degrees),
    ``image`` (Image of the rotated digit), ``bars`` (HTML) and ``result`` (the latest
    :func:`explore` dict) are there for scripting and tests.
    """
    import ipywidgets as widgets

    _check_explore_args(models, dataset, index)
    index_box = widgets.BoundedIntText(value=index, min=0, max=len(dataset) - 1, description="digit #")
    angle = widgets.IntSlider(value=0, min=0, max=360, step=5, description="angle (°)", continuous_update=False)
    image = widgets.Image(
        format="png", width=140, height=140, layout=widgets.Layout(width="140px", height="140px", flex="0 0 auto")
    )
    bars = widgets.HTML()
    box = widgets.VBox([widgets.HBox([index_box, angle]), widgets.HBox([image, bars])])

    def update(_change=None) -> None:
        result = explore(models, dataset, int(index_box.value), float(angle.value), device)
        image.value = _png(result["image"])
        bars.value = _bars_html(result)
        box.result = result

    index_box.observe(update, names="value")
    angle.observe(update, names="value")
    box.index, box.angle, box.image, box.bars = index_box, angle, image, bars
    update()
    return box
