"""drlspec.testing.check_contract: the library API for other projects' test suites."""

from __future__ import annotations

import functools
import re

import pytest

from drlspec.returns import td_target
from drlspec.testing import check_contract, target_spec
from tests.mutants.td_target import gamma_on_reward


def test_a_correct_implementation_returns_quietly():
    assert check_contract("td_target", td_target, max_examples=10) is None


def test_a_wrong_implementation_raises_with_the_verify_report():
    with pytest.raises(AssertionError) as raised:
        check_contract("td_target", gamma_on_reward, max_examples=10)
    report = str(raised.value)
    assert "tests.mutants.td_target:gamma_on_reward against contract td_target" in report
    assert "FAIL  test_matches_definition [cpu]" in report
    assert "reproducer:" in report
    # Each root cause once, counted at the end.
    assert re.search(r"-> FAIL \(\d+ findings?\)$", report.rstrip()), report[-300:]


def test_target_spec_names_top_level_objects_and_refuses_local_ones():
    assert target_spec(td_target) == "drlspec.returns:td_target"
    assert target_spec("my.module:f") == "my.module:f"
    for local in (lambda *a: None, functools.partial(td_target)):
        with pytest.raises(TypeError, match="top level of a module"):
            target_spec(local)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"contract": "gea"}, "unknown contract 'gea'"),
        ({"backend": "jax"}, "backend"),
        ({"max_examples": 0}, "max_examples must be a positive int"),
        ({"time_limit": -1.0}, "time_limit must be positive"),
    ],
)
def test_wrong_names_and_options_are_value_errors(kwargs, match):
    arguments = {"contract": "td_target", **kwargs}
    with pytest.raises(ValueError, match=match):
        check_contract(arguments.pop("contract"), td_target, **arguments)
