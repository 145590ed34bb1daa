"""A run folder is never lost or written by two runs, and Ctrl-C at any moment resumes exactly.

The interrupt tests press Ctrl-C (real SIGINTs, sent by ``DRLSPEC_TEST_INTERRUPT_AT``, see
:mod:`drlspec.agents.interrupts`) at a chosen phase of a real ``drlspec train`` process, then
resume the folder and compare it with an uninterrupted run of the same seed: the metrics files
must be equal byte for byte and the final weights bit for bit.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from drlspec.agents.config import ConfigError
from drlspec.agents.run_folder import LOCK, new_run_folder
from drlspec.cli import main

ROOT = Path(__file__).resolve().parents[2]
METRICS = ("episodes.csv", "updates.csv", "evaluations.csv")
# 4 PPO iterations of 64 steps; evaluations at 64, 128, 192, 256; no periodic checkpoint
# before the end, so any checkpoint before it is the interrupt's own.
PPO = [
    "ppo", "--steps", "256", "--seed", "5", "--no-progress", "--set", "num_envs=2",
    "--set", "num_steps=32", "--set", "update_epochs=1", "--set", "minibatch_size=32",
    "--set", "eval_episodes=2", "--set", "eval_interval=64",
]  # fmt: skip


def one_line_error(capsys, needle: str) -> str:
    err = capsys.readouterr().err
    assert needle in err, err
    assert err.count("\n") == 1, err
    return err


def train_process(args: list[str], interrupt_at: str | None = None, timeout: float = 120):
    """``drlspec train ARGS`` in a fresh process; ``interrupt_at``: DRLSPEC_TEST_INTERRUPT_AT."""
    env = {**os.environ}
    env.pop("DRLSPEC_TEST_INTERRUPT_AT", None)
    if interrupt_at is not None:
        env["DRLSPEC_TEST_INTERRUPT_AT"] = interrupt_at
    return subprocess.run(
        [sys.executable, "-m", "drlspec.cli", "train", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_same_run(whole: Path, parts: Path) -> None:
    for name in METRICS:
        assert (whole / name).read_text() == (parts / name).read_text(), name
    a = torch.load(whole / "checkpoints/last.pt", weights_only=False)
    b = torch.load(parts / "checkpoints/last.pt", weights_only=False)
    assert a["step"] == b["step"]
    for network in a["agent"]:
        for key, tensor in a["agent"][network].items():
            assert torch.equal(tensor, b["agent"][network][key]), f"{network}.{key}"
    summary = json.loads((whole / "summary.json").read_text())
    resumed = json.loads((parts / "summary.json").read_text())
    assert summary["eval_returns"] == resumed["eval_returns"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[str, Path]:
    """Uninterrupted runs of the interrupt tests' configs (one process each, like theirs)."""
    root = tmp_path_factory.mktemp("whole")
    runs = {}
    for name, extra in (("plain", []), ("checkpointed", ["--set", "checkpoint_interval=64"])):
        result = train_process([*PPO, *extra, "--run-dir", str(root / name)])
        assert result.returncode == 0, result.stderr
        runs[name] = root / name
    return runs


@pytest.mark.parametrize(
    ("interrupt_at", "step"),
    [
        ("training", 64),  # mid-rollout: saved at the end of the iteration
        ("evaluation", 64),  # the evaluation at 64 is abandoned, played on resume
        ("evaluation:2", 64),  # a second Ctrl-C stops it at once: the same
        ("checkpoint", 64),  # best.pt being written at 64: the write finishes first
        ("checkpoint:2", 64),
        ("final_evaluation", 256),  # last.pt of step 256 is written before it
        ("final_evaluation:2", 256),
    ],
)
def test_ctrl_c_at_each_phase_resumes_exactly(interrupt_at, step, uninterrupted, tmp_path):
    """Ctrl-C (once or twice) at each phase: exit 130, a message naming the checkpoint's step,
    and --resume ends equal to the uninterrupted run: metrics byte for byte, weights bit for
    bit, the same final evaluation."""
    run_dir = tmp_path / "run"
    result = train_process([*PPO, "--run-dir", str(run_dir)], interrupt_at)
    assert result.returncode == 130, result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert f"checkpoint at step {step} and metrics up to step {step} saved in {run_dir}" in (
        message
    )
    assert torch.load(run_dir / "checkpoints/last.pt", weights_only=False)["step"] == step
    assert not (run_dir / "summary.json").exists()
    assert not list(run_dir.rglob("*.tmp"))
    assert main(["train", "--resume", str(run_dir), "--no-progress"]) == 0
    assert_same_run(uninterrupted["plain"], run_dir)


