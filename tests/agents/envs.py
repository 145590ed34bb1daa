"""Small environments for the agent tests, registered with gymnasium on import.

* ``drlspec-test/Forever-v0``: never terminates, reward 1 every step, one constant
  observation, truncated by a 3-step time limit. Its true value is ``1 / (1 - gamma)``.
* ``drlspec-test/ForeverEndsAtLimit-v0``: the same, but the time limit is reported as
  ``terminated`` (what an agent that confuses truncation with termination effectively sees):
  its value is the 3-step sum, the control showing the infinite-horizon test can fail.
* ``drlspec-test/Counter-v0``: the observation counts the steps of the episode, truncated
  after 3: the true last observation (3) differs from the reset one (0).
* ``drlspec-test/NonFinite*-v0``: a NaN reward or observation after ``bad_step`` steps.
* ``drlspec-test/Interrupt-v0``: raises ``KeyboardInterrupt`` after ``interrupt_step`` steps
  (Ctrl-C during training).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

TIME_LIMIT = 3


class Forever(gym.Env):
    observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = spaces.Discrete(2)

    def __init__(self, terminate_at_limit: bool = False):
        self.terminate_at_limit = terminate_at_limit
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.ones(1, np.float32), {}

    def step(self, action):
        self.t += 1
        terminated = self.terminate_at_limit and self.t >= TIME_LIMIT
        return np.ones(1, np.float32), 1.0, terminated, False, {}


class Counter(gym.Env):
    """Observation = steps taken in this episode; reward 1; only the time limit ends it."""

    observation_space = spaces.Box(0.0, 100.0, (1,), np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.full(1, self.t, np.float32), 1.0, False, False, {}


class NonFinite(gym.Env):
    observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = spaces.Discrete(2)

    def __init__(self, quantity: str = "reward", bad_step: int = 40):
        self.quantity, self.bad_step, self.t = quantity, bad_step, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        bad = self.t >= self.bad_step
        observation = np.full(2, np.nan if bad and self.quantity == "observation" else 0.0)
        reward = float("nan") if bad and self.quantity == "reward" else 1.0
        return observation.astype(np.float32), reward, False, False, {}


class Interrupt(gym.Env):
    observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = spaces.Discrete(2)

    def __init__(self, interrupt_step: int = 150):
        self.interrupt_step, self.t = interrupt_step, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        if self.t >= self.interrupt_step:
            raise KeyboardInterrupt
        return np.zeros(2, np.float32), 1.0, self.t % 20 == 0, False, {}


def _register(env_id: str, entry_point: str, **kwargs) -> None:
    if env_id not in gym.registry:
        gym.register(env_id, entry_point=entry_point, **kwargs)


_register("drlspec-test/Forever-v0", "tests.agents.envs:Forever", max_episode_steps=TIME_LIMIT)
_register(
    "drlspec-test/ForeverEndsAtLimit-v0",
    "tests.agents.envs:Forever",
    kwargs={"terminate_at_limit": True},
    max_episode_steps=TIME_LIMIT,
)
_register("drlspec-test/Counter-v0", "tests.agents.envs:Counter", max_episode_steps=TIME_LIMIT)
_register("drlspec-test/NonFiniteReward-v0", "tests.agents.envs:NonFinite", max_episode_steps=500)
_register(
    "drlspec-test/NonFiniteObservation-v0",
    "tests.agents.envs:NonFinite",
    kwargs={"quantity": "observation"},
    max_episode_steps=500,
)
_register("drlspec-test/Interrupt-v0", "tests.agents.envs:Interrupt", max_episode_steps=500)

# Overrides that make every algorithm run a few hundred steps in about a second.
TINY: dict[str, list[str]] = {
    "dqn": ["learning_starts=50", "batch_size=16", "hidden_sizes=32,32"],
    "double_dqn": ["learning_starts=50", "batch_size=16", "hidden_sizes=32,32"],
    "dueling_dqn": ["learning_starts=50", "batch_size=16", "hidden_sizes=32,32"],
    "per_dqn": ["learning_starts=50", "batch_size=16", "hidden_sizes=32,32"],
    "reinforce": ["episodes_per_update=2", "hidden_sizes=32"],
    "actor_critic": ["num_envs=2", "num_steps=8", "hidden_sizes=32"],
    "trpo": [
        "num_envs=2",
        "num_steps=32",
        "value_epochs=2",
        "minibatch_size=32",
        "hidden_sizes=32",
    ],
    "ppo": [
        "num_envs=2",
        "num_steps=32",
        "update_epochs=2",
        "minibatch_size=32",
        "hidden_sizes=32",
    ],
    "ppo_penalty": [
        "num_envs=2",
        "num_steps=32",
        "update_epochs=2",
        "minibatch_size=32",
        "hidden_sizes=32",
    ],
}
