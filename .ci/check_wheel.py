"""Build the wheel and sdist, install the wheel in a fresh venv outside the checkout, use it.

Run by ``tox -e wheel`` (part of the default ``tox`` run). Checks that the
wheel holds exactly one top-level package, ``drlspec`` (with its properties
and its data), and that, installed in a virtual environment of its own and run
from a directory outside the checkout, ``drlspec contracts``, ``drlspec
verify gae``, a short ``drlspec train`` and the fingerprint check (which
reads the package's data) work.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*command: str | Path, cwd: Path) -> str:
    started = time.monotonic()
    completed = subprocess.run(
        [str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=900
    )
    seconds = time.monotonic() - started
    name = " ".join(str(c) for c in command[:4])
    if completed.returncode != 0:
        sys.exit(
            f"FAILED ({completed.returncode}) {name}:\n{completed.stdout[-3000:]}"
            f"\n{completed.stderr[-3000:]}"
        )
    print(f"ok  {name} ... ({seconds:.1f} s)")
    return completed.stdout


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="drlspec-wheel-") as scratch:
        scratch_dir = Path(scratch)
        dist = scratch_dir / "dist"
        # Build from a copy: setuptools writes its egg-info into the tree it builds, and
        # `tox p` runs this env beside `py`, whose editable install writes there too.
        source = scratch_dir / "source"
        shutil.copytree(
            ROOT,
            source,
            ignore=shutil.ignore_patterns(
                ".git", ".tox", "venv", ".venv", "runs", "build", "dist", "*.egg-info",
                "__pycache__", ".hypothesis",
            ),
        )  # fmt: skip
        run(sys.executable, "-m", "build", "--outdir", dist, source, cwd=scratch_dir)
        wheels, sdists = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
        assert len(wheels) == 1 and len(sdists) == 1, (wheels, sdists)

        with zipfile.ZipFile(wheels[0]) as wheel:
            names = wheel.namelist()
        top_level = {name.split("/")[0] for name in names}
        packages = {name for name in top_level if not name.endswith(".dist-info")}
        assert packages == {"drlspec"}, f"the wheel's top-level packages are {sorted(packages)}"
        for needed in (
            "drlspec/properties/test_gae.py",
            "drlspec/data/cases.toml",
            "drlspec/data/fingerprints.json",
            "drlspec/data/reference_results.json",
            "drlspec/harness/sandbox.py",
        ):
            assert needed in names, f"{needed} is missing from the wheel"
        print(f"ok  the wheel holds one top-level package, drlspec ({len(names)} files)")

        venv = scratch_dir / "venv"
        run(sys.executable, "-m", "venv", venv, cwd=scratch_dir)
        python = venv / "bin" / "python"
        run(
            python, "-m", "pip", "install", "-q", "-c", ROOT / "constraints.txt", wheels[0],
            cwd=scratch_dir,
        )  # fmt: skip
        site = Path(
            run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                cwd=scratch_dir).strip()
        )  # fmt: skip
        assert (site / "drlspec").is_dir()
        for name in ("reference", "properties"):
            assert not (site / name).exists(), f"{name} was installed as a top-level package"

        work = scratch_dir / "work"
        work.mkdir()
        drlspec = venv / "bin" / "drlspec"
        contracts = run(drlspec, "contracts", cwd=work)
        assert "gae" in contracts
        verdict = run(drlspec, "verify", "gae", "--max-examples", "10", cwd=work)
        assert "-> PASS" in verdict, verdict
        run(
            drlspec, "train", "ppo", "--env", "CartPole-v1", "--steps", "2048", "--seed", "1",
            "--run-dir", work / "run", "--no-progress",
            cwd=work,
        )  # fmt: skip
        assert (work / "run" / "checkpoints" / "last.pt").is_file()
        run(python, "-m", "drlspec.harness.fingerprints", cwd=work)
        cases = run(
            python, "-c",
            "from drlspec.harness.regress import default_table, load_cases; "
            "print(len(load_cases(default_table())))",
            cwd=work,
        )  # fmt: skip
        assert int(cases) >= 13, f"the installed convergence table has {cases.strip()} cases"
        # drlspec regress --impl from the installed wheel: the stored reference results are
        # there and current, and a train function in a file of the user's is judged against them.
        (work / "controller.py").write_text(CONTROLLER)
        report = run(
            drlspec, "regress", "--impl", "ppo=controller.py:balance", "--select",
            "ppo and CartPole", "--seeds", "2", "--device", "cpu", "--jobs", "1",
            "--output", work / "regress",
            cwd=work,
        )  # fmt: skip
        assert "INDISTINGUISHABLE" in report or "BETTER" in report, report
        print("ok  drlspec regress --impl judges a user's train function against the store")
        print("wheel check passed")


CONTROLLER = """
def balance(*, env_id, seed, total_steps, device):
    def act(observations):
        x, x_dot, theta, theta_dot = observations.T
        return (theta + 0.3 * theta_dot + 0.01 * x + 0.1 * x_dot > 0).astype(int)
    return act
"""


if __name__ == "__main__":
    main()
