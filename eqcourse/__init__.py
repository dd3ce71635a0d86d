"""eqcourse: regular group-equivariant CNNs, taught through one principle: let the kernel rotate.

``eqcourse.load_pretrained("p4_cnn")`` gives a shipped, trained model; the modules hold one idea
each: ``groups``, ``data``, ``nn``, ``models``, ``train``, ``equivariance``, ``cost``,
``analysis``, ``viz`` and ``widgets``.
"""

from eqcourse.groups import C4, D4
from eqcourse.models import build_model, count_parameters
from eqcourse.train import configure_threads
from eqcourse.train import load_pretrained as _load_mnist_pretrained


def load_pretrained(name: str):
    """A shipped, trained model by run name: ``"p4_cnn"`` (MNIST) or ``"rot_p4_cnn"`` (rotated MNIST)."""
    from eqcourse.rotruns import ROT_RUNS, load_rot_pretrained

    return load_rot_pretrained(name) if name in ROT_RUNS else _load_mnist_pretrained(name)


configure_threads()  # never more torch threads than the CPUs (or the container's CPU quota) allow

__version__ = "0.1.0"
__all__ = ["C4", "D4", "build_model", "count_parameters", "load_pretrained", "__version__"]