def test_second_ctrl_c_mid_step_keeps_the_last_checkpoint(uninterrupted, tmp_path):
    """Two Ctrl-C mid-rollout stop at once: nothing of the unfinished iteration is written,
    the folder holds the last periodic checkpoint, and resume is still exact."""
    run_dir = tmp_path / "run"
    args = [*PPO, "--set", "checkpoint_interval=64", "--run-dir", str(run_dir)]
    # At the first episode to end after step 64 (the same seed ends the same episodes).
    rows = (uninterrupted["checkpointed"] / "episodes.csv").read_text().splitlines()[1:]
    skip = sum(int(row.split(",")[0]) <= 64 for row in rows)
    assert int(rows[skip].split(",")[0]) <= 128  # inside the second iteration
    result = train_process(args, f"training:2:{skip}")
    assert result.returncode == 130, result.stderr
    assert torch.load(run_dir / "checkpoints/last.pt", weights_only=False)["step"] == 64
    assert "checkpoint at step 64 and metrics up to step 64" in result.stderr
    # Rows a process flushed after its last checkpoint and then died (between the metrics and
    # last.pt, or later): last.pt counts its rows, and resume drops the rest.
    with open(run_dir / "episodes.csv", "a") as file:
        file.write("".join(f"{row}\n" for row in rows[skip : skip + 3]))
    assert main(["train", "--resume", str(run_dir), "--no-progress"]) == 0
    assert_same_run(uninterrupted["checkpointed"], run_dir)


def test_sigkill_after_a_checkpoint_resumes_exactly(uninterrupted, tmp_path):
    """SIGKILL (no handler runs) once a checkpoint exists: resume is exact all the same."""
    run_dir = tmp_path / "run"
    args = [*PPO, "--set", "checkpoint_interval=64", "--run-dir", str(run_dir)]
    process = subprocess.Popen(
        [sys.executable, "-m", "drlspec.cli", "train", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not (run_dir / "checkpoints/last.pt").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert (run_dir / "checkpoints/last.pt").exists() and not (run_dir / "summary.json").exists()
    assert main(["train", "--resume", str(run_dir), "--no-progress"]) == 0
    assert_same_run(uninterrupted["checkpointed"], run_dir)


def test_second_ctrl_c_before_any_checkpoint_removes_the_new_folder(tmp_path):
    """Stopped at once before anything could be resumed: says so, and leaves no orphan."""
    run_dir = tmp_path / "run"
    result = train_process([*PPO, "--run-dir", str(run_dir)], "training:2")
    assert result.returncode == 130, result.stderr
    assert "nothing to resume" in result.stderr and f"{run_dir} removed" in result.stderr
    assert not run_dir.exists()


def test_existing_run_dir_with_files_is_refused_untouched(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text("{}")
    assert main(["train", *PPO, "--run-dir", str(run_dir)]) == 2
    err = one_line_error(capsys, f"{run_dir} already holds files")
    assert f"--resume {run_dir}" in err
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.json"]  # not even a lock
    assert (run_dir / "config.json").read_text() == "{}"


def test_default_names_started_together_never_collide(tmp_path):
    """Several threads and processes claim the same default name at once: all distinct."""
    default = tmp_path / "runs" / "ppo-CartPole-v1-1-20260101-000000"
    names: list[Path] = []
    barrier = threading.Barrier(4)

    def claim() -> None:
        barrier.wait()
        with new_run_folder(None, default) as folder:
            names.append(folder)
            time.sleep(0.2)  # hold it while the others claim

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    code = (
        "import sys, time\n"
        "from drlspec.agents.run_folder import new_run_folder\n"
        "start = float(sys.argv[2])\n"
        "time.sleep(max(0.0, start - time.time()))\n"
        "with new_run_folder(None, sys.argv[1]) as folder:\n"
        "    print(folder)\n"
        "    time.sleep(0.5)\n"
    )
    start = str(time.time() + 3.0)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(default), start],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    names += [Path(p.communicate(timeout=60)[0].strip()) for p in processes]
    assert all(p.returncode == 0 for p in processes)
    assert len(set(names)) == 8
    assert {n.name for n in names} == {default.name} | {f"{default.name}-{i}" for i in range(2, 9)}


def test_bad_config_leaves_no_default_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "ppo", "--set", "gamma=1.5"]) == 2
    one_line_error(capsys, "gamma")
    assert not (tmp_path / "runs").exists()


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A short finished DQN run."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    args = ["train", "dqn", "--steps", "60", "--no-progress", "--run-dir", str(run_dir)]
    extra = ["--set", "learning_starts=20", "--set", "batch_size=8", "--set", "eval_episodes=1"]
    assert main([*args, *extra]) == 0
    return run_dir


