"""Inputs of the update contracts: small seeded torch networks and DQN batches.

Networks are MLPs ``obs_dim -> hidden... -> A`` of random widths (1 or 2 hidden layers of
1 to 16 units, tanh), float64, their weights drawn from a generator seeded by hypothesis
(never torch's global one), at a scale that makes the online and target networks' values
differ by order 1. Batches have B from 1 to 32 (B == A often, so that a ``[B, 1] - [B]``
broadcast to ``[B, B]`` is not rescued by a shape coincidence only when B == 1), integer
actions at every column (int64 or int32), rewards of both signs, terminated flags as bool
or 0/1 float (none, some, all), and gamma at 0, at 1 and inside.

Everything is float64: the oracle is computed in float64 from the same networks, and an
implementation's own arithmetic (a float32 cast of the target, say) is judged with
``FLOAT32_RTOL`` of the magnitudes it combines (properties/assertions.py).
"""

from __future__ import annotations

import copy
import itertools

import torch
from hypothesis import strategies as st
from torch import nn

__all__ = [
    "CategoricalMLP",
    "GaussianMLP",
    "ValueMLP",
    "dqn_batches",
    "mlp",
    "network_pairs",
    "policy_networks",
    "with_buffers",
]


def mlp(sizes: list[int], generator: torch.Generator, scale: float = 1.0) -> nn.Sequential:
    """A float64 tanh MLP with the given layer sizes, weights drawn from ``generator``."""
    layers: list[nn.Module] = []
    for index, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        if index:
            layers.append(nn.Tanh())
        layers.append(nn.Linear(fan_in, fan_out, dtype=torch.float64))
    network = nn.Sequential(*layers)
    with torch.no_grad():
        for parameter in network.parameters():
            fan_in = parameter.shape[-1] if parameter.ndim > 1 else 1
            values = torch.randn(parameter.shape, generator=generator, dtype=torch.float64)
            parameter.copy_(values * scale / fan_in**0.5)
    return network


class _WithBuffers(nn.Module):
    """An MLP with batch-norm statistics (float buffers and an integer counter)."""

    def __init__(self, body: nn.Sequential, generator: torch.Generator) -> None:
        super().__init__()
        width = body[0].in_features
        self.norm = nn.BatchNorm1d(width, dtype=torch.float64)
        self.body = body
        with torch.no_grad():
            self.norm.running_mean.copy_(torch.randn(width, generator=generator).double())
            self.norm.running_var.copy_(torch.rand(width, generator=generator).double() + 0.5)
            self.norm.num_batches_tracked.fill_(int(torch.randint(100, (1,), generator=generator)))
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.norm(x))


def with_buffers(body: nn.Sequential, generator: torch.Generator) -> nn.Module:
    """``body`` behind a batch norm in eval mode, its statistics drawn from ``generator``."""
    return _WithBuffers(body, generator)


@st.composite
def network_pairs(draw: st.DrawFn, buffers: bool | None = False) -> dict:
    """Two networks of one architecture with independent weights, and their sizes."""
    seed = draw(st.integers(0, 2**32 - 1), label="network seed")
    generator = torch.Generator().manual_seed(seed)
    obs_dim = draw(st.integers(1, 6), label="obs_dim")
    num_actions = draw(st.integers(1, 6), label="A")
    hidden = draw(st.lists(st.integers(1, 16), min_size=1, max_size=2), label="hidden")
    sizes = [obs_dim, *hidden, num_actions]
    online = mlp(sizes, generator)
    target = mlp(sizes, generator)
    if buffers is None:
        buffers = draw(st.booleans(), label="buffers")
    if buffers:
        online, target = with_buffers(online, generator), with_buffers(target, generator)
    return {"online": online, "target": target, "obs_dim": obs_dim, "A": num_actions}


_GAMMAS = st.one_of(st.sampled_from([0.0, 1.0, 0.99]), st.floats(0.0, 1.0))


@st.composite
def dqn_batches(draw: st.DrawFn) -> dict:
    """A DQN batch for a pair of networks (module docstring)."""
    pair = draw(network_pairs())
    num_actions = pair["A"]
    batch = draw(st.one_of(st.just(num_actions), st.integers(1, 32)), label="B")
    seed = draw(st.integers(0, 2**32 - 1), label="batch seed")
    generator = torch.Generator().manual_seed(seed)
    obs_shape = (batch, pair["obs_dim"])
    action_dtype = draw(st.sampled_from([torch.int64, torch.int32]), label="action dtype")
    rate = draw(st.sampled_from([0.0, 0.5, 1.0]), label="terminated rate")
    terminated = torch.rand(batch, generator=generator) < rate
    flag_dtype = draw(st.sampled_from([torch.bool, torch.float64]), label="terminated dtype")
    return {
        "q_network": pair["online"],
        "target_network": pair["target"],
        "observations": torch.randn(obs_shape, generator=generator, dtype=torch.float64),
        "actions": torch.randint(num_actions, (batch,), generator=generator).to(action_dtype),
        "rewards": 2.0 * torch.rand(batch, generator=generator, dtype=torch.float64) - 1.0,
        "next_observations": torch.randn(obs_shape, generator=generator, dtype=torch.float64),
        "terminated": terminated.to(flag_dtype),
        "gamma": draw(_GAMMAS, label="gamma"),
    }


