"""What running a case's seeds as one batched population would buy (a measurement, not a design).

Eager PyTorch spends most of a small network's gradient step on per-operation overhead
(dispatch, autograd bookkeeping, Python), not arithmetic (regression/README.md, "Training
throughput"). A population step that stacks ``S`` seeds' weights (``[S, in, out]``, one
``baddbmm`` per layer) pays that overhead once for all ``S``. This times one Double DQN
gradient step of the convergence table's CartPole-v1 setting (batch 64, a 4-128-128-2 ReLU
network, Huber loss, each seed's gradient norm clipped to 10, Adam) both ways:

- ``separate``: ``S`` reference steps, as ``drlspec regress`` runs them today, one after the
  other (:func:`drlspec.agents.dqn.td_loss`, ``backward``, ``clip_grad_norm_``, Adam);
- ``population``: one step of all ``S`` seeds, written out here with stacked weights and the
  fused Adam (which updates every element independently, so stacking changes nothing in it).

The population step is not bit-identical to the separate ones (a batched matrix product may
sum in another order), so adopting it would regenerate the fingerprints and recalibrate the
table; this script only measures the ratio. One torch thread; medians of ``--rounds``.

    python regression/benchmarks/population.py [--seeds 5] [--rounds 5] [--repeats 300]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from drlspec.agents import dqn, make_config
from drlspec.agents.environments import make_env
from drlspec.replay import ReplayBuffer

BATCH = 64
LAYERS = [(4, 128), (128, 128), (128, 2)]


def population_step(seeds: int) -> Callable[[], None]:
    """One Double DQN gradient step for ``seeds`` stacked networks (random data, fixed shapes)."""
    generator = torch.Generator().manual_seed(0)

    def stacked() -> list[torch.Tensor]:
        parameters = []
        for fan_in, fan_out in LAYERS:
            weight = torch.randn(seeds, fan_in, fan_out, generator=generator) / fan_in**0.5
            parameters += [weight.requires_grad_(), torch.zeros(seeds, 1, fan_out).requires_grad_()]
        return parameters

    def q_values(parameters: list[torch.Tensor], observations: torch.Tensor) -> torch.Tensor:
        hidden = observations
        for layer in range(len(LAYERS)):
            hidden = torch.baddbmm(parameters[2 * layer + 1], hidden, parameters[2 * layer])
            if layer < len(LAYERS) - 1:
                hidden = F.relu(hidden)
        return hidden

    online = stacked()
    target = [p.detach().clone() for p in stacked()]
    optimizer = torch.optim.Adam(online, lr=1e-3, fused=True)
    observations = torch.randn(seeds, BATCH, 4, generator=generator)
    next_observations = torch.randn(seeds, BATCH, 4, generator=generator)
    actions = torch.randint(0, 2, (seeds, BATCH, 1), generator=generator)
    rewards = torch.randn(seeds, BATCH, generator=generator)
    terminated = torch.zeros(seeds, BATCH)

    def step() -> None:
        with torch.no_grad():
            best = q_values(online, next_observations).argmax(2, keepdim=True)
            next_q = q_values(target, next_observations).gather(2, best).squeeze(2)
            targets = rewards + 0.99 * (1 - terminated) * next_q
        predictions = q_values(online, observations).gather(2, actions).squeeze(2)
        # The sum over seeds of each seed's mean loss: seed s's gradient is its own loss's.
        loss = F.smooth_l1_loss(predictions, targets, reduction="none").mean(1).sum()
        optimizer.zero_grad()
        loss.backward()
        squared = torch.stack([p.grad.pow(2).flatten(1).sum(1) for p in online]).sum(0)
        scale = (10.0 / (squared.sqrt() + 1e-6)).clamp(max=1.0)
        for parameter in online:
            parameter.grad.mul_(scale.view(seeds, 1, 1))
        optimizer.step()

    return step


def separate_steps(seeds: int) -> Callable[[], None]:
    """``seeds`` gradient steps of the reference's Double DQN, one network after another."""
    config = make_config(
        "double_dqn", env_id="CartPole-v1", total_steps=10_000, seed=1, device="cpu"
    )
    env = make_env("CartPole-v1")
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(100_000, (4,))
    count = 5_000
    observations = rng.standard_normal((count, 4)).astype(np.float32)
    buffer.add_batch(
        observations,
        rng.integers(0, 2, count),
        rng.standard_normal(count).astype(np.float32),
        observations,
        np.zeros(count, bool),
        np.zeros(count, bool),
    )
    agents = [dqn.DQNAgent(config, env.observation_space, env.action_space) for _ in range(seeds)]
    optimizers = [torch.optim.Adam(a.q_network.parameters(), lr=1e-3) for a in agents]

    def step() -> None:
        for agent, optimizer in zip(agents, optimizers, strict=True):
            batch = buffer.sample(BATCH, rng, agent.device)
            loss, _ = dqn.td_loss(agent, config, batch, None)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(agent.q_network.parameters(), 10.0)
            optimizer.step()

    return step


def microseconds(step: Callable[[], None], repeats: int) -> float:
    for _ in range(max(1, repeats // 10)):
        step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return 1e6 * (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    separate, population = separate_steps(args.seeds), population_step(args.seeds)
    apart, together = [], []
    for _ in range(args.rounds):  # alternated, so that the machine's load hits both alike
        apart.append(microseconds(separate, args.repeats))
        together.append(microseconds(population, args.repeats))
    a, b = statistics.median(apart), statistics.median(together)
    print(
        f"{args.seeds} seeds, one Double DQN gradient step each: separate {a:,.0f} us, "
        f"population {b:,.0f} us, ratio {a / b:.1f}x"
    )


if __name__ == "__main__":
    main()
