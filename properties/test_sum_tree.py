"""Properties of ``sum_tree``: a tree of priorities that finds the leaf holding a prefix sum.

``SumTree(capacity)``; ``update(indices[K], priorities[K])`` (last write wins
for a repeated index); ``total()`` is the sum of all leaves; ``get(indices)``
returns what was last written (0 for a leaf never written); for
``0 <= u < total()``, ``find(u)`` returns a leaf ``i`` with
``cumsum[i-1] <= u <= cumsum[i]`` and priority ``> 0``. Either tie
convention at an exact boundary is accepted; a zero-priority leaf never is,
also at ``u = 0`` and for ``u`` just below ``total()``.

Spec: Prioritized replay. Seed: :six: Prioritized Experience Replay.
Paper: Schaul et al. (2016), Appendix B.2.1.

Inputs: capacities 1..40 (powers of two and not), batches with repeated and
sibling indices, zero priorities (a third of all values), dyadic priorities
(whose partial sums are exact, so ``u`` can sit exactly on an internal
boundary) and non-dyadic ones such as 0.1, 0.2, 0.3 (whose sums round, so a
tree that adjusts its nodes by deltas is left with residue after zeroing).

Tolerances, with ``S`` the exact (``math.fsum``) sum of the leaves:

* ``total()`` within ``FLOAT32_RTOL * S`` of ``S``. A sum of at most 40
  non-negative terms, in any order and in float32, errs by at most
  ``39 * 2**-24 * S ≈ 2.3e-6 S``; the reference (float64) by ``1e-14 S``.
  The tolerance is relative to the *current* sum, so a tree whose total
  carries residue of earlier, larger priorities fails, and an all-zero tree
  must report exactly 0.
* ``get`` within ``FLOAT32_RTOL`` of each written value (a float32 store
  rounds by ``2**-24`` relative; a zero must come back as 0).
* ``find``: the interval test allows ``FLOAT32_RTOL * S`` at each end. A
  descent compares ``u`` with at most ``2 * depth + 1 <= 13`` rounded partial
  sums, each below ``S``: ``≤ 13 * 2**-24 * S ≈ 8e-7 S`` in float32. "Priority
  ``> 0``" is exact: no tolerance makes a zero leaf acceptable.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from properties.assertions import FLOAT32_RTOL

CONTRACT = "sum_tree"

capacities = st.integers(min_value=1, max_value=40)

# Dyadic values make exact ties with internal node sums; 0.1/0.2/0.3/0.7 do not
# add exactly in binary, which is what exposes delta-accumulating trees.
priority_values = st.one_of(
    st.just(0.0),
    st.sampled_from([0.1, 0.2, 0.3, 0.7, 0.25, 0.5, 1.0, 2.0, 3.0, 1e-3, 1e3]),
    st.floats(min_value=1e-3, max_value=1e3, allow_subnormal=False),
)


def _indices(values: list[int], device: str) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.int64, device=device)


def _reals(values: list[float], device: str) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64, device=device)


def _as_list(result: object, what: str, length: int) -> list:
    """A ``[K]`` result as a Python list; any other shape fails."""
    if isinstance(result, np.ndarray):
        result = torch.from_numpy(result)
    if not isinstance(result, torch.Tensor):
        raise AssertionError(f"{what}: expected a tensor, got {type(result).__name__}")
    if list(result.shape) != [length]:
        raise AssertionError(f"{what}: shape {list(result.shape)}, expected [{length}]")
    return result.detach().cpu().tolist()


def _total(tree: object) -> float:
    value = tree.total()
    if isinstance(value, (torch.Tensor, np.ndarray)):
        value = value.item()
    return float(value)


def _below(total: float) -> float:
    """The largest float below ``total``: the top of find's domain."""
    return float(np.nextafter(total, 0.0))


def check_total(total: float, model: list[float]) -> None:
    exact = math.fsum(model)
    if abs(total - exact) > FLOAT32_RTOL * exact:
        raise AssertionError(
            f"total() is {total!r}, the leaves sum to {exact!r} "
            f"(|difference| {abs(total - exact):.3g} > {FLOAT32_RTOL:g} x sum)"
        )


