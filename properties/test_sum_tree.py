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

Inputs: capacities 1..64 (powers of two and not) under random interleavings
of updates and queries; capacities up to 4096 (mostly not powers of two,
``2^k - 1 .. 2^k + 1`` often) in whole-tree checks, and explicitly 65 537,
100 003 and 131 073 (depth 17 and 18, odd, one leaf past a power of two),
each filled, overwritten with repeated indices and partly zeroed, against a
vectorised float64 oracle (``np.cumsum``, ``math.fsum``). Priorities: zeros
(a third), dyadic values (whose partial sums are exact, so ``u`` can sit
exactly on an internal boundary), non-dyadic ones such as 0.1, 0.2, 0.3
(whose sums round, so a tree that adjusts its nodes by deltas is left with
residue after zeroing), and magnitudes from ``1e-12`` to ``1e12`` in one
tree. Prefix sums: random, stratified, ``0``, the float below ``total()``,
and every cumulative boundary exactly, 1 ulp either side and ``1e-12``
relative either side.

Precision promise (what a float32 tree may err by). With ``S`` the exact sum
of the current leaves, ``d = ceil(log2 capacity)`` and ``u = 2**-24``:

    tol(S) = (3 d + 4) u S

* ``total()`` within ``tol`` of ``S``; relative to the *current* sum, so a
  tree whose total carries residue of earlier, larger priorities fails, and
  an all-zero tree must report exactly 0.
* ``find``: the returned leaf's interval, widened by ``tol`` at each end,
  holds ``u``. "Priority ``> 0``" is exact: no tolerance makes a zero leaf
  acceptable.
* ``get`` within ``u`` relative of each written value (one float32
  rounding; a zero comes back as 0).

Why ``tol`` bounds a correct balanced binary tree in float32 (and so any
float64 tree, Fenwick tree or float64 cumsum with room to spare): a stored
leaf rounds once (``u p``); a node of height ``h`` is a pairwise sum, off by
at most ``(h + 1) u`` times its exact value. A descent rounds ``u`` once,
and each right turn subtracts a left sibling (its error, summed over the
disjoint siblings of one path, is at most ``(d + 1) u S``) with one rounding
(``d u S`` over the path): the running remainder is within ``(2 d + 2) u S``
of ``u - cumsum[i-1]`` and stays ``>= 0``, which gives the lower end. Each
left turn compares it with a node off by ``(d + 1) u S`` at most, which gives
the upper end within ``(3 d + 3) u S``. At ``d = 18`` that is
``58 u = 3.5e-6`` of the total, a third of the width of an average leaf
among 131 073, and far below the width of any "spike" leaf, so a descent that
misplaces a leaf by one is seen. A float32 *sequential* cumsum errs by up to
``(n - 1) u S`` (it drops leaves below half an ulp of the running sum) and
is not promised. A leaf narrower than ``tol`` cannot be told from its
neighbours by any prefix sum; it must still be stored (``get``) and counted
(``total``), and it is found once the wider leaves are gone.
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

from drlspec.properties.replay_strategies import (
    PATTERNS,
    UNIT_ROUNDOFF,
    critical_indices,
    leaf_priorities,
    non_power_of_two_sizes,
    tree_depth,
)

CONTRACT = "sum_tree"

capacities = st.integers(min_value=1, max_value=40)

# Dyadic values make exact ties with internal node sums; 0.1/0.2/0.3/0.7 do not
# add exactly in binary, which is what exposes delta-accumulating trees; 1e-12
# next to 1e12 in one tree is where a float32 sum loses a leaf entirely.
priority_values = st.one_of(
    st.just(0.0),
    st.sampled_from([0.1, 0.2, 0.3, 0.7, 0.25, 0.5, 1.0, 2.0, 3.0, 1e-3, 1e3]),
    st.floats(min_value=1e-3, max_value=1e3, allow_subnormal=False),
    st.sampled_from([1e-12, 1e-6, 1e6, 1e12]),
)

# Stratified draws of the small frequency checks and the slack of every one (check_frequencies).
STRATIFIED_DRAWS = 1000
FREQUENCY_SLACK = 6


def tolerance(capacity: int, exact_total: float) -> float:
    """``(3 d + 4) u S``: what a balanced float32 tree may err by (module docstring)."""
    return (3 * tree_depth(capacity) + 4) * UNIT_ROUNDOFF * exact_total


