"""Unit tests of the verification harness (reference/harness)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from drlspec.contracts import get_contract
from drlspec.harness import ImplementationRaised, Target, UsageError, load_object, verify


def test_load_object_resolves_dotted_attributes_and_files(tmp_path):
    assert load_object("drlspec.value:dqn_target").__name__ == "dqn_target"
    assert load_object("drlspec.networks:QNetwork.forward").__name__ == "forward"
    path = tmp_path / "impl.py"
    path.write_text("def f():\n    return 42\n")
    assert load_object(f"{path}:f")() == 42


def test_load_object_reports_an_import_error_inside_the_module(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(UsageError, match="boom"):
        load_object(f"{path}:f")


def test_target_converts_for_the_numpy_backend():
    seen = {}

    def numpy_impl(rewards, next_values, terminated, gamma):
        seen["types"] = {type(rewards), type(next_values), type(terminated)}
        return rewards + gamma * next_values

    target = Target(get_contract("td_target"), numpy_impl, "x:numpy_impl", backend="numpy")
    out = target(torch.ones(3), torch.ones(3), torch.zeros(3, dtype=torch.bool), 0.5)
    assert seen["types"] == {np.ndarray}
    assert isinstance(out, torch.Tensor) and out.tolist() == [1.5, 1.5, 1.5]


def test_target_turns_an_exception_into_a_failure_naming_the_call():
    def raising(*args):
        raise ZeroDivisionError("oops")

    target = Target(get_contract("td_target"), raising, "x:raising")
    with pytest.raises(ImplementationRaised, match="ZeroDivisionError: oops"):
        target(torch.ones(2), torch.ones(2), torch.zeros(2), 0.5)


def test_an_implementation_that_raises_fails_without_crashing_the_harness(tmp_path):
    path = tmp_path / "raises.py"
    path.write_text("def f(*args):\n    raise IndexError('index 3 is out of bounds')\n")
    result = verify("dqn_target", f"{path}:f", max_examples=5)
    assert not result.passed
    assert all("raised IndexError" in r.message for r in result.results)


def test_wrong_backend_for_a_contract_is_a_usage_error():
    with pytest.raises(UsageError, match="backend"):
        verify("td_target", backend="jax")


def test_a_class_is_required_for_a_class_contract():
    with pytest.raises(UsageError, match="must be a class"):
        Target(get_contract("sum_tree"), lambda capacity: None, "x:f")


def test_verify_is_deterministic():
    first = verify("td_target", "tests.mutants.td_target:gamma_on_reward", max_examples=30)
    second = verify("td_target", "tests.mutants.td_target:gamma_on_reward", max_examples=30)
    assert [r.message for r in first.results] == [r.message for r in second.results]
    assert [r.reproducer for r in first.results] == [r.reproducer for r in second.results]
