"""Estimate the false-failure rate of the convergence table from calibration sweeps.

    python regression/false_failures.py RESULTS.json [RESULTS.json ...]

Pools, per case, the final returns of every run in the given ``drlspec regress`` results
whose case definition equals the current table's (a run made with other settings is left
out), and prints for each case: the runs pooled, how many missed the threshold, and the
probability that a fresh sweep at the table's seed count fails the case by chance
(:func:`reference.harness.regress.false_failure_rate`), then the probability that at least one
case of the table fails by chance. See regression/README.md for how to read it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from reference.harness import regress


def main(paths: list[str]) -> int:
    cases = regress.load_cases(regress.default_table())
    finals: dict[str, list[float]] = {case.name: [] for case in cases}
    for path in paths:
        document = json.loads(Path(path).read_text())
        stored = {c["name"]: c for c in document["cases"]}
        for case in cases:
            if case.name not in stored:
                continue
            if regress.stored_identity(stored[case.name]) != case.identity():
                continue
            finals[case.name] += [
                r["final_return"]
                for r in document["runs"]
                if r["case"] == case.name and r["device"] == "cpu" and r["status"] == "ok"
            ]
    print(f"{'case':<28} {'runs':>4} {'below':>5}  P(false fail at table seeds)")
    all_pass = 1.0
    for case in cases:
        values = finals[case.name]
        if not values:
            print(f"{case.name:<28} {0:>4}    no calibration runs")
            continue
        below = sum(v < case.threshold for v in values)
        rate = regress.false_failure_rate(case, values, case.seeds)
        all_pass *= 1 - rate
        print(f"{case.name:<28} {len(values):>4} {below:>5}  {rate:.4f} ({case.seeds} seeds)")
    print(f"P(at least one case fails by chance) = {1 - all_pass:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
