"""Experience replay: a uniform ring buffer and proportional prioritized replay.

Seed: ``1、DQN`` (经验回放缓冲区（Replay Buffer）, 主要代码) for the uniform
buffer; ``:six: Prioritized Experience Replay`` for the prioritized one.
Paper: Schaul, Quan, Antonoglou & Silver (2016), "Prioritized Experience
Replay", the proportional variant (Section 3.3, Algorithm 1, Appendix B.2.1).

The three kernel contracts live here, each written once:

* :func:`per_probabilities` -- ``P(i) = p_i^alpha / sum_k p_k^alpha``;
* :func:`importance_weights` -- ``w_i = (size * P(i))^(-beta) / max_j w_j``;
* :class:`SumTree` -- an array-backed binary tree of priorities answering
  "which leaf holds the prefix sum ``u``" in ``O(log capacity)``.

:class:`PrioritizedReplayBuffer` builds on them: its tree stores ``p_i^alpha``
(alpha is applied exactly once, when a priority is written), so
``P(i) = leaf_i / total`` is :func:`per_probabilities` of the stored
priorities without an ``O(N)`` pass, and its weights come from
:func:`importance_weights`. The seed applies alpha twice and normalises the
weights inside the loss; see docs/errata.md.

Episode ends are stored as two flags (gymnasium >= 0.26): ``terminated`` (the
next state is terminal, nothing to bootstrap) and ``truncated`` (a time limit
cut the episode; the next state still has a value). The seed's buffer keeps
one ``done`` and so cannot tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from drlspec.checks import check_floating, check_scalar, check_shape, check_unit_interval

__all__ = [
    "PrioritizedReplayBatch",
    "PrioritizedReplayBuffer",
    "ReplayBatch",
    "ReplayBuffer",
    "SumTree",
    "importance_weights",
    "per_probabilities",
]


# --------------------------------------------------------------------------
# Entry checks for array-like arguments (numpy or torch)
# --------------------------------------------------------------------------


def as_numpy(name: str, x: object) -> np.ndarray:
    """A numpy view of a torch tensor or numpy array; anything else is a ``TypeError``."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        return x
    raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(x).__name__}")


def check_positive_count(name: str, value: object) -> int:
    """A positive int (torch and numpy scalars included): sizes, capacities, counts."""
    return check_scalar(
        name, value, integer=True, low=1, kind="a positive int", rule="a positive int"
    )


def check_non_negative_number(name: str, value: object) -> float:
    """A finite number >= 0 (torch and numpy scalars included): exponents, offsets."""
    return check_scalar(
        name,
        value,
        low=0.0,
        kind="a non-negative number",
        rule="a finite non-negative number",
    )


def check_indices(name: str, indices: object, bound: int) -> np.ndarray:
    """A 1-D integer array with every entry in ``[0, bound)``."""
    array = as_numpy(name, indices)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{name} must have shape [K], got {list(array.shape)}")
    outside = (array < 0) | (array >= bound)
    if outside.any():
        position = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"{name} must lie in [0, {bound}), got {int(array[position])} at position {position}"
        )
    return array.astype(np.int64, copy=False)


def check_finite_reals(name: str, values: object, length: int | None = None) -> np.ndarray:
    """A 1-D real (not bool) array, ``[length]`` if given, holding no NaN or inf, as float64."""
    array = as_numpy(name, values)
    if array.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.ndim != 1 or (length is not None and array.shape[0] != length):
        want = "K" if length is None else length
        raise ValueError(f"{name} must have shape [{want}], got {list(array.shape)}")
    array = array.astype(np.float64, copy=False)
    bad = ~np.isfinite(array)
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must be finite, got {array[position]} at position {position}")
    return array


# --------------------------------------------------------------------------
# Contract kernels
# --------------------------------------------------------------------------


