"""Wrong sum trees: the mistakes a vectorised (or a textbook) sum tree makes.

Each mutant is a complete class that ``drlspec verify sum_tree`` must reject.
Most share a correct padded power-of-two layout (``_PaddedTree``) and change
one step of it.
"""

import math

import numpy as np
import torch


def _np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


class _PaddedTree:
    """Correct: padded leaves, last write wins, parents recomputed, zero subtrees skipped."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.depth = (capacity - 1).bit_length()
        self.size = 1 << self.depth
        self.tree = np.zeros(2 * self.size)

    def update(self, indices, priorities):
        indices = _np(indices).astype(np.int64)
        priorities = _np(priorities).astype(np.float64)
        nodes = self._write_leaves(indices, priorities)
        self._propagate(nodes, self.depth)

    def _write_leaves(self, indices, priorities):
        unique, first_in_reversed = np.unique(indices[::-1], return_index=True)
        self.tree[unique + self.size] = priorities[len(indices) - 1 - first_in_reversed]
        return unique + self.size

    def _propagate(self, nodes, levels):
        for _ in range(levels):
            nodes = nodes >> 1
            self.tree[nodes] = self.tree[2 * nodes] + self.tree[2 * nodes + 1]

    def total(self):
        return float(self.tree[1])

    def get(self, indices):
        return self.tree[_np(indices).astype(np.int64) + self.size].copy()

    def find(self, prefix_sums):
        u = _np(prefix_sums).astype(np.float64).copy()
        nodes = np.ones(u.shape, dtype=np.int64)
        for _ in range(self.depth):
            left = 2 * nodes
            left_sum = self.tree[left]
            right = self._go_right(u, left_sum, self.tree[left + 1])
            u = self._next_u(u, left_sum, right)
            nodes = left + right
        return nodes - self.size

    def _go_right(self, u, left_sum, right_sum):
        return (u >= left_sum) & (right_sum > 0)

    def _next_u(self, u, left_sum, right):
        return np.where(right, u - left_sum, u)


class DescendsLeftOnTies(_PaddedTree):
    """``u <= left`` goes left, with no check that the subtree is non-empty.

    At ``u = 0`` with leading zero priorities (or any ``u`` equal to an empty
    left subtree's sum) the descent walks into a zero-priority leaf: the
    transition is replayed although its priority says never.
    """

    def _go_right(self, u, left_sum, right_sum):
        return u > left_sum


class RightTurnKeepsPrefix(_PaddedTree):
    """Going right forgets to subtract the left subtree's sum from ``u``."""

    def _next_u(self, u, left_sum, right):
        return u


class DuplicateDeltasAccumulate(_PaddedTree):
    """Vectorised delta update: ``np.add.at`` of ``new - old`` with ``old`` read before writing.

    With an index repeated in one batch, the leaf keeps the last value but
    every ancestor receives the sum of all the deltas, each computed from the
    same old leaf: ``total()`` no longer equals the sum of the leaves.
    """

    def update(self, indices, priorities):
        leaves = _np(indices).astype(np.int64) + self.size
        priorities = _np(priorities).astype(np.float64)
        delta = priorities - self.tree[leaves]
        self.tree[leaves] = priorities
        nodes = leaves
        for _ in range(self.depth):
            nodes = nodes >> 1
            np.add.at(self.tree, nodes, delta)


class DeltaUpdateDrifts(_PaddedTree):
    """Last write wins, but ancestors are adjusted by ``new - old`` instead of recomputed.

    In exact arithmetic the same tree; in floating point every adjustment
    leaves rounding residue (0.1 + 0.2 - 0.1 - 0.2 != 0), so a subtree whose
    leaves were all set back to zero keeps a tiny positive sum that ``find``
    walks into, and ``total()`` of an all-zero tree is not 0.
    """

    def update(self, indices, priorities):
        indices = _np(indices).astype(np.int64)
        priorities = _np(priorities).astype(np.float64)
        unique, first_in_reversed = np.unique(indices[::-1], return_index=True)
        leaves = unique + self.size
        new = priorities[len(indices) - 1 - first_in_reversed]
        delta = new - self.tree[leaves]
        self.tree[leaves] = new
        nodes = leaves
        for _ in range(self.depth):
            nodes = nodes >> 1
            np.add.at(self.tree, nodes, delta)


class RootStaleForNonPowerOfTwo(_PaddedTree):
    """Propagates ``floor(log2(capacity))`` levels instead of ``ceil``: one level short.

    Right for powers of two (where the two agree), so a test with capacity
    8 or 1024 never sees it; for capacity 5 the root is never updated.
    """

    def update(self, indices, priorities):
        indices = _np(indices).astype(np.int64)
        priorities = _np(priorities).astype(np.float64)
        nodes = self._write_leaves(indices, priorities)
        self._propagate(nodes, int(math.log2(self.capacity)))


class FirstWriteWins(_PaddedTree):
    """Deduplicates a batch keeping the *first* occurrence of a repeated index.

    A stale TD error overwrites the fresh one when a transition is sampled
    twice in one batch.
    """

    def _write_leaves(self, indices, priorities):
        unique, first = np.unique(indices, return_index=True)
        self.tree[unique + self.size] = priorities[first]
        return unique + self.size


class HeapLayoutOutOfOrder:
    """The textbook unpadded heap (``2 * capacity - 1`` nodes, leaf ``i`` at ``capacity - 1 + i``).

    Otherwise careful (parents recomputed, zero subtrees skipped), and it
    samples each leaf with the right probability, but for a capacity that is
    not a power of two its leaves sit at two depths and the descent visits
    them out of index order, so ``find(u)`` does not return the leaf whose
    interval ``[cumsum[i-1], cumsum[i]]`` holds ``u``, which the contract
    requires (e.g. capacity 3: the order is leaf 1, leaf 2, leaf 0).
    """

    def __init__(self, capacity):
        self.capacity = capacity
        self.tree = np.zeros(2 * capacity - 1)

    def update(self, indices, priorities):
        for index, priority in zip(_np(indices).tolist(), _np(priorities).tolist(), strict=True):
            node = self.capacity - 1 + index
            self.tree[node] = priority
            while node > 0:
                node = (node - 1) // 2
                self.tree[node] = self.tree[2 * node + 1] + self.tree[2 * node + 2]

    def total(self):
        return float(self.tree[0])

    def get(self, indices):
        return self.tree[_np(indices).astype(np.int64) + self.capacity - 1].copy()

    def find(self, prefix_sums):
        found = []
        for u in _np(prefix_sums).tolist():
            node = 0
            while 2 * node + 1 < len(self.tree):
                left = 2 * node + 1
                if u < self.tree[left] or not self.tree[left + 1] > 0:
                    node = left
                else:
                    u -= self.tree[left]
                    node = left + 1
            found.append(node - (self.capacity - 1))
        return np.array(found, dtype=np.int64)