def copy_networks(inputs: dict) -> dict:
    """``inputs`` with deep copies of its networks (one call may not see another's)."""
    out = dict(inputs)
    for key in ("q_network", "target_network", "online", "target"):
        if key in out:
            out[key] = copy.deepcopy(out[key])
    return out


# ---------------------------------------------------------------------------
# Policies and value networks (the policy-gradient update contracts)
# ---------------------------------------------------------------------------


class CategoricalMLP(nn.Module):
    """``observations [B, obs_dim] -> Categorical(logits=MLP(observations))``."""

    def __init__(self, body: nn.Sequential) -> None:
        super().__init__()
        self.body = body

    def forward(self, observations: torch.Tensor) -> torch.distributions.Categorical:
        return torch.distributions.Categorical(logits=self.body(observations))


class GaussianMLP(nn.Module):
    """``observations -> Independent(Normal(MLP(observations), exp(log_std)), 1)``.

    ``log_std`` ``[K]`` is a free parameter (state-independent), as in CleanRL's
    ``ppo_continuous_action.py`` and stable-baselines3's ``DiagGaussianDistribution``.
    """

    def __init__(self, body: nn.Sequential, log_std: torch.Tensor) -> None:
        super().__init__()
        self.body = body
        self.log_std = nn.Parameter(log_std)

    def forward(self, observations: torch.Tensor) -> torch.distributions.Distribution:
        mean = self.body(observations)
        normal = torch.distributions.Normal(mean, self.log_std.exp().expand_as(mean))
        return torch.distributions.Independent(normal, 1)


class ValueMLP(nn.Module):
    """``observations [B, obs_dim] -> [B]`` (an MLP with one output, squeezed)."""

    def __init__(self, body: nn.Sequential) -> None:
        super().__init__()
        self.body = body

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.body(observations).squeeze(-1)


@st.composite
def policy_networks(draw: st.DrawFn, continuous: bool | None = None) -> dict:
    """A float64 policy and value network of random widths, and a way to draw actions.

    Discrete: ``CategoricalMLP`` over ``A`` in 1..6 actions (integer actions ``[B]``, int64
    or int32). Continuous: ``GaussianMLP`` with ``K`` in 1..3 action dimensions, log std
    uniform in ``[-1, 0.5]`` (float64 actions ``[B, K]``). The value network has its own
    weights. ``draw_actions(batch, generator)`` samples actions of the right kind (drawn
    from a generator, not from the policy: every action must be possible, and is).
    """
    seed = draw(st.integers(0, 2**32 - 1), label="network seed")
    generator = torch.Generator().manual_seed(seed)
    obs_dim = draw(st.integers(1, 6), label="obs_dim")
    hidden = draw(st.lists(st.integers(1, 16), min_size=1, max_size=2), label="hidden")
    if continuous is None:
        continuous = draw(st.booleans(), label="continuous")
    if continuous:
        action_dim = draw(st.integers(1, 3), label="K")
        log_std = torch.rand(action_dim, generator=generator, dtype=torch.float64) * 1.5 - 1.0
        policy: nn.Module = GaussianMLP(mlp([obs_dim, *hidden, action_dim], generator), log_std)
    else:
        action_dim = draw(st.integers(1, 6), label="A")
        policy = CategoricalMLP(mlp([obs_dim, *hidden, action_dim], generator))
    value_hidden = draw(st.lists(st.integers(1, 16), min_size=1, max_size=2), label="value hidden")
    value_network = ValueMLP(mlp([obs_dim, *value_hidden, 1], generator))
    action_dtype = draw(st.sampled_from([torch.int64, torch.int32]), label="action dtype")

    def draw_actions(batch: int, actions_generator: torch.Generator) -> torch.Tensor:
        if continuous:
            shape = (batch, action_dim)
            return torch.randn(shape, generator=actions_generator, dtype=torch.float64) * 1.5
        return torch.randint(action_dim, (batch,), generator=actions_generator).to(action_dtype)

    return {
        "policy": policy,
        "value_network": value_network,
        "obs_dim": obs_dim,
        "action_dim": action_dim,
        "continuous": continuous,
        "draw_actions": draw_actions,
    }