def per_probabilities(priorities: torch.Tensor, alpha: float) -> torch.Tensor:
    r"""Sampling probabilities of proportional prioritized replay.

    .. math::  P(i) = \frac{p_i^\alpha}{\sum_k p_k^\alpha}, \qquad p_i = |\delta_i| + \epsilon

    ``p_i`` is computed by the caller; alpha is applied here, once.
    ``alpha = 0`` is uniform sampling, ``alpha = 1`` sampling proportional to
    ``p``. A zero priority gets probability 0 for ``alpha > 0``; for
    ``alpha = 0`` it is sampled like any other (``0**0 = 1``, as in numpy and
    torch), so ``alpha = 0`` is uniform whatever the priorities.

    Args:
        priorities: ``[N]`` non-negative, finite, at least one positive when
            ``alpha > 0``.
        alpha: prioritisation exponent, finite and ``>= 0``.

    Returns:
        ``[N]`` probabilities summing to 1, in the dtype of ``priorities``.

    Seed: :six: Prioritized Experience Replay (which applies alpha twice; see
    docs/errata.md). Paper: Schaul et al. (2016), eq. 1.
    """
    check_floating("priorities", priorities)
    check_shape("priorities", priorities, ["N"])
    if priorities.shape[0] == 0:
        raise ValueError("priorities must hold at least one priority, got shape [0]")
    if not bool(torch.isfinite(priorities).all()):
        raise ValueError("priorities must be finite (no NaN or inf)")
    if bool((priorities < 0).any()):
        raise ValueError("priorities must be non-negative")
    alpha = check_non_negative_number("alpha", alpha)
    largest = priorities.max()
    if alpha == 0.0:
        return torch.full_like(priorities, 1.0 / priorities.shape[0])
    if not bool(largest > 0):
        raise ValueError("priorities must hold a positive priority when alpha > 0")
    # P is invariant to scaling p; dividing by the largest first keeps p^alpha
    # in range for any alpha (no overflow to inf, no underflow of every entry).
    scaled = (priorities / largest) ** alpha
    return scaled / scaled.sum()


def importance_weights(probabilities: torch.Tensor, size: int, beta: float) -> torch.Tensor:
    r"""Importance-sampling weights of prioritized replay, normalised over the batch.

    .. math::  w_i = \frac{(N P(i))^{-\beta}}{\max_j (N P(j))^{-\beta}}
               = \left(\frac{\min_j P(j)}{P(i)}\right)^{\beta}, \qquad N = \text{size}

    The weights correct the bias of sampling from ``P`` instead of uniformly
    (``beta = 1`` corrects fully, ``beta = 0`` not at all: all ones). Dividing
    by the largest weight of the batch keeps every weight in ``(0, 1]``, so
    they only scale updates down. Under that normalisation ``size`` cancels
    (right-hand form, which is also what is computed: one ratio and one power,
    no overflow); it is kept in the signature because it is the paper's ``N``.

    Args:
        probabilities: ``[B]`` sampling probabilities ``P(i)`` of the sampled
            transitions, each in ``(0, 1]`` (duplicates allowed).
        size: number of transitions stored (the paper's ``N``), ``>= 1``.
        beta: correction exponent in ``[0, 1]``.

    Returns:
        ``[B]`` weights in ``(0, 1]``, the largest exactly 1, in the dtype of
        ``probabilities``.

    Seed: :six: Prioritized Experience Replay / 权重修正, 损失函数 (which
    divides by ``max(w)`` inside the loss). Paper: Schaul et al. (2016),
    Section 3.4 and Algorithm 1, line 10.
    """
    check_floating("probabilities", probabilities)
    check_shape("probabilities", probabilities, ["B"])
    if probabilities.shape[0] == 0:
        raise ValueError("probabilities must hold at least one probability, got shape [0]")
    if not bool(((probabilities > 0) & (probabilities <= 1)).all()):
        raise ValueError("probabilities must lie in (0, 1] (a sampled transition has P > 0)")
    check_positive_count("size", size)
    beta = check_unit_interval("beta", beta)
    return (probabilities.min() / probabilities) ** beta


SUM_TREE_OVERFLOW = (
    "priorities must keep total() finite: after this update the priorities would sum past "
    "the largest float64 (about 1.8e308); the tree is unchanged"
)