def _indices(values, device: str) -> torch.Tensor:
    # A copy: an implementation that works in place on its argument must not change our model.
    return torch.tensor(np.asarray(values, dtype=np.int64), device=device)


def _reals(values, device: str) -> torch.Tensor:
    return torch.tensor(np.asarray(values, dtype=np.float64), device=device)


def _as_array(result: object, what: str, length: int) -> np.ndarray:
    """A ``[K]`` result as a float64/int64 numpy array; any other shape fails."""
    if isinstance(result, torch.Tensor):
        result = result.detach().cpu().numpy()
    if not isinstance(result, np.ndarray):
        raise AssertionError(f"{what}: expected a tensor, got {type(result).__name__}")
    if list(result.shape) != [length]:
        raise AssertionError(f"{what}: shape {list(result.shape)}, expected [{length}]")
    return result


def _total(tree: object) -> float:
    value = tree.total()
    if isinstance(value, (torch.Tensor, np.ndarray)):
        value = value.item()
    return float(value)


def _below(total: float) -> float:
    """The largest float below ``total``: the top of find's domain."""
    return float(np.nextafter(total, 0.0))


def _shown(model: np.ndarray) -> str:
    """The leaves for a failure message (all of a small tree, a summary of a large one)."""
    if model.size <= 64:
        return str(model.tolist())
    positive = int(np.count_nonzero(model))
    return f"{model.size} leaves, {positive} positive, largest {model.max():.3g}"


def check_total(total: float, model: np.ndarray) -> None:
    exact = math.fsum(model.tolist())
    bound = tolerance(model.size, exact)
    if not abs(total - exact) <= bound:
        raise AssertionError(
            f"total() is {total!r}, the leaves sum to {exact!r} "
            f"(|difference| {abs(total - exact):.3g} > tolerance {bound:.3g}); {_shown(model)}"
        )


def check_get(got: np.ndarray, indices: np.ndarray, model: np.ndarray) -> None:
    want = model[indices]
    got = got.astype(np.float64)
    wrong = ~(np.abs(got - want) <= UNIT_ROUNDOFF * want)
    if wrong.any():
        k = int(np.flatnonzero(wrong)[0])
        raise AssertionError(
            f"get: leaf {int(indices[k])} is {float(got[k])!r}, last written {float(want[k])!r}"
        )


def prefix_sums_of(model: np.ndarray) -> np.ndarray:
    """``[n + 1]`` float64: ``0, p_0, p_0 + p_1, ...``. ``np.cumsum`` errs by ``<= n 2**-53 S``.

    That is ``1.5e-11 S`` at ``n = 131 073``, six orders below ``tol``; the
    small trees use exactly rounded sums.
    """
    if model.size <= 64:
        sums = [math.fsum(model[:k].tolist()) for k in range(model.size + 1)]
        return np.array(sums, dtype=np.float64)
    return np.concatenate([[0.0], np.cumsum(model)])


def check_found(found: np.ndarray, prefix_sums: np.ndarray, model: np.ndarray) -> None:
    """Each found leaf is in range, has priority > 0, and its interval (± tol) holds ``u``."""
    cumsum = prefix_sums_of(model)
    bound = tolerance(model.size, math.fsum(model.tolist()))
    found = found.astype(np.int64)
    outside = (found < 0) | (found >= model.size)
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        raise AssertionError(
            f"find({float(prefix_sums[k])!r}) returned {int(found[k])}, outside [0, {model.size})"
        )
    zero = model[found] <= 0
    if zero.any():
        k = int(np.flatnonzero(zero)[0])
        raise AssertionError(
            f"find({float(prefix_sums[k])!r}) returned leaf {int(found[k])}, whose priority is "
            f"{float(model[found[k]])!r} (a zero-priority leaf must never be found); "
            f"{_shown(model)}"
        )
    low, high = cumsum[found], cumsum[found + 1]
    missed = ~((low - bound <= prefix_sums) & (prefix_sums <= high + bound))
    if missed.any():
        k = int(np.flatnonzero(missed)[0])
        raise AssertionError(
            f"find({float(prefix_sums[k])!r}) returned leaf {int(found[k])}, whose interval is "
            f"[{float(low[k])!r}, {float(high[k])!r}] (tolerance {bound:.3g}); {_shown(model)}"
        )


