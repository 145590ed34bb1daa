"""Correct sum trees written differently from the reference."""

import numpy as np
import torch


class numpy_CumsumTree:  # the numpy_ prefix selects the numpy backend
    """No tree at all: a flat array, ``np.cumsum`` and ``np.searchsorted`` (O(capacity) finds).

    ``searchsorted(cumsum, u, side="right")`` is the first leaf whose
    cumulative sum exceeds ``u``; a zero leaf adds nothing to the cumulative
    sum, so it is never that leaf. Ties at a boundary go right.
    """

    def __init__(self, capacity):
        self.leaves = np.zeros(capacity)

    def update(self, indices, priorities):
        # A plain loop in batch order: the last write wins by construction.
        for index, priority in zip(indices.tolist(), priorities.tolist(), strict=True):
            self.leaves[index] = priority

    def total(self):
        return float(np.cumsum(self.leaves)[-1])

    def get(self, indices):
        return self.leaves[indices]

    def find(self, prefix_sums):
        cumsum = np.cumsum(self.leaves)
        found = np.searchsorted(cumsum, prefix_sums, side="right")
        # u within rounding of the total: the last positive leaf.
        last_positive = int(np.flatnonzero(self.leaves > 0)[-1])
        return np.minimum(found, last_positive)


class Float32TorchSumTree:
    """A torch float32 tree, vectorised, ties at a boundary going *left*.

    The other tie convention (``u <= left`` goes left when the left subtree is
    not empty) and float32 sums and prefix sums: both allowed by the contract,
    whose tolerance is what a balanced float32 tree errs by. The last write
    of a repeated index is picked with ``scatter_reduce(amax)`` of batch
    positions rather than a sort.
    """

    def __init__(self, capacity):
        self.capacity = capacity
        self.depth = (capacity - 1).bit_length()
        self.size = 1 << self.depth
        self.tree = torch.zeros(2 * self.size, dtype=torch.float32)

    def update(self, indices, priorities):
        indices = indices.cpu().long()
        priorities = priorities.cpu().float()
        positions = torch.arange(indices.shape[0])
        last = torch.full((self.capacity,), -1, dtype=torch.int64)
        last = last.scatter_reduce(0, indices, positions, reduce="amax")
        written = torch.nonzero(last >= 0).flatten()
        nodes = written + self.size
        self.tree[nodes] = priorities[last[written]]
        for _ in range(self.depth):
            nodes = torch.unique(nodes // 2)
            self.tree[nodes] = self.tree[2 * nodes] + self.tree[2 * nodes + 1]

    def total(self):
        return float(self.tree[1])

    def get(self, indices):
        return self.tree[indices.cpu().long() + self.size].to(indices.device)

    def find(self, prefix_sums):
        u = prefix_sums.cpu().float()
        nodes = torch.ones(u.shape, dtype=torch.int64)
        for _ in range(self.depth):
            left_sum, right_sum = self.tree[2 * nodes], self.tree[2 * nodes + 1]
            go_left = ((left_sum > 0) & (u <= left_sum)) | ~(right_sum > 0)
            u = torch.where(go_left, u, u - left_sum)
            nodes = 2 * nodes + (~go_left).long()
        return (nodes - self.size).to(prefix_sums.device)


class numpy_FenwickTree:  # the numpy_ prefix selects the numpy backend
    """A Fenwick (binary indexed) tree, float64: node ``j`` holds the leaves ``(j - lowbit j, j]``.

    Nodes are recomputed from their Fenwick children (``j - 2^k`` for
    ``2^k < lowbit j``), lowest ``lowbit`` first, never adjusted by deltas,
    so a range of zeros sums to exactly 0. ``find`` is binary lifting: the
    largest ``pos`` whose prefix sum is ``<= u`` (ties go right, empty ranges
    are skipped), so leaf ``pos`` is the first whose cumulative sum exceeds
    ``u``; where rounding leaves ``pos`` on a zero leaf or past the end (``u``
    within rounding of a boundary or of the total), the nearest positive leaf
    at or after it (or the last positive leaf) is taken.
    """

    def __init__(self, capacity):
        self.capacity = capacity
        self.leaves = np.zeros(capacity + 1)  # 1-based, slot 0 unused
        self.nodes = np.zeros(capacity + 1)
        self.levels = capacity.bit_length()

    @staticmethod
    def _lowbit(j):
        return j & -j

    def update(self, indices, priorities):
        indices = np.asarray(indices, dtype=np.int64)
        # Batch order: assigning a repeated index in a loop keeps the last write.
        for index, priority in zip(indices.tolist(), np.asarray(priorities).tolist(), strict=True):
            self.leaves[index + 1] = priority
        touched = np.unique(indices + 1)
        ancestors = [touched]
        while touched.size:
            touched = touched + self._lowbit(touched)
            touched = np.unique(touched[touched <= self.capacity])
            ancestors.append(touched)
        affected = np.unique(np.concatenate(ancestors))
        low = self._lowbit(affected)
        for r in range(self.levels):
            level = affected[low == 1 << r]
            values = self.leaves[level].copy()
            for k in range(r):
                values += self.nodes[level - (1 << k)]
            self.nodes[level] = values

    def total(self):
        # The prefix sum of all leaves: the nodes on the path from capacity down.
        total, j = 0.0, self.capacity
        while j > 0:
            total += self.nodes[j]
            j -= j & -j
        return float(total)

    def get(self, indices):
        return self.leaves[np.asarray(indices, dtype=np.int64) + 1]

    def find(self, prefix_sums):
        remainder = np.asarray(prefix_sums, dtype=np.float64).copy()
        position = np.zeros(remainder.shape, dtype=np.int64)
        step = 1 << (self.capacity.bit_length() - 1)
        while step:
            candidate = position + step
            inside = candidate <= self.capacity
            node = self.nodes[np.minimum(candidate, self.capacity)]
            take = inside & (node <= remainder)
            remainder = np.where(take, remainder - node, remainder)
            position = np.where(take, candidate, position)
            step >>= 1
        positive = np.flatnonzero(self.leaves[1:] > 0)
        after = np.searchsorted(positive, position)  # first positive leaf >= position
        return positive[np.minimum(after, positive.size - 1)]


class numpy_LevelListTree:  # the numpy_ prefix selects the numpy backend
    """A list of levels, root first, each odd level padded with one zero node before pairing.

    The layout of the mutant that drops an odd level's last node, done
    right: ``np.append(level, 0.0)`` keeps it. Levels are rebuilt bottom-up
    from the leaves on every update (O(capacity), as simple as it gets).
    """

    def __init__(self, capacity):
        self.leaves = np.zeros(capacity)
        self._rebuild()

    def _rebuild(self):
        levels = [self.leaves]
        while levels[-1].size > 1:
            level = levels[-1]
            if level.size % 2:
                level = np.append(level, 0.0)
            levels.append(level[0::2] + level[1::2])
        self.levels = levels[::-1]

    def update(self, indices, priorities):
        for index, priority in zip(
            np.asarray(indices).tolist(), np.asarray(priorities).tolist(), strict=True
        ):
            self.leaves[index] = priority
        self._rebuild()

    def total(self):
        return float(self.levels[0][0])

    def get(self, indices):
        return self.leaves[np.asarray(indices, dtype=np.int64)]

    def find(self, prefix_sums):
        u = np.asarray(prefix_sums, dtype=np.float64).copy()
        nodes = np.zeros(u.shape, dtype=np.int64)
        for level in self.levels[1:]:
            left = 2 * nodes
            # A left child always exists; a right child may be the padding.
            padded = np.append(level, 0.0)
            right = (u >= level[left]) & (padded[left + 1] > 0)
            u = np.where(right, u - level[left], u)
            nodes = left + right
        return nodes
