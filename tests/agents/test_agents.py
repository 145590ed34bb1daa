"""Every agent trains, checkpoints, reloads and repeats itself bit for bit.

Runs are a few hundred steps with small networks (``tests.agents.envs.TINY``), so the whole
module takes seconds; whether the defaults *solve* CartPole-v1 is a manual benchmark (README).
"""

from __future__ import annotations

import copy
import csv
import math

import numpy as np
import pytest
import torch

import tests.agents.envs  # noqa: F401 (registers the test environments)
from drlspec.agents import ALGORITHMS, load_agent, make_config, ppo, train
from drlspec.agents.environments import start_environments
from drlspec.agents.guards import NonFiniteError
from drlspec.agents.on_policy import PolicyAgent
from drlspec.agents.rollout import RolloutCollector
from drlspec.agents.run_folder import Run
from drlspec.distributions import categorical_kl
from tests.agents.envs import TINY

POLICY_GRADIENT = ["reinforce", "actor_critic", "trpo", "ppo", "ppo_penalty"]


def tiny_config(
    algorithm: str,
    env_id: str = "CartPole-v1",
    steps: int = 300,
    seed: int = 3,
    extra: tuple[str, ...] = (),
):
    overrides = [*TINY[algorithm], "eval_episodes=1", "checkpoint_interval=100", *extra]
    return make_config(algorithm, env_id=env_id, total_steps=steps, seed=seed, overrides=overrides)


def read_csv(path) -> list[dict[str, str]]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_registry_names_every_agent():
    """Every required agent is registered."""
    assert set(ALGORITHMS) == {
        "dqn",
        "double_dqn",
        "dueling_dqn",
        "per_dqn",
        "reinforce",
        "actor_critic",
        "trpo",
        "ppo",
        "ppo_penalty",
    }


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_trains_on_cartpole_and_writes_the_run_folder(algorithm, tmp_path):
    """A few hundred CartPole steps run, and every run file is there and loadable."""
    summary = train(algorithm, tiny_config(algorithm), tmp_path, progress=False)
    assert summary["steps"] >= 300
    for name in (
        "config.json",
        "episodes.csv",
        "updates.csv",
        "evaluations.csv",
        "learning_curve.png",
        "summary.json",
        "checkpoints/last.pt",
    ):
        assert (tmp_path / name).is_file(), name
    assert not list(tmp_path.rglob("*.tmp")), "a temporary file was left behind"
    episodes = read_csv(tmp_path / "episodes.csv")
    assert episodes and all(float(row["return"]) == int(row["length"]) for row in episodes)
    assert math.isfinite(summary["eval_mean_return"])


@pytest.mark.parametrize("algorithm", POLICY_GRADIENT)
def test_policy_gradient_agents_train_on_pendulum(algorithm, tmp_path):
    """Continuous actions: a Gaussian policy trains on Pendulum-v1 and acts inside the bounds."""
    config = tiny_config(algorithm, "Pendulum-v1", steps=250)
    train(algorithm, config, tmp_path, progress=False)
    agent, _, _ = load_agent(tmp_path)
    actions = agent.act(np.zeros((3, 3), np.float32))
    assert actions.shape == (3, 1) and actions.dtype == np.float32


@pytest.mark.parametrize("algorithm", ["dqn", "per_dqn", "ppo", "trpo"])
def test_checkpoint_round_trip_gives_identical_actions(algorithm, tmp_path):
    """A reloaded checkpoint acts exactly like the agent that wrote it."""
    config = tiny_config(algorithm)
    run = Run(tmp_path, algorithm, config, progress=False)
    agent = ALGORITHMS[algorithm].module.train(config, run)
    run.save({"agent": agent.state_dict()})
    reloaded, reloaded_config, state = load_agent(tmp_path)
    assert reloaded_config == config and state["algorithm"] == algorithm
    observations = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    np.testing.assert_array_equal(agent.act(observations), reloaded.act(observations))


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_same_seed_gives_bit_identical_metrics(algorithm, tmp_path):
    """Two CPU runs with one seed write identical metrics; another seed differs."""
    texts = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        train(
            algorithm, tiny_config(algorithm, steps=200, seed=seed), tmp_path / name, progress=False
        )
        texts.append(
            (tmp_path / name / "episodes.csv").read_text()
            + (tmp_path / name / "updates.csv").read_text()
        )
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]


