"""Where one training run's wall time goes: each piece of shared machinery, timed in place.

Trains one case of the convergence table (reference/data/cases.toml) through
:func:`drlspec.agents.train` exactly as ``drlspec regress`` does (the case's settings, one
torch thread, the final evaluation), with a ``perf_counter`` around each piece of machinery the
agents share: recording a step, action selection, the environments, the replay buffer, the
losses, ``backward``, gradient clipping, the optimizer, checkpoints, logs and the final
evaluation. A profiler that samples (``py-spy``) or traces (``cProfile``) tells which Python
function is hot; this tells what a part costs per call and per environment step inside a real
run, where every part is slower than in a micro-benchmark of it alone (the caches and branch
predictors are shared with the rest of the loop). Parts nest (recording a step includes
selecting the action and stepping the environments), so the shares do not add up to 100%.
Each timed call adds well under a microsecond.

    python regression/benchmarks/loop_profile.py double_dqn-CartPole-v1 [--steps 20000] [--seed 1]
"""

from __future__ import annotations

import argparse
import collections
import functools
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium.vector
import torch

import drlspec.agents as agents
from drlspec.agents import dqn, ppo, rollout, run_folder
from drlspec.harness.regress import default_table, load_cases
from drlspec.policies import CategoricalPolicy, GaussianPolicy
from drlspec.replay import PrioritizedReplayBuffer, ReplayBuffer

seconds: collections.Counter[str] = collections.Counter()
calls: collections.Counter[str] = collections.Counter()


def timed(label: str, function: Any) -> Any:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            seconds[label] += time.perf_counter() - start
            calls[label] += 1

    return wrapper


# (label, where the name is looked up when the loop calls it, the name)
PARTS = [
    ("record one step (dqn.record_step)", dqn, "record_step"),
    ("collect a rollout (RolloutCollector.collect)", rollout.RolloutCollector, "collect"),
    ("collect whole episodes (collect_episodes)", rollout.RolloutCollector, "collect_episodes"),
    ("collect_transitions", dqn, "collect_transitions"),
    ("collect_transitions", rollout, "collect_transitions"),
    ("greedy action (DQNAgent.act)", dqn.DQNAgent, "act"),
    ("sample an action (policy)", CategoricalPolicy, "sample_with_log_prob"),
    ("sample an action (policy)", GaussianPolicy, "sample_with_log_prob"),
    ("sample an action (policy)", CategoricalPolicy, "sample"),
    ("sample an action (policy)", GaussianPolicy, "sample"),
    ("environments (SyncVectorEnv.step)", gymnasium.vector.SyncVectorEnv, "step"),
    ("replay: add_batch", ReplayBuffer, "add_batch"),
    ("replay: sample", ReplayBuffer, "sample"),
    ("replay: sample", PrioritizedReplayBuffer, "sample"),
    ("replay: update_priorities", PrioritizedReplayBuffer, "update_priorities"),
    ("TD loss, forward (dqn.td_loss)", dqn, "td_loss"),
    ("PPO loss, forward (ppo_clip_loss_terms)", ppo, "ppo_clip_loss_terms"),
    ("backward", torch.Tensor, "backward"),
    ("optimizer: zero_grad", torch.optim.Optimizer, "zero_grad"),
    ("clip_grad_norm_", torch.nn.utils, "clip_grad_norm_"),
    ("optimizer: Adam.step", torch.optim.Adam, "step"),
    ("target network update", dqn, "update_target"),
    ("episode/update logs (Run.log_*)", run_folder.Run, "log_episode"),
    ("episode/update logs (Run.log_*)", run_folder.Run, "log_update"),
    ("checkpoints (Run.save)", run_folder.Run, "save"),
    ("final evaluation", agents, "evaluate_policy"),
    ("learning-curve plot (Run.plot)", run_folder.Run, "plot"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", help="a case name, e.g. double_dqn-CartPole-v1")
    parser.add_argument("--steps", type=int, help="environment steps (default: the case's)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    cases = {case.name: case for case in load_cases(default_table())}
    if args.case not in cases:
        parser.error(f"unknown case {args.case!r}; one of: {', '.join(cases)}")
    case = cases[args.case]
    steps = args.steps or case.steps
    torch.set_num_threads(1)
    for label, owner, name in PARTS:
        setattr(owner, name, timed(label, getattr(owner, name)))
    config = agents.make_config(
        case.algorithm,
        env_id=case.env_id,
        total_steps=steps,
        seed=args.seed,
        device="cpu",
        overrides=case.assignments(),
    )
    # One-off imports outside the timer (torch._dynamo, which the first Adam imports, and
    # matplotlib for the plot), as a `drlspec regress` worker has them after its first run.
    torch.optim.Adam(torch.nn.Linear(1, 1).parameters()).zero_grad()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot

    seconds.clear()
    calls.clear()
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        agents.train(
            case.algorithm,
            config,
            Path(folder) / "run",
            progress=False,
            eval_seed=1_000_000,
            eval_episodes=case.eval_episodes,
        )
        total = time.perf_counter() - start
    print(
        f"{case.name}, {steps} steps, seed {args.seed}: {total:.2f} s, "
        f"{steps / total:,.0f} steps/s, {1e6 * total / steps:.0f} us per environment step"
    )
    print(f"{'part':<46}{'s':>7}{'share':>7}{'calls':>8}{'us/call':>11}{'us/step':>9}")
    for label, spent in seconds.most_common():
        print(
            f"{label:<46}{spent:>7.2f}{spent / total:>7.1%}{calls[label]:>8}"
            f"{1e6 * spent / calls[label]:>11.1f}{1e6 * spent / steps:>9.1f}"
        )


if __name__ == "__main__":
    sys.exit(main())
