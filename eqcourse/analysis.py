"""Looking inside trained models: confusion matrices, mistakes, the feature maps of every copy."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch.utils.data import TensorDataset

from eqcourse.checks import check_angle, check_images, check_positive_int
from eqcourse.data import rotate_by_angle
from eqcourse.groups import C4
from eqcourse.models import EqCNN
from eqcourse.train import predict

# --- predictions, confusion matrices and mistakes under rotation


def _check_model_and_dataset(model, dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """The dataset's images and labels; the model is checked by ``predict``."""
    if not isinstance(dataset, TensorDataset) or len(dataset.tensors) != 2:
        raise TypeError(
            "dataset must be a TensorDataset of (images, labels), e.g. load_mnist('test') or "
            f"subset(load_mnist('test'), 1000); got {type(dataset).__name__}."
        )
    images, labels = dataset.tensors
    if len(images) == 0:
        raise ValueError("dataset is empty; pass at least one (image, label) pair.")
    return images, labels


def predicted_labels(model, dataset: TensorDataset, degrees: float = 0.0) -> torch.Tensor:
    """The model's predicted label for every image of ``dataset`` rotated by ``degrees``."""
    images, _ = _check_model_and_dataset(model, dataset)
    return predict(model, rotate_by_angle(images, check_angle(degrees))).argmax(1)


