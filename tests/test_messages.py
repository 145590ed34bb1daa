"""What a failure says: returned types read by one rule, named axes, honest nan, real call types.

The rule for returned types (docs/contracts.md, Conventions): whatever the
declared backend, a result the contract's value can be read from (a torch
tensor, a numpy array or scalar, a Python number, a regular list or tuple of
numbers) is converted and judged on its values; anything else fails with one
message naming the call and what the contract returns. The targets are in
tests/returned_types_targets.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from drlspec.contracts import get_contract, implemented_contracts
from drlspec.harness.target import declared_result, from_backend
from drlspec.harness.verify import verify
from drlspec.properties.assertions import assert_close, note_result

TARGETS = "tests.returned_types_targets"
EXAMPLES = 10


def _verify(contract: str, name: str, backend: str = "torch", **options):
    options.setdefault("max_examples", EXAMPLES)
    return verify(contract, f"{TARGETS}:{name}", backend=backend, **options)


def _failures(result) -> list:
    return [r for r in result.results if not r.passed]


# --- returned types: accepted and judged on values ----------------------------------------


@pytest.mark.parametrize(
    ("contract", "name", "backend"),
    [
        ("td_target", "numpy_td_returns_torch", "numpy"),
        ("td_target", "torch_td_returns_numpy", "torch"),
        ("td_target", "torch_td_returns_list", "torch"),
        ("adapt_kl_beta", "adapt_returns_numpy_scalar", "numpy"),
        ("gae", "gae_as_list", "numpy"),
        ("discounted_returns", "discounted_returns_as_list", "numpy"),
        ("dueling_aggregate", "dueling_aggregate_as_list", "numpy"),
        ("per_probabilities", "per_probabilities_as_list", "numpy"),
        ("categorical_kl", "categorical_kl_as_list", "numpy"),
        ("sum_tree", "ListTree", "numpy"),
    ],
)
def test_correct_values_in_another_type_pass(contract, name, backend):
    result = _verify(contract, name, backend, shrink=False)
    assert result.passed, [(r.name, r.message) for r in _failures(result)]


def test_wrong_values_in_a_list_fail_on_values():
    """A list is read, then judged: the message is about an element, not about the type."""
    failures = _failures(_verify("td_target", "numpy_td_returns_wrong_list", "numpy"))
    assert failures
    for failure in failures:
        assert "returned" not in failure.message, failure.message
        assert " is " in failure.message and "expected" in failure.message, failure.message


# --- returned types: rejected with one message naming the call -----------------------------


@pytest.mark.parametrize(
    ("contract", "name", "backend", "said"),
    [
        (
            "td_target",
            "td_returns_none",
            "torch",
            "returned NoneType; contract td_target returns an array [B]",
        ),
        (
            "td_target",
            "td_returns_ragged",
            "numpy",
            "returned list that is not a regular array",
        ),
        (
            "adapt_kl_beta",
            "adapt_returns_array",
            "numpy",
            "returned ndarray of shape [1]; contract adapt_kl_beta returns a float",
        ),
    ],
)
def test_unreadable_results_fail_with_one_message(contract, name, backend, said):
    result = _verify(contract, name, backend)
    assert result.results and not any(r.passed for r in result.results)
    call = "f(ndarray[" if backend == "numpy" and contract != "adapt_kl_beta" else "f("
    for failure in result.results:
        assert said in failure.message, failure.message
        assert failure.message.startswith(call), failure.message
        assert "AttributeError" not in failure.message


def test_every_contract_names_a_missing_result():
    """No property reads `.shape` or `.dtype` off a result before the rule has: every
    property of every contract fails a target that returns None with the rule's message.
    In-place contracts (``-> None``, target_update) are not read for a result: for them None
    is the right answer, and a do-nothing update is a mutant's business."""
    for contract in implemented_contracts():
        if contract.signature.endswith("-> None"):
            continue
        name = "NoneTree" if contract.kind == "class" else "returns_none"
        result = _verify(contract.name, name, max_examples=3, shrink=False)
        assert result.results, contract.name
        for outcome in result.results:
            assert not outcome.passed, (contract.name, outcome.name)
            assert "returned NoneType" in outcome.message, (contract.name, outcome.message)


def test_a_result_that_must_carry_a_gradient_must_be_a_tensor():
    """A float has the right value (accepted where only the value is checked) but no
    gradient: where the property differentiates, the message says so."""
    result = _verify("policy_gradient_loss", "loss_returns_float", shrink=False)
    by_name = {r.name: r for r in result.results}
    assert by_name["test_matches_definition"].passed
    failed = by_name["test_gradient_is_minus_weights_over_batch"]
    assert not failed.passed
    assert "returned float, which carries no gradient" in failed.message, failed.message