def near(values: np.ndarray) -> np.ndarray:
    """Each value, 1 ulp either side of it and ``1e-12`` relative either side of it."""
    return np.concatenate(
        [
            values,
            np.nextafter(values, -np.inf),
            np.nextafter(values, np.inf),
            values * (1 - 1e-12),
            values * (1 + 1e-12),
        ]
    )


def boundaries(model: np.ndarray, total: float, leaves: np.ndarray | None = None) -> np.ndarray:
    """``u = 0``, the float below ``total``, and around the cumulative boundaries of ``leaves``.

    ``leaves`` defaults to all; each leaf contributes both ends of its
    interval, exactly and a hair either side, clipped to ``[0, total)``.
    """
    cumsum = prefix_sums_of(model)
    ends = cumsum if leaves is None else np.concatenate([cumsum[leaves], cumsum[leaves + 1]])
    candidates = near(np.unique(ends))
    inside = np.clip(candidates, 0.0, _below(total))
    return np.concatenate([[0.0, _below(total)], np.unique(inside)])


def find(tree, prefix_sums: np.ndarray, device: str) -> np.ndarray:
    return _as_array(tree.find(_reals(prefix_sums, device)), "find", prefix_sums.size)


def stratified(total: float, draws: int, rng: np.random.Generator) -> np.ndarray:
    """One uniform prefix sum in each of ``draws`` equal segments of ``[0, total)``."""
    prefix_sums = (np.arange(draws) + rng.random(draws)) * (total / draws)
    return np.minimum(prefix_sums, _below(total))


def check_frequencies(found: np.ndarray, model: np.ndarray, draws: int) -> None:
    """Stratified draws hit each leaf ``draws * p_i / S`` times, within ``FREQUENCY_SLACK``.

    The number of segments meeting leaf ``i``'s interval (``draws * P(i)``
    segments long) is within 2 of ``draws * P(i)``; a tie or a rounding
    within ``tol`` of either end of the interval moves the draws that lie
    within ``tol`` of that end: a window of ``2 tol`` meets at most two
    segments (``tol`` is far below one segment, ``S / draws``), so at most 2
    draws per end. Hence within ``2 + 2 + 2 = 6``, deterministically: no false
    alarms. A mistake that misplaces a leaf shifts ``draws * P(i)`` draws.
    """
    found = found.astype(np.int64)
    outside = (found < 0) | (found >= model.size)
    if outside.any():
        raise AssertionError(
            f"find returned leaf {int(found[outside][0])}, outside [0, {model.size})"
        )
    counts = np.bincount(found, minlength=model.size)
    expected = draws * model / math.fsum(model.tolist())
    off = np.abs(counts - expected) > FREQUENCY_SLACK
    if off.any():
        leaf = int(np.flatnonzero(off)[0])
        raise AssertionError(
            f"leaf {leaf} (priority {float(model[leaf])!r}, P = {expected[leaf] / draws:.4g}) was "
            f"found {int(counts[leaf])} times in {draws} stratified draws, expected "
            f"{expected[leaf]:.1f} ± {FREQUENCY_SLACK}; {_shown(model)}"
        )


def last_writes(indices: np.ndarray, priorities: np.ndarray, model: np.ndarray) -> None:
    """Apply a batch to the model, the last write of a repeated index winning (by construction)."""
    unique, first_in_reversed = np.unique(indices[::-1], return_index=True)
    model[unique] = priorities[indices.size - 1 - first_in_reversed]


