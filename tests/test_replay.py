"""Unit tests of reference/replay.py beyond the contracts.

The contracts' meaning (sum_tree, per_probabilities, importance_weights) is
pinned by the property modules; here: the reference's own promises (input
validation that leaves state unchanged, no drift in the tree's sums, a
capacity of a million) and the two replay buffers, which are not contracts.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from gymnasium import spaces

from drlspec.replay import (
    PrioritizedReplayBatch,
    PrioritizedReplayBuffer,
    ReplayBatch,
    ReplayBuffer,
    SumTree,
    importance_weights,
    per_probabilities,
)

# --------------------------------------------------------------------------
# SumTree: validation, drift, scale
# --------------------------------------------------------------------------


def _filled_tree(capacity: int = 5) -> SumTree:
    tree = SumTree(capacity)
    tree.update(np.arange(capacity), np.arange(capacity, dtype=np.float64) * 0.1)
    return tree


def _state(tree: SumTree) -> tuple[float, list[float]]:
    return tree.total(), tree.get(np.arange(tree.capacity)).tolist()


@pytest.mark.parametrize("capacity", [0, -3])
def test_sum_tree_rejects_non_positive_capacity(capacity):
    with pytest.raises(ValueError, match="capacity"):
        SumTree(capacity)


@pytest.mark.parametrize("capacity", [2.0, True, "8"])
def test_sum_tree_rejects_non_integer_capacity(capacity):
    with pytest.raises(TypeError, match="capacity"):
        SumTree(capacity)


@pytest.mark.parametrize(
    ("indices", "priorities", "error", "name"),
    [
        (np.array([0, 5]), np.array([1.0, 1.0]), ValueError, "indices"),
        (np.array([-1]), np.array([1.0]), ValueError, "indices"),
        (np.array([[0, 1]]), np.array([[1.0, 1.0]]), ValueError, "indices"),
        (np.array([0.0]), np.array([1.0]), TypeError, "indices"),
        (np.array([True]), np.array([1.0]), TypeError, "indices"),
        ([0, 1], np.array([1.0, 1.0]), TypeError, "indices"),
        (np.array([0, 1]), np.array([1.0, -0.5]), ValueError, "priorities"),
        (np.array([0, 1]), np.array([1.0, np.nan]), ValueError, "priorities"),
        (np.array([0, 1]), np.array([np.inf, 1.0]), ValueError, "priorities"),
        (np.array([0, 1]), np.array([1.0]), ValueError, "priorities"),
        (np.array([0, 1]), np.array([[1.0, 1.0]]), ValueError, "priorities"),
        (np.array([0]), np.array([True]), TypeError, "priorities"),
        (torch.tensor([1, 2]), torch.tensor([1.0, float("nan")]), ValueError, "priorities"),
    ],
)
def test_sum_tree_update_rejects_bad_input_and_leaves_the_tree_unchanged(
    indices, priorities, error, name
):
    tree = _filled_tree()
    before = _state(tree)
    with pytest.raises(error, match=name):
        tree.update(indices, priorities)
    assert _state(tree) == before


def test_sum_tree_update_that_would_overflow_total_is_refused_and_undone():
    """Two leaves of 1e308 sum past the largest float64: refused naming ``priorities`` and
    the overflow (not a ``prefix_sums`` the user never passed, later), tree bit for bit as
    before, and still usable."""
    tree = _filled_tree()
    tree.update(np.array([1]), np.array([1e308]))
    before, nodes = _state(tree), tree._tree.copy()
    with pytest.raises(
        ValueError, match=r"^priorities must keep total\(\) finite: .* largest float64"
    ):
        tree.update(np.array([3]), np.array([1e308]))
    assert _state(tree) == before
    np.testing.assert_array_equal(tree._tree, nodes)
    assert tree.find(np.array([tree.total()])).tolist() == [4]


def test_sum_tree_near_the_largest_float_is_fine_while_the_total_is_finite():
    tree = SumTree(3)
    tree.update(np.array([0, 2]), np.array([8e307, 8e307]))
    assert tree.total() == 1.6e308
    assert tree.find(np.array([0.0, 1e308])).tolist() == [0, 2]


@pytest.mark.parametrize(
    ("prefix_sums", "name"),
    [
        (np.array([-1e-9]), "prefix_sums"),
        (np.array([1.0 + 1e-9]), "prefix_sums"),  # total is 1.0
        (np.array([np.nan]), "prefix_sums"),
        (np.array([[0.5]]), "prefix_sums"),
        (np.array([1]), None),  # integers are real numbers: accepted
    ],
)
def test_sum_tree_find_rejects_prefix_sums_outside_zero_to_total(prefix_sums, name):
    tree = SumTree(4)
    tree.update(np.array([0, 3]), np.array([0.25, 0.75]))
    if name is None:
        assert tree.find(prefix_sums).tolist() == [3]
        return
    with pytest.raises(ValueError, match=name):
        tree.find(prefix_sums)


def test_sum_tree_find_on_an_empty_tree_is_an_error():
    tree = SumTree(3)
    with pytest.raises(ValueError, match="total"):
        tree.find(np.array([0.0]))
    tree.update(np.array([1]), np.array([2.0]))
    tree.update(np.array([1]), np.array([0.0]))
    with pytest.raises(ValueError, match="total"):
        tree.find(np.array([0.0]))


def test_sum_tree_get_rejects_out_of_range_indices():
    with pytest.raises(ValueError, match="indices"):
        _filled_tree().get(np.array([5]))


def test_sum_tree_find_at_total_gives_the_last_positive_leaf():
    tree = SumTree(6)
    tree.update(np.arange(6), np.array([0.0, 0.1, 0.2, 0.3, 0.0, 0.0]))
    total = tree.total()
    found = tree.find(np.array([0.0, np.nextafter(total, 0.0), total]))
    assert found.tolist() == [1, 3, 3]


def test_sum_tree_does_not_drift_after_many_updates():
    """Parents are recomputed, so residue of 10**4 non-dyadic updates never survives."""
    rng = np.random.default_rng(0)
    capacity = 1000
    tree = SumTree(capacity)
    for _ in range(10_000):
        indices = rng.integers(0, capacity, size=8)
        tree.update(indices, rng.choice([0.0, 0.1, 0.2, 0.3, 0.7], size=8) * rng.random())
    others = np.delete(np.arange(capacity), 7)
    tree.update(others, np.zeros(capacity - 1))
    tree.update(np.array([7]), np.array([0.1]))
    # Exactly the one leaf (not 0.1 +- residue), and every u lands on it.
    assert tree.total() == 0.1
    assert tree.find(np.array([0.0, 0.05, np.nextafter(0.1, 0.0), 0.1])).tolist() == [7] * 4
    tree.update(np.array([7]), np.array([0.0]))
    assert tree.total() == 0.0


def test_sum_tree_at_a_million_leaves_agrees_with_cumsum():
    """Depth 20, a capacity just above a power of two: find matches a sorted-cumsum search."""
    rng = np.random.default_rng(1)
    capacity = 2**20 + 3
    priorities = rng.random(capacity) * (rng.random(capacity) < 0.7)
    tree = SumTree(capacity)
    tree.update(np.arange(capacity), priorities)
    exact = math.fsum(priorities.tolist())
    # Summing 2**20 non-negative terms pairwise errs by about depth * 2**-53 relative.
    assert abs(tree.total() - exact) <= 1e-12 * exact
    prefix_sums = rng.random(10_000) * tree.total()
    found = tree.find(prefix_sums)
    assert (priorities[found] > 0).all()
    cumsum = np.cumsum(priorities)
    tolerance = 1e-9 * exact  # np.cumsum's sequential rounding over 10**6 terms
    assert (cumsum[found] - priorities[found] - tolerance <= prefix_sums).all()
    assert (prefix_sums <= cumsum[found] + tolerance).all()


def test_sum_tree_accepts_torch_and_numpy_alike():
    from_numpy, from_torch = SumTree(7), SumTree(7)
    from_numpy.update(np.array([6, 2, 6]), np.array([1.0, 2.0, 3.0]))
    from_torch.update(torch.tensor([6, 2, 6]), torch.tensor([1.0, 2.0, 3.0]))
    assert _state(from_numpy) == _state(from_torch) == (5.0, [0, 0, 2.0, 0, 0, 0, 3.0])
    u = np.array([0.0, 2.0, 4.9])
    assert from_numpy.find(u).tolist() == from_torch.find(torch.from_numpy(u)).tolist() == [2, 6, 6]


# --------------------------------------------------------------------------
# per_probabilities, importance_weights: validation
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("priorities", "alpha", "error", "name"),
    [
        (torch.tensor([1.0, -1.0]), 0.5, ValueError, "priorities"),
        (torch.tensor([1.0, float("nan")]), 0.5, ValueError, "priorities"),
        (torch.tensor([1.0, float("inf")]), 0.5, ValueError, "priorities"),
        (torch.tensor([[1.0, 2.0]]), 0.5, ValueError, "priorities"),
        (torch.tensor([]), 0.5, ValueError, "priorities"),
        (torch.tensor([0.0, 0.0]), 0.5, ValueError, "priorities"),
        (torch.tensor([1, 2]), 0.5, TypeError, "priorities"),
        (np.array([1.0, 2.0]), 0.5, TypeError, "priorities"),
        (torch.tensor([1.0, 2.0]), -0.1, ValueError, "alpha"),
        (torch.tensor([1.0, 2.0]), float("nan"), ValueError, "alpha"),
        (torch.tensor([1.0, 2.0]), "0.5", TypeError, "alpha"),
    ],
)
def test_per_probabilities_rejects_bad_input(priorities, alpha, error, name):
    with pytest.raises(error, match=name):
        per_probabilities(priorities, alpha)


def test_per_probabilities_all_zero_at_alpha_zero_is_uniform():
    assert per_probabilities(torch.zeros(4), 0.0).tolist() == [0.25] * 4


def test_per_probabilities_does_not_overflow_for_large_alpha():
    probabilities = per_probabilities(torch.tensor([1e30, 2e30], dtype=torch.float32), 3.0)
    assert torch.allclose(probabilities, torch.tensor([1 / 9, 8 / 9]))


@pytest.mark.parametrize(
    ("probabilities", "size", "beta", "error", "name"),
    [
        (torch.tensor([0.5, 0.0]), 10, 0.5, ValueError, "probabilities"),
        (torch.tensor([0.5, 1.5]), 10, 0.5, ValueError, "probabilities"),
        (torch.tensor([0.5, float("nan")]), 10, 0.5, ValueError, "probabilities"),
        (torch.tensor([[0.5]]), 10, 0.5, ValueError, "probabilities"),
        (torch.tensor([]), 10, 0.5, ValueError, "probabilities"),
        (torch.tensor([0.5]), 0, 0.5, ValueError, "size"),
        (torch.tensor([0.5]), 2.0, 0.5, TypeError, "size"),
        (torch.tensor([0.5]), 10, 1.5, ValueError, "beta"),
        (torch.tensor([0.5]), 10, -0.1, ValueError, "beta"),
    ],
)
def test_importance_weights_rejects_bad_input(probabilities, size, beta, error, name):
    with pytest.raises(error, match=name):
        importance_weights(probabilities, size, beta)


# --------------------------------------------------------------------------
# ReplayBuffer
# --------------------------------------------------------------------------

OBS = (2, 3)


def _transition(i: int) -> tuple:
    """Transition ``i``: every field encodes ``i``, so a mixed-up row is visible."""
    return (
        np.full(OBS, i, dtype=np.float32),
        i % 4,
        float(i),
        np.full(OBS, i + 0.5, dtype=np.float32),
        i % 3 == 0,
        i % 5 == 0,
    )


def _fill(buffer: ReplayBuffer, ids) -> None:
    for i in ids:
        buffer.add(*_transition(i))


def _ids(batch: ReplayBatch) -> list[int]:
    """The transition ids of a batch, after checking each row is one whole transition."""
    ids = batch.rewards.to(torch.int64).tolist()
    for row, i in enumerate(ids):
        observation, action, _, next_observation, terminated, truncated = _transition(i)
        assert torch.equal(batch.observations[row].cpu(), torch.from_numpy(observation))
        assert torch.equal(batch.next_observations[row].cpu(), torch.from_numpy(next_observation))
        assert batch.actions[row].item() == action
        assert batch.terminated[row].item() == terminated
        assert batch.truncated[row].item() == truncated
    return ids


def test_sample_returns_whole_stored_transitions_without_replacement():
    buffer = ReplayBuffer(50, OBS)
    _fill(buffer, range(30))
    rng = np.random.default_rng(0)
    for batch_size in (1, 7, 30):
        for _ in range(20):
            ids = _ids(buffer.sample(batch_size, rng))
            assert len(ids) == len(set(ids)) == batch_size
            assert set(ids) <= set(range(30))
    assert sorted(_ids(buffer.sample(30, rng))) == list(range(30))


def test_fifo_eviction_keeps_the_newest_capacity_transitions():
    buffer = ReplayBuffer(4, OBS)
    _fill(buffer, range(3))
    assert len(buffer) == 3
    _fill(buffer, range(3, 11))
    assert len(buffer) == 4
    assert sorted(_ids(buffer.sample(4, np.random.default_rng(0)))) == [7, 8, 9, 10]


def test_capacity_one_holds_the_latest_transition():
    buffer = ReplayBuffer(1, OBS)
    _fill(buffer, range(5))
    assert _ids(buffer.sample(1, np.random.default_rng(0))) == [4]


def _columns(ids) -> list[np.ndarray]:
    fields = list(zip(*(_transition(i) for i in ids), strict=True))
    return [np.asarray(f) for f in fields]


@pytest.mark.parametrize("chunks", [[3], [2, 2], [1, 4, 2], [9], [5, 6, 1], [12]])
def test_batch_add_equals_sequential_adds(chunks):
    """A vector-env step of N transitions is N adds in order, across wrap-around too."""
    capacity = 5
    sequential, batched = ReplayBuffer(capacity, OBS), ReplayBuffer(capacity, OBS)
    start = 0
    for n in chunks:
        ids = list(range(start, start + n))
        _fill(sequential, ids)
        batched.add_batch(*_columns(ids))
        start += n
    assert len(sequential) == len(batched)
    a = sequential.sample(len(sequential), np.random.default_rng(3))
    b = batched.sample(len(batched), np.random.default_rng(3))
    for field in ("observations", "actions", "rewards", "next_observations"):
        assert torch.equal(getattr(a, field), getattr(b, field)), field
    assert _ids(a) == _ids(b)
    # Sequential adds then keep going identically: the write position agrees too.
    _fill(sequential, [100])
    batched.add_batch(*_columns([100]))
    assert _ids(sequential.sample(len(sequential), np.random.default_rng(4))) == _ids(
        batched.sample(len(batched), np.random.default_rng(4))
    )


def test_terminated_and_truncated_are_kept_apart():
    buffer = ReplayBuffer(4, (1,))
    flags = [(False, False), (True, False), (False, True), (True, True)]
    for i, (terminated, truncated) in enumerate(flags):
        buffer.add(
            np.array([i], np.float32), 0, float(i), np.array([i], np.float32), terminated, truncated
        )
    batch = buffer.sample(4, np.random.default_rng(0))
    for row, i in enumerate(batch.rewards.to(torch.int64).tolist()):
        assert (batch.terminated[row].item(), batch.truncated[row].item()) == flags[i]
    assert batch.terminated.dtype == batch.truncated.dtype == torch.bool


def test_dtypes_and_shapes_are_preserved():
    images = ReplayBuffer(
        3, (4, 4), action_shape=(2,), observation_dtype=np.uint8, action_dtype=np.float32
    )
    frame = np.arange(16, dtype=np.uint8).reshape(4, 4)
    images.add(frame, np.array([0.5, -0.5]), 1, frame + 1, 0, 1.0)
    batch = images.sample(1, np.random.default_rng(0))
    assert batch.observations.dtype == torch.uint8
    assert batch.observations.shape == (1, 4, 4)
    assert torch.equal(batch.next_observations[0], torch.from_numpy(frame + 1))
    assert batch.actions.dtype == torch.float32
    assert batch.actions.tolist() == [[0.5, -0.5]]
    assert batch.rewards.dtype == torch.float32
    assert batch.terminated.tolist() == [False] and batch.truncated.tolist() == [True]


def test_torch_inputs_are_accepted():
    buffer = ReplayBuffer(2, (3,))
    buffer.add(
        torch.ones(3),
        torch.tensor(1),
        torch.tensor(2.0),
        torch.zeros(3),
        torch.tensor(True),
        torch.tensor(False),
    )
    batch = buffer.sample(1, np.random.default_rng(0))
    assert batch.observations.tolist() == [[1.0, 1.0, 1.0]] and batch.rewards.tolist() == [2.0]


def test_from_spaces():
    box = spaces.Box(low=0, high=255, shape=(3, 2), dtype=np.uint8)
    discrete = ReplayBuffer.from_spaces(8, box, spaces.Discrete(4))
    assert discrete.observation_shape == (3, 2) and discrete.action_shape == ()
    continuous = ReplayBuffer.from_spaces(8, box, spaces.Box(-1, 1, shape=(2,), dtype=np.float32))
    assert continuous.action_shape == (2,)
    continuous.add(
        np.zeros((3, 2), np.uint8),
        np.array([0.1, 0.2], np.float32),
        0.0,
        np.zeros((3, 2), np.uint8),
        False,
        False,
    )
    assert continuous.sample(1, np.random.default_rng(0)).actions.dtype == torch.float32


def test_sample_places_every_tensor_on_the_requested_device():
    buffer = PrioritizedReplayBuffer(4, OBS)
    _fill(buffer, range(4))
    for batch in (
        ReplayBuffer.sample(buffer, 2, np.random.default_rng(0), device="meta"),
        buffer.sample(2, np.random.default_rng(0), device="meta"),
    ):
        for name, value in vars(batch).items():
            assert value.device.type == "meta", name


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device present")
def test_sample_on_cuda():
    buffer = PrioritizedReplayBuffer(4, OBS)
    _fill(buffer, range(4))
    batch = buffer.sample(3, np.random.default_rng(0), device="cuda")
    assert all(value.is_cuda for value in vars(batch).values())
    _ids(batch)
    buffer.update_priorities(batch.indices, torch.ones(3, device="cuda"))


@pytest.mark.parametrize("capacity", [0, -1])
def test_non_positive_capacity_is_rejected(capacity):
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(capacity, OBS)


def test_sampling_errors():
    buffer = ReplayBuffer(10, OBS)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="batch_size"):
        buffer.sample(1, rng)  # empty
    _fill(buffer, range(3))
    with pytest.raises(ValueError, match="batch_size 4 is larger than the 3"):
        buffer.sample(4, rng)
    with pytest.raises(ValueError, match="batch_size"):
        buffer.sample(0, rng)
    with pytest.raises(TypeError, match="rng"):
        buffer.sample(2, np.random.RandomState(0))
    with pytest.raises(TypeError, match="rng"):
        buffer.sample(2, 0)


def _replace(i: int, position: int, value) -> tuple:
    fields = list(_transition(i))
    fields[position] = value
    return tuple(fields)


@pytest.mark.parametrize(
    ("position", "value", "error", "name"),
    [
        (0, np.zeros((3, 2), np.float32), ValueError, "observation"),
        (0, np.zeros((1, *OBS), np.float32), ValueError, "observation"),
        (0, np.full(OBS, np.nan, np.float32), ValueError, "observation"),
        (1, np.array([1, 2]), ValueError, "action"),
        (1, 1.5, TypeError, "action"),
        (2, float("nan"), ValueError, "reward"),
        (2, float("inf"), ValueError, "reward"),
        (2, 1e300, ValueError, "reward"),  # finite in float64, inf once stored as float32
        (2, np.array([1.0]), ValueError, "reward"),
        (3, np.full(OBS, np.inf, np.float32), ValueError, "next_observation"),
        (3, np.zeros(6, np.float32), ValueError, "next_observation"),
        (4, 2, ValueError, "terminated"),
        (5, 0.5, ValueError, "truncated"),
        (5, "yes", ValueError, "truncated"),
    ],
)
def test_bad_transitions_are_rejected_and_leave_the_buffer_unchanged(position, value, error, name):
    buffer = ReplayBuffer(3, OBS)
    _fill(buffer, range(3))
    with pytest.raises(error, match=name):
        buffer.add(*_replace(3, position, value))
    assert len(buffer) == 3
    assert sorted(_ids(buffer.sample(3, np.random.default_rng(0)))) == [0, 1, 2]
    buffer.add(*_transition(3))  # the write position did not move either
    assert sorted(_ids(buffer.sample(3, np.random.default_rng(0)))) == [1, 2, 3]


def test_bad_batches_are_rejected_whole():
    buffer = ReplayBuffer(8, OBS)
    columns = _columns(range(4))
    columns[2] = columns[2].copy()
    columns[2][3] = np.nan
    with pytest.raises(ValueError, match="rewards"):
        buffer.add_batch(*columns)
    columns = _columns(range(4))
    columns[3] = columns[3][:3]
    with pytest.raises(ValueError, match="next_observations"):
        buffer.add_batch(*columns)
    columns = _columns(range(4))
    columns[2] = columns[2][:, None]
    with pytest.raises(ValueError, match="rewards"):
        buffer.add_batch(*columns)
    assert len(buffer) == 0


# --------------------------------------------------------------------------
# PrioritizedReplayBuffer
# --------------------------------------------------------------------------


def test_new_transitions_get_the_largest_priority_seen():
    buffer = PrioritizedReplayBuffer(8, OBS, alpha=0.5, eps=0.0)
    _fill(buffer, range(3))
    assert buffer.tree.get(np.arange(3)).tolist() == [1.0] * 3  # p = 1 before any update
    buffer.update_priorities(np.array([0, 1]), np.array([-4.0, 0.25]))
    _fill(buffer, [3])
    # Stored p^alpha: |-4|^0.5 = 2 for the largest p seen, 4.
    assert buffer.tree.get(np.arange(4)).tolist() == [2.0, 0.5, 1.0, 2.0]
    buffer.update_priorities(np.array([0]), np.array([0.0]))
    _fill(buffer, [4])  # the maximum is of all priorities seen, not of those stored now
    assert buffer.tree.get(np.array([4])).tolist() == [2.0]


def test_alpha_is_applied_once():
    """P(i) of the buffer is per_probabilities of the priorities |delta| + eps, alpha once."""
    alpha, eps = 0.6, 0.01
    buffer = PrioritizedReplayBuffer(16, OBS, alpha=alpha, eps=eps)
    _fill(buffer, range(20))  # wraps around
    td_errors = np.linspace(-3.0, 2.0, 16)
    buffer.update_priorities(np.arange(16), td_errors)
    expected = per_probabilities(torch.from_numpy(np.abs(td_errors) + eps), alpha)
    actual = torch.from_numpy(buffer.probabilities(np.arange(16)))
    torch.testing.assert_close(actual, expected, rtol=1e-12, atol=0.0)


def test_duplicate_indices_in_an_update_last_write_wins():
    buffer = PrioritizedReplayBuffer(4, OBS, alpha=1.0, eps=0.0)
    _fill(buffer, range(4))
    buffer.update_priorities(torch.tensor([2, 2, 2]), torch.tensor([5.0, 1.0, 3.0]))
    assert buffer.tree.get(np.array([2])).tolist() == [3.0]
    assert buffer.tree.total() == 6.0
    assert buffer.max_priority == 5.0


@pytest.mark.parametrize(
    ("indices", "td_errors", "error", "name"),
    [
        (np.array([0, 1]), np.array([1.0, np.nan]), ValueError, "td_errors"),
        (np.array([0, 1]), np.array([-np.inf, 1.0]), ValueError, "td_errors"),
        (np.array([0, 1]), np.array([1.0]), ValueError, "td_errors"),
        (np.array([0, 3]), np.array([1.0, 1.0]), ValueError, "indices"),  # only 3 stored
        (np.array([0.0]), np.array([1.0]), TypeError, "indices"),
    ],
)
def test_update_priorities_rejects_bad_input_and_leaves_the_buffer_unchanged(
    indices, td_errors, error, name
):
    buffer = PrioritizedReplayBuffer(8, OBS)
    _fill(buffer, range(3))
    buffer.update_priorities(np.array([1]), np.array([2.0]))
    before = (buffer.probabilities(np.arange(3)).tolist(), buffer.max_priority)
    with pytest.raises(error, match=name):
        buffer.update_priorities(indices, td_errors)
    assert (buffer.probabilities(np.arange(3)).tolist(), buffer.max_priority) == before


def test_update_priorities_refuses_td_errors_that_could_overflow_the_tree():
    """alpha = 1, capacity 8: a TD error of 1e308 would leave no room for a full buffer
    (new transitions get the largest priority seen); refused naming ``td_errors``, buffer
    unchanged, and it still samples."""
    buffer = PrioritizedReplayBuffer(8, OBS, alpha=1.0)
    _fill(buffer, range(3))
    buffer.update_priorities(np.array([1]), np.array([2.0]))
    before = (buffer.probabilities(np.arange(3)).tolist(), buffer.max_priority)
    for td_errors in (np.array([1.0, 1e308]), np.array([2e307, 1.0])):
        with pytest.raises(ValueError, match=r"^td_errors must give priorities .* at position"):
            buffer.update_priorities(np.array([0, 2]), td_errors)
        assert (buffer.probabilities(np.arange(3)).tolist(), buffer.max_priority) == before
    # Just below the bound: accepted, and a full buffer of such priorities still samples.
    largest = float(np.finfo(np.float64).max) / 2 / 8
    buffer.update_priorities(np.array([0]), np.array([largest * 0.99]))
    _fill(buffer, range(3, 8))
    buffer.update_priorities(np.arange(8), np.full(8, largest * 0.99))
    assert math.isfinite(buffer.tree.total())
    assert len(buffer.sample(4, np.random.default_rng(0)).indices) == 4


@pytest.mark.parametrize("alpha", [np.float32(0.6), np.float16(1.0), np.array(0.5), np.int64(1)])
def test_prioritized_buffer_takes_numpy_hyperparameters(alpha):
    buffer = PrioritizedReplayBuffer(np.int64(8), OBS, alpha=alpha, beta_steps=np.int32(10))
    assert buffer.alpha == float(alpha)
    assert buffer.capacity == 8 and type(buffer.capacity) is int


@pytest.mark.parametrize(
    ("keyword", "value", "error"),
    [
        ("alpha", -0.5, ValueError),
        ("eps", -1e-6, ValueError),
        ("eps", float("nan"), ValueError),
        ("beta0", 1.5, ValueError),
        ("beta_steps", 0, ValueError),
        ("beta_steps", 10.0, TypeError),
    ],
)
def test_prioritized_buffer_rejects_bad_hyperparameters(keyword, value, error):
    with pytest.raises(error, match=keyword):
        PrioritizedReplayBuffer(8, OBS, **{keyword: value})


def test_beta_anneals_linearly_and_weights_follow_it():
    buffer = PrioritizedReplayBuffer(8, OBS, alpha=1.0, beta0=0.4, beta_steps=4, eps=0.0)
    _fill(buffer, range(8))
    buffer.update_priorities(np.arange(8), np.arange(1.0, 9.0))
    rng = np.random.default_rng(0)
    for step, beta in enumerate([0.4, 0.55, 0.7, 0.85, 1.0, 1.0]):
        assert buffer.beta == pytest.approx(beta)
        batch = buffer.sample(4, rng)
        assert isinstance(batch, PrioritizedReplayBatch)
        assert batch.indices.dtype == torch.int64 and batch.weights.dtype == torch.float32
        probabilities = torch.from_numpy(buffer.probabilities(batch.indices))
        expected = importance_weights(probabilities, 8, beta).float()
        assert torch.equal(batch.weights, expected), step
        # The row at each index is that transition: the index is where it is stored.
        assert _ids(batch) == batch.indices.tolist()


def test_alpha_zero_samples_uniformly_with_unit_weights():
    buffer = PrioritizedReplayBuffer(6, OBS, alpha=0.0)
    _fill(buffer, range(6))
    buffer.update_priorities(np.arange(6), np.array([0.0, 1.0, 10.0, 100.0, 0.5, 3.0]))
    assert buffer.probabilities(np.arange(6)).tolist() == pytest.approx([1 / 6] * 6)
    assert buffer.sample(6, np.random.default_rng(0)).weights.tolist() == [1.0] * 6


def test_zero_priority_is_never_sampled_when_eps_is_zero():
    buffer = PrioritizedReplayBuffer(6, OBS, alpha=0.7, eps=0.0)
    _fill(buffer, range(6))
    buffer.update_priorities(np.arange(6), np.array([0.0, 1.0, 0.0, 2.0, 0.0, 0.0]))
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        seen |= set(buffer.sample(6, rng).indices.tolist())
    assert seen == {1, 3}
    buffer.update_priorities(np.array([1, 3]), np.zeros(2))
    with pytest.raises(ValueError, match="zero"):
        buffer.sample(1, rng)


def test_each_batch_is_stratified():
    """One prefix sum per segment: every batch hits transition i B*P(i) times, within 2."""
    buffer = PrioritizedReplayBuffer(80, OBS, alpha=1.0, eps=0.0)
    _fill(buffer, range(80))
    priorities = np.zeros(80)
    priorities[:10] = [1.0, 0.0, 2.0, 3.0, 0.5, 8.0, 0.0, 1.5, 4.0, 0.25]
    buffer.update_priorities(np.arange(80), priorities)
    rng = np.random.default_rng(0)
    expected = 64 * priorities / priorities.sum()
    for _ in range(100):
        counts = np.bincount(buffer.sample(64, rng).indices.numpy(), minlength=80)
        assert (np.abs(counts - expected) <= 2).all(), counts


def _chi2_survival(statistic: float, dof: int) -> float:
    """P(X >= statistic) for X ~ chi-square(dof): 1 - regularised lower incomplete gamma.

    The series ``gamma(a, x) = x^a e^-x sum_n x^n / (a (a+1) ... (a+n))`` converges
    for every x; scipy is not a dependency, so it is written out here.
    """
    a, x = dof / 2.0, statistic / 2.0
    term = total = 1.0 / a
    n = 0
    while term > 1e-17 * total:
        n += 1
        term *= x / (a + n)
        total += term
    lower = math.exp(a * math.log(x) - x - math.lgamma(a)) * total
    return max(0.0, 1.0 - lower)


def test_chi2_survival_matches_closed_forms():
    # dof 2: exp(-x/2); dof 4: (1 + x/2) exp(-x/2). Computed as 1 - lower, the
    # result is accurate to ~1e-15 absolute: ample against a 1e-6 threshold.
    for x in (0.5, 3.0, 20.0, 33.0, 60.0):
        assert _chi2_survival(x, 2) == pytest.approx(math.exp(-x / 2), rel=0, abs=1e-12)
        assert _chi2_survival(x, 4) == pytest.approx((1 + x / 2) * math.exp(-x / 2), abs=1e-12)


def test_sampling_frequencies_match_the_probabilities():
    """Over many batches, counts pass a chi-square test against P(i) at a 1e-6 false-alarm rate.

    With a fixed seed the outcome is deterministic; the threshold says how
    unlikely a false alarm would be for a fresh seed (stratification only
    lowers the variance, so the test is conservative). A buffer that applied
    alpha twice (P ∝ p^0.36 instead of p^0.6) gives a statistic above
    200 here (p-value below 1e-30); the right one gives about 2.6.
    """
    alpha = 0.6
    buffer = PrioritizedReplayBuffer(12, OBS, alpha=alpha, eps=0.0)
    _fill(buffer, range(12))
    priorities = np.array([0.3, 1.0, 2.0, 5.0, 0.1, 1.0, 3.0, 0.7, 9.0, 0.2, 1.2, 4.0])
    buffer.update_priorities(np.arange(12), priorities)
    rng = np.random.default_rng(12345)
    counts = np.zeros(12)
    for _ in range(500):
        counts += np.bincount(buffer.sample(7, rng).indices.numpy(), minlength=12)
    expected = counts.sum() * priorities**alpha / (priorities**alpha).sum()
    statistic = float(((counts - expected) ** 2 / expected).sum())
    assert _chi2_survival(statistic, 11) > 1e-6, (statistic, counts, expected)
    twice = counts.sum() * priorities ** (alpha**2) / (priorities ** (alpha**2)).sum()
    assert _chi2_survival(float(((counts - twice) ** 2 / twice).sum()), 11) < 1e-6
