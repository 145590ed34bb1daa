"""Estimate the false-failure rate of the convergence table from calibration sweeps.

    python regression/false_failures.py RESULTS.json [RESULTS.json ...]

Pools, per case and seed, the CPU final returns of every run in the given ``drlspec regress``
results whose case definition (algorithm, environment, budget, settings, evaluation episodes)
equals the current table's; runs made with other settings are left out. The results must come from
the current code: a change to an agent invalidates earlier sweeps. For each case it prints:

* ``runs``, ``below``: runs pooled, and how many of them missed the threshold;
* ``resampled``: the probability that a fresh sweep at the table's seed count fails the case,
  seeds drawn with replacement from the pooled runs
  (:func:`drlspec.harness.regress.false_failure_rate`). A failure mode never observed
  counts as impossible, so this is optimistic when ``runs`` is small;
* ``laplace``: the probability that more seeds miss than the IQM trims away (with 5 seeds:
  2 or more), each seed missing with Laplace's estimate ``(below + 1) / (runs + 2)``. It
  charges every case for the misses not yet seen, and counts a narrow miss as a failure, so it
  is pessimistic;

and then, for each column, the probability that at least one case of the table fails by chance
(cases independent). regression/README.md reports and reads the figures.
"""

from __future__ import annotations

import sys

from scipy.stats import binom

from drlspec.harness import regress


def main(paths: list[str]) -> int:
    cases = regress.load_cases(regress.default_table())
    finals = regress.calibration_finals(paths, cases)
    print(f"{'case':<28} {'runs':>4} {'below':>5} {'resampled':>10} {'laplace':>8}")
    all_pass = {"resampled": 1.0, "laplace": 1.0}
    for case in cases:
        values = list(finals[case.name].values())
        if not values:
            print(f"{case.name:<28} {0:>4}    no calibration runs")
            continue
        below = sum(v < case.threshold for v in values)
        resampled = regress.false_failure_rate(case, values, case.seeds)
        trimmed = int(0.25 * case.seeds)  # seeds the IQM cuts from each end
        p_miss = (below + 1) / (len(values) + 2)
        laplace = float(binom.sf(trimmed, case.seeds, p_miss))
        all_pass["resampled"] *= 1 - resampled
        all_pass["laplace"] *= 1 - laplace
        print(f"{case.name:<28} {len(values):>4} {below:>5} {resampled:>10.4f} {laplace:>8.4f}")
    print(
        f"{'P(some case fails by chance)':<39} {1 - all_pass['resampled']:>10.4f} "
        f"{1 - all_pass['laplace']:>8.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