def test_resume_of_a_run_in_progress_is_refused(finished, capsys):
    """A process holding the folder's lock (a run in progress) keeps --resume away; the lock
    goes with the process, however it ends."""
    with open(finished / LOCK, "a") as file:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as another process would
        assert main(["train", "--resume", str(finished), "--steps", "70", "--no-progress"]) == 2
        one_line_error(capsys, f"{finished} is in use by another drlspec process")
    code = (
        "import fcntl, sys, time\n"
        "file = open(sys.argv[1], 'a')\n"
        "fcntl.flock(file, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(finished / LOCK)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(["train", "--resume", str(finished), "--steps", "70", "--no-progress"]) == 2
        one_line_error(capsys, "in use by another drlspec process")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert main(["train", "--resume", str(finished), "--steps", "70", "--no-progress"]) == 0


def test_resume_of_a_finished_run_and_fewer_steps_are_refused(tmp_path, capsys):
    """A finished run resumed as it is adds nothing (no duplicate evaluation row); a total
    below the steps done is refused, config.json unchanged."""
    run_dir = tmp_path / "run"
    args = ["train", "dqn", "--steps", "60", "--no-progress", "--run-dir", str(run_dir)]
    extra = ["--set", "learning_starts=20", "--set", "batch_size=8", "--set", "eval_episodes=1"]
    assert main([*args, *extra]) == 0
    capsys.readouterr()
    files = {name: (run_dir / name).read_text() for name in ("config.json", *METRICS[:2])}
    evaluations = (run_dir / "evaluations.csv").read_text()
    assert main(["train", "--resume", str(run_dir)]) == 2
    one_line_error(capsys, f"{run_dir} finished at step 60")
    assert main(["train", "--resume", str(run_dir), "--steps", "60"]) == 2
    one_line_error(capsys, "finished at step 60")
    assert main(["train", "--resume", str(run_dir), "--steps", "30"]) == 2
    one_line_error(capsys, "has run 60 steps already")
    assert {name: (run_dir / name).read_text() for name in files} == files
    assert (run_dir / "evaluations.csv").read_text() == evaluations
    # Trained further: the first part's final evaluation row stays, one new row is added.
    assert main(["train", "--resume", str(run_dir), "--steps", "80", "--no-progress"]) == 0
    rows = (run_dir / "evaluations.csv").read_text().splitlines()
    assert rows[:-1] == evaluations.splitlines() and rows[-1].startswith("80,")


def test_run_files_get_the_umask_mode(finished):
    """Run files are readable as any file the user writes (0o666 less the umask), not 0o600."""
    umask = os.umask(0o022)
    os.umask(umask)
    expected = 0o666 & ~umask
    for path in ("config.json", "episodes.csv", "summary.json", "checkpoints/last.pt"):
        assert stat.S_IMODE((finished / path).stat().st_mode) == expected, path


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        ("empty", "last.pt is empty"),
        ("truncated", "last.pt is unreadable"),
        ("garbage_config", "config.json is not a readable JSON file"),
        ("list_config", "config.json does not hold a config"),
    ],
)
def test_damaged_run_files_are_one_line_and_exit_2(finished, tmp_path, damage, needle, capsys):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    last = run_dir / "checkpoints/last.pt"
    if damage == "empty":
        last.write_bytes(b"")
    elif damage == "truncated":
        last.write_bytes(last.read_bytes()[:1000])
    elif damage == "garbage_config":
        (run_dir / "config.json").write_text("{not json")
    else:
        (run_dir / "config.json").write_text("[1, 2]")
    assert main(["train", "--resume", str(run_dir), "--steps", "70", "--no-progress"]) == 2
    one_line_error(capsys, needle)
    assert main(["evaluate", str(run_dir)]) == 2
    one_line_error(capsys, needle)