class SumTree:
    """A binary tree over ``capacity`` non-negative priorities, kept in one numpy array.

    Layout: the leaves are padded to ``size = 2**depth >= capacity`` so that
    every leaf sits at the same depth; node ``n`` has children ``2n`` and
    ``2n + 1``, the root is node 1 and leaf ``i`` is node ``size + i``.
    Padding leaves stay 0 and are never returned. Node values are always
    recomputed from their two children (never adjusted by a delta), so every
    node equals ``left + right`` rounded once, ``total()`` does not drift
    after any number of updates, and a subtree whose leaves are all zero sums
    to exactly 0.

    Batch operations are vectorised over the batch; the only Python loops run
    over the ``depth = ceil(log2(capacity))`` levels.

    Contract ``sum_tree``: ``update(indices[K], priorities[K])``,
    ``total() -> float``, ``find(prefix_sums[K]) -> indices[K]``,
    ``get(indices[K]) -> priorities[K]``. Arguments are torch tensors or
    numpy arrays; results are numpy arrays (``int64`` indices, ``float64``
    priorities). A fresh tree holds zeros.

    Seed: :six: Prioritized Experience Replay (the seed samples by priority
    but gives no data structure). Paper: Schaul et al. (2016), Section 3.3
    and Appendix B.2.1.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = check_positive_count("capacity", capacity)
        self.depth = (self.capacity - 1).bit_length()  # 0 for capacity 1
        self.size = 1 << self.depth
        # Node 0 is unused; the root is node 1.
        self._tree = np.zeros(2 * self.size, dtype=np.float64)

    def __len__(self) -> int:
        return self.capacity

    def update(self, indices: Any, priorities: Any) -> None:
        """Set ``priority[indices[k]] = priorities[k]``; with duplicates the last write wins.

        Raises ``ValueError``/``TypeError`` naming the argument (index out of
        range, negative, NaN or infinite priority, mismatched shapes) and
        leaves the tree unchanged. Priorities that are finite one by one but
        whose sum would overflow (``total()`` infinite, and with it every
        node on the way to the root and every ``find``) are refused the same
        way: a ``ValueError`` naming ``priorities`` and the overflow.
        """
        indices = check_indices("indices", indices, self.capacity)
        priorities = check_finite_reals("priorities", priorities, indices.shape[0])
        if (priorities < 0).any():
            raise ValueError("priorities must be non-negative")
        if indices.size == 0:
            return
        if indices.size == 1:  # one index (every add of one transition): nothing to dedupe
            leaves, values = indices + self.size, priorities
        else:
            # Last write wins, by construction rather than by numpy's unspecified
            # order of repeated fancy-index assignment: keep each index's last occurrence.
            unique, first_in_reversed = np.unique(indices[::-1], return_index=True)
            leaves, values = unique + self.size, priorities[indices.size - 1 - first_in_reversed]
        previous = self._tree[leaves].copy()
        with np.errstate(over="ignore"):  # an overflow is detected and undone below
            self._write(leaves, values)
        # Every node is at most the root (sums of non-negative terms, rounded
        # monotonically), so a finite root means a finite tree.
        if not np.isfinite(self._tree[1]):
            # Nodes are recomputed from their children, so writing the old leaves
            # back restores every node bit for bit.
            self._write(leaves, previous)
            raise ValueError(SUM_TREE_OVERFLOW)

    def _write(self, leaves: np.ndarray, values: np.ndarray) -> None:
        """Set distinct ``leaves`` (node numbers) to ``values`` and recompute their ancestors."""
        if leaves.size == 1:
            # One leaf (every add of one transition): the same float64 sums, walked in Python
            # scalars, cost a fraction of `depth` rounds of fancy indexing on 1-element arrays.
            tree, node = self._tree, int(leaves[0])
            tree[node] = values[0]
            for _ in range(self.depth):
                node >>= 1
                tree[node] = tree[2 * node] + tree[2 * node + 1]
            return
        self._tree[leaves] = values
        nodes = leaves.copy()
        for _ in range(self.depth):
            nodes >>= 1
            # Siblings share a parent; a repeated node is written twice with the same value.
            self._tree[nodes] = self._tree[2 * nodes] + self._tree[2 * nodes + 1]

    def total(self) -> float:
        """The sum of all priorities (the root)."""
        return float(self._tree[1])

    def get(self, indices: Any) -> np.ndarray:
        """``[K]`` float64: the priorities last written at ``indices`` (0 if never written)."""
        indices = check_indices("indices", indices, self.capacity)
        return self._tree[indices + self.size].copy()

    def find(self, prefix_sums: Any) -> np.ndarray:
        r"""``[K]`` int64: for each ``u``, the leaf ``i`` whose interval holds it.

        .. math::  \sum_{j<i} p_j \le u \le \sum_{j \le i} p_j, \qquad p_i > 0

        Descent: go left while ``u < left`` (or the right subtree is empty),
        otherwise subtract ``left`` and go right. Ties at a boundary go right,
        so ``u = 0`` skips leading zero leaves; a subtree is entered only if
        its sum is positive, so a zero-priority leaf is never returned, also
        when ``u`` is at or just below ``total()`` and rounding in the
        subtractions pushes it past the last positive leaf.

        ``prefix_sums`` must lie in ``[0, total()]`` and ``total()`` must be
        positive. (``u = total()`` is accepted and gives the last positive
        leaf, because ``(k + r) * total / K`` can round up to it.)
        """
        u = check_finite_reals("prefix_sums", prefix_sums)
        total = self._tree[1]
        if not total > 0:
            raise ValueError("find needs a tree with total() > 0; every priority is zero")
        outside = (u < 0) | (u > total)
        if outside.any():
            position = int(np.flatnonzero(outside)[0])
            raise ValueError(
                f"prefix_sums must lie in [0, total()] = [0, {total!r}], "
                f"got {u[position]!r} at position {position}"
            )
        u = u.copy()
        nodes = np.ones(u.shape, dtype=np.int64)
        for _ in range(self.depth):
            left = 2 * nodes
            left_sum = self._tree[left]
            go_right = (u >= left_sum) & (self._tree[left + 1] > 0)
            u -= np.where(go_right, left_sum, 0.0)
            nodes = left + go_right
        return nodes - self.size


# --------------------------------------------------------------------------
# Replay buffers
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayBatch:
    """A sampled batch of transitions, as torch tensors on one device.

    ``observations``/``next_observations`` are ``[B, *observation_shape]`` in
    the stored dtype, ``actions`` ``[B, *action_shape]``, ``rewards``
    ``[B]`` float32, ``terminated``/``truncated`` ``[B]`` bool.
    """

    observations: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_observations: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor


@dataclass(frozen=True)
class PrioritizedReplayBatch(ReplayBatch):
    """A prioritized batch: also the buffer ``indices`` ``[B]`` int64 (for
    :meth:`PrioritizedReplayBuffer.update_priorities`) and the importance
    ``weights`` ``[B]`` float32 that multiply each transition's loss."""

    indices: torch.Tensor
    weights: torch.Tensor