@pytest.mark.parametrize(
    ("algorithm", "env_id", "quantity"),
    [
        ("dqn", "drlspec-test/NonFiniteReward-v0", "reward"),
        ("dqn", "drlspec-test/NonFiniteObservation-v0", "observation"),
        ("ppo", "drlspec-test/NonFiniteReward-v0", "reward"),
        ("trpo", "drlspec-test/NonFiniteObservation-v0", "observation"),
    ],
)
def test_non_finite_input_stops_training_naming_step_and_quantity(
    algorithm, env_id, quantity, tmp_path
):
    """A NaN reward or observation is an error naming it and the step, not a silent NaN."""
    with pytest.raises(NonFiniteError, match=rf"non-finite {quantity} at step \d+"):
        train(algorithm, tiny_config(algorithm, env_id, steps=200), tmp_path, progress=False)


def test_non_finite_loss_stops_training(tmp_path):
    """An overflowing update is caught at the loss, naming the step."""
    config = tiny_config("dqn", extra=("learning_rate=1e30", "max_grad_norm=0"))
    with pytest.raises(NonFiniteError, match=r"non-finite loss at step \d+"):
        train("dqn", config, tmp_path, progress=False)


def test_ppo_penalty_adapts_beta_once_per_update_from_the_rollout_mean_kl(tmp_path, monkeypatch):
    """adapt_kl_beta is called once per rollout, after the epochs, with the mean KL over the
    whole rollout between the collecting policy and the updated one (Schulman et al. 2017)."""
    captured = {}
    calls = []
    real_collect = ppo.RolloutCollector.collect

    def collect(self, steps, step):
        captured["old_policy"] = copy.deepcopy(self.policy)
        rollout, step = real_collect(self, steps, step)
        captured["policy"], captured["rollout"] = self.policy, rollout
        return rollout, step

    def adapt(beta, kl, target_kl):
        observations = captured["rollout"].flat("observations")
        with torch.no_grad():
            expected = categorical_kl(
                captured["old_policy"](observations), captured["policy"](observations)
            ).mean()
        calls.append((beta, kl, float(expected)))
        return beta * 2.0

    monkeypatch.setattr(ppo.RolloutCollector, "collect", collect)
    monkeypatch.setattr(ppo, "adapt_kl_beta", adapt)
    config = tiny_config("ppo_penalty", steps=256, extra=("update_epochs=3", "minibatch_size=16"))
    run = Run(tmp_path, "ppo_penalty", config, progress=False)
    ppo.train(config, run)
    rollouts = -(-256 // (config.num_envs * config.num_steps))
    assert len(calls) == rollouts
    for i, (beta, kl, expected) in enumerate(calls):
        assert beta == config.beta * 2.0**i  # unchanged between adaptations
        assert kl > 0
        # Same float32 computation on the same inputs, up to summation order.
        assert abs(kl - expected) <= 1e-5 * max(1.0, expected)


@pytest.mark.parametrize(
    ("algorithm", "mode"),
    [(name, "same_step") for name in sorted(ALGORITHMS)]
    + [(name, "next_step") for name in ("dqn", "reinforce", "ppo")],
)
def test_resume_after_ctrl_c_equals_an_uninterrupted_run(algorithm, mode, tmp_path, monkeypatch):
    """Ctrl-C at step ~150, then resume: metrics and final weights equal an uninterrupted run's.

    Also in next-step autoreset mode, where a reset step may be pending at the checkpoint."""
    config = tiny_config(
        algorithm, steps=300, extra=("checkpoint_interval=100000", f"autoreset_mode={mode}")
    )
    train(algorithm, config, tmp_path / "whole", progress=False)

    real_tick = Run.tick

    def tick(self, step, snapshot, evaluate=None):
        if step >= 150:
            self.interrupt_requested = True  # what the SIGINT handler does
        return real_tick(self, step, snapshot, evaluate)

    monkeypatch.setattr(Run, "tick", tick)
    with pytest.raises(KeyboardInterrupt):
        train(algorithm, config, tmp_path / "parts", progress=False)
    monkeypatch.undo()
    assert 150 <= torch.load(tmp_path / "parts/checkpoints/last.pt", weights_only=False)["step"]
    train(algorithm, config, tmp_path / "parts", progress=False, resume=True)

    for name in ("episodes.csv", "updates.csv", "evaluations.csv"):
        assert (tmp_path / "whole" / name).read_text() == (tmp_path / "parts" / name).read_text()
    whole = torch.load(tmp_path / "whole/checkpoints/last.pt", weights_only=False)["agent"]
    parts = torch.load(tmp_path / "parts/checkpoints/last.pt", weights_only=False)["agent"]
    for network in whole:
        for key, tensor in whole[network].items():
            assert torch.equal(tensor, parts[network][key]), f"{network}.{key}"


def test_first_sigint_is_deferred_and_the_second_interrupts(tmp_path):
    """Inside the guard, one SIGINT sets the flag (no exception); a second raises at once."""
    import os
    import signal

    run = Run(tmp_path, "dqn", tiny_config("dqn"), progress=False)
    # A process started in the background inherits SIGINT ignored (a non-interactive shell's
    # `&`); install Python's default first, so that restoring it is what is checked.
    ambient = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with run.interrupt_guard():
            os.kill(os.getpid(), signal.SIGINT)
            assert run.interrupt_requested
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, ambient)