def test_unusable_run_dirs_are_one_line_and_exit_2(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["train", *PPO, "--run-dir", str(a_file)]) == 2
    one_line_error(capsys, f"cannot use {a_file} as a run folder")
    assert main(["train", *PPO, "--run-dir", str(a_file / "run")]) == 2
    one_line_error(capsys, "as a run folder")
    assert main(["train", "--resume", str(a_file)]) == 2
    one_line_error(capsys, f"{a_file} is a file")
    assert a_file.read_text() == "x"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_run_dir_is_one_line_and_exit_2(tmp_path, capsys):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        assert main(["train", *PPO, "--run-dir", str(parent / "run")]) == 2
        one_line_error(capsys, "permission denied")
        assert main(["train", *PPO, "--run-dir", str(parent)]) == 2
        one_line_error(capsys, "permission denied")
    finally:
        parent.chmod(0o755)


def test_permission_errors_name_the_folder(tmp_path, monkeypatch):
    """(What a read-only folder gives a user who is not root.)"""
    from drlspec.agents import run_folder

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(ConfigError, match=r"cannot write in run folder .*run: permission denied"):
        with run_folder.hold_run_folder(tmp_path / "run"):
            pass


def test_evaluate_negative_seed_is_one_line_and_exit_2(finished, capsys):
    assert main(["evaluate", str(finished), "--seed", "-5"]) == 2
    one_line_error(capsys, "--seed must lie in [0, 2**64 - 1], got -5")


@pytest.mark.parametrize("algorithm", ["dqn", "ppo"])
def test_interrupt_part_way_through_a_step_keeps_the_last_checkpoint(algorithm, tmp_path):
    """A KeyboardInterrupt raised inside env.step (what a second Ctrl-C is): the folder keeps
    the last checkpoint written and whole metrics rows up to its step; nothing of the step
    under way is saved. (Replaces test_agents' test that expected a checkpoint of that step.)"""
    import tests.agents.envs  # noqa: F401 (registers drlspec-test/Interrupt-v0)
    from drlspec.agents import load_agent, train
    from drlspec.agents.run_folder import RunInterrupted
    from tests.agents.test_agents import read_csv, tiny_config

    config = tiny_config(
        algorithm, "drlspec-test/Interrupt-v0", steps=1000, extra=("checkpoint_interval=64",)
    )
    with pytest.raises(RunInterrupted) as info:
        train(algorithm, config, tmp_path, progress=False)
    _, _, state = load_agent(tmp_path)
    assert state["step"] == info.value.step > 0
    rows = read_csv(tmp_path / "episodes.csv")
    assert rows and all(row["return"] and row["length"] for row in rows)
    assert all(int(row["step"]) <= state["step"] for row in rows)
    assert not list(tmp_path.rglob("*.tmp"))

    config = tiny_config(
        algorithm, "drlspec-test/Interrupt-v0", steps=1000, extra=("checkpoint_interval=100000",)
    )
    with pytest.raises(RunInterrupted) as info:
        train(algorithm, config, tmp_path / "none", progress=False)
    assert info.value.step is None and "nothing to resume" in str(info.value)
    assert not (tmp_path / "none").exists()
