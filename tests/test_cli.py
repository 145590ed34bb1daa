"""The `drlspec` command line: exit codes 0/1/2, one-line usage errors, the verify table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def drlspec(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "drlspec.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_verify_accepts_the_reference():
    run = drlspec("verify", "dqn_target", "--max-examples", "20")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASS" in run.stdout and "FAIL" not in run.stdout


def test_verify_rejects_a_mutant_with_a_reproducer():
    run = drlspec(
        "verify", "td_target", "tests.mutants.td_target:ignores_terminated", "--max-examples", "30"
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "FAIL" in run.stdout
    assert "reproducer" in run.stdout and "from tests.mutants.td_target import" in run.stdout


def test_reproducer_runs_and_shows_the_mismatch(tmp_path):
    from drlspec.harness import verify

    result = verify("td_target", "tests.mutants.td_target:ignores_terminated", max_examples=30)
    failed = next(r for r in result.results if not r.passed)
    script = tmp_path / "repro.py"
    script.write_text(failed.reproducer)
    run = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stdout.splitlines() if line.startswith(("target:", "reference:"))]
    assert lines and any(
        a.split(":", 1)[1] != b.split(":", 1)[1]
        for a, b in zip(lines[::2], lines[1::2], strict=True)
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("verify", "dqn_target", "nosuch:thing"), "nosuch"),
        (("verify", "no_such_contract"), "no_such_contract"),
        (("verify", "dqn_target", "drlspec.value:no_such_attr"), "no_such_attr"),
        (("verify", "dqn_target", "not_a_spec"), "package.module:attr"),
        (("verify", "dqn_target", "missing/file.py:f"), "missing/file.py"),
        (("verify", "dqn_target", "drlspec.value:__doc__"), "not callable"),
        (("verify", "dqn_target", "--max-examples", "0"), "max-examples"),
        (("verify", "dqn_target", "--backend", "jax"), "backend"),
        (("frobnicate",), "frobnicate"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args, needle):
    run = drlspec(*args)
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.count("\n") == 1, run.stderr
    assert needle in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_verify_a_file_target_with_numpy_backend(tmp_path):
    module = tmp_path / "my_kernels.py"
    module.write_text(
        "import numpy as np\n"
        "def td(rewards, next_values, terminated, gamma):\n"
        "    return rewards + gamma * (1 - terminated.astype(float)) * next_values\n"
    )
    run = drlspec(
        "verify", "td_target", f"{module}:td", "--backend", "numpy", "--max-examples", "20"
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_contracts_lists_every_contract_with_its_signature():
    from drlspec.contracts import CONTRACTS

    run = drlspec("contracts")
    assert run.returncode == 0
    for contract in CONTRACTS.values():
        assert contract.name in run.stdout
        assert contract.signature in run.stdout


def test_contracts_shows_each_reference_and_meaning():
    from drlspec.contracts import CONTRACTS
    from drlspec.harness import load_object

    run = drlspec("contracts")
    assert run.returncode == 0
    lines = [line.strip() for line in run.stdout.splitlines()]
    for contract in CONTRACTS.values():
        assert contract.meaning, f"{contract.name} has no one-line meaning"
        assert contract.meaning in lines
        assert f"reference: {contract.reference}" in lines
        load_object(contract.reference)  # the module:attr shown is a real one


def test_verify_without_arguments_prints_the_table():
    run = drlspec("verify", "--max-examples", "10")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    for name in ("td_target", "dqn_target", "double_dqn_target", "dueling_aggregate"):
        assert any(
            line.startswith(name) and line.endswith("PASS") for line in run.stdout.splitlines()
        )
