import importlib.util
import os
from pathlib import Path

os.environ.setdefault("EQCOURSE_PROGRESS", "0")  # no progress bars in test logs

import pytest
import torch

from eqcourse.data import load_mnist, subset

# Integration tests in files this conftest marks as a whole (the rest say `pytest.mark.integration` themselves):
# the browser walkthrough and the classroom (their own make targets), `make notebooks` offline, the student
# wheel in a fresh venv, and a notebook run in a kernel by benchmarks/notebook_cost.py.
INTEGRATION = (
    "e2e/",
    "classroom/",
    "test_wheel.py::",
    "test_cost.py::test_notebook_cost_runs_a_notebook_and_tables_it",
)


def pytest_collection_modifyitems(items):
    for item in items:
        where = item.nodeid.split("tests/", 1)[-1]
        if where.startswith(INTEGRATION):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _seed_and_threads():
    """Each test starts seeded and leaves torch's thread count as it found it (numbers depend on it)."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


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