def check_get(got: list[float], indices: list[int], model: list[float]) -> None:
    for index, value in zip(indices, got, strict=True):
        want = model[index]
        if abs(value - want) > FLOAT32_RTOL * want:
            raise AssertionError(f"get: leaf {index} is {value!r}, last written {want!r}")


def check_found(found: list[int], prefix_sums: list[float], model: list[float]) -> None:
    """Each found leaf is in range, has priority > 0, and its interval holds ``u``."""
    cumsum = [math.fsum(model[:k]) for k in range(len(model) + 1)]
    tolerance = FLOAT32_RTOL * cumsum[-1]
    for u, leaf in zip(prefix_sums, found, strict=True):
        if not 0 <= leaf < len(model):
            raise AssertionError(f"find({u!r}) returned {leaf}, outside [0, {len(model)})")
        if not model[leaf] > 0:
            raise AssertionError(
                f"find({u!r}) returned leaf {leaf}, whose priority is {model[leaf]!r} "
                f"(a zero-priority leaf must never be found); leaves: {model}"
            )
        low, high = cumsum[leaf], cumsum[leaf + 1]
        if not low - tolerance <= u <= high + tolerance:
            raise AssertionError(
                f"find({u!r}) returned leaf {leaf}, whose interval is [{low!r}, {high!r}] "
                f"(tolerance {tolerance:.3g}); leaves: {model}"
            )


def boundaries(model: list[float], total: float) -> list[float]:
    """``u = 0``, every exact prefix sum below ``total``, and the float just below ``total``."""
    cumsum = [math.fsum(model[:k]) for k in range(1, len(model))]
    return [0.0, *sorted({c for c in cumsum if c < total}), _below(total)]


class SumTreeMachine(RuleBasedStateMachine):
    """The tree under random interleavings of updates and queries, against a plain list."""

    def __init__(self, impl, device: str) -> None:
        super().__init__()
        self.impl = impl
        self.device = device
        self.tree = None
        self.model: list[float] = []

    @initialize(capacity=capacities)
    def create(self, capacity):
        self.tree = self.impl(capacity)
        self.model = [0.0] * capacity

    def _write(self, indices: list[int], priorities: list[float]) -> None:
        self.tree.update(_indices(indices, self.device), _reals(priorities, self.device))
        for index, priority in zip(indices, priorities, strict=True):
            self.model[index] = priority

    @rule(data=st.data())
    def update(self, data):
        capacity = len(self.model)
        chosen = data.draw(st.lists(st.integers(0, capacity - 1), min_size=1, max_size=8))
        if data.draw(st.booleans()):
            # A repeat and a sibling (2j, 2j+1 share a parent) in the same batch.
            extra = [chosen[0], *(i ^ 1 for i in chosen if i ^ 1 < capacity)]
            chosen = data.draw(st.permutations(chosen + extra))
        size = len(chosen)
        self._write(chosen, data.draw(st.lists(priority_values, min_size=size, max_size=size)))

    @rule(data=st.data())
    def zero_some(self, data):
        """Clear positive leaves (sometimes all): where residue of earlier sums would show."""
        positive = [i for i, p in enumerate(self.model) if p > 0]
        if not positive:
            return
        cleared = data.draw(st.sampled_from([positive, *[[i] for i in positive]]))
        self._write(cleared, [0.0] * len(cleared))

    @rule(data=st.data())
    def get(self, data):
        indices = data.draw(st.lists(st.integers(0, len(self.model) - 1), min_size=1, max_size=8))
        got = _as_list(self.tree.get(_indices(indices, self.device)), "get", len(indices))
        check_get(got, indices, self.model)

    @precondition(lambda self: any(p > 0 for p in self.model))
    @rule(fractions=st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=1, max_size=8))
    def find_random(self, fractions):
        total = _total(self.tree)
        prefix_sums = [min(f * total, _below(total)) for f in fractions]
        found = _as_list(self.tree.find(_reals(prefix_sums, self.device)), "find", len(fractions))
        check_found(found, prefix_sums, self.model)

    @precondition(lambda self: any(p > 0 for p in self.model))
    @rule()
    def find_boundaries(self):
        prefix_sums = boundaries(self.model, _total(self.tree))
        found = _as_list(self.tree.find(_reals(prefix_sums, self.device)), "find", len(prefix_sums))
        check_found(found, prefix_sums, self.model)

    @invariant()
    def total_is_sum_of_leaves(self):
        if self.tree is not None:
            check_total(_total(self.tree), self.model)


