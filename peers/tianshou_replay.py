"""tianshou's prioritized replay as the ``sum_tree``, ``per_probabilities`` and
``importance_weights`` contracts (tianshou 2.0.1, numpy: checked with ``--backend numpy``).

* ``tianshou.data.utils.segtree.SegmentTree`` is the sum tree: ``tree[indices] = p``
  (``__setitem__``), ``tree.reduce()`` (the total), ``tree.get_prefix_sum_idx(u)`` (find)
  and ``tree[indices]`` (get).
* ``tianshou.data.buffer.prio.PrioritizedReplayBuffer`` keeps ``p^alpha`` in such a tree
  (``self.weight``) and samples leaf ``i`` with probability ``weight[i] / weight.reduce()``
  (``sample_indices``, ``prio.py`` lines 63-67). ``update_weight(index, new_weight)``
  (lines 81-91) stores ``(|new_weight| + eps)^alpha`` with ``eps`` float32's machine
  epsilon: tianshou takes TD errors and adds the ``eps`` itself, where the contract's
  caller passes ``p = |delta| + eps``. The adapter passes the contract's priorities as
  ``new_weight``: what it costs is recorded in docs/peers.md.
* ``get_weight(index)`` (lines 69-79) is ``(weight[index] / self._min_prio)^(-beta)``,
  and ``__getitem__`` (line 106) divides by the batch's largest weight
  (``weight_norm = True``, the default). With batch normalisation the factor
  ``_min_prio`` (the smallest priority ever passed, 1 at the start) cancels; without it
  (``weight_norm = False``) the weights are relative to that buffer-wide minimum, a
  different convention from the contract's.
"""

from __future__ import annotations

import numpy as np
from tianshou.data.buffer.prio import PrioritizedReplayBuffer
from tianshou.data.utils.segtree import SegmentTree

from peers.checks import EVERY_PROPERTY, Check

__all__ = ["SumTree", "importance_weights", "per_probabilities"]


class SumTree:
    """``SegmentTree`` under the contract's method names; each method is one call."""

    def __init__(self, capacity: int):
        self._tree = SegmentTree(capacity)

    def update(self, indices, priorities) -> None:
        self._tree[np.asarray(indices)] = np.asarray(priorities)

    def total(self) -> float:
        return float(self._tree.reduce())

    def find(self, prefix_sums):
        return self._tree.get_prefix_sum_idx(np.asarray(prefix_sums))

    def get(self, indices):
        return self._tree[np.asarray(indices)]


def per_probabilities(priorities, alpha):
    """The sampling distribution of a ``PrioritizedReplayBuffer`` after
    ``update_weight(all indices, priorities)``: ``weight[i] / weight.reduce()``."""
    priorities = np.asarray(priorities)
    size = len(priorities)
    buffer = PrioritizedReplayBuffer(size, alpha=alpha, beta=0.0)
    indices = np.arange(size)
    buffer.update_weight(indices, priorities)
    return buffer.weight[indices] / buffer.weight.reduce()


def importance_weights(probabilities, size, beta):
    """``get_weight`` normalised by the batch's largest weight, as ``__getitem__`` does,
    each of the ``B`` sampled transitions on its own leaf holding its (unnormalised)
    probability. ``size`` cancels in tianshou's formula and is not passed."""
    probabilities = np.asarray(probabilities)
    batch = len(probabilities)
    buffer = PrioritizedReplayBuffer(batch, alpha=1.0, beta=beta)
    indices = np.arange(batch)
    buffer.weight[indices] = probabilities
    weight = buffer.get_weight(indices)
    return weight / np.max(weight)


CHECKS = [
    Check(
        "sum_tree",
        "peers.tianshou_replay:SumTree",
        frozenset(
            {
                "test_state_machine",
                "test_find_lands_in_the_interval",
                "test_stratified_find_frequencies_match_priorities",
                "test_whole_trees_against_cumsum",
                "test_large_trees_against_cumsum",
            }
        ),
        "find(0) can return a zero-priority leaf; find writes into its argument",
        backend="numpy",
    ),
    Check(
        "per_probabilities",
        "peers.tianshou_replay:per_probabilities",
        EVERY_PROPERTY,
        "asserts alpha > 0; adds eps to every priority; (1e12)^32 overflows to NaN",
        backend="numpy",
    ),
    Check("importance_weights", "peers.tianshou_replay:importance_weights", backend="numpy"),
]


def _compile() -> None:
    """Compile tianshou's numba kernels now, at import, not inside the first timed call."""
    for dtype in (np.float32, np.float64):
        tree = SumTree(2)
        tree.update(np.arange(2), np.ones(2, dtype=dtype))
        tree.find(np.array([0.5], dtype=dtype))
        per_probabilities(np.ones(2, dtype=dtype), 0.5)
        importance_weights(np.full(2, 0.5, dtype=dtype), 2, 0.5)


_compile()
