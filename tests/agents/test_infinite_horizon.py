"""The infinite-horizon test (cf. stable-baselines3 issue 633).

``drlspec-test/Forever-v0`` never terminates, pays 1 per step and is *truncated* after 3
steps. Its one observation is worth ``1 / (1 - gamma)`` (= 5 for gamma = 0.8): a truncated
transition must bootstrap from ``V(s')``. An agent that treats truncation as termination
learns a mix of the time-limited sums (at most ``1 + 0.8 + 0.64 = 2.44``).
``ForeverEndsAtLimit-v0`` reports the limit as termination, which is exactly what such an
agent sees; every agent must land far from 5 there, which shows the test can fail.

Seed: 1、DQN / 损失函数设计 (errata E3) and 2、策略梯度 / :three: Actor-Critic (one ``dones``).
"""

from __future__ import annotations

import pytest
import torch

import tests.agents.envs  # noqa: F401 (registers the test environments)
from drlspec.agents import ALGORITHMS, make_config
from drlspec.agents.run_folder import Run

GAMMA = 0.8
TRUE_VALUE = 1.0 / (1.0 - GAMMA)
# The regressions converge to their fixed point up to optimisation noise of a few hundredths
# here; 5% of the true value is far below the gap to the wrong answer (<= 2.44 vs 5).
TOLERANCE = 0.05 * TRUE_VALUE

SETTINGS = {
    "dqn": [
        "learning_starts=32",
        "batch_size=32",
        "train_frequency=1",
        "target_update_interval=25",
        "learning_rate=1e-2",
        "hidden_sizes=32",
        "total_steps=700",
        "loss=mse",
    ],
    "double_dqn": [
        "learning_starts=32",
        "batch_size=32",
        "train_frequency=1",
        "target_update_interval=25",
        "learning_rate=1e-2",
        "hidden_sizes=32",
        "total_steps=700",
        "loss=mse",
    ],
    "dueling_dqn": [
        "learning_starts=32",
        "batch_size=32",
        "train_frequency=1",
        "target_update_interval=25",
        "learning_rate=1e-2",
        "hidden_sizes=32,32",
        "total_steps=700",
        "loss=mse",
    ],
    "per_dqn": [
        "learning_starts=32",
        "batch_size=32",
        "train_frequency=1",
        "target_update_interval=25",
        "learning_rate=1e-2",
        "hidden_sizes=32",
        "total_steps=700",
        "loss=mse",
    ],
    "reinforce": ["episodes_per_update=4", "hidden_sizes=32", "total_steps=1500"],
    "actor_critic": ["num_envs=4", "num_steps=4", "hidden_sizes=32", "total_steps=2000"],
    "trpo": [
        "num_envs=4",
        "num_steps=32",
        "hidden_sizes=32",
        "total_steps=2000",
        "value_lr=3e-3",
        "minibatch_size=32",
    ],
    "ppo": [
        "num_envs=4",
        "num_steps=32",
        "hidden_sizes=32",
        "total_steps=2000",
        "update_epochs=4",
        "minibatch_size=32",
        "anneal_lr=false",
        "learning_rate=3e-3",
    ],
    "ppo_penalty": [
        "num_envs=4",
        "num_steps=32",
        "hidden_sizes=32",
        "total_steps=2000",
        "update_epochs=4",
        "minibatch_size=32",
        "anneal_lr=false",
        "learning_rate=3e-3",
    ],
}


def learned_value(algorithm: str, env_id: str, tmp_path) -> float:
    config = make_config(
        algorithm, env_id=env_id, overrides=[f"gamma={GAMMA}", *SETTINGS[algorithm]]
    )
    agent = ALGORITHMS[algorithm].module.train(
        config, Run(tmp_path, algorithm, config, progress=False)
    )
    observation = torch.ones(1, 1)
    with torch.no_grad():
        if hasattr(agent, "q_network"):
            return float(agent.q_network(observation).max())
        return float(agent.value(observation))


@pytest.mark.parametrize("algorithm", sorted(SETTINGS))
def test_truncation_bootstraps_to_the_infinite_horizon_value(algorithm, tmp_path):
    """Under a time limit, V(s0) (Q for DQN) approaches 1/(1-gamma), not the truncated sum."""
    value = learned_value(algorithm, "drlspec-test/Forever-v0", tmp_path)
    assert abs(value - TRUE_VALUE) < TOLERANCE, f"{algorithm}: V(s0) = {value}, want {TRUE_VALUE}"


@pytest.mark.parametrize("algorithm", ["dqn", "ppo"])
def test_control_truncation_as_termination_is_detected(algorithm, tmp_path):
    """Reporting the limit as termination gives a value the test above rejects."""
    value = learned_value(algorithm, "drlspec-test/ForeverEndsAtLimit-v0", tmp_path)
    assert abs(value - TRUE_VALUE) > 2 * TOLERANCE + 1.0, f"{algorithm}: V(s0) = {value}"
