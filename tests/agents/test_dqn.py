"""The DQN agent's loss: prediction from the online network, target from the target network.

Seed: 1、DQN / 损失函数设计 (errata E1: the seed's formula predicts with θ⁻) and :three: 主要代码
(errata E2: ``self.optimize`` vs ``self.optimizer``).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from drlspec.agents import dqn
from drlspec.replay import ReplayBuffer


@pytest.fixture
def setup():
    torch.manual_seed(0)
    env = gym.make("CartPole-v1")
    config = dqn.Config(hidden_sizes=(16,))
    agent = dqn.DQNAgent(config, env.observation_space, env.action_space)
    # A target network that differs from the online one, as after some training.
    with torch.no_grad():
        for parameter in agent.target_network.parameters():
            parameter.add_(0.5)
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(64, (4,))
    buffer.add_batch(
        rng.normal(size=(32, 4)).astype(np.float32),
        rng.integers(0, 2, 32),
        rng.normal(size=32).astype(np.float32),
        rng.normal(size=(32, 4)).astype(np.float32),
        rng.random(32) < 0.2,
        rng.random(32) < 0.2,
    )
    return config, agent, buffer.sample(32, rng)


@pytest.mark.parametrize("double", [False, True])
def test_loss_trains_the_online_network_only(setup, double):
    """The loss has a gradient w.r.t. every online parameter and none w.r.t. the target's."""
    config, agent, batch = setup
    config.double = double
    loss, _ = dqn.td_loss(agent, config, batch, None)
    loss.backward()
    for parameter in agent.q_network.parameters():
        assert parameter.grad is not None and bool(parameter.grad.abs().sum() > 0)
    for parameter in agent.target_network.parameters():
        assert parameter.grad is None


def test_td_errors_use_online_prediction_and_target_network_bootstrap(setup):
    """TD error = Q_online(s, a) − (r + γ(1-terminated)·max Q_target(s')), computed plainly."""
    config, agent, batch = setup
    config.loss = "mse"
    _, td_errors = dqn.td_loss(agent, config, batch, None)
    with torch.no_grad():
        q_next = agent.target_network(batch.next_observations).numpy().astype(np.float64)
        q = agent.q_network(batch.observations).numpy().astype(np.float64)
    expected = [
        q[i, int(batch.actions[i])]
        - float(batch.rewards[i])
        - config.gamma * (0.0 if batch.terminated[i] else max(q_next[i]))
        for i in range(len(q))
    ]
    # float32 networks and targets: a few float32 ulps of values of order 1-10.
    np.testing.assert_allclose(td_errors.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_polyak_update_moves_the_target_by_tau():
    """tau = 1 copies the online network; tau < 1 moves the target that fraction of the way."""
    env = gym.make("CartPole-v1")
    agent = dqn.DQNAgent(dqn.Config(hidden_sizes=(8,)), env.observation_space, env.action_space)
    with torch.no_grad():
        for parameter in agent.q_network.parameters():
            parameter.add_(1.0)
    before = [p.clone() for p in agent.target_network.parameters()]
    dqn.update_target(agent, 0.25)
    for old, new, online in zip(
        before, agent.target_network.parameters(), agent.q_network.parameters(), strict=True
    ):
        torch.testing.assert_close(new, old + 0.25 * (online - old))
    dqn.update_target(agent, 1.0)
    for new, online in zip(
        agent.target_network.parameters(), agent.q_network.parameters(), strict=True
    ):
        assert torch.equal(new, online)
