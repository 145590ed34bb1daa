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


class Float32LoopSumTree:
    """A torch float32 tree, one element at a time, ties at a boundary going *left*.

    The other tie convention (``u <= left`` goes left when the left subtree is
    not empty) and float32 sums: both allowed by the contract.
    """

    def __init__(self, capacity):
        self.capacity = capacity
        self.size = 1
        while self.size < capacity:
            self.size *= 2
        self.tree = torch.zeros(2 * self.size, dtype=torch.float32)

    def update(self, indices, priorities):
        for index, priority in zip(indices.tolist(), priorities.tolist(), strict=True):
            node = self.size + index
            self.tree[node] = priority
            while node > 1:
                node //= 2
                self.tree[node] = self.tree[2 * node] + self.tree[2 * node + 1]

    def total(self):
        return float(self.tree[1])

    def get(self, indices):
        return self.tree[indices.cpu() + self.size].to(indices.device)

    def find(self, prefix_sums):
        found = []
        for u in prefix_sums.tolist():
            node = 1
            while node < self.size:
                left, right = float(self.tree[2 * node]), float(self.tree[2 * node + 1])
                if (left > 0 and u <= left) or not right > 0:
                    node = 2 * node
                else:
                    u -= left
                    node = 2 * node + 1
            found.append(node - self.size)
        return torch.tensor(found, dtype=torch.int64, device=prefix_sums.device)
