"""The fast kernels of reference/fast pass their contracts and agree with the reference.

A fast kernel is only worth having if it is verified: each must pass every
property of its contract under ``drlspec verify`` (the same suite that judges
the reference), and each must agree with the reference on the benchmark
inputs it is fast on (``drlspec.harness.bench``), including layouts the
property suite does not draw (non-contiguous views, float flags).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from drlspec.fast import FAST_KERNELS
from drlspec.fast.gae import gae as fast_gae
from drlspec.fast.returns import discounted_returns as fast_discounted_returns
from drlspec.fast.sum_tree import SumTree as FastSumTree
from drlspec.harness import verify
from drlspec.harness.bench import check_output, find_case, prepare
from drlspec.replay import SumTree
from drlspec.returns import discounted_returns, gae


@pytest.mark.parametrize(("contract", "spec"), sorted(FAST_KERNELS.items()))
def test_fast_kernel_passes_its_contract(contract: str, spec: str) -> None:
    result = verify(contract, spec, device="cpu")
    failed = [f"{r.name}: {r.message}" for r in result.results if not r.passed]
    assert result.passed, f"{spec} fails {contract}: {failed}"


def test_fast_gae_matches_reference_on_the_rollout_case() -> None:
    """2048 x 8, float32 inputs: the fast kernel within float32 accuracy of the float64 one."""
    case = find_case("gae", "T2048xN8")
    expected = prepare(case, gae, dtype=torch.float64).observe()
    check_output(case, prepare(case, fast_gae).observe(), expected)


def test_fast_gae_long_stream_matches_its_float64_self() -> None:
    """A million steps, one env: float32 inputs agree with float64 ones (the chain does not drift).

    The readable reference takes seconds here; the fast kernel passed the
    contract above, so its float64 answer is the yardstick for its float32 one.
    """
    case = find_case("gae", "T1000000xN1")
    check_output(case, prepare(case, fast_gae).observe(), fast_gae(*case.inputs(torch.float64)))


def test_fast_gae_takes_views_and_float_flags() -> None:
    """Transposed (non-contiguous) inputs and 0/1 float flags give the reference's answer."""
    generator = torch.Generator().manual_seed(7)
    shape = (5, 37)  # transposed to [37, 5]
    rewards, values, next_values = (
        torch.randn(shape, generator=generator, dtype=torch.float64).T for _ in range(3)
    )
    terminated = (torch.rand(shape, generator=generator) < 0.2).double().T
    truncated = (torch.rand(shape, generator=generator) < 0.2).double().T
    args = (rewards, values, next_values, terminated, truncated, 0.9, 0.8)
    assert not rewards.is_contiguous()
    torch.testing.assert_close(fast_gae(*args), gae(*args), rtol=0, atol=1e-12)


def test_fast_discounted_returns_takes_views_and_float_flags() -> None:
    """Transposed inputs and 0/1 float flags give the reference's answer."""
    generator = torch.Generator().manual_seed(8)
    rewards = torch.randn(4, 29, generator=generator, dtype=torch.float64).T
    dones = (torch.rand(4, 29, generator=generator) < 0.2).double().T
    torch.testing.assert_close(
        fast_discounted_returns(rewards, dones, 0.97),
        discounted_returns(rewards, dones, 0.97),
        rtol=0,
        atol=1e-12,
    )


def test_fast_discounted_returns_matches_reference_on_the_rollout_case() -> None:
    case = find_case("discounted_returns", "T2048xN8")
    expected = prepare(case, discounted_returns, dtype=torch.float64).observe()
    check_output(case, prepare(case, fast_discounted_returns).observe(), expected)


def test_fast_gae_rejects_what_the_reference_rejects() -> None:
    rewards = torch.zeros(3, 2)
    flags = torch.zeros(3, 2, dtype=torch.bool)
    with pytest.raises(ValueError, match="lam"):
        fast_gae(rewards, rewards, rewards, flags, flags, 0.9, 1.5)
    with pytest.raises(ValueError, match="values"):
        fast_gae(rewards, rewards[:2], rewards, flags, flags, 0.9, 0.9)