class SumTreeMachine(RuleBasedStateMachine):
    """The tree under random interleavings of updates and queries, against a plain array."""

    def __init__(self, impl, device: str) -> None:
        super().__init__()
        self.impl = impl
        self.device = device
        self.tree = None
        self.model = np.zeros(0)

    @initialize(capacity=capacities)
    def create(self, capacity):
        self.tree = self.impl(capacity)
        self.model = np.zeros(capacity)

    def _write(self, indices: list[int], priorities: list[float]) -> None:
        self.tree.update(_indices(indices, self.device), _reals(priorities, self.device))
        last_writes(np.array(indices, dtype=np.int64), np.array(priorities), self.model)

    @rule(data=st.data())
    def update(self, data):
        capacity = self.model.size
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
        positive = np.flatnonzero(self.model > 0).tolist()
        if not positive:
            return
        cleared = data.draw(st.sampled_from([positive, *[[i] for i in positive]]))
        self._write(cleared, [0.0] * len(cleared))

    @rule(data=st.data())
    def get(self, data):
        indices = data.draw(st.lists(st.integers(0, self.model.size - 1), min_size=1, max_size=8))
        got = _as_array(self.tree.get(_indices(indices, self.device)), "get", len(indices))
        check_get(got, np.array(indices), self.model)

    @precondition(lambda self: bool((self.model > 0).any()))
    @rule(fractions=st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=1, max_size=8))
    def find_random(self, fractions):
        total = _total(self.tree)
        prefix_sums = np.minimum(np.array(fractions) * total, _below(total))
        check_found(find(self.tree, prefix_sums, self.device), prefix_sums, self.model)

    @precondition(lambda self: bool((self.model > 0).any()))
    @rule()
    def find_boundaries(self):
        prefix_sums = boundaries(self.model, _total(self.tree))
        check_found(find(self.tree, prefix_sums, self.device), prefix_sums, self.model)

    @invariant()
    def total_is_sum_of_leaves(self):
        if self.tree is not None:
            check_total(_total(self.tree), self.model)


def test_state_machine(impl, device):
    """Random interleavings of update/get/find/total agree with a plain list of priorities."""
    run_state_machine_as_test(lambda: SumTreeMachine(impl, device))


@st.composite
def filled_trees(draw: st.DrawFn) -> np.ndarray:
    """Leaf priorities of one tree, at least one positive (find needs total() > 0)."""
    capacity = draw(st.integers(min_value=1, max_value=64))
    model = draw(st.lists(priority_values, min_size=capacity, max_size=capacity))
    positive = draw(st.integers(0, capacity - 1))
    if model[positive] == 0:
        model[positive] = draw(st.floats(min_value=1e-3, max_value=1e3))
    return np.array(model)


def _build(impl, model: np.ndarray, device: str, order) -> object:
    tree = impl(model.size)
    order = np.asarray(order, dtype=np.int64)
    tree.update(_indices(order, device), _reals(model[order], device))
    return tree


@given(model=filled_trees(), data=st.data())
def test_find_lands_in_the_interval(impl, device, model, data):
    """find(u) lies in its leaf's interval [cumsum[i-1], cumsum[i]], never on a zero leaf."""
    order = data.draw(st.permutations(range(model.size)), label="write order")
    tree = _build(impl, model, device, order)
    total = _total(tree)
    check_total(total, model)
    fractions = data.draw(st.lists(st.floats(0.0, 1.0, exclude_max=True), max_size=16))
    random = np.minimum(np.array(fractions, dtype=np.float64) * total, _below(total))
    prefix_sums = np.concatenate([random, boundaries(model, total)])
    check_found(find(tree, prefix_sums, device), prefix_sums, model)


@given(model=filled_trees(), seed=st.integers(0, 2**32 - 1))
def test_stratified_find_frequencies_match_priorities(impl, device, model, seed):
    """Stratified prefix sums hit each leaf n * p_i / total times, within 6 of n draws."""
    tree = _build(impl, model, device, np.arange(model.size))
    prefix_sums = stratified(_total(tree), STRATIFIED_DRAWS, np.random.default_rng(seed))
    check_frequencies(find(tree, prefix_sums, device), model, STRATIFIED_DRAWS)


@given(capacity=capacities, data=st.data())
def test_duplicate_indices_last_write_wins(impl, device, capacity, data):
    """update with a repeated index keeps the last value, and total() counts it once."""
    index = data.draw(st.integers(0, capacity - 1), label="index")
    values = data.draw(st.lists(priority_values, min_size=2, max_size=6), label="values")
    tree = impl(capacity)
    tree.update(_indices([index] * len(values), device), _reals(values, device))
    model = np.zeros(capacity)
    model[index] = values[-1]
    check_get(_as_array(tree.get(_indices([index], device)), "get", 1), np.array([index]), model)
    check_total(_total(tree), model)