def confusion_matrix(model, dataset: TensorDataset, degrees: float = 0.0, num_classes: int = 10) -> torch.Tensor:
    """``(num_classes, num_classes)`` counts: entry ``[t, p]`` is how many digits of label t were
    predicted as p, with every image rotated by ``degrees``. Rows sum to the label counts."""
    check_positive_int(num_classes, "num_classes")
    _, labels = _check_model_and_dataset(model, dataset)
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"labels must lie in 0..{num_classes - 1}; got {labels.min().item()}..{labels.max().item()}. "
            "Pass num_classes to match the dataset."
        )
    preds = predicted_labels(model, dataset, degrees)
    if preds.max() >= num_classes:
        raise ValueError(f"the model predicts class {preds.max().item()}, outside 0..{num_classes - 1}.")
    flat = labels.long() * num_classes + preds
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def misclassified(
    model, dataset: TensorDataset, degrees: float = 0.0, n: int = 16
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` digits (in dataset order) the model gets wrong when rotated by ``degrees``.

    Returns ``(indices, predictions)`` as LongTensors; fewer than ``n`` when there are fewer mistakes.
    """
    check_positive_int(n, "n", " (how many mistakes to return)")
    _, labels = _check_model_and_dataset(model, dataset)
    preds = predicted_labels(model, dataset, degrees)
    indices = torch.nonzero(preds != labels).flatten()[:n]
    return indices, preds[indices]


# --- inside the EqCNN, invariance on the test set, plain-text tables

#: the stages of the source's EqCNN, in order, each a group feature map (B, C, 4, H, W)
EQCNN_STAGES = ("copies", "cl1", "max_1", "cl2", "max_2", "cl3")


def _check_eqcnn(model) -> None:
    if not isinstance(model, EqCNN):
        raise TypeError(
            f"model must be an eqcourse.models.EqCNN (e.g. load_pretrained('eq_cnn')); got {type(model).__name__}."
        )


@torch.no_grad()
def eqcnn_activations(model, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every stage of an ``EqCNN`` in the source's Conv3d layout ``(B, C, 4, H, W)``.

    ``"copies"`` is the four-copy stack ``C4.orbit(x)``; ``"cl1"``, ``"cl2"``, ``"cl3"`` are
    after the convolution and SiLU; ``"max_1"``, ``"max_2"`` after the spatial 2x2 max pools.
    Copy j (index j on the group axis) is computed from r^j·x.
    """
    _check_eqcnn(model)
    check_images(x, channels=1, size=28)
    out = {"copies": C4.orbit(x)}
    y = out["copies"]
    for name in EQCNN_STAGES[1:]:
        layer = getattr(model, name)
        y = torch.nn.functional.silu(layer(y)) if name.startswith("cl") else layer(y)
        out[name] = y
    return out


def copy_feature_maps(model, image: torch.Tensor, stage: str = "cl1") -> torch.Tensor:
    """The feature maps of all four copies of one digit at ``stage``: ``(4, C, H, W)``.

    ``image`` is one digit ``(28, 28)``, ``(1, 28, 28)`` or ``(1, 1, 28, 28)``; row j holds the
    maps computed from r^j·image (the source's Figures 2 and 3 show stage ``"cl1"``).
    """
    if stage not in EQCNN_STAGES:
        raise ValueError(f"stage must be one of {EQCNN_STAGES}; got {stage!r}.")
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch.Tensor; got {type(image).__name__}.")
    if image.dim() == 4 and len(image) != 1:
        raise ValueError(f"image must be one digit; got a batch of {len(image)}. Pick one, e.g. images[:1].")
    if image.dim() not in (2, 3, 4):
        raise ValueError(f"image must be (28, 28), (1, 28, 28) or (1, 1, 28, 28); got {tuple(image.shape)}.")
    x = image.reshape(1, 1, *image.shape[-2:])
    return eqcnn_activations(model, x)[stage][0].transpose(0, 1)


def cyclic_shift_errors(before: torch.Tensor, after: torch.Tensor) -> dict[int, float]:
    """For every shift s, ``max_j |after[j] - before[(j + s) mod G]|`` over the leading (group) axis.

    The shift with error ≈ 0 is the one that maps the old copies onto the new ones: new copy j
    equals old copy j + s. Both tensors are ``(G, ...)`` with the same shape.
    """
    for name, t in (("before", before), ("after", after)):
        if not isinstance(t, torch.Tensor) or t.dim() < 1 or len(t) == 0:
            raise ValueError(f"{name} must be a non-empty tensor (G, ...) with the group axis first.")
    if before.shape != after.shape:
        raise ValueError(
            f"before and after must have the same shape (G, ...); got {tuple(before.shape)} and {tuple(after.shape)}."
        )
    n = len(before)
    return {s: (after - torch.roll(before, -s, dims=0)).abs().max().item() for s in range(n)}


def rotation_logits(model, images: torch.Tensor, batch_size: int = 100) -> torch.Tensor:
    """Logits of ``model`` on ``images`` rotated by r^k for k = 0..3: ``(4, N, classes)``.

    Computed ``batch_size`` images at a time (a four-copy model holds four times the activations)."""
    check_images(images, name="images")
    check_positive_int(batch_size, "batch_size")
    return torch.stack([predict(model, C4.act_on_image(k, images), batch_size) for k in C4.elements])


def rotation_summary(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, dict[int, float]]:
    """From ``rotation_logits``: accuracy (%) at 0/90/180/270 degrees and, for 90/180/270, the
    largest change of any logit of any digit against the upright digit."""
    if not isinstance(logits, torch.Tensor) or logits.dim() != 3 or len(logits) != 4:
        raise ValueError(
            f"logits must be (4, N, classes) from rotation_logits(model, images); got "
            f"{tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__}."
        )
    labels = torch.as_tensor(labels)
    if labels.shape != logits.shape[1:2]:
        raise ValueError(f"labels must be (N,) with N = {logits.shape[1]}; got shape {tuple(labels.shape)}.")
    accuracy = {90 * k: 100.0 * (logits[k].argmax(1) == labels).float().mean().item() for k in range(4)}
    difference = {90 * k: (logits[k] - logits[0]).abs().max().item() for k in range(1, 4)}
    return {"accuracy": accuracy, "max_logit_difference": difference}


def format_table(rows: list[dict[str, object]], floats: str = "{:.2f}") -> str:
    """Rows of dicts (same keys) as an aligned plain-text table; floats formatted with ``floats``."""
    if not rows or not all(isinstance(r, Mapping) for r in rows):
        raise ValueError("rows must be a non-empty list of dicts, one per row.")
    columns = list(rows[0])
    if any(list(r) != columns for r in rows):
        raise ValueError(f"every row must have the same keys in the same order: {columns}.")

    def cell(v: object) -> str:
        return floats.format(v) if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v)

    cells = [[str(c) for c in columns]] + [[cell(r[c]) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = [
        "  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths, strict=True)))
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
