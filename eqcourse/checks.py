"""Input checks that fail early with a message a student can act on."""

from __future__ import annotations

from numbers import Real

import torch


def check_positive_int(value: object, name: str, hint: str = "") -> int:
    """``value`` must be an int >= 1 (a bool is not accepted); ``hint`` says what it counts."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer{hint}; got {value!r}.")
    return value


def check_angle(degrees: object, name: str = "degrees") -> float:
    """An angle in degrees: any real number (a bool is not accepted)."""
    if isinstance(degrees, bool) or not isinstance(degrees, Real):
        raise TypeError(f"{name} must be a number (an angle in degrees, e.g. 90); got {type(degrees).__name__}.")
    return float(degrees)


def _tensor(x: object, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}.")
    return x


def check_square(x: torch.Tensor, name: str = "x") -> None:
    """The last two axes must exist and be equal: a 90-degree rotation maps the grid to itself."""
    x = _tensor(x, name)
    if x.dim() < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(
            f"{name} must have a square spatial shape (..., H, W) with H == W so that a "
            f"90-degree rotation maps the pixel grid to itself; got shape {tuple(x.shape)}. "
            "Crop or pad the images to a square first."
        )


def _check_float(x: torch.Tensor, name: str) -> None:
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor; got dtype {x.dtype}. "
            f"Convert it first, e.g. {name}.float() / 255 for 8-bit pixels."
        )


def check_images(x: torch.Tensor, channels: int | None = None, size: int | None = None, name: str = "x") -> None:
    """A batch of square float images ``(B, C, H, W)``, optionally with a given C and H = W."""
    x = _tensor(x, name)
    if x.dim() != 4:
        hint = f" For a single image use {name}.unsqueeze(0)." if x.dim() == 3 else ""
        raise ValueError(
            f"{name} must be a batch of images shaped (B, C, H, W); got {x.dim()}-D shape {tuple(x.shape)}.{hint}"
        )
    _check_float(x, name)
    if channels is not None and x.shape[1] != channels:
        raise ValueError(
            f"{name} must have {channels} channel(s) in dim 1 (B, C, H, W); got shape "
            f"{tuple(x.shape)} with {x.shape[1]}."
        )
    check_square(x, name)
    if size is not None and x.shape[-1] != size:
        raise ValueError(
            f"{name} must be {size}x{size} pixels (this model's last convolution assumes it); "
            f"got {x.shape[-2]}x{x.shape[-1]}."
        )


def check_group_map(x: torch.Tensor, group_order: int, channels: int | None = None, name: str = "x") -> None:
    """A batch of group feature maps ``(B, C, G, H, W)`` with G = the group's order."""
    x = _tensor(x, name)
    if x.dim() != 5 or x.shape[2] != group_order:
        raise ValueError(
            f"{name} must be a group feature map shaped (B, C, {group_order}, H, W), the group "
            f"axis at dim 2; got shape {tuple(x.shape)}. Lift images with a lifting "
            "convolution first."
        )
    _check_float(x, name)
    if channels is not None and x.shape[1] != channels:
        raise ValueError(
            f"{name} must have {channels} channel(s) in dim 1 (B, C, G, H, W); got "
            f"{x.shape[1]} in shape {tuple(x.shape)}."
        )
    check_square(x, name)
