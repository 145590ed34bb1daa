"""The peers' kernels set up on the benchmark cases' inputs, for ``regression/benchmarks``.

The benchmark side of the adapters in this folder: each function takes a
:class:`drlspec.harness.bench_cases.BenchCase`'s inputs and returns ``(call, result)``:
``call()`` runs the peer's kernel alone on inputs already laid out the peer's way (the
layout is not timed), ``result()`` runs it once more and returns the answer in the
contract's layout, or ``None`` where the peer's interface differs from the contract on
purpose (see docs/peers.md) and no comparison is meaningful. What a contract adapter and
its benchmark share (SB3's buffer, torchrl's layout) is written once, in the adapter's
module.

Peers are imported inside each function, so that the registry (``peers_of``) is collected
without them. A peer that is not installed raises ``ImportError`` when its benchmark runs;
the benchmark module skips nothing silently: the bench tox env installs every peer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from peers.torchrl_layout import from_torchrl, to_torchrl

Prepared = tuple[Callable[[], Any], Callable[[], Any]]


def sb3_gae(args: tuple) -> Prepared:
    """stable-baselines3 ``RolloutBuffer.compute_returns_and_advantage`` on a filled buffer.

    The buffer's arrays are written directly (what ``add`` would store); SB3
    reads ``V(s_{t+1})`` from ``values[t + 1]``, so its answer is not compared
    here (docs/peers.md compares it on collector-made rollouts).
    """
    from peers.sb3_gae import rollout_buffer

    rewards, values, next_values, terminated, truncated, gamma, lam = args
    steps, envs = rewards.shape
    buffer = rollout_buffer(steps, envs, gamma, lam)
    dones = (terminated | truncated).numpy()
    buffer.rewards[:] = rewards.numpy()
    buffer.values[:] = values.numpy()
    buffer.episode_starts[1:] = dones[:-1]
    last_values, last_dones = next_values[-1].clone(), dones[-1]

    def call() -> None:
        buffer.compute_returns_and_advantage(last_values, last_dones)

    return call, lambda: None


def _torchrl_gae(vectorised: bool, args: tuple) -> Prepared:
    from torchrl.objectives.value.functional import (
        generalized_advantage_estimate,
        vec_generalized_advantage_estimate,
    )

    function = vec_generalized_advantage_estimate if vectorised else generalized_advantage_estimate
    rewards, values, next_values, terminated, truncated, gamma, lam = args

    def layout(x: torch.Tensor) -> torch.Tensor:  # laid out once, contiguous, before timing
        return to_torchrl(x).contiguous()

    inputs = (
        layout(values),
        layout(next_values),
        layout(rewards),
        layout(terminated | truncated),
        layout(terminated),
    )

    def call() -> torch.Tensor:
        return function(gamma, lam, *inputs)[0]

    return call, lambda: from_torchrl(call())


def torchrl_gae(args: tuple) -> Prepared:
    """torchrl ``generalized_advantage_estimate`` (a loop over time)."""
    return _torchrl_gae(False, args)


def torchrl_vec_gae(args: tuple) -> Prepared:
    """torchrl ``vec_generalized_advantage_estimate`` (a convolution per trajectory)."""
    return _torchrl_gae(True, args)


def tianshou_gae(args: tuple) -> Prepared:
    """tianshou's numba ``_gae`` on the rollout flattened environment by environment.

    tianshou keeps one flat buffer; ``end_flag`` marks every episode end and
    the last step of each environment's stretch, and ``v_s_`` is already
    zeroed at terminations (as ``compute_episodic_return`` passes it).
    """
    from tianshou.algorithm.algorithm_base import _gae

    rewards, values, next_values, terminated, truncated, gamma, lam = args
    steps, envs = rewards.shape

    def flat(x: torch.Tensor) -> np.ndarray:
        return np.ascontiguousarray(x.T.numpy()).reshape(-1)

    ends = (terminated | truncated).clone()
    ends[-1] = True
    v_s = flat(values)
    v_s_ = flat(next_values * ~terminated)
    rew = flat(rewards)
    end_flag = flat(ends)

    def call() -> np.ndarray:
        return _gae(v_s, v_s_, rew, end_flag, gamma, lam)

    return call, lambda: torch.from_numpy(call().reshape(envs, steps).T.copy())


def torchrl_reward2go(args: tuple) -> Prepared:
    """torchrl ``reward2go`` on ``[N, T, 1]``."""
    from torchrl.objectives.value.functional import reward2go

    rewards, dones, gamma = args
    r, d = to_torchrl(rewards).contiguous(), to_torchrl(dones).contiguous()

    def call() -> torch.Tensor:
        return reward2go(r, d, gamma)

    return call, lambda: from_torchrl(call())


def torchrl_td0(args: tuple) -> Prepared:
    """torchrl ``td0_return_estimate`` (elementwise, so ``[B]`` goes in as it is)."""
    from torchrl.objectives.value.functional import td0_return_estimate

    rewards, next_values, terminated, gamma = args

    def call() -> torch.Tensor:
        return td0_return_estimate(gamma, next_values, rewards, terminated)

    return call, call


def tianshou_segment_tree(workload: str) -> Callable[[tuple], Prepared]:
    """tianshou's numba ``SegmentTree`` (``tree[indices] = p``, ``get_prefix_sum_idx(u)``)."""

    def prepare(args: tuple) -> Prepared:
        from tianshou.data.utils.segtree import SegmentTree

        capacity, priorities, fractions, indices, new_priorities = args
        tree = SegmentTree(capacity)
        tree[np.arange(capacity)] = priorities.numpy()
        fractions_np, indices_np = fractions.numpy(), indices.numpy()
        new_np = new_priorities.numpy()

        def sample() -> np.ndarray:
            # get_prefix_sum_idx asserts u < total: the largest fraction is below 1.
            return tree.get_prefix_sum_idx(fractions_np * tree.reduce())

        def update() -> None:
            tree[indices_np] = new_np

        def both() -> None:
            tree[sample()] = new_np

        call = {"sample": sample, "update": update, "both": both}[workload]
        return call, lambda: None

    return prepare


# contract -> [(peer label, preparer)], at every size of the contract unless UNABLE says otherwise.
PEERS: dict[str, list[tuple[str, Callable[[tuple], Prepared]]]] = {
    "gae": [
        ("stable-baselines3 RolloutBuffer.compute_returns_and_advantage", sb3_gae),
        ("torchrl generalized_advantage_estimate", torchrl_gae),
        ("torchrl vec_generalized_advantage_estimate", torchrl_vec_gae),
        ("tianshou _gae (numba)", tianshou_gae),
    ],
    "discounted_returns": [("torchrl reward2go", torchrl_reward2go)],
    "td_target": [("torchrl td0_return_estimate", torchrl_td0)],
}
SUM_TREE_PEERS = {
    workload: [("tianshou SegmentTree (numba)", tianshou_segment_tree(workload))]
    for workload in ("sample", "update", "both")
}


# (contract, size, peer label) a peer cannot run at all, and why (regression/README.md).
UNABLE = {
    ("discounted_returns", "T1000000xN1", "torchrl reward2go"): (
        "builds a [T, T]-sized filter: asks for 64 GB at T = 1e6"
    ),
}


def peers_of(
    contract: str, workload: str | None, size: str
) -> list[tuple[str, Callable[[tuple], Prepared]]]:
    """The peers to benchmark on one case (those in ``UNABLE`` left out)."""
    found = SUM_TREE_PEERS[workload] if workload is not None else PEERS.get(contract, [])
    return [(label, p) for label, p in found if (contract, size, label) not in UNABLE]