def test_state_machine(impl, device):
    """Random interleavings of update/get/find/total agree with a plain list of priorities."""
    run_state_machine_as_test(lambda: SumTreeMachine(impl, device))


@st.composite
def filled_trees(draw: st.DrawFn) -> list[float]:
    """Leaf priorities of one tree, at least one positive (find needs total() > 0)."""
    capacity = draw(st.integers(min_value=1, max_value=64))
    model = draw(st.lists(priority_values, min_size=capacity, max_size=capacity))
    positive = draw(st.integers(0, capacity - 1))
    if model[positive] == 0:
        model[positive] = draw(st.floats(min_value=1e-3, max_value=1e3))
    return model


def _build(impl, model: list[float], device: str, order: list[int]):
    tree = impl(len(model))
    tree.update(_indices(order, device), _reals([model[i] for i in order], device))
    return tree


@given(model=filled_trees(), data=st.data())
def test_find_lands_in_the_interval(impl, device, model, data):
    """find(u) lies in its leaf's interval [cumsum[i-1], cumsum[i]], never on a zero leaf."""
    order = data.draw(st.permutations(range(len(model))), label="write order")
    tree = _build(impl, model, device, order)
    total = _total(tree)
    check_total(total, model)
    fractions = data.draw(st.lists(st.floats(0.0, 1.0, exclude_max=True), max_size=16))
    prefix_sums = [min(f * total, _below(total)) for f in fractions] + boundaries(model, total)
    found = _as_list(tree.find(_reals(prefix_sums, device)), "find", len(prefix_sums))
    check_found(found, prefix_sums, model)


@given(model=filled_trees(), seed=st.integers(0, 2**32 - 1))
def test_stratified_find_frequencies_match_priorities(impl, device, model, seed):
    """Stratified prefix sums hit each leaf n * p_i / total times, within 5 of n draws."""
    # One uniform u in each of n equal segments of [0, total): the number of
    # segments meeting leaf i's interval (length n * P(i) segments) is within
    # 2 of n * P(i), and a tie or a float32 rounding near either end of the
    # interval moves at most 2 more draws (the tolerance, ~1e-5 of the total,
    # is far below one segment, 1/n = 1e-3 of it); the implementation's total
    # differs from the exact one by < 1e-5 relative, < 0.01 draws. So the
    # count of every leaf is within 5 of n * P(i), deterministically: no false
    # alarms. A mistake that misplaces a leaf shifts n * P(i) >= 1 draws on
    # average and far more for any leaf of appreciable probability.
    draws = 1000
    tree = _build(impl, model, device, list(range(len(model))))
    total = _total(tree)
    uniform = np.random.default_rng(seed).random(draws)
    prefix_sums = [min((k + r) * total / draws, _below(total)) for k, r in enumerate(uniform)]
    found = _as_list(tree.find(_reals(prefix_sums, device)), "find", draws)
    outside = [leaf for leaf in found if not 0 <= leaf < len(model)]
    if outside:
        raise AssertionError(f"find returned leaf {outside[0]}, outside [0, {len(model)})")
    counts = np.bincount(np.asarray(found, dtype=np.int64), minlength=len(model))
    exact = math.fsum(model)
    for leaf, (count, priority) in enumerate(zip(counts.tolist(), model, strict=True)):
        expected = draws * priority / exact
        if abs(count - expected) > 5:
            raise AssertionError(
                f"leaf {leaf} (priority {priority!r}, P = {priority / exact:.4g}) was found "
                f"{count} times in {draws} stratified draws, expected {expected:.1f} ± 5; "
                f"leaves: {model}"
            )


@given(capacity=capacities, data=st.data())
def test_duplicate_indices_last_write_wins(impl, device, capacity, data):
    """update with a repeated index keeps the last value, and total() counts it once."""
    index = data.draw(st.integers(0, capacity - 1), label="index")
    values = data.draw(st.lists(priority_values, min_size=2, max_size=6), label="values")
    tree = impl(capacity)
    tree.update(_indices([index] * len(values), device), _reals(values, device))
    model = [0.0] * capacity
    model[index] = values[-1]
    check_get(_as_list(tree.get(_indices([index], device)), "get", 1), [index], model)
    check_total(_total(tree), model)
