"""Fingerprints: the first updates of a short fixed-seed CPU run of every agent.

A convergence run takes minutes; a fingerprint takes a second or two. Each entry of
``reference/data/fingerprints.json`` names an algorithm, an environment, a step budget and config
overrides small enough for a handful of updates, and stores the rows of the run's
``updates.csv`` (losses, KL, entropy, ...). ``regression/test_fingerprints.py`` reruns every
entry and compares: the same steps, the same columns, every value within

    |actual - stored| <= ATOL + RTOL * |stored|,   RTOL = 1e-3, ATOL = 1e-6.

On one machine a CPU run is bit-identical (single thread, fixed seed), so any difference at all
is a change. The tolerance is there for other machines: float32 matrix products and reductions
round differently across BLAS builds and CPU instruction sets (relative 1e-7 per operation),
and a few dozen optimizer steps amplify that to ~1e-5 at most in these short runs; a changed
algorithm (another discount, target, clipping, sampling order) moves the first losses by far
more than 1e-3.

Regenerating is explicit and prints what changed::

    python -m drlspec.harness.fingerprints --update

Without ``--update`` the command only compares and reports (exit 1 on a difference).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["ATOL", "RTOL", "SPECS", "compare", "default_path", "fingerprint", "spec_of"]

RTOL = 1e-3
ATOL = 1e-6

SPECS: list[dict[str, Any]] = [
    # Value-based: updates start after 200 random steps; 10 bursts of one gradient step.
    *(
        {
            "name": f"{algorithm}-CartPole-v1",
            "algorithm": algorithm,
            "env_id": "CartPole-v1",
            "steps": 240,
            "set": ["learning_starts=200", "target_update_interval=20"],
        }
        for algorithm in ("dqn", "double_dqn", "dueling_dqn", "per_dqn")
    ),
    {
        "name": "reinforce-CartPole-v1",
        "algorithm": "reinforce",
        "env_id": "CartPole-v1",
        "steps": 1000,
        "set": [],
    },
    {
        "name": "actor_critic-CartPole-v1",
        "algorithm": "actor_critic",
        "env_id": "CartPole-v1",
        "steps": 1000,
        "set": [],
    },
    *(
        {
            "name": f"{algorithm}-{env_id}",
            "algorithm": algorithm,
            "env_id": env_id,
            "steps": 1280,
            "set": ["num_envs=8", "num_steps=32"],
        }
        for algorithm, env_id in (
            ("trpo", "CartPole-v1"),
            ("ppo", "CartPole-v1"),
            ("ppo_penalty", "CartPole-v1"),
            ("trpo", "Pendulum-v1"),
            ("ppo", "Pendulum-v1"),
        )
    ),
]
"""What each fingerprint runs (seed 1, CPU); the stored file repeats it next to the rows."""

SEED = 1
UPDATES = 10
"""Rows kept per fingerprint (the first updates)."""


def default_path() -> Path:
    """The fingerprints shipped with the package (``reference/data/fingerprints.json``)."""
    return Path(__file__).resolve().parents[1] / "data" / "fingerprints.json"


def spec_of(entry: dict[str, Any]) -> dict[str, Any]:
    """The spec a stored fingerprint was made from (what :func:`fingerprint` takes)."""
    return {key: entry[key] for key in ("name", "algorithm", "env_id", "steps", "set")}


def fingerprint(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one spec on the CPU and return it with its first ``UPDATES`` update rows."""
    import torch

    from drlspec.agents import make_config, train

    torch.set_num_threads(1)
    config = make_config(
        spec["algorithm"],
        env_id=spec["env_id"],
        total_steps=spec["steps"],
        seed=SEED,
        device="cpu",
        overrides=spec["set"],
    )
    with tempfile.TemporaryDirectory() as folder:
        train(spec["algorithm"], config, folder, progress=False, eval_episodes=1)
        with open(Path(folder) / "updates.csv", newline="") as file:
            rows = [
                {key: float(value) for key, value in row.items()} for row in csv.DictReader(file)
            ]
    return {**spec, "seed": SEED, "updates": rows[:UPDATES]}


def compare(stored: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Differences between two fingerprints of one spec (empty: they agree)."""
    problems = []
    if len(stored["updates"]) != len(actual["updates"]):
        problems.append(f"{len(actual['updates'])} update rows, stored {len(stored['updates'])}")
    for index, (want, got) in enumerate(zip(stored["updates"], actual["updates"], strict=False)):
        if set(want) != set(got):
            problems.append(f"row {index}: columns {sorted(got)}, stored {sorted(want)}")
            continue
        for key, value in want.items():
            if abs(got[key] - value) > ATOL + RTOL * abs(value):
                problems.append(
                    f"row {index} (step {want['step']:.0f}) {key}: {got[key]!r}, stored {value!r}"
                )
    return problems


def _load(path: Path) -> dict[str, Any]:
    return {entry["name"]: entry for entry in json.loads(path.read_text())["fingerprints"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m drlspec.harness.fingerprints", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--file", type=Path, default=default_path())
    parser.add_argument("--update", action="store_true", help="rewrite the stored fingerprints")
    args = parser.parse_args(argv)
    stored = _load(args.file) if args.file.exists() else {}
    fresh, changed = [], 0
    for spec in SPECS:
        actual = fingerprint(spec)
        fresh.append(actual)
        previous = stored.get(spec["name"])
        if previous is None:
            print(f"{spec['name']}: new")
            changed += 1
            continue
        problems = compare(previous, actual)
        changed += bool(problems)
        print(f"{spec['name']}: " + ("unchanged" if not problems else "CHANGED"))
        for problem in problems[:5]:
            print(f"    {problem}")
    if not args.update:
        if changed:
            print(f"{changed} fingerprint(s) differ; rerun with --update to accept them")
        return 1 if changed else 0
    from drlspec.agents.files import atomic_write_text

    document = {
        "about": "First updates of short seed-1 CPU runs; regenerate with "
        "`python -m drlspec.harness.fingerprints --update` (see its docstring).",
        "rtol": RTOL,
        "atol": ATOL,
        "fingerprints": fresh,
    }
    atomic_write_text(args.file, json.dumps(document, indent=1) + "\n")
    print(f"wrote {args.file} ({len(fresh)} fingerprints, {changed} new or changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
