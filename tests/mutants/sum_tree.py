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


class MaxDepthSixteen(_PaddedTree):
    """Walks at most 16 levels, up and down: a kernel sized for buffers of ``2**16`` transitions.

    Models a descent unrolled for a fixed depth (a CUDA kernel with a local
    stack of 16 levels, a numba loop over ``range(16)``) that nobody re-sized
    when the buffer grew: right for every capacity up to 65 536 and so for
    every small test; for 65 537 leaves and more the root is never updated
    and ``find`` stops at an internal node.
    """

    MAX_DEPTH = 16

    def update(self, indices, priorities):
        indices = _np(indices).astype(np.int64)
        priorities = _np(priorities).astype(np.float64)
        nodes = self._write_leaves(indices, priorities)
        self._propagate(nodes, min(self.depth, self.MAX_DEPTH))

    def find(self, prefix_sums):
        u = _np(prefix_sums).astype(np.float64).copy()
        nodes = np.ones(u.shape, dtype=np.int64)
        for _ in range(min(self.depth, self.MAX_DEPTH)):
            left = 2 * nodes
            right = self._go_right(u, self.tree[left], self.tree[left + 1])
            u = self._next_u(u, self.tree[left], right)
            nodes = left + right
        return np.clip(nodes - self.size, 0, self.capacity - 1)


class TwiceCapacityLayout:
    """The iterative segment tree of ``2 * capacity`` nodes: leaf ``i`` at ``capacity + i``.

    Correct only when capacity is a power of two (OpenAI baselines' segment
    tree asserts it; a copy without the assert does not). Node 1 still sums
    every leaf, but for other capacities the leaves hang at two depths and a
    descent from the root visits them out of index order: ``find`` returns a
    leaf whose interval does not hold ``u``.
    """

    def __init__(self, capacity):
        self.capacity = capacity
        self.tree = np.zeros(2 * capacity)

    def update(self, indices, priorities):
        indices = _np(indices).astype(np.int64)
        priorities = _np(priorities).astype(np.float64)
        unique, first_in_reversed = np.unique(indices[::-1], return_index=True)
        nodes = unique + self.capacity
        self.tree[nodes] = priorities[len(indices) - 1 - first_in_reversed]
        while nodes.size and nodes.max() > 1:
            nodes = np.unique(nodes[nodes > 1] >> 1)
            self.tree[nodes] = self.tree[2 * nodes] + self.tree[2 * nodes + 1]

    def total(self):
        return float(self.tree[1])

    def get(self, indices):
        return self.tree[_np(indices).astype(np.int64) + self.capacity].copy()

    def find(self, prefix_sums):
        u = _np(prefix_sums).astype(np.float64).copy()
        nodes = np.ones(u.shape, dtype=np.int64)
        inner = nodes < self.capacity
        while inner.any():
            left = 2 * nodes[inner]
            right = (u[inner] >= self.tree[left]) & (self.tree[left + 1] > 0)
            u[inner] -= np.where(right, self.tree[left], 0.0)
            nodes[inner] = left + right
            inner = nodes < self.capacity
        return nodes - self.capacity


