"""eqcourse: regular group-equivariant CNNs, taught through one principle: let the kernel rotate.

``eqcourse.load_pretrained("p4_cnn")`` gives a shipped, trained model; docs/design.md says what
each module holds. Importing eqcourse changes no global setting (``configure_threads``).
"""

from eqcourse._speed import frozen_banks
from eqcourse.groups import C4, D4
from eqcourse.models import build_model, count_parameters
from eqcourse.pretrained import load_pretrained
from eqcourse.state import configure_threads

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
