"""Training throughput against stable-baselines3, side by side in one process.

Environment steps per second of ``drlspec train`` (through
:func:`drlspec.agents.train`, as a user runs it: rollouts or replay,
updates, CSV logging, one final checkpoint and a one-episode evaluation) and
of stable-baselines3's ``learn`` with rl-baselines3-zoo's tuned CartPole-v1
hyperparameters, which our runs copy (network sizes, rollout and update
ratios). The two alternate, round by round, so that load on the machine hits
both alike; the ratio of medians is the figure.

Run it where stable-baselines3 is installed (the ``bench`` tox env)::

    .tox/bench/bin/python regression/benchmarks/throughput.py [--steps N] [--rounds R]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from drlspec.agents import make_config, train

# rl-baselines3-zoo, hyperparams/ppo.yml and dqn.yml, CartPole-v1.
PPO_ZOO = {
    "n_envs": 8,
    "n_steps": 32,
    "batch_size": 256,
    "gae_lambda": 0.8,
    "gamma": 0.98,
    "n_epochs": 20,
    "ent_coef": 0.0,
    "learning_rate": 1e-3,
    "clip_range": 0.2,
}
DQN_ZOO = {
    "learning_rate": 2.3e-3,
    "batch_size": 64,
    "buffer_size": 100_000,
    "learning_starts": 1000,
    "gamma": 0.99,
    "target_update_interval": 10,
    "train_freq": 256,
    "gradient_steps": 128,
    "exploration_fraction": 0.16,
    "exploration_final_eps": 0.04,
}
# The same settings in our config's names (PPO's defaults already are the zoo's).
OURS = {
    "ppo": [],
    "dqn": [
        "learning_rate=0.0023",
        "batch_size=64",
        "buffer_size=100000",
        "learning_starts=1000",
        "gamma=0.99",
        "target_update_interval=10",
        "train_frequency=256",
        "gradient_steps=128",
        "exploration_fraction=0.16",
        "epsilon_end=0.04",
        "hidden_sizes=256,256",
    ],
}


def ours(algorithm: str, steps: int, seed: int) -> float:
    overrides = [*OURS[algorithm], "eval_episodes=1", f"checkpoint_interval={steps}"]
    config = make_config(
        algorithm,
        env_id="CartPole-v1",
        total_steps=steps,
        seed=seed,
        device="cpu",
        overrides=overrides,
    )
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        summary = train(algorithm, config, Path(folder) / "run", progress=False)
        return summary["steps"] / (time.perf_counter() - start)


def stable_baselines3(algorithm: str, steps: int, seed: int) -> float:
    from stable_baselines3 import DQN, PPO
    from stable_baselines3.common.env_util import make_vec_env

    if algorithm == "ppo":
        settings = dict(PPO_ZOO)
        env = make_vec_env("CartPole-v1", n_envs=settings.pop("n_envs"), seed=seed)
        model = PPO("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **settings)
    else:
        env = make_vec_env("CartPole-v1", n_envs=1, seed=seed)
        model = DQN(
            "MlpPolicy",
            env,
            seed=seed,
            device="cpu",
            verbose=0,
            policy_kwargs={"net_arch": [256, 256]},
            **DQN_ZOO,
        )
    start = time.perf_counter()
    model.learn(total_timesteps=steps)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'algorithm':<10}{'ours (steps/s)':>16}{'sb3 (steps/s)':>16}{'ours / sb3':>12}")
    for algorithm in ("ppo", "dqn"):
        mine, theirs = [], []
        for round_ in range(args.rounds):
            # Alternate who goes first, so a trend in the machine's load hits both.
            order = (ours, stable_baselines3) if round_ % 2 == 0 else (stable_baselines3, ours)
            for runner in order:
                rate = runner(algorithm, args.steps, seed=round_ + 1)
                (mine if runner is ours else theirs).append(rate)
        a, b = statistics.median(mine), statistics.median(theirs)
        print(f"{algorithm:<10}{a:>16,.0f}{b:>16,.0f}{a / b:>12.2f}", flush=True)


if __name__ == "__main__":
    main()
