"""The validation search behind P4CNN's channel counts (benchmarks/p4_validation.py)."""

import argparse

import pytest
import torch
from conftest import load_benchmark

from eqcourse.groups import C4
from eqcourse.models import P4CNN, GroupCNN, count_parameters


def test_the_validation_split_is_held_out_of_the_training_set_only():
    fit, held_out = load_benchmark("p4_validation").split()
    assert len(fit) == 50_000 and len(held_out) == 10_000
    # disjoint: no training image appears among the validation images
    fit_rows = {bytes(row) for row in (fit.tensors[0] * 255).to(torch.uint8).flatten(1).numpy()}
    overlap = sum(bytes(row) in fit_rows for row in (held_out.tensors[0] * 255).to(torch.uint8).flatten(1).numpy())
    assert overlap == 0


def test_every_candidate_fits_the_budget_and_p4cnn_is_one_of_them():
    module = load_benchmark("p4_validation")
    candidates = [module.parse_channels(c) for c in module.CANDIDATES]
    assert P4CNN.CHANNELS in candidates
    assert all(count_parameters(GroupCNN(C4, c)) <= module.BUDGET for c in candidates)


@pytest.mark.parametrize("text", ["4,6", "4,x,9", "4,6,0,24", ""])
def test_bad_candidates_say_what_is_expected(text):
    with pytest.raises(argparse.ArgumentTypeError, match="like 4,6,9,24"):
        load_benchmark("p4_validation").parse_channels(text)