def test_conversion_keeps_dtypes_honest():
    declared = declared_result(get_contract("td_target"))
    assert declared == "[B]"
    assert from_backend([0.1, 0.2], declared).dtype == torch.float64  # not torch's float32
    assert from_backend(np.zeros(2, np.float32), declared).dtype == torch.float32
    assert from_backend(np.zeros(2, ">f8"), declared).dtype == torch.float64
    assert from_backend([1, 2], declared).dtype == torch.int64
    assert from_backend(np.float64(0.1), declared).item() == 0.1
    # A tensor is the implementation's own: kept, its gradient too.
    leaf = torch.ones(2, requires_grad=True)
    kept = leaf * 2
    assert from_backend(kept, declared) is kept
    # Values converted from a list of numbers survive exactly.
    assert from_backend([0.1], declared).item() == 0.1


def test_declared_results_of_a_class_contract():
    tree = get_contract("sum_tree")
    assert declared_result(tree, "total") == "float"
    assert declared_result(tree, "find") == "indices[K]"
    assert declared_result(tree, "update") is None
    assert from_backend(np.float32(1.5), "float") == 1.5
    assert from_backend(torch.tensor(2.5), "float") == 2.5


@pytest.mark.parametrize(
    "value", [None, "text", {}, object(), [[1.0], [1.0, 2.0]], [1 + 2j], True, np.array(["a"])]
)
def test_conversion_never_leaks_an_internal_error(value):
    from drlspec.harness import target as target_module

    for declared in ("[B]", "scalar", "float"):
        try:
            from_backend(value, declared)
        except target_module._Unreadable:
            pass


# --- the call shown is the call the implementation received ------------------------------


def test_numpy_target_is_shown_the_arrays_it_received():
    failures = _failures(_verify("td_target", "numpy_td_raises", "numpy"))
    assert failures
    for failure in failures:
        assert "raised ValueError: unsupported input" in failure.message
        assert "f(ndarray[" in failure.message and "tensor[" not in failure.message


def test_result_failure_names_the_call():
    failures = _failures(_verify("td_target", "returns_none", "numpy"))
    assert failures and all(f.message.startswith("f(ndarray[") for f in failures)
    assert all("tensor[" not in f.message for f in failures)


# --- index messages name their axes; nan says what was wrong -----------------------------


def test_index_names_the_axes_of_the_result():
    note_result((3, 2), "[T,N]")
    expected = torch.zeros(3, 2, dtype=torch.float64)
    actual = expected.clone()
    actual[2, 1] = 1.0
    with pytest.raises(AssertionError, match=r"element \[t=2, n=1\] is 1\.0, expected 0\.0"):
        assert_close(actual, expected, what="gae")
    with pytest.raises(AssertionError, match=r"element \[b=2, a=1\]"):
        assert_close(actual, expected, what="q", axes=("b", "a"))
    # An array of another shape than the latest result: bare positions, no invented names.
    with pytest.raises(AssertionError, match=r"element \[1\] is 1\.0"):
        assert_close(torch.tensor([0.0, 1.0]), torch.zeros(2), what="a selection")


def test_nan_against_nan_says_what_is_wrong():
    note_result((2,), "[B]")
    both = torch.tensor([0.0, float("nan")])
    with pytest.raises(AssertionError) as raised:
        assert_close(both, both.clone(), what="targets of the same batch twice")
    message = str(raised.value)
    assert "expected nan" not in message
    assert "element [b=1] is nan, but must be finite" in message
    assert "not finite either" in message


def test_a_nan_expected_value_is_reported_not_passed():
    """`nan` would compare as no difference at all: it is reported, never matched."""
    with pytest.raises(AssertionError, match=r"compared with a non-finite value nan"):
        assert_close(torch.tensor([0.0, 1.0]), torch.tensor([0.0, float("nan")]), what="x")


def test_verify_messages_name_axes_and_never_nan_against_nan():
    failures = _failures(_verify("gae", "gae_returns_nan", shrink=False))
    assert failures
    assert any("[t=0, n=0]" in f.message for f in failures)
    assert not any("is nan, expected nan" in f.message for f in failures)
    mutant = _failures(_verify("td_target", "numpy_td_returns_wrong_list", "numpy"))
    assert any("element [b=" in f.message for f in mutant)
