"""Torch modules for value-based agents: the MLP trunk, ``QNetwork`` and ``DuelingQNetwork``.

Seed: ``1、DQN`` (神经网络近似 Q 函数, the seed's ``Qnet``) and ``:five: Dueling DQN``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from drlspec.checks import check_observations, check_positive_int
from drlspec.value import dueling_aggregate

__all__ = ["DuelingQNetwork", "QNetwork", "mlp"]


def mlp(
    in_dim: int,
    hidden_sizes: Sequence[int],
    out_dim: int | None = None,
    activation: type[nn.Module] = nn.ReLU,
) -> nn.Sequential:
    """``Linear -> activation`` for each hidden size, then a final ``Linear`` to ``out_dim``.

    With ``out_dim=None`` the stack ends with the last hidden activation (a trunk).
    """
    check_positive_int("in_dim", in_dim)
    layers: list[nn.Module] = []
    width = in_dim
    for position, size in enumerate(hidden_sizes):
        check_positive_int(f"hidden_sizes[{position}]", size)
        layers += [nn.Linear(width, size), activation()]
        width = size
    if out_dim is not None:
        layers.append(nn.Linear(width, check_positive_int("out_dim", out_dim)))
    return nn.Sequential(*layers)


class QNetwork(nn.Module):
    """``Q(s, ·)``: an MLP from observations ``[B, obs_dim]`` to action values ``[B, A]``."""

    def __init__(self, obs_dim: int, num_actions: int, hidden_sizes: Sequence[int] = (64, 64)):
        super().__init__()
        self.obs_dim = check_positive_int("obs_dim", obs_dim)
        self.num_actions = check_positive_int("num_actions", num_actions)
        self.body = mlp(obs_dim, hidden_sizes, num_actions)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.body(check_observations(observations, self.obs_dim))


class DuelingQNetwork(QNetwork):
    """Dueling architecture: a shared trunk, then a value head ``V(s)`` and an advantage head
    ``A(s, ·)`` combined by :func:`drlspec.value.dueling_aggregate`.

    Paper: Wang et al. (2016), Figure 1.
    """

    def __init__(
        self,
        obs_dim: int,
        num_actions: int,
        hidden_sizes: Sequence[int] = (64, 64),
        mode: Literal["mean", "max"] = "mean",
    ):
        nn.Module.__init__(self)
        self.obs_dim = check_positive_int("obs_dim", obs_dim)
        self.num_actions = check_positive_int("num_actions", num_actions)
        if mode not in ("mean", "max"):
            raise ValueError(f"mode must be 'mean' or 'max', got {mode!r}")
        if len(hidden_sizes) == 0:
            raise ValueError("hidden_sizes must name at least one layer for the shared trunk")
        self.mode = mode
        self.trunk = mlp(obs_dim, hidden_sizes[:-1] or hidden_sizes)
        width = hidden_sizes[-2] if len(hidden_sizes) > 1 else hidden_sizes[0]
        head = hidden_sizes[-1]
        self.value_head = mlp(width, [head], 1)
        self.advantage_head = mlp(width, [head], num_actions)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        features = self.trunk(check_observations(observations, self.obs_dim))
        return dueling_aggregate(
            self.value_head(features), self.advantage_head(features), self.mode
        )