_FIELDS = ("observations", "actions", "rewards", "next_observations", "terminated", "truncated")


class ReplayBuffer:
    """A fixed-capacity FIFO ring of transitions over preallocated numpy arrays.

    ``add`` stores one transition, ``add_batch`` one step of a vector
    environment (``[N, ...]``, the same as ``N`` calls of ``add`` in order).
    Once full, each new transition overwrites the oldest. ``sample`` draws a
    batch uniformly, without replacement inside the batch.

    Everything is validated before anything is written, so a rejected
    transition leaves the buffer unchanged: wrong shapes are a
    ``ValueError``, a dtype that cannot be stored without changing kind
    (float into an integer array) a ``TypeError``, NaN or inf in
    observations, rewards or (continuous) actions a ``ValueError`` naming
    the field, so a NaN is caught where it enters rather than when it has
    reached the loss.

    Seed: 1、DQN / 经验回放缓冲区（Replay Buffer）and 主要代码 (a ``deque`` of
    Python lists with one ``done`` flag; here ``terminated`` and
    ``truncated`` are kept apart). Paper: Mnih et al. (2015).
    """

    def __init__(
        self,
        capacity: int,
        observation_shape: tuple[int, ...],
        action_shape: tuple[int, ...] = (),
        observation_dtype: Any = np.float32,
        action_dtype: Any = np.int64,
    ) -> None:
        self.capacity = check_positive_count("capacity", capacity)
        self.observation_shape = tuple(int(d) for d in observation_shape)
        self.action_shape = tuple(int(d) for d in action_shape)
        observation_dtype = np.dtype(observation_dtype)
        action_dtype = np.dtype(action_dtype)
        self._arrays = {
            "observations": np.zeros((self.capacity, *self.observation_shape), observation_dtype),
            "actions": np.zeros((self.capacity, *self.action_shape), action_dtype),
            "rewards": np.zeros(self.capacity, np.float32),
            "next_observations": np.zeros(
                (self.capacity, *self.observation_shape), observation_dtype
            ),
            "terminated": np.zeros(self.capacity, np.bool_),
            "truncated": np.zeros(self.capacity, np.bool_),
        }
        self._position = 0  # where the next transition goes
        self._size = 0

    @classmethod
    def from_spaces(cls, capacity: int, observation_space: Any, action_space: Any) -> ReplayBuffer:
        """A buffer shaped for gymnasium ``Box``/``Discrete`` spaces (``Discrete``: int64)."""
        from gymnasium import spaces

        if isinstance(action_space, spaces.Discrete):
            action_shape, action_dtype = (), np.int64
        else:
            action_shape, action_dtype = action_space.shape, action_space.dtype
        return cls(
            capacity, observation_space.shape, action_shape, observation_space.dtype, action_dtype
        )

    def __len__(self) -> int:
        return self._size

    def add(
        self,
        observation: Any,
        action: Any,
        reward: Any,
        next_observation: Any,
        terminated: Any,
        truncated: Any,
    ) -> None:
        """Store one transition ``(s, a, r, s', terminated, truncated)``."""
        values = (observation, action, reward, next_observation, terminated, truncated)
        batch = {name: np.asarray(_lift(v))[None] for name, v in zip(_FIELDS, values, strict=True)}
        self._write(self._validate(batch, 1, single=True))

    def add_batch(
        self,
        observations: Any,
        actions: Any,
        rewards: Any,
        next_observations: Any,
        terminated: Any,
        truncated: Any,
    ) -> None:
        """Store ``N`` transitions, ``[N, ...]`` each, in order (one vector-env step).

        ``next_observations`` must be the true next observations (gymnasium's
        ``final_obs`` where an episode ended), not the auto-reset ones.
        """
        values = (observations, actions, rewards, next_observations, terminated, truncated)
        batch = {name: np.asarray(_lift(v)) for name, v in zip(_FIELDS, values, strict=True)}
        rewards_array = batch["rewards"]
        if rewards_array.ndim != 1:
            raise ValueError(f"rewards must have shape [N], got {list(rewards_array.shape)}")
        self._write(self._validate(batch, rewards_array.shape[0], single=False))

    def _validate(self, batch: dict[str, np.ndarray], count: int, single: bool) -> dict:
        shapes = {
            "observations": self.observation_shape,
            "actions": self.action_shape,
            "rewards": (),
            "next_observations": self.observation_shape,
            "terminated": (),
            "truncated": (),
        }
        checked = {}
        for name in _FIELDS:
            value = batch[name]
            # Name the argument the way the caller wrote it.
            label = _SINGULAR[name] if single else name
            want = (count, *shapes[name])
            if value.shape != want:
                shown = list(want[1:]) if single else list(want)
                got = list(value.shape[1:]) if single else list(value.shape)
                raise ValueError(f"{label} must have shape {shown}, got {got}")
            stored = self._arrays[name].dtype
            if name in ("terminated", "truncated"):
                if value.dtype != np.bool_:
                    if value.dtype.kind not in "fiu" or not np.isin(value, (0, 1)).all():
                        raise ValueError(f"{label} must be bool or hold only 0 and 1")
                    value = value != 0
            elif value.dtype == stored:
                pass  # already the stored dtype: nothing to cast
            elif not np.can_cast(value.dtype, stored, casting="same_kind"):
                raise TypeError(f"{label} of dtype {value.dtype} cannot be stored as {stored}")
            else:
                # Checked after the cast: a float64 1e300 is finite but becomes inf in float32.
                with np.errstate(over="ignore"):
                    value = value.astype(stored, copy=False)
            if value.dtype.kind == "f" and not np.isfinite(value).all():
                raise ValueError(f"{label} must be finite, got NaN or inf")
            checked[name] = value
        return checked

    def _write(self, batch: dict[str, np.ndarray]) -> None:
        count = batch["rewards"].shape[0]
        # Only the last `capacity` of a large batch survive; writing just
        # those keeps one slot from being written twice in one assignment.
        keep = min(count, self.capacity)
        start = self._position + (count - keep)
        slots = (start + np.arange(keep)) % self.capacity
        # Slots that do not wrap around are a slice: the same writes, without fancy indexing.
        first = start % self.capacity
        where = slice(first, first + keep) if first + keep <= self.capacity else slots
        for name, value in batch.items():
            self._arrays[name][where] = value[count - keep :]
        self._position = (self._position + count) % self.capacity
        self._size = min(self._size + count, self.capacity)
        self._on_write(slots)

    def _on_write(self, slots: np.ndarray) -> None:
        """Hook for subclasses: ``slots`` now hold new transitions."""

    def _check_batch_size(self, batch_size: int, rng: Any) -> int:
        batch_size = check_positive_count("batch_size", batch_size)
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        if batch_size > self._size:
            raise ValueError(
                f"batch_size {batch_size} is larger than the {self._size} transitions stored"
            )
        return batch_size

    def _gather(self, slots: np.ndarray, device: str | torch.device) -> dict[str, torch.Tensor]:
        return {name: torch.from_numpy(self._arrays[name][slots]).to(device) for name in _FIELDS}

    def sample(
        self, batch_size: int, rng: np.random.Generator, device: str | torch.device = "cpu"
    ) -> ReplayBatch:
        """``batch_size`` distinct stored transitions, uniformly, as tensors on ``device``."""
        batch_size = self._check_batch_size(batch_size, rng)
        slots = rng.choice(self._size, size=batch_size, replace=False)
        return ReplayBatch(**self._gather(slots, device))