def test_transitions_keep_the_true_final_observation_at_an_auto_reset(tmp_path):
    """SAME_STEP autoreset: a truncated row's next observation is final_obs (3), not the reset
    observation (0), in DQN's replay buffer and in a policy-gradient rollout."""
    config = tiny_config("dqn", "drlspec-test/Counter-v0", steps=60, extra=("learning_starts=10",))
    train("dqn", config, tmp_path / "dqn", progress=False)
    buffer = torch.load(tmp_path / "dqn/checkpoints/last.pt", weights_only=False)["buffer"]
    stored = buffer.sample(len(buffer), np.random.default_rng(0))
    obs, next_obs = stored.observations[:, 0], stored.next_observations[:, 0]
    assert bool(stored.truncated.any()) and not bool(stored.terminated.any())
    assert torch.equal(next_obs, obs + 1)
    assert torch.equal(stored.truncated, next_obs == 3)

    config = tiny_config("ppo", "drlspec-test/Counter-v0", steps=64)
    run = Run(tmp_path / "ppo", "ppo", config, progress=False)
    envs, observations, tracker, _ = start_environments(config, 2, None)
    agent = PolicyAgent(config, envs.single_observation_space, envs.single_action_space)
    collector = RolloutCollector(envs, observations, agent.policy, run, agent.device, tracker)
    rollout, step = collector.collect(10, 0)
    assert step == 20
    assert torch.equal(rollout.next_observations, rollout.observations + 1)
    assert torch.equal(rollout.truncated, rollout.next_observations[..., 0] == 3)
    # The row after a truncation starts the next episode from the reset observation.
    after = torch.roll(rollout.truncated, 1, dims=0)[1:]
    assert bool((rollout.observations[1:, :, 0][after] == 0).all())


