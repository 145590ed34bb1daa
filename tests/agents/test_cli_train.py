"""``drlspec train`` and ``drlspec evaluate``: a run end to end, and one-line usage errors."""

from __future__ import annotations

import json

import pytest

from drlspec.cli import main


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["train", "nosuchalgo"], "unknown algorithm 'nosuchalgo'"),
        (["train", "dqn", "--env", "NoSuchEnv-v0"], "unknown environment id 'NoSuchEnv-v0'"),
        (["train", "ppo", "--set", "no_such_key=1"], "unknown config key 'no_such_key'"),
        (["train", "ppo", "--set", "learning_rate=fast"], "learning_rate must be a number"),
        (["train", "ppo", "--set", "novalue"], "--set expects key=value"),
        (["train", "dqn", "--env", "Pendulum-v1"], "needs a Discrete action space"),
        (["train", "ppo", "--env", "FrozenLake-v1"], "needs a flat Box observation space"),
        (["train", "dqn", "--steps", "0"], "total_steps must be > 0"),
        (["train", "dqn", "--set", "train_frequency=0"], "train_frequency must be > 0"),
        (["train", "ppo", "--set", "gamma=1.5"], "gamma must lie in [0, 1]"),
        (["train", "trpo", "--set", "hidden_sizes="], "hidden_sizes must be positive widths"),
        (["train"], "name an algorithm"),
        (["evaluate", "/nonexistent/run"], "is not a run folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, needle, capsys, tmp_path):
    """A user's mistake: exit code 2, one line on stderr naming it, no run folder written."""
    assert main([*args, "--run-dir", str(tmp_path / "run")] if args[0] == "train" else args) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_train_then_evaluate(tmp_path, capsys):
    """train writes a run folder; evaluate reloads its checkpoint and reports a mean return."""
    run_dir = tmp_path / "run"
    code = main(
        [
            "train",
            "ppo",
            "--env",
            "CartPole-v1",
            "--steps",
            "128",
            "--seed",
            "4",
            "--no-progress",
            "--run-dir",
            str(run_dir),
            "--set",
            "num_envs=2",
            "--set",
            "num_steps=32",
            "--set",
            "update_epochs=1",
            "--set",
            "minibatch_size=32",
            "--set",
            "eval_episodes=1",
        ]
    )
    assert code == 0
    config = json.loads((run_dir / "config.json").read_text())
    assert config["algorithm"] == "ppo" and config["seed"] == 4 and config["num_envs"] == 2
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--episodes", "2"]) == 0
    assert "mean return" in capsys.readouterr().out
    assert main(["evaluate", str(run_dir), "--episodes", "0"]) == 2


def test_resume_continues_a_run_to_a_larger_total(tmp_path, capsys):
    """--resume RUN_DIR --steps N continues the saved run; other options are refused."""
    run_dir = tmp_path / "run"
    common = ["--set", "learning_starts=20", "--set", "batch_size=8", "--set", "eval_episodes=1"]
    args = ["train", "dqn", "--steps", "60", "--no-progress", "--run-dir", str(run_dir), *common]
    assert main(args) == 0
    assert main(["train", "--resume", str(run_dir), "--seed", "3"]) == 2
    assert "only --steps may change" in capsys.readouterr().err
    assert main(["train", "ppo", "--resume", str(run_dir)]) == 2
    assert main(["train", "--no-progress", "--resume", str(run_dir), "--steps", "90"]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 90
    assert main(["train"]) == 2


def test_train_help_lists_every_registered_algorithm(capsys):
    """The help text names each algorithm of the registry."""
    from drlspec.agents import ALGORITHMS

    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert all(name in text for name in ALGORITHMS)


def test_ctrl_c_on_the_command_line_saves_and_exits_130(tmp_path):
    """A real SIGINT to `drlspec train`: exit 130, a loadable last.pt, whole metrics files."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import torch

    run_dir = tmp_path / "run"
    command = [
        sys.executable, "-m", "drlspec.cli", "train", "ppo", "--steps", "10000000",
        "--no-progress", "--run-dir", str(run_dir), "--set", "num_envs=2",
        "--set", "num_steps=32", "--set", "update_epochs=1", "--set", "minibatch_size=64",
        "--set", "checkpoint_interval=64",
    ]  # fmt: skip
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    process = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (run_dir / "episodes.csv").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (run_dir / "episodes.csv").exists(), "training did not start"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err.decode()
    state = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=False)
    assert state["step"] > 0 and "envs" in state
    lines = (run_dir / "episodes.csv").read_text().splitlines()
    assert lines[0] == "step,return,length" and all(line.count(",") == 2 for line in lines)
