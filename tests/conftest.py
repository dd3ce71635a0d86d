import importlib.util
import os
from pathlib import Path

os.environ.setdefault("EQCOURSE_PROGRESS", "0")  # no progress bars in test logs

import pytest
import torch

from eqcourse.data import load_mnist, subset


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def test_digits():
    """256 real test digits: enough to see structure, quick to run."""
    return subset(load_mnist("test"), 256, seed=1)


def load_benchmark(name: str):
    """The script ``benchmarks/<name>.py`` imported as a module (benchmarks/ is not a package)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
