"""drlspec as a library in someone else's project (issue 14).

A small downstream project is written to a temporary directory: it has its
own ``properties/`` and ``reference/`` packages (common names, also the
names of this repository's folders), its own ``conftest.py`` with a
``--device`` option, a module with a correct and a wrong GAE, and a test
file that calls ``check_contract``. Run from that directory, ``drlspec
verify`` and ``pytest`` must give the expected verdicts.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROJECT = {
    "properties/__init__.py": "",
    "properties/helpers.py": "WHO = 'the user'\n",
    "reference/__init__.py": "",
    "reference/numbers.py": "ANSWER = 42\n",
    "conftest.py": """
        def pytest_addoption(parser):
            parser.addoption("--device", default="cpu", help="the project's own option")
        """,
    "my_rl/__init__.py": "",
    "my_rl/advantages.py": """
        import numpy as np


        def _gae(rewards, values, next_values, terminated, truncated, gamma, lam, cut):
            terminated = terminated.astype(bool)
            ends = terminated | truncated.astype(bool)
            deltas = rewards + gamma * np.where(terminated, 0.0, next_values) - values
            advantages = np.zeros_like(deltas)
            following = np.zeros(deltas.shape[1], dtype=deltas.dtype)
            for t in reversed(range(deltas.shape[0])):
                keep = ~ends[t] if cut else np.ones_like(ends[t])
                following = deltas[t] + gamma * lam * keep * following
                advantages[t] = following
            return advantages


        def gae_correct(rewards, values, next_values, terminated, truncated, gamma, lam):
            return _gae(rewards, values, next_values, terminated, truncated, gamma, lam, True)


        def gae_wrong(rewards, values, next_values, terminated, truncated, gamma, lam):
            # The trace is never cut at an episode end.
            return _gae(rewards, values, next_values, terminated, truncated, gamma, lam, False)
        """,
    "test_my_gae.py": """
        from properties.helpers import WHO
        from reference.numbers import ANSWER

        from drlspec.testing import check_contract
        from my_rl.advantages import gae_correct, gae_wrong


        def test_own_packages_are_theirs(request):
            assert WHO == "the user" and ANSWER == 42
            assert request.config.getoption("--device") == "cpu"


        def test_correct_gae():
            check_contract("gae", gae_correct, backend="numpy", max_examples=15)


        def test_wrong_gae():
            check_contract("gae", gae_wrong, backend="numpy", max_examples=15)
        """,
}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("downstream")
    for name, text in PROJECT.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def _run(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=project, capture_output=True, text=True, timeout=600
    )


@pytest.mark.parametrize(("target", "status"), [("gae_correct", 0), ("gae_wrong", 1)])
def test_drlspec_verify_from_the_project(project, target, status):
    completed = _run(
        project,
        "-m",
        "drlspec",
        "verify",
        "gae",
        f"my_rl.advantages:{target}",
        "--backend",
        "numpy",
        "--max-examples",
        "15",
        "--quiet",
    )
    assert completed.returncode == status, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert ("-> PASS" if status == 0 else "-> FAIL") in completed.stdout


@pytest.mark.parametrize(("target", "status"), [("gae_correct", 0), ("gae_wrong", 1)])
def test_our_property_suite_through_the_plugin_from_the_project(project, target, status):
    """The README's command: drlspec's properties, run by pytest in the user's repository."""
    completed = _run(
        project,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--import-mode=importlib",
        "test_my_gae.py::test_own_packages_are_theirs",
        "--pyargs",
        "drlspec.properties.test_gae",
        "--drlspec-impl",
        f"gae=my_rl.advantages:{target}",
        "--drlspec-backend",
        "numpy",
        "--drlspec-device",
        "cpu",
        "--device",
        "cpu",
    )
    assert completed.returncode == status, completed.stdout[-3000:] + completed.stderr[-3000:]
    if status:
        assert "what differed" in completed.stdout and "reproducer:" in completed.stdout
    else:
        assert " passed" in completed.stdout and "failed" not in completed.stdout


def test_pytest_in_the_project_passes_the_correct_gae(project):
    completed = _run(
        project,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-k",
        "not wrong",
        "--device",
        "cpu",
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "2 passed" in completed.stdout


def test_pytest_in_the_project_fails_the_wrong_gae_with_the_report(project):
    completed = _run(project, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "wrong")
    assert completed.returncode == 1, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "1 failed" in completed.stdout
    # The same report as `drlspec verify`: the failing property, the example, a reproducer.
    assert "FAIL  test_matches_double_sum [cpu]" in completed.stdout
    assert "reproducer:" in completed.stdout
    assert "gae: " in completed.stdout and "-> FAIL" in completed.stdout
