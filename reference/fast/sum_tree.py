"""The sum tree with its batch operations compiled: one pass per element, no temporaries.

The reference (:class:`drlspec.replay.SumTree`) vectorises over the batch
with numpy: each of the ``depth`` levels costs a few numpy calls on ``[K]``
arrays, and ``update`` sorts the indices to make the last write win. Here the
same tree (same layout, same descent rule, node values recomputed from their
children, never adjusted by deltas) runs its loops compiled with numba:
``update`` writes the batch in order, so the last write wins without a sort,
and walks up from each written leaf.

Seed: :six: Prioritized Experience Replay. Paper: Schaul et al. (2016),
Section 3.3 and Appendix B.2.1.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from drlspec.replay import (
    SUM_TREE_OVERFLOW,
    as_numpy,
    check_finite_reals,
    check_indices,
    check_positive_count,
)

__all__ = ["SumTree"]


@numba.njit(cache=True, nogil=True)
def _first_outside(values, low, high):
    """The first position whose value is not in ``[low, high]`` (NaN included), or -1."""
    for k in range(values.shape[0]):
        if not (low <= values[k] <= high):
            return k
    return -1


@numba.njit(cache=True, nogil=True)
def _update(tree, size, indices, priorities):
    for k in range(indices.shape[0]):
        node = indices[k] + size
        tree[node] = priorities[k]
        # Recompute every ancestor from its two children: no drift, and a
        # subtree of zeros sums to exactly 0.
        node >>= 1
        while node >= 1:
            tree[node] = tree[2 * node] + tree[2 * node + 1]
            node >>= 1


@numba.njit(cache=True, nogil=True)
def _find(tree, depth, size, prefix_sums, out):
    for k in range(prefix_sums.shape[0]):
        u = prefix_sums[k]
        node = 1
        for _ in range(depth):
            left = 2 * node
            # Ties go right; an empty right subtree is never entered.
            if u >= tree[left] and tree[left + 1] > 0:
                u -= tree[left]
                node = left + 1
            else:
                node = left
        out[k] = node - size


class SumTree:
    r"""A binary tree over ``capacity`` non-negative priorities (contract ``sum_tree``), compiled.

    ``update(indices[K], priorities[K])`` (last write wins), ``total()``,
    ``find(prefix_sums[K]) -> indices[K]`` with
    ``sum_{j<i} p_j <= u <= sum_{j<=i} p_j`` and ``p_i > 0``, ``get(indices[K])``.
    Layout, descent and entry checks are those of
    :class:`drlspec.replay.SumTree`; arguments are torch tensors or numpy
    arrays, results numpy arrays (``int64`` indices, ``float64`` priorities).

    Seed: :six: Prioritized Experience Replay. Paper: Schaul et al. (2016), Appendix B.2.1.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = check_positive_count("capacity", capacity)
        self.depth = (self.capacity - 1).bit_length()
        self.size = 1 << self.depth
        self._tree = np.zeros(2 * self.size, dtype=np.float64)

    def __len__(self) -> int:
        return self.capacity

    def _indices(self, indices: Any) -> np.ndarray:
        """As the reference's ``check_indices``, with the range test compiled (one pass)."""
        array = as_numpy("indices", indices)
        if array.dtype != np.int64 or array.ndim != 1:
            return check_indices("indices", array, self.capacity)
        position = _first_outside(array, 0, self.capacity - 1)
        if position >= 0:
            raise ValueError(
                f"indices must lie in [0, {self.capacity}), got {int(array[position])} "
                f"at position {position}"
            )
        return np.ascontiguousarray(array)

    def update(self, indices: Any, priorities: Any) -> None:
        """Set ``priority[indices[k]] = priorities[k]`` in order (the last write wins).

        Refusals as the reference's, with the tree unchanged: also a batch after which the
        priorities' sum would overflow (``total()`` infinite).
        """
        indices = self._indices(indices)
        array = as_numpy("priorities", priorities)
        if array.dtype == np.float64 and array.shape == indices.shape:
            # Finite and non-negative in one compiled pass; errors worded by the reference's checks.
            if _first_outside(array, 0.0, np.inf) >= 0 or not np.isfinite(array.max(initial=0)):
                array = check_finite_reals("priorities", array, indices.shape[0])
                raise ValueError("priorities must be non-negative")
        else:
            array = check_finite_reals("priorities", array, indices.shape[0])
            if (array < 0).any():
                raise ValueError("priorities must be non-negative")
        if indices.size:
            previous = self._tree[indices + self.size]  # a copy (fancy indexing)
            _update(self._tree, self.size, indices, np.ascontiguousarray(array))
            # The root bounds every node, so a finite root means a finite tree.
            if not np.isfinite(self._tree[1]):
                # Read before any write, so duplicates restore the same old value;
                # nodes are recomputed from children, so the tree is restored bit for bit.
                _update(self._tree, self.size, indices, previous)
                raise ValueError(SUM_TREE_OVERFLOW)

    def total(self) -> float:
        """The sum of all priorities (the root)."""
        return float(self._tree[1])

    def get(self, indices: Any) -> np.ndarray:
        """``[K]`` float64: the priorities last written at ``indices`` (0 if never written)."""
        return self._tree[self._indices(indices) + self.size]

    def find(self, prefix_sums: Any) -> np.ndarray:
        """``[K]`` int64: for each ``u`` in ``[0, total()]``, the leaf whose interval holds it."""
        u = as_numpy("prefix_sums", prefix_sums)
        if u.dtype != np.float64 or u.ndim != 1:
            u = check_finite_reals("prefix_sums", u)
        total = self._tree[1]
        if not total > 0:
            raise ValueError("find needs a tree with total() > 0; every priority is zero")
        bad = _first_outside(u, 0.0, total)
        if bad >= 0:
            check_finite_reals("prefix_sums", u)  # NaN and inf get the reference's message
            raise ValueError(
                f"prefix_sums must lie in [0, total()] = [0, {total!r}], "
                f"got {u[bad]!r} at position {bad}"
            )
        out = np.empty(u.shape[0], dtype=np.int64)
        _find(self._tree, self.depth, self.size, np.ascontiguousarray(u), out)
        return out
