"""The benchmark cases: representative inputs of every contract, made deterministically.

``drlspec bench`` (:mod:`drlspec.harness.bench`) and the pytest-benchmark suite
(``regression/benchmarks``) both take their inputs from ``CASES``, so a figure in the
regression table and one printed by ``drlspec bench`` are measured on the same data.

A case makes its inputs from a fixed seed in a given dtype: float32 for timing (what the
agents train with), float64 for the check that the target's answer is the reference's (so
the check measures the target's error, not the reference's). Every input is drawn in float64
and then cast, so the two are the same numbers up to rounding.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from drlspec.harness.target import UsageError

__all__ = ["CASES", "SEED", "BenchCase", "cases_of", "find_case"]

SEED = 20240611


def _randn(*shape: int, dtype: torch.dtype, generator: torch.Generator) -> torch.Tensor:
    # Always drawn in float64 and then cast, so the float32 and float64 inputs are
    # the same numbers up to rounding.
    return torch.randn(*shape, generator=generator, dtype=torch.float64).to(dtype)


def _rand(*shape: int, dtype: torch.dtype, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(*shape, generator=generator, dtype=torch.float64).to(dtype)


def _flags(*shape: int, rate: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(*shape, generator=generator, dtype=torch.float64) < rate


@dataclass(frozen=True)
class BenchCase:
    """One contract at one representative size.

    ``make(dtype, generator)`` returns the positional arguments (for a class
    contract: the arguments of the workload, see :func:`drlspec.harness.bench.prepare`).
    ``scale(args)`` is the magnitude the check's tolerance is relative to
    (``None``: the largest ``|expected|``, as in ``assert_close``).
    """

    contract: str
    size: str
    description: str
    make: Callable[[torch.dtype, torch.Generator], tuple]
    scale: Callable[[tuple], float] | None = None
    default: bool = False
    # The sum tree (a class contract): which workload to time (see bench.prepare).
    workload: str | None = None

    @property
    def name(self) -> str:
        return f"{self.contract}[{self.size}]"

    def inputs(self, dtype: torch.dtype = torch.float32) -> tuple:
        generator = torch.Generator().manual_seed(SEED)
        return self.make(dtype, generator)


# ---------------------------------------------------------------------------
# Returns and advantages
# ---------------------------------------------------------------------------


def _returns_inputs(steps: int, envs: int) -> Callable[[torch.dtype, torch.Generator], tuple]:
    def make(dtype: torch.dtype, g: torch.Generator) -> tuple:
        return (
            _randn(steps, envs, dtype=dtype, generator=g),
            _flags(steps, envs, rate=0.01, generator=g),
            0.99,
        )

    return make


def _gae_inputs(steps: int, envs: int) -> Callable[[torch.dtype, torch.Generator], tuple]:
    def make(dtype: torch.dtype, g: torch.Generator) -> tuple:
        return (
            _randn(steps, envs, dtype=dtype, generator=g),  # rewards
            _randn(steps, envs, dtype=dtype, generator=g),  # values
            _randn(steps, envs, dtype=dtype, generator=g),  # next_values
            _flags(steps, envs, rate=0.005, generator=g),  # terminated
            _flags(steps, envs, rate=0.002, generator=g),  # truncated
            0.99,
            0.95,
        )

    return make


def _gae_scale(args: tuple) -> float:
    # |A_t| <= sum_l (gamma*lam)^l |delta_{t+l}|, |delta| <= |r| + |V'| + |V|.
    rewards, values, next_values, *_rest, gamma, lam = args
    largest_delta = float((rewards.abs() + values.abs() + next_values.abs()).max())
    return largest_delta / (1.0 - gamma * lam)


def _returns_scale(args: tuple) -> float:
    rewards, _dones, gamma = args
    return float(rewards.abs().max()) / (1.0 - gamma)


def _td_target_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    batch = 4096
    return (
        _randn(batch, dtype=dtype, generator=g),
        _randn(batch, dtype=dtype, generator=g),
        _flags(batch, rate=0.05, generator=g),
        0.99,
    )


# ---------------------------------------------------------------------------
# Value-based
# ---------------------------------------------------------------------------

_BATCH_Q, _ACTIONS = 256, 18  # a DQN minibatch on Atari's full action set


def _dqn_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    return (
        _randn(_BATCH_Q, dtype=dtype, generator=g),
        _randn(_BATCH_Q, _ACTIONS, dtype=dtype, generator=g),
        _flags(_BATCH_Q, rate=0.05, generator=g),
        0.99,
    )


def _double_dqn_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    return (
        _randn(_BATCH_Q, dtype=dtype, generator=g),
        _randn(_BATCH_Q, _ACTIONS, dtype=dtype, generator=g),
        _randn(_BATCH_Q, _ACTIONS, dtype=dtype, generator=g),
        _flags(_BATCH_Q, rate=0.05, generator=g),
        0.99,
    )


def _dueling_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    return (
        _randn(_BATCH_Q, 1, dtype=dtype, generator=g),
        _randn(_BATCH_Q, _ACTIONS, dtype=dtype, generator=g),
        "mean",
    )


# ---------------------------------------------------------------------------
# Prioritized replay
# ---------------------------------------------------------------------------

_CAPACITY, _SAMPLES = 1_000_000, 256


def _per_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    return (_rand(_CAPACITY, dtype=dtype, generator=g) * 10 + 1e-6, 0.6)


def _importance_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    probabilities = (_rand(_SAMPLES, dtype=dtype, generator=g) + 0.01) * (2.0 / _CAPACITY)
    return (probabilities, _CAPACITY, 0.4)


def _sum_tree_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    """``(capacity, priorities[capacity], prefix_sums[K], indices[K], new_priorities[K])``.

    The prefix sums are drawn as fractions of the total (scaled when the
    workload runs); the indices of the update-only workload are distinct.
    """
    priorities = _rand(_CAPACITY, dtype=torch.float64, generator=g) * 10 + 1e-3
    fractions = _rand(_SAMPLES, dtype=torch.float64, generator=g)
    indices = torch.randperm(_CAPACITY, generator=g)[:_SAMPLES]
    new_priorities = _rand(_SAMPLES, dtype=torch.float64, generator=g) * 10 + 1e-3
    return (_CAPACITY, priorities, fractions, indices, new_priorities)


# ---------------------------------------------------------------------------
# Policy losses and distributions
# ---------------------------------------------------------------------------

_BATCH_PG = 4096  # a PPO minibatch


def _pg_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    log_probs = (-_rand(_BATCH_PG, dtype=dtype, generator=g) * 3).requires_grad_()
    return (log_probs, _randn(_BATCH_PG, dtype=dtype, generator=g))


def _ppo_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    old = -_rand(_BATCH_PG, dtype=dtype, generator=g) * 3
    new = old + 0.2 * _randn(_BATCH_PG, dtype=dtype, generator=g)
    return (new.requires_grad_(), old, _randn(_BATCH_PG, dtype=dtype, generator=g), 0.2)


def _kl_penalty_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    new, old, advantages, _ = _ppo_inputs(dtype, g)
    kl = _rand(_BATCH_PG, dtype=dtype, generator=g) * 0.05
    return (new, old, advantages, kl, 1.0)


def _categorical_kl_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    return (
        _randn(_BATCH_PG, _ACTIONS, dtype=dtype, generator=g),
        _randn(_BATCH_PG, _ACTIONS, dtype=dtype, generator=g),
    )


def _gaussian_kl_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    dims = 6  # a MuJoCo-sized action space
    return (
        _randn(_BATCH_PG, dims, dtype=dtype, generator=g),
        _rand(_BATCH_PG, dims, dtype=dtype, generator=g) + 0.1,
        _randn(_BATCH_PG, dims, dtype=dtype, generator=g),
        _rand(_BATCH_PG, dims, dtype=dtype, generator=g) + 0.1,
    )


# ---------------------------------------------------------------------------
# Trust region
# ---------------------------------------------------------------------------

_FLAT = 10_000


def _fisher_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    """The Fisher-vector product of a 2x64 MLP softmax policy on 2048 states (TRPO's inner step)."""
    from drlspec.policies import CategoricalPolicy

    states, obs_dim, actions = 2048, 8, 4
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(SEED)  # nn.Linear initialises from the global generator
    policy = CategoricalPolicy(obs_dim, actions, (64, 64)).to(torch.float64)
    torch.random.set_rng_state(torch_state)
    with torch.no_grad():
        for parameter in policy.parameters():
            parameter.copy_(_randn(*parameter.shape, dtype=torch.float64, generator=g) * 0.3)
    policy = policy.to(dtype)
    observations = _randn(states, obs_dim, dtype=dtype, generator=g)
    old_logits = policy.frozen_outputs(observations)
    params = list(policy.parameters())
    size = sum(p.numel() for p in params)

    def mean_kl() -> torch.Tensor:
        return policy.kl(observations, old_logits).mean()

    return (mean_kl, params, _randn(size, dtype=dtype, generator=g))


def _cg_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    # A cheap SPD operator (diagonal, condition number 10): the benchmark measures CG's own work.
    diagonal = 1.0 + 9.0 * _rand(_FLAT, dtype=dtype, generator=g)

    def matvec(v: torch.Tensor) -> torch.Tensor:
        return diagonal * v

    # residual_tol 0: all 10 iterations run.
    return (matvec, _randn(_FLAT, dtype=dtype, generator=g), 10, 0.0)


def _kkt_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    direction = _randn(_FLAT, dtype=dtype, generator=g)
    curvature = 1.0 + 9.0 * _rand(_FLAT, dtype=dtype, generator=g)
    return (direction, curvature * direction, 0.01)


def _line_search_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    params = _randn(_FLAT, dtype=dtype, generator=g)
    optimum = params + 0.01 * _randn(_FLAT, dtype=dtype, generator=g)
    curvature = 1.0 + 9.0 * _rand(_FLAT, dtype=dtype, generator=g)

    def objective(theta: torch.Tensor) -> torch.Tensor:
        return -((theta - optimum) ** 2).sum()

    def kl(theta: torch.Tensor) -> torch.Tensor:
        return 0.5 * (curvature * (theta - params) ** 2).sum()

    # Sixteen times the step to the optimum: the search backtracks four times.
    full_step = 16 * (optimum - params)
    return (objective, kl, params, full_step, 0.01, 0.5, 10)


def _scalar_kl_beta_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    return (1.0, 0.05, 0.01)


def _mlp(sizes: list[int], dtype: torch.dtype, g: torch.Generator) -> torch.nn.Module:
    """A tanh MLP whose weights come from ``g`` (nn.Linear's own init would use the global one)."""
    layers: list[torch.nn.Module] = []
    for index, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        if index:
            layers.append(torch.nn.Tanh())
        layers.append(torch.nn.Linear(fan_in, fan_out, dtype=dtype))
    network = torch.nn.Sequential(*layers)
    with torch.no_grad():
        for parameter in network.parameters():
            fan_in = parameter.shape[-1] if parameter.ndim > 1 else 1
            parameter.copy_(_randn(*parameter.shape, dtype=dtype, generator=g) / fan_in**0.5)
    return network


_DQN_SIZES = [8, 64, 64, 18]  # a 2x64 Q network, 8 observation features, 18 actions


def _td_errors_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    """A DQN minibatch of 256 through a 2x64 MLP online and target network."""
    batch = 256
    online, target = _mlp(_DQN_SIZES, dtype, g), _mlp(_DQN_SIZES, dtype, g)
    return (
        online,
        target,
        _randn(batch, _DQN_SIZES[0], dtype=dtype, generator=g),
        torch.randint(_DQN_SIZES[-1], (batch,), generator=g),
        _randn(batch, dtype=dtype, generator=g),
        _randn(batch, _DQN_SIZES[0], dtype=dtype, generator=g),
        _flags(batch, rate=0.05, generator=g),
        0.99,
    )


def _target_update_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    """A soft update (tau = 0.005) of a 2x64 MLP Q network."""
    return (_mlp(_DQN_SIZES, dtype, g), _mlp(_DQN_SIZES, dtype, g), 0.005)


def _policy_inputs(dtype: torch.dtype, g: torch.Generator, batch: int) -> dict:
    """A 2x64 tanh softmax policy over 18 actions and a 2x64 value network, weights from ``g``."""
    from drlspec.policies import CategoricalPolicy, DistributionPolicy, ValueNetwork

    obs_dim, n_actions = _DQN_SIZES[0], _DQN_SIZES[-1]
    policy = CategoricalPolicy(obs_dim, n_actions, (64, 64), torch.nn.Tanh).to(dtype)
    value_network = ValueNetwork(obs_dim, (64, 64), torch.nn.Tanh).to(dtype)
    with torch.no_grad():
        for parameter in [*policy.parameters(), *value_network.parameters()]:
            fan_in = parameter.shape[-1] if parameter.ndim > 1 else 1
            parameter.copy_(_randn(*parameter.shape, dtype=dtype, generator=g) / fan_in**0.5)
    observations = _randn(batch, obs_dim, dtype=dtype, generator=g)
    actions = torch.randint(n_actions, (batch,), generator=g)
    with torch.no_grad():
        log_prob_old = policy.log_prob(observations, actions)
    return {
        "policy": DistributionPolicy(policy),
        "value_network": value_network,
        "observations": observations,
        "actions": actions,
        "log_prob_old": log_prob_old,
        "advantages": _randn(batch, dtype=dtype, generator=g),
        "returns": _randn(batch, dtype=dtype, generator=g),
    }


def _reinforce_loss_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    """A batch of 256 steps through a 2x64 softmax policy."""
    x = _policy_inputs(dtype, g, 256)
    return (x["policy"], x["observations"], x["actions"], x["returns"])


def _actor_critic_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    """A batch of 256 transitions through a 2x64 policy and a 2x64 value network."""
    x = _policy_inputs(dtype, g, 256)
    return (
        x["policy"],
        x["value_network"],
        x["observations"],
        x["actions"],
        x["returns"],
        _randn(256, _DQN_SIZES[0], dtype=dtype, generator=g),
        _flags(256, rate=0.05, generator=g),
        0.99,
    )


def _ppo_clip_loss_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    """A PPO minibatch of 256 (a quarter of a 4x256 rollout) through 2x64 networks."""
    x = _policy_inputs(dtype, g, 256)
    return (
        x["policy"],
        x["value_network"],
        x["observations"],
        x["actions"],
        x["log_prob_old"],
        x["advantages"],
        x["returns"],
        0.2,
        0.5,
        0.01,
    )


def _trpo_step_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    """One TRPO step on a rollout of 1024 through a 2x64 softmax policy (10 CG iterations)."""
    x = _policy_inputs(dtype, g, 1024)
    return (
        x["policy"],
        x["observations"],
        x["actions"],
        x["log_prob_old"],
        x["advantages"],
        0.01,
        0.1,
        10,
        0.8,
        10,
    )


def _lean_policy(observations: np.ndarray) -> np.ndarray:
    """CartPole: push towards the side the pole leans to (a deterministic ``act``)."""
    return (observations[:, 2] + 0.1 * observations[:, 3] > 0).astype(np.int64)


def _collect_inputs(dtype: torch.dtype, g: torch.Generator) -> tuple:
    """128 steps of 8 CartPole-v1 in gymnasium's default next-step autoreset mode.

    The environments are reset with seed 0 here, so the collector's own ``envs.reset()``
    (``carry`` is ``None``) continues from seeded generators: the same transitions for the
    reference and the target. ``dtype`` and ``g`` do not enter (an environment's numbers).
    """
    import gymnasium as gym
    from gymnasium.vector import AutoresetMode, SyncVectorEnv

    envs = SyncVectorEnv(
        [lambda: gym.make("CartPole-v1") for _ in range(8)],
        autoreset_mode=AutoresetMode.NEXT_STEP,
    )
    envs.reset(seed=0)
    return (envs, _lean_policy, 128, None)


CASES: list[BenchCase] = [
    BenchCase(
        "discounted_returns",
        "T2048xN8",
        "a PPO rollout: 2048 steps of 8 envs",
        _returns_inputs(2048, 8),
        _returns_scale,
        default=True,
    ),
    BenchCase(
        "discounted_returns",
        "T1000000xN1",
        "one long stream of a million steps",
        _returns_inputs(1_000_000, 1),
        _returns_scale,
    ),
    BenchCase("td_target", "B4096", "a batch of 4096", _td_target_inputs, default=True),
    BenchCase(
        "gae",
        "T2048xN8",
        "a PPO rollout: 2048 steps of 8 envs",
        _gae_inputs(2048, 8),
        _gae_scale,
        default=True,
    ),
    BenchCase(
        "gae",
        "T1000000xN1",
        "one long stream of a million steps",
        _gae_inputs(1_000_000, 1),
        _gae_scale,
    ),
    BenchCase("dqn_target", "B256xA18", "a DQN minibatch", _dqn_inputs, default=True),
    BenchCase("double_dqn_target", "B256xA18", "a DQN minibatch", _double_dqn_inputs, default=True),
    BenchCase(
        "dqn_td_errors",
        "B256-MLP2x64",
        "a DQN minibatch of 256 through 2x64 MLPs",
        _td_errors_inputs,
        default=True,
    ),
    BenchCase(
        "double_dqn_td_errors",
        "B256-MLP2x64",
        "a DQN minibatch of 256 through 2x64 MLPs",
        _td_errors_inputs,
        default=True,
    ),
    BenchCase(
        "reinforce_loss",
        "B256-MLP2x64",
        "a batch of 256 steps through a 2x64 softmax policy",
        _reinforce_loss_inputs,
        default=True,
    ),
    BenchCase(
        "actor_critic_losses",
        "B256-MLP2x64",
        "a batch of 256 transitions through 2x64 policy and value networks",
        _actor_critic_inputs,
        default=True,
    ),
    BenchCase(
        "ppo_clip_loss",
        "B256-MLP2x64",
        "a PPO minibatch of 256 through 2x64 policy and value networks",
        _ppo_clip_loss_inputs,
        default=True,
    ),
    BenchCase(
        "trpo_step",
        "B1024-MLP2x64",
        "one TRPO step on 1024 states of a 2x64 softmax policy (the policy moves each call)",
        _trpo_step_inputs,
        default=True,
    ),
    BenchCase(
        "collect_transitions",
        "T128xN8-CartPole",
        "128 steps of 8 CartPole-v1 environments, next-step autoreset",
        _collect_inputs,
        default=True,
    ),
    BenchCase(
        "target_update",
        "MLP2x64-tau0.005",
        "a soft update of a 2x64 MLP Q network",
        _target_update_inputs,
        default=True,
    ),
    BenchCase(
        "dueling_aggregate", "B256xA18", "a DQN minibatch, mode mean", _dueling_inputs, default=True
    ),
    BenchCase("per_probabilities", "N1000000", "a full 1e6 buffer", _per_inputs, default=True),
    BenchCase(
        "importance_weights",
        "B256",
        "256 samples of a 1e6 buffer",
        _importance_inputs,
        default=True,
    ),
    BenchCase(
        "sum_tree",
        "C1000000xK256-both",
        "capacity 1e6: find 256 prefix sums, then update the found leaves",
        _sum_tree_inputs,
        default=True,
        workload="both",
    ),
    BenchCase(
        "sum_tree",
        "C1000000xK256-sample",
        "capacity 1e6: find 256 prefix sums",
        _sum_tree_inputs,
        workload="sample",
    ),
    BenchCase(
        "sum_tree",
        "C1000000xK256-update",
        "capacity 1e6: update 256 distinct leaves",
        _sum_tree_inputs,
        workload="update",
    ),
    BenchCase("policy_gradient_loss", "B4096", "a minibatch of 4096", _pg_inputs, default=True),
    BenchCase("ppo_clip_objective", "B4096", "a minibatch of 4096", _ppo_inputs, default=True),
    BenchCase(
        "kl_penalty_objective", "B4096", "a minibatch of 4096", _kl_penalty_inputs, default=True
    ),
    BenchCase(
        "adapt_kl_beta", "scalar", "one update of beta", _scalar_kl_beta_inputs, default=True
    ),
    BenchCase(
        "categorical_kl",
        "B4096xA18",
        "4096 states, 18 actions",
        _categorical_kl_inputs,
        default=True,
    ),
    BenchCase(
        "gaussian_kl", "B4096xK6", "4096 states, 6 action dims", _gaussian_kl_inputs, default=True
    ),
    BenchCase(
        "hessian_vector_product",
        "MLP2x64-S2048",
        "Fisher-vector product of a 2x64 MLP softmax policy on 2048 states",
        _fisher_inputs,
        default=True,
    ),
    BenchCase(
        "conjugate_gradient",
        "D10000-I10",
        "D = 10,000, diagonal matvec, 10 iterations",
        _cg_inputs,
        default=True,
    ),
    BenchCase("kkt_step", "D10000", "D = 10,000", _kkt_inputs, default=True),
    BenchCase(
        "line_search", "D10000", "D = 10,000, four backtracks", _line_search_inputs, default=True
    ),
]


def cases_of(contract: str) -> list[BenchCase]:
    """The benchmark cases of ``contract``, the default size first."""
    found = [c for c in CASES if c.contract == contract]
    return sorted(found, key=lambda c: not c.default)


def find_case(contract: str, size: str | None) -> BenchCase:
    """The case of ``contract`` at ``size`` (default: its default size); ``UsageError`` if none."""
    found = cases_of(contract)
    if not found:
        raise UsageError(f"contract {contract} has no benchmark case")
    if size is None:
        return found[0]
    for case in found:
        if case.size == size:
            return case
    sizes = ", ".join(c.size for c in found)
    raise UsageError(f"contract {contract} has no size {size!r}; sizes: {sizes}")
