"""Settings that could not give a working run are refused before anything exists on disk.

Each case is what the user sees: ``drlspec train ...`` exits 2 with one line on stderr naming
the settings and why, and neither the ``--run-dir`` nor a default ``runs/`` folder is created.
The configurations refused here cannot learn by construction (no gradient step would ever be
taken, a minibatch larger than the rollout it is drawn from), or cannot start (a seed that
numpy, torch or gymnasium refuses, an environment whose optional dependency is missing).
"""

from __future__ import annotations

import csv
import importlib.util

import gymnasium as gym
import pytest

from drlspec.agents import ALGORITHMS, make_config, train
from drlspec.agents.config import SEED_LIMIT, ConfigError
from drlspec.cli import main


def _refused(args: list[str], capsys, tmp_path, monkeypatch) -> str:
    """Run ``drlspec train ARGS`` in ``tmp_path``; assert exit 2, one stderr line, no folder."""
    monkeypatch.chdir(tmp_path)  # a default run folder would land in tmp_path/runs
    code = main(["train", *args, "--no-progress"])
    captured = capsys.readouterr()
    assert code == 2, captured.out + captured.err
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith("drlspec train: error: ")
    assert "Traceback" not in captured.err
    assert list(tmp_path.iterdir()) == [], "a refused run must leave no folder behind"
    return captured.err


# --------------------------------------------------------------------- cannot learn


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        # DQN samples batch_size transitions from a buffer that never holds more than
        # buffer_size: the sampling condition is never met, no gradient step ever happens.
        (
            ["dqn", "--set", "batch_size=256", "--set", "buffer_size=100"],
            ["batch_size (256) is larger than buffer_size (100)", "no gradient step"],
        ),
        # Updates wait until step > learning_starts; the loop ends at total_steps.
        (
            ["dqn", "--steps", "500"],
            ["learning_starts (1000) must be below total_steps (500)", "no gradient step"],
        ),
        (
            ["dqn", "--steps", "1000"],
            ["learning_starts (1000) must be below total_steps (1000)"],
        ),
        # The first update needs step > 1000, a multiple of train_frequency 4, i.e. 1004.
        (
            ["dqn", "--steps", "1003"],
            ["no gradient step within total_steps (1003)", "train_frequency (4)", "step 1004"],
        ),
        # ... and a full batch in the buffer: 200 transitions, the first multiple of 8 is 200.
        (
            ["dqn", "--steps", "199", "--set", "learning_starts=10", "--set", "batch_size=200"],
            ["no gradient step within total_steps (199)", "batch_size 200", "step 200"],
        ),
        (
            [
                "per_dqn",
                "--steps",
                "300",
                "--set",
                "learning_starts=290",
                "--set",
                "train_frequency=16",
            ],
            ["no gradient step within total_steps (300)", "train_frequency (16)", "step 304"],
        ),
        # A minibatch is drawn from one rollout of num_envs * num_steps samples.
        (
            ["ppo", "--set", "minibatch_size=512"],
            ["minibatch_size (512) is larger than one rollout", "num_envs 8 x num_steps 32"],
        ),
        (
            ["ppo_penalty", "--set", "num_envs=1", "--set", "num_steps=16"],
            ["minibatch_size (256)", "num_envs 1 x num_steps 16 = 16 samples"],
        ),
        (
            ["trpo", "--set", "num_envs=1", "--set", "num_steps=64"],
            ["minibatch_size (128)", "num_envs 1 x num_steps 64 = 64 samples"],
        ),
    ],
)
def test_a_configuration_that_cannot_learn_is_refused(args, needles, capsys, tmp_path, monkeypatch):
    err = _refused(args, capsys, tmp_path, monkeypatch)
    for needle in needles:
        assert needle in err


def test_the_refusal_sees_every_setting_at_once():
    """``--steps`` and ``--set`` are applied together: --steps 240 is refused against the
    default learning_starts (1000), accepted with learning_starts=200 given alongside."""
    with pytest.raises(ConfigError, match=r"learning_starts \(1000\)"):
        make_config("dqn", total_steps=240)
    config = make_config("dqn", total_steps=240, overrides=["learning_starts=200"])
    assert (config.total_steps, config.learning_starts) == (240, 200)


@pytest.mark.parametrize(
    ("algorithm", "overrides", "steps"),
    [
        # The first gradient step is exactly at the last step: one update, accepted.
        ("dqn", ["learning_starts=1000"], 1004),
        ("dqn", ["learning_starts=10", "batch_size=200", "train_frequency=8"], 200),
        ("dqn", ["batch_size=100", "buffer_size=100", "learning_starts=0"], 100),
        # A minibatch of the whole rollout, and a last minibatch shorter than the others.
        ("ppo", ["minibatch_size=256"], None),
        ("ppo", ["minibatch_size=100"], None),
        ("trpo", ["num_envs=1", "num_steps=128"], None),
    ],
)
def test_the_boundaries_are_accepted(algorithm, overrides, steps):
    make_config(algorithm, total_steps=steps, overrides=overrides)


