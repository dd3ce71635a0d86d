"""eqcourse.grading.forbidden: blocks module functions, methods and aliases; restores everything."""

from __future__ import annotations

import pytest
import torch

import eqcourse.nn
from eqcourse.grading import ForbiddenError, forbidden
from eqcourse.groups import C4, D4
from eqcourse.nn import group_bank

ORIGINAL_BANK = eqcourse.nn.group_bank


def student_uses_module_attribute(w):
    return eqcourse.nn.group_bank(w)


def student_uses_imported_name(w):
    return group_bank(w)  # bound in this module's globals before the call


def student_uses_method(x):
    return C4.act_on_group_map(1, x)


def student_calls_layer(layer, x):
    return layer(x)


def test_module_function_and_imported_alias_are_blocked_and_restored():
    w = torch.randn(1, 1, 4, 3, 3)
    for student in (student_uses_module_attribute, student_uses_imported_name):
        with forbidden((eqcourse.nn, "group_bank"), task="the bank", functions=[student]):
            with pytest.raises(ForbiddenError, match="write the bank yourself; do not call eqcourse.nn.group_bank"):
                student(w)
        assert eqcourse.nn.group_bank is ORIGINAL_BANK
        assert globals()["group_bank"] is ORIGINAL_BANK
        assert torch.equal(student(w), ORIGINAL_BANK(w))


def test_instance_method_is_blocked_for_that_instance_only_and_restored():
    x = torch.randn(1, 1, 4, 5, 5)
    with forbidden((C4, "act_on_group_map"), task="the action", functions=[student_uses_method]):
        with pytest.raises(ForbiddenError, match="C4.act_on_group_map"):
            student_uses_method(x)
        D4.act_on_group_map(1, torch.randn(1, 1, 8, 5, 5))  # another instance is untouched
    assert "act_on_group_map" not in vars(C4)
    assert torch.equal(student_uses_method(x), C4.act_on_group_map(1, x))


def test_bound_method_alias_in_globals_is_blocked():
    namespace = {"act": C4.act_on_group_map}
    exec("def student(x):\n    return act(1, x)\n", namespace)
    with forbidden((C4, "act_on_group_map"), task="the action", functions=[namespace["student"]]):
        with pytest.raises(ForbiddenError):
            namespace["student"](torch.randn(1, 1, 4, 3, 3))
    assert namespace["act"] == C4.act_on_group_map


def test_class_method_blocks_instances_and_is_restored_after_an_error():
    layer = torch.nn.Conv3d(1, 2, (1, 3, 3))
    x = torch.randn(1, 1, 4, 6, 6)
    with pytest.raises(ZeroDivisionError):
        with forbidden((torch.nn.Conv3d, "forward"), task="the layer", functions=[student_calls_layer]):
            with pytest.raises(ForbiddenError, match="Conv3d.forward"):
                student_calls_layer(layer, x)
            raise ZeroDivisionError  # an error inside the block still restores everything
    assert "forward" in vars(torch.nn.Conv3d)
    assert student_calls_layer(layer, x).shape == (1, 2, 4, 4, 4)


def test_bad_targets_get_clear_errors():
    with pytest.raises(ValueError, match="no attribute"):
        with forbidden((C4, "no_such_thing"), task="x"):
            pass
    with pytest.raises(ValueError, match="owner, 'attribute'"):
        with forbidden("C4.orbit", task="x"):
            pass
    with pytest.raises(ValueError, match="task"):
        with forbidden((C4, "orbit"), task=""):
            pass
    assert "orbit" not in vars(C4)