@pytest.mark.parametrize("env_id", ["CartPole-v1", "drlspec-test/Counter-v0"])
@pytest.mark.parametrize("log_probs", [True, False])
def test_collect_episodes_is_collect_one_row_at_a_time_until_the_episodes_end(
    tmp_path, env_id, log_probs
):
    """REINFORCE's whole episodes: ``collect_episodes(k)`` takes exactly the rows, draws and
    episode records of ``collect(1)`` repeated until ``k`` episodes have ended over the ``N``
    environments, in both autoreset modes (CartPole: next-step reset rows; Counter: same-step),
    and stops at the row where the k-th ends."""

    def collector(folder: str) -> tuple[RolloutCollector, Run]:
        config = tiny_config("ppo", env_id, steps=4096)
        torch.manual_seed(0)
        run = Run(tmp_path / folder, "ppo", config, progress=False)
        envs, observations, tracker, _ = start_environments(config, 2, None)
        agent = PolicyAgent(config, envs.single_observation_space, envs.single_action_space)
        return RolloutCollector(envs, observations, agent.policy, run, agent.device, tracker), run

    episodes = 5
    whole, whole_run = collector("whole")
    rollout, step = whole.collect_episodes(episodes, 7, log_probs=log_probs)
    whole_rng = torch.get_rng_state()

    by_row, row_run = collector("rows")
    parts, ended, at = [], 0, 7
    while ended < episodes:
        part, at = by_row.collect(1, at, log_probs=log_probs)
        parts.append(part)
        ended += int((part.valid & (part.terminated | part.truncated)).sum())

    assert step == at == 7 + 2 * len(parts)
    assert torch.equal(whole_rng, torch.get_rng_state())
    for name in ("observations", "actions", "rewards", "terminated", "truncated", "valid"):
        assert torch.equal(getattr(rollout, name), torch.cat([getattr(p, name) for p in parts]))
    assert torch.equal(rollout.next_observations, torch.cat([p.next_observations for p in parts]))
    if log_probs:
        assert torch.equal(rollout.log_probs, torch.cat([p.log_probs for p in parts]))
    else:
        assert rollout.log_probs is None
    assert whole_run.episodes == row_run.episodes
    ends = rollout.valid & (rollout.terminated | rollout.truncated)
    assert int(ends.sum()) >= episodes and int(ends[:-1].sum()) < episodes
    assert np.array_equal(whole.carry.observations, by_row.carry.observations)


@pytest.mark.parametrize("beta_min", [0.0, 0.25])
def test_ppo_penalty_beta_halves_down_to_its_floor(tmp_path, beta_min):
    """A KL far under the target halves beta after every update, never below beta_min."""
    config = tiny_config(
        "ppo_penalty",
        steps=1024,
        extra=("target_kl=1e6", f"beta_min={beta_min}", "update_epochs=1"),
    )
    train("ppo_penalty", config, tmp_path, progress=False)
    betas = [float(row["beta"]) for row in read_csv(tmp_path / "updates.csv")]
    assert len(betas) >= 4
    expected = [max(config.beta / 2.0**i, beta_min) for i in range(len(betas))]
    assert betas == expected


@pytest.mark.parametrize(
    ("algorithm", "optimizers"),
    [
        ("dqn", {"optimizer": "learning_rate"}),
        ("actor_critic", {"actor_optimizer": "actor_lr", "critic_optimizer": "critic_lr"}),
    ],
)
def test_anneal_lr_ends_near_zero(tmp_path, algorithm, optimizers):
    steps = 400
    config = tiny_config(algorithm, steps=steps, extra=("anneal_lr=true",))
    train(algorithm, config, tmp_path, progress=False)
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=False)
    for key, field in optimizers.items():
        lr = state[key]["param_groups"][0]["lr"]
        start = getattr(config, field)
        # Set before the last update, at most one update's worth of steps before the end.
        assert 0 <= lr <= start * 0.1, (key, lr, start)
    unannealed = tiny_config(algorithm, steps=steps)
    train(algorithm, unannealed, tmp_path / "plain", progress=False)
    state = torch.load(tmp_path / "plain" / "checkpoints" / "last.pt", weights_only=False)
    for key, field in optimizers.items():
        assert state[key]["param_groups"][0]["lr"] == getattr(unannealed, field)