def test_the_first_gradient_step_is_where_the_refusal_puts_it(tmp_path):
    """The rule is the training loop's: with learning_starts 10, batch_size 20 and
    train_frequency 8 the first update is at step 24, so 24 steps give exactly one update row
    and 23 are refused."""
    settings = ["learning_starts=10", "batch_size=20", "train_frequency=8", "hidden_sizes=8"]
    with pytest.raises(ConfigError, match=r"i\.e\. step 24$"):
        make_config("dqn", total_steps=23, overrides=settings)
    config = make_config("dqn", total_steps=24, overrides=[*settings, "eval_episodes=1"])
    train("dqn", config, tmp_path / "run", progress=False)
    with open(tmp_path / "run" / "updates.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["step"] for row in rows] == ["24"]


def test_every_default_configuration_is_accepted():
    for algorithm in ALGORITHMS:
        make_config(algorithm)


# --------------------------------------------------------------------- seeds


@pytest.mark.parametrize("seed", [-1, -5, SEED_LIMIT, 2**66])
def test_a_seed_outside_what_numpy_torch_and_gymnasium_take_is_refused(
    seed, capsys, tmp_path, monkeypatch
):
    """numpy's default_rng and gymnasium's reset refuse a negative seed; torch.manual_seed one
    of 2**64 or more (``Overflow when unpacking long long``)."""
    err = _refused(["ppo", "--seed", str(seed)], capsys, tmp_path, monkeypatch)
    assert f"seed must lie in [0, 2**64 - 1], got {seed}" in err


def test_the_largest_seed_trains(tmp_path):
    """2**64 - 1 is accepted by everything that is seeded, the environments' seed + i and the
    evaluation's seed + 10_000 included (numpy and gymnasium take any non-negative integer)."""
    config = make_config(
        "ppo",
        total_steps=64,
        seed=SEED_LIMIT - 1,
        overrides=[
            "num_envs=2",
            "num_steps=32",
            "minibatch_size=32",
            "update_epochs=1",
            "hidden_sizes=8",
            "eval_episodes=1",
        ],
    )
    summary = train("ppo", config, tmp_path / "run", progress=False)
    assert summary["seed"] == SEED_LIMIT - 1 and summary["steps"] == 64


@pytest.mark.parametrize("seed", [0, 1, SEED_LIMIT - 1])
def test_seeds_in_range_are_accepted(seed):
    assert make_config("dqn", seed=seed).seed == seed


# --------------------------------------------------------------------- optional dependencies


def _needs_box2d(**kwargs):
    raise gym.error.DependencyNotInstalled(
        "Box2D is not installed, you can install it by run `pip install swig` followed by\n"
        '`pip install "gymnasium[box2d]"`'
    )


gym.register("drlspec-test/NeedsBox2D-v0", entry_point=_needs_box2d)


def test_an_environment_whose_dependency_is_missing_is_refused(capsys, tmp_path, monkeypatch):
    """gymnasium's DependencyNotInstalled becomes one line naming the environment and what to
    install (its own message spread over two lines is joined)."""
    err = _refused(["ppo", "--env", "drlspec-test/NeedsBox2D-v0"], capsys, tmp_path, monkeypatch)
    assert "environment 'drlspec-test/NeedsBox2D-v0' needs an optional dependency" in err
    assert 'pip install "gymnasium[box2d]"' in err


@pytest.mark.skipif(importlib.util.find_spec("Box2D") is not None, reason="Box2D is installed here")
def test_a_real_box2d_environment_without_box2d_is_refused(capsys, tmp_path, monkeypatch):
    err = _refused(["dqn", "--env", "LunarLander-v3"], capsys, tmp_path, monkeypatch)
    assert "environment 'LunarLander-v3' needs an optional dependency" in err
    assert "gymnasium[box2d]" in err


@pytest.mark.skipif(
    importlib.util.find_spec("mujoco") is not None, reason="MuJoCo is installed here"
)
def test_a_real_mujoco_environment_without_mujoco_is_refused(capsys, tmp_path, monkeypatch):
    err = _refused(["ppo", "--env", "HalfCheetah-v5"], capsys, tmp_path, monkeypatch)
    assert "environment 'HalfCheetah-v5' needs an optional dependency" in err
    assert "gymnasium[mujoco]" in err