_SINGULAR = {
    "observations": "observation",
    "actions": "action",
    "rewards": "reward",
    "next_observations": "next_observation",
    "terminated": "terminated",
    "truncated": "truncated",
}


def _lift(value: Any) -> Any:
    """torch tensors to numpy, so that both can be added."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return value


# Half the largest float64: a full buffer of leaves at most this / capacity sums, after
# the tree's roundings (a relative error of depth * 2**-53 at most), to well below overflow.
PRIORITY_HEADROOM = float(np.finfo(np.float64).max) / 2


class PrioritizedReplayBuffer(ReplayBuffer):
    r"""Proportional prioritized replay (Schaul et al. 2016, Algorithm 1).

    * A new transition gets the largest priority seen so far (1 before any
      update), so it is replayed at least about as often as any other.
    * :meth:`update_priorities` stores ``p_i = |delta_i| + eps``.
    * The sum tree holds ``p_i^alpha``: alpha is applied once, when a priority
      is written, so ``P(i) = p_i^alpha / sum_k p_k^alpha = leaf_i / total``
      is :func:`per_probabilities` of the stored priorities.
    * :meth:`sample` draws one prefix sum uniformly from each of
      ``batch_size`` equal segments of ``[0, total)`` (stratified), looks each
      up in the tree (with replacement: a large priority may fill several
      segments) and returns the :func:`importance_weights` at the current
      beta, which anneals linearly from ``beta0`` to 1 over ``beta_steps``
      calls of :meth:`sample`.

    NaN or infinite TD errors, a negative ``eps``, and indices outside the
    stored transitions are rejected with the buffer unchanged. So are TD
    errors whose ``p_i^alpha`` exceeds ``PRIORITY_HEADROOM / capacity`` (a
    TD error of about ``1e300`` at ``alpha = 1``): below that bound the sum
    of a full buffer of them stays finite, so no later write can overflow
    the tree and leave the buffer unable to sample.

    Seed: :six: Prioritized Experience Replay. Paper: Schaul et al. (2016),
    Section 3.3 (proportional prioritization), 3.4 (annealing beta) and
    Appendix B.2.1 (stratified sampling from the sum tree).
    """

    def __init__(
        self,
        capacity: int,
        observation_shape: tuple[int, ...],
        action_shape: tuple[int, ...] = (),
        observation_dtype: Any = np.float32,
        action_dtype: Any = np.int64,
        *,
        alpha: float = 0.6,
        beta0: float = 0.4,
        beta_steps: int = 100_000,
        eps: float = 1e-6,
    ) -> None:
        super().__init__(capacity, observation_shape, action_shape, observation_dtype, action_dtype)
        self.alpha = check_non_negative_number("alpha", alpha)
        self.beta0 = check_unit_interval("beta0", beta0)
        self.beta_steps = check_positive_count("beta_steps", beta_steps)
        self.eps = check_non_negative_number("eps", eps)
        self.tree = SumTree(self.capacity)
        self.max_priority = 1.0
        self.samples_drawn = 0

    @property
    def beta(self) -> float:
        """The beta the next :meth:`sample` uses: ``beta0 -> 1`` linearly over ``beta_steps``."""
        fraction = min(1.0, self.samples_drawn / self.beta_steps)
        return self.beta0 + fraction * (1.0 - self.beta0)

    def _on_write(self, slots: np.ndarray) -> None:
        self.tree.update(slots, np.full(slots.shape, self.max_priority**self.alpha))

    def update_priorities(self, indices: Any, td_errors: Any) -> None:
        """Set ``p_i = |td_error_i| + eps`` for the sampled ``indices`` (last write wins)."""
        indices = check_indices("indices", indices, self._size)
        td_errors = check_finite_reals("td_errors", td_errors, indices.shape[0])
        priorities = np.abs(td_errors) + self.eps
        if priorities.size == 0:
            return
        with np.errstate(over="ignore"):  # inf is caught just below
            leaves = priorities**self.alpha
        limit = PRIORITY_HEADROOM / self.capacity
        too_large = ~(leaves <= limit)
        if too_large.any():
            position = int(np.flatnonzero(too_large)[0])
            raise ValueError(
                f"td_errors must give priorities (|td_error| + eps)**alpha of at most "
                f"{limit:.3g} (the largest float64 / (2 * capacity), so that a full buffer's "
                f"sum stays finite), got {float(td_errors[position])!r} at position {position}"
            )
        self.tree.update(indices, leaves)
        self.max_priority = max(self.max_priority, float(priorities.max()))

    def probabilities(self, indices: Any) -> np.ndarray:
        """``[K]`` float64: ``P(i)`` of stored transitions."""
        indices = check_indices("indices", indices, self._size)
        return self.tree.get(indices) / self.tree.total()

    def sample(
        self, batch_size: int, rng: np.random.Generator, device: str | torch.device = "cpu"
    ) -> PrioritizedReplayBatch:
        """A stratified prioritized batch with indices and importance weights."""
        batch_size = self._check_batch_size(batch_size, rng)
        total = self.tree.total()
        if not total > 0:
            raise ValueError("every stored priority is zero (eps = 0 and all TD errors 0)")
        segment = total / batch_size
        prefix_sums = (np.arange(batch_size) + rng.random(batch_size)) * segment
        # (k + r) * total / K can round up to total itself; SumTree.find accepts that.
        np.minimum(prefix_sums, total, out=prefix_sums)
        slots = self.tree.find(prefix_sums)
        probabilities = torch.from_numpy(self.tree.get(slots) / total)
        weights = importance_weights(probabilities, self._size, self.beta)
        self.samples_drawn += 1
        return PrioritizedReplayBatch(
            **self._gather(slots, device),
            indices=torch.from_numpy(slots).to(device),
            weights=weights.to(device, torch.float32),
        )
