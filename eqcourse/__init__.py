"""eqcourse: regular group-equivariant CNNs, taught through one principle: let the kernel rotate.

``eqcourse.load_pretrained("p4_cnn")`` gives a shipped, trained model; the modules hold one idea
each: ``groups``, ``data``, ``nn``, ``models``, ``state``, ``train``, ``pretrained``,
``equivariance``, ``cost``, ``analysis``, ``viz`` and ``widgets`` (docs/design.md).

Importing eqcourse changes no global setting: torch's thread count is capped by
``configure_threads()``, which ``train``, ``step_times``, ``python -m eqcourse`` and the
benchmarks call where their work starts.
"""

from eqcourse._speed import frozen_banks
from eqcourse.groups import C4, D4
from eqcourse.models import build_model, count_parameters
from eqcourse.pretrained import load_pretrained as _load_mnist_pretrained
from eqcourse.state import configure_threads


def load_pretrained(name: str, device=None):
    """A shipped, trained model by run name: ``"p4_cnn"`` (MNIST) or ``"rot_p4_cnn"`` (rotated MNIST)."""
    from eqcourse.rotruns import ROT_RUNS, load_rot_pretrained

    if name in ROT_RUNS:
        model = load_rot_pretrained(name)
        return model if device is None else model.to(device)
    return _load_mnist_pretrained(name, device)

__version__ = "0.1.0"
__all__ = [
    "C4",
    "D4",
    "build_model",
    "count_parameters",
    "configure_threads",
    "frozen_banks",
    "load_pretrained",
    "__version__",
]
