"""Training throughput: environment steps per second of ``drlspec train`` for PPO and DQN.

Each benchmark trains from scratch on CartPole-v1 for ``STEPS`` environment
steps (seed 1, CPU, one evaluation episode at the end) through
``drlspec.agents.train``, the function behind ``drlspec train``: rollout
collection, the updates, logging and checkpointing, as a user runs them. The
steps per second of each round go into ``extra_info``. A separate module from
the kernels, so that a change in the agents' interface breaks only this file.
"""

from __future__ import annotations

from itertools import count
from pathlib import Path
from typing import Any

import pytest

from drlspec.agents import make_config, train

STEPS = 8192  # past DQN's first learning step and through four PPO rollouts of 2048


@pytest.mark.parametrize("algorithm", ["ppo", "dqn"])
def test_training_throughput(benchmark: Any, algorithm: str, tmp_path: Path) -> None:
    config = make_config(
        algorithm,
        env_id="CartPole-v1",
        total_steps=STEPS,
        seed=1,
        device="cpu",
        overrides=["eval_episodes=1"],
    )
    runs = count()

    def run() -> dict[str, Any]:
        return train(algorithm, config, tmp_path / f"run{next(runs)}", progress=False)

    benchmark.group = f"training[{algorithm}-CartPole-v1-{STEPS}]"
    benchmark.extra_info.update(
        kernel=f"drlspec train {algorithm}",
        description=f"{STEPS} steps of CartPole-v1 from scratch, seed 1, CPU",
    )
    summary = benchmark.pedantic(run, rounds=3, iterations=1)
    benchmark.extra_info["steps_per_second"] = summary["steps_per_second"]