def check_whole_tree(tree, model: np.ndarray, rng: np.random.Generator, device: str) -> None:
    """total, get of every leaf, find at boundaries and stratified, frequencies: all vectorised."""
    total = _total(tree)
    check_total(total, model)
    everything = np.arange(model.size)
    check_get(
        _as_array(tree.get(_indices(everything, device)), "get", model.size), everything, model
    )
    if not (model > 0).any():
        return
    positive = np.flatnonzero(model > 0)
    # Boundaries of the critical leaves, of 32 random positive leaves, and of the
    # first and last positive ones (next to leading and trailing zero runs).
    leaves = np.unique(
        np.concatenate(
            [
                critical_indices(model.size),
                rng.choice(positive, size=min(32, positive.size)),
                positive[[0, -1]],
            ]
        )
    )
    prefix_sums = boundaries(model, total, leaves)
    check_found(find(tree, prefix_sums, device), prefix_sums, model)
    draws = 2048
    prefix_sums = stratified(total, draws, rng)
    found = find(tree, prefix_sums, device)
    check_found(found, prefix_sums, model)
    check_frequencies(found, model, draws)


def check_filled_overwritten_cleared(
    impl, device: str, capacity: int, pattern: str, clear_tail: bool, seed: int
) -> None:
    """Fill, overwrite with repeats, zero the largest: the whole tree checked against a cumsum.

    Three batches: every leaf in a random order; a batch of random indices
    with repeats (and every critical index twice); then the largest 1% of
    the leaves set to zero (and, with ``clear_tail``, the last eighth). After
    the first and the last, ``total``, ``get`` of every leaf, and ``find`` at
    the cumulative boundaries of the critical leaves (exactly, 1 ulp and
    ``1e-12`` relative either side, ``0``, just below ``total()``) and at 2048
    stratified prefix sums are checked against ``np.cumsum``.
    """
    rng = np.random.default_rng(seed)
    tree = impl(capacity)
    model = np.zeros(capacity)

    def write(indices: np.ndarray, priorities: np.ndarray) -> None:
        tree.update(_indices(indices, device), _reals(priorities, device))
        last_writes(indices, priorities, model)

    write(rng.permutation(capacity), leaf_priorities(rng, capacity, pattern))
    check_whole_tree(tree, model, rng, device)

    critical = critical_indices(capacity)
    repeated = np.concatenate([rng.integers(0, capacity, min(capacity, 4096)), critical, critical])
    rng.shuffle(repeated)
    write(
        repeated, leaf_priorities(rng, capacity, pattern)[rng.integers(0, capacity, repeated.size)]
    )
    check_total(_total(tree), model)

    cleared = np.argsort(model)[-(1 + capacity // 100) :]
    if clear_tail:
        cleared = np.concatenate([cleared, np.arange(capacity - capacity // 8 - 1, capacity)])
    write(cleared, np.zeros(cleared.size))
    check_whole_tree(tree, model, rng, device)


@given(
    capacity=non_power_of_two_sizes(4096),
    pattern=st.sampled_from(PATTERNS),
    clear_tail=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_whole_trees_against_cumsum(impl, device, capacity, pattern, clear_tail, seed):
    """Trees of 1..4096 leaves, filled, overwritten and partly zeroed, match a float64 cumsum."""
    check_filled_overwritten_cleared(impl, device, capacity, pattern, clear_tail, seed)


# (capacity, pattern, clear_tail, seed): depth 17 and 18, odd, one past a power of two.
LARGE_TREES = (
    (131_073, "spikes", False, 1),
    (100_003, "ordinary", False, 2),
    (65_537, "magnitudes", True, 3),
)


def test_large_trees_against_cumsum(impl, device):
    """Trees of 65 537, 100 003 and 131 073 leaves match a float64 cumsum, as the small ones.

    A plain loop over three fixed cases: each takes a fraction of a second on
    the reference, so a few, always the same, are what the budget allows; the
    generated sizes stop at 4096. (Not ``@example``s: ``drlspec verify``
    imports the module before it loads its profile, and explicit examples
    keep the import-time default deadline of 200 ms.)
    """
    for capacity, pattern, clear_tail, seed in LARGE_TREES:
        try:
            check_filled_overwritten_cleared(impl, device, capacity, pattern, clear_tail, seed)
        except AssertionError as error:
            raise AssertionError(
                f"capacity {capacity}, pattern {pattern!r}, clear_tail {clear_tail}, seed {seed}: "
                f"{error}"
            ) from None