def test_fast_sum_tree_finds_what_the_reference_finds() -> None:
    """Same layout and descent rule, so the same leaf for every prefix sum (ties included)."""
    rng = np.random.default_rng(3)
    for capacity in (1, 2, 3, 17, 1000):
        fast, slow = FastSumTree(capacity), SumTree(capacity)
        for _ in range(5):
            indices = rng.integers(0, capacity, size=int(rng.integers(1, 40)))
            # Dyadic values and zeros: exact ties on internal boundaries.
            priorities = rng.choice([0.0, 0.25, 0.5, 1.0, 3.0], size=indices.size)
            fast.update(indices, priorities)
            slow.update(indices, priorities)
            assert fast.total() == slow.total()
            if slow.total() > 0:
                u = np.concatenate([[0.0, slow.total()], rng.random(64) * slow.total()])
                u = np.concatenate([u, np.cumsum(slow.get(np.arange(capacity)))])
                u = u[u <= slow.total()]
                np.testing.assert_array_equal(fast.find(u), slow.find(u))
        np.testing.assert_array_equal(fast.get(np.arange(capacity)), slow.get(np.arange(capacity)))


def test_fast_sum_tree_rejects_what_the_reference_rejects() -> None:
    tree = FastSumTree(4)
    with pytest.raises(ValueError, match="indices"):
        tree.update(np.array([4]), np.array([1.0]))
    with pytest.raises(ValueError, match="priorities"):
        tree.update(np.array([0]), np.array([-1.0]))
    with pytest.raises(ValueError, match="total"):
        tree.find(np.array([0.0]))
    tree.update(np.array([1]), np.array([2.0]))
    with pytest.raises(ValueError, match="prefix_sums"):
        tree.find(np.array([2.5]))


@pytest.mark.parametrize("envs", [0, 1, 3])
def test_fast_kernels_give_an_empty_result_for_an_empty_rollout(envs: int) -> None:
    """T = 0 gives [0, N], as the reference does."""
    empty = torch.zeros(0, envs)
    flags = torch.zeros(0, envs, dtype=torch.bool)
    float_flags = torch.zeros(0, envs)
    for terminated in (flags, float_flags):
        assert fast_gae(empty, empty, empty, terminated, terminated, 0.9, 0.9).shape == (0, envs)
        assert fast_discounted_returns(empty, terminated, 0.9).shape == (0, envs)


def test_fast_kernels_take_numpy_scalars() -> None:
    """A np.float32 gamma or lam means its value, in the fast path and the checked one."""
    generator = torch.Generator().manual_seed(5)
    rewards, values, next_values = (torch.randn(6, 3, generator=generator) for _ in range(3))
    flags = torch.rand(6, 3, generator=generator) < 0.3
    for terminated in (flags, flags.float()):
        for gamma, lam in ((np.float32(0.9), np.float32(0.8)), (np.array(0.9), np.int64(1))):
            args = (rewards, values, next_values, terminated, flags)
            assert torch.equal(
                fast_gae(*args, gamma, lam), fast_gae(*args, float(gamma), float(lam))
            )
            assert torch.equal(
                fast_discounted_returns(rewards, terminated, gamma),
                fast_discounted_returns(rewards, terminated, float(gamma)),
            )
    with pytest.raises(TypeError, match="gamma"):
        fast_gae(rewards, values, next_values, flags, flags, np.bool_(True), 0.9)


@pytest.mark.parametrize("tree_class", [SumTree, FastSumTree])
def test_sum_trees_refuse_an_overflowing_total_and_stay_unchanged(tree_class) -> None:
    """Two leaves of 1e308 would make total() inf: refused, naming priorities, tree intact."""
    tree = tree_class(5)
    tree.update(np.arange(5), np.array([1.0, 2.0, 0.0, 3.0, 1e308]))
    before = (tree.total(), tree.get(np.arange(5)).tolist(), tree._tree.copy())
    with pytest.raises(ValueError, match=r"^priorities must keep total\(\) finite"):
        tree.update(np.array([2, 0, 2]), np.array([1e308, 5.0, 1e308]))
    assert (tree.total(), tree.get(np.arange(5)).tolist()) == before[:2]
    np.testing.assert_array_equal(tree._tree, before[2])
    # Lowering the large leaf first makes the same write fine.
    tree.update(np.array([4, 2]), np.array([1.0, 1e308]))
    assert tree.total() == 1e308 + 7.0
    np.testing.assert_array_equal(tree.find(np.array([0.0, tree.total()])), [0, 4])