class OddLevelDropsLastNode:
    """A list of levels, each the pairwise sums of the one below: an odd level's last node is lost.

    ``level[: len(level) // 2 * 2].reshape(-1, 2).sum(1)``: the truncation
    that makes the reshape work for an odd number of nodes drops the last
    one, so for a capacity that is not a power of two the last leaves (for
    an odd capacity, the last leaf) never reach the root: ``total()`` misses
    them and ``find`` never returns them.
    """

    def __init__(self, capacity):
        self.leaves = np.zeros(capacity)
        self._rebuild()

    def _rebuild(self):
        levels = [self.leaves]
        while levels[-1].size > 1:
            level = levels[-1]
            levels.append(level[: level.size // 2 * 2].reshape(-1, 2).sum(1))
        self.levels = levels[::-1]  # root first

    def update(self, indices, priorities):
        indices = _np(indices).astype(np.int64)
        priorities = _np(priorities).astype(np.float64)
        unique, first_in_reversed = np.unique(indices[::-1], return_index=True)
        self.leaves[unique] = priorities[len(indices) - 1 - first_in_reversed]
        self._rebuild()

    def total(self):
        return float(self.levels[0][0])

    def get(self, indices):
        return self.leaves[_np(indices).astype(np.int64)].copy()

    def find(self, prefix_sums):
        u = _np(prefix_sums).astype(np.float64).copy()
        nodes = np.zeros(u.shape, dtype=np.int64)
        for level in self.levels[1:]:
            left = 2 * nodes
            right_sum = np.where(
                left + 1 < level.size, level[np.minimum(left + 1, level.size - 1)], 0
            )
            right = (u >= level[left]) & (right_sum > 0)
            u -= np.where(right, level[left], 0.0)
            nodes = left + right
        return nodes


class TotalOfFirstPowerOfTwo(_PaddedTree):
    """A power-of-two tree over the first ``2**floor(log2 capacity)`` leaves, the rest on the side.

    Models a capacity "rounded down" to a power of two with an overflow array
    for the remaining leaves, where ``total()`` (and so the range of prefix
    sums the caller draws) is read from the root of the partial tree only:
    the overflow leaves are stored (``get`` is right) but never sampled.
    """

    def __init__(self, capacity):
        self.capacity = capacity
        self.depth = capacity.bit_length() - 1
        self.size = 1 << self.depth
        self.tree = np.zeros(2 * self.size)
        self.overflow = np.zeros(capacity - self.size)

    def update(self, indices, priorities):
        indices = _np(indices).astype(np.int64)
        priorities = _np(priorities).astype(np.float64)
        unique, first_in_reversed = np.unique(indices[::-1], return_index=True)
        values = priorities[len(indices) - 1 - first_in_reversed]
        main = unique < self.size
        self.overflow[unique[~main] - self.size] = values[~main]
        nodes = unique[main] + self.size
        self.tree[nodes] = values[main]
        self._propagate(nodes, self.depth)

    def get(self, indices):
        leaves = np.concatenate([self.tree[self.size :], self.overflow])
        return leaves[_np(indices).astype(np.int64)]


class Float32DeltaUpdates(_PaddedTree):
    """A float32 tree whose ancestors are adjusted by ``new - old`` (the textbook ``propagate``).

    Each adjustment rounds at the magnitude of the node (``2**-24`` of the
    root per update), and the roundings accumulate over updates: after
    large priorities are written and cleared, the total and every node above
    them carry residue far above the tiny priorities that remain.
    """

    def __init__(self, capacity):
        super().__init__(capacity)
        self.tree = self.tree.astype(np.float32)

    def update(self, indices, priorities):
        indices = _np(indices).astype(np.int64)
        priorities = _np(priorities).astype(np.float32)
        unique, first_in_reversed = np.unique(indices[::-1], return_index=True)
        leaves = unique + self.size
        new = priorities[len(indices) - 1 - first_in_reversed]
        delta = new - self.tree[leaves]
        self.tree[leaves] = new
        nodes = leaves
        for _ in range(self.depth):
            nodes = nodes >> 1
            np.add.at(self.tree, nodes, delta)


class Float32CumsumSearchsorted:
    """No tree: float32 leaves, a running float32 ``cumsum`` and ``searchsorted``.

    A sequential float32 sum loses every leaf below half an ulp of the
    running sum: after a priority of 1, ten thousand priorities of ``1e-8``
    add nothing, so ``total()`` and the cumulative boundaries are off by far
    more than a balanced float32 tree's ``(3 d + 4) u S``. (``np.cumsum``
    adds sequentially, as ``torch.cumsum`` does on CPU.)
    """

    def __init__(self, capacity):
        self.leaves = np.zeros(capacity, dtype=np.float32)

    def update(self, indices, priorities):
        indices = _np(indices).astype(np.int64)
        priorities = _np(priorities).astype(np.float32)
        unique, first_in_reversed = np.unique(indices[::-1], return_index=True)
        self.leaves[unique] = priorities[len(indices) - 1 - first_in_reversed]

    def total(self):
        return float(np.cumsum(self.leaves)[-1])

    def get(self, indices):
        return self.leaves[_np(indices).astype(np.int64)].astype(np.float64)

    def find(self, prefix_sums):
        cumsum = np.cumsum(self.leaves)
        u = _np(prefix_sums).astype(np.float32)
        found = np.searchsorted(cumsum, u, side="right")
        positive = np.flatnonzero(self.leaves > 0)
        return np.minimum(found, positive[-1])


class SearchsortedLeftLandsOnZero:
    """float64 ``cumsum`` and ``searchsorted(cumsum, u, side="left")``: the first ``cumsum >= u``.

    Everywhere else the other tie convention, and allowed; but at ``u = 0``
    with leading zero priorities the first ``cumsum >= 0`` is leaf 0, whose
    priority is zero: a transition that must never be replayed is.
    """

    def __init__(self, capacity):
        self.leaves = np.zeros(capacity)

    def update(self, indices, priorities):
        indices = _np(indices).astype(np.int64)
        priorities = _np(priorities).astype(np.float64)
        unique, first_in_reversed = np.unique(indices[::-1], return_index=True)
        self.leaves[unique] = priorities[len(indices) - 1 - first_in_reversed]

    def total(self):
        return float(np.cumsum(self.leaves)[-1])

    def get(self, indices):
        return self.leaves[_np(indices).astype(np.int64)].copy()

    def find(self, prefix_sums):
        cumsum = np.cumsum(self.leaves)
        found = np.searchsorted(cumsum, _np(prefix_sums).astype(np.float64), side="left")
        return np.minimum(found, self.leaves.size - 1)
