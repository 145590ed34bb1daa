"""The measurement scripts of regression/benchmarks that regression/README.md quotes.

loop_profile.py times the parts of a real run, and only those. Its counts are checked against
what the loop must do (one recorded step per environment step, one backward per gradient step),
so a part whose wrapper the loop bypasses (a name looked up elsewhere than where it was wrapped)
fails here instead of reading as "costs nothing".
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "regression" / "benchmarks"


def _run(*args: str, script: str = "loop_profile.py") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _calls(output: str) -> dict[str, int]:
    rows = {}
    for line in output.splitlines()[2:]:
        label, numbers = re.match(
            r"(.+?)\s+([\d.]+\s+[\d.]+%\s+\d+\s+[\d.]+\s+[\d.]+)$", line
        ).groups()
        rows[label] = int(numbers.split()[2])
    return rows


def test_dqn_parts_are_counted_once_per_step_and_per_gradient_step():
    done = _run("dqn-CartPole-v1", "--steps", "1500")
    assert done.returncode == 0, done.stderr
    calls = _calls(done.stdout)
    assert calls["record one step (dqn.record_step)"] == 1500
    assert calls["environments (SyncVectorEnv.step)"] >= 1500  # and the final evaluation's
    # Gradient steps every 4 steps from the first multiple of 4 past learning_starts (1000).
    gradient_steps = (1500 - 1004) // 4 + 1
    for part in (
        "TD loss, forward (dqn.td_loss)",
        "backward",
        "clip_grad_norm_",
        "optimizer: Adam.step",
        "replay: sample",
    ):
        assert calls[part] == gradient_steps, part
    assert calls["final evaluation"] == 1


def test_an_unknown_case_is_one_line_and_exit_2():
    done = _run("nope-CartPole-v1")
    assert done.returncode == 2
    assert "unknown case 'nope-CartPole-v1'" in done.stderr.strip().splitlines()[-1]


def test_population_times_both_ways_and_reports_their_ratio():
    done = _run("--seeds", "2", "--rounds", "1", "--repeats", "3", script="population.py")
    assert done.returncode == 0, done.stderr
    found = re.fullmatch(
        r"2 seeds, one Double DQN gradient step each: separate ([\d,]+) us, "
        r"population ([\d,]+) us, ratio ([\d.]+)x",
        done.stdout.strip(),
    )
    assert found, done.stdout
    apart, together, ratio = (float(x.replace(",", "")) for x in found.groups())
    assert apart > 0 and together > 0
    assert abs(ratio - apart / together) <= 0.05 + 0.01 * ratio  # printed to one decimal
