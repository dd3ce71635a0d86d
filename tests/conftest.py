import os

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
