"""A reproducer runs as printed, from any directory (reference/harness/reproducer.py).

`drlspec verify` runs in one directory, a user pastes the reproducer into a
file somewhere else and runs it there: the target must still be found (a file
by its absolute path, a module from the absolute directory it was resolved
from), our own code by its installed name, numpy inputs built as numpy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

MUTANT = '''
def ignores_terminated(rewards, next_values, terminated, gamma):
    """Bootstraps through terminal states: works on tensors and on ndarrays."""
    return rewards + gamma * next_values
'''

# Run in a fresh interpreter whose current directory is the temporary one, as a user's
# `drlspec verify` would be: every relative name resolves against it.
VERIFY = """
import json, sys
from drlspec.harness.verify import verify

found = {}
for key, spec, backend in json.loads(sys.argv[1]):
    result = verify("td_target", spec, backend=backend, max_examples=20, fail_fast=True)
    found[key] = [r.reproducer for r in result.results if not r.passed and r.reproducer]
print(json.dumps(found))
"""

CASES = {
    # The real mutant, named by a path relative to the directory verify ran in.
    "relative file": ("{relative_mutant}:ignores_terminated", "torch"),
    # A module found only because verify ran where it lives.
    "module": ("h15_repro_pkg.td:ignores_terminated", "torch"),
    "module, numpy backend": ("h15_repro_pkg.td:ignores_terminated", "numpy"),
}


@pytest.fixture(scope="module")
def reproducers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    where_verify_ran = tmp_path_factory.mktemp("verify_cwd")
    package = where_verify_ran / "h15_repro_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "td.py").write_text(MUTANT)
    relative = os.path.relpath(ROOT / "tests" / "mutants" / "td_target.py", where_verify_ran)
    plan = [
        (key, spec.format(relative_mutant=relative), backend)
        for key, (spec, backend) in CASES.items()
    ]
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run(
        [sys.executable, "-c", VERIFY, json.dumps(plan)],
        cwd=where_verify_ran,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", list(CASES))
def test_reproducer_runs_from_another_directory(case, reproducers, tmp_path):
    texts = reproducers[case]
    assert texts, f"{case}: the mutant was not rejected with a reproducer"
    text = texts[0]
    elsewhere = tmp_path / "somewhere_else"
    elsewhere.mkdir()
    script = elsewhere / "repro.py"
    script.write_text(text)
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run(
        [sys.executable, str(script)],
        cwd=elsewhere,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, f"{run.stderr}\n--- reproducer:\n{text}"
    lines = [line for line in run.stdout.splitlines() if line.startswith(("target:", "reference:"))]
    targets = [line.split(":", 1)[1].strip() for line in lines if line.startswith("target:")]
    references = [line.split(":", 1)[1].strip() for line in lines if line.startswith("reference:")]
    assert targets and len(targets) == len(references), run.stdout
    assert any(t != r for t, r in zip(targets, references, strict=True)), run.stdout


def test_reproducer_names_files_absolutely_and_our_code_by_installed_name(reproducers):
    relative_file = reproducers["relative file"][0]
    module = reproducers["module"][0]
    numpy = reproducers["module, numpy backend"][0]
    target_path = str(ROOT / "tests" / "mutants" / "td_target.py")
    assert repr(target_path) in relative_file, relative_file
    assert "from drlspec.returns import td_target as reference" in module
    assert "sys.path.insert(0, " in module and "verify_cwd" in module, module
    # A numpy-backend target gets arrays built as numpy; the (torch) reference, tensors.
    assert "np.array(" in numpy and "torch.tensor(rewards)" in numpy, numpy
    for text in (relative_file, module, numpy):
        assert "from reference" not in text and "import reference" not in text


def test_reproducer_literals_survive_non_finite_values():
    """A nan or inf in the failing input is written so that the script still runs."""
    import torch

    from drlspec.contracts import get_contract
    from drlspec.harness.reproducer import reproducer
    from drlspec.harness.target import Call, Target
    from tests.returned_types_targets import td_returns_none

    contract = get_contract("td_target")
    target = Target(contract, td_returns_none, "tests.returned_types_targets:td_returns_none")
    nan_input = torch.tensor([float("nan"), float("inf"), -float("inf")], dtype=torch.float64)
    calls = [Call("f", (nan_input, nan_input.clone(), torch.zeros(3, dtype=torch.bool), 0.5))]
    text = reproducer(target, calls, "test_x")
    namespace: dict = {}
    exec(compile(text.split("print(")[0], "<repro>", "exec"), namespace)
    assert torch.equal(namespace["terminated"], torch.zeros(3, dtype=torch.bool))
    assert torch.isnan(namespace["rewards"][0]) and namespace["rewards"][1] == float("inf")
