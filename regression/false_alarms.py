"""Estimate how often ``drlspec regress --impl`` calls a correct implementation worse.

    python regression/false_alarms.py [RESULTS.json ...]

A false alarm is a case whose comparison says *worse* (a regression) although the implementation
learns exactly as well as the reference. To estimate its rate, both sides are drawn from the
reference's own final returns of the case: the stored results, pooled per seed with the CPU runs
of any reference sweeps given (only those whose case definition equals the current table's, as in
regression/false_failures.py). Each of ``DRAWS`` comparisons draws the implementation's 5 seeds
and the reference's 5 seeds with replacement from the pool and judges them with
:func:`drlspec.harness.gate.compare` (2,000 bootstrap resamples each rather than a report's
10,000; the rule's intervals move by far less than a case's spread). Prints, per case, the pool
size and the fraction of draws called worse, then the probability that a correct implementation
sees at least one false alarm over all cases (cases independent). A pool that never varies (every
seed at CartPole's 500) cannot raise an alarm: the estimate is only as good as the pool is large.
regression/README.md reports and reads the figures.
"""

from __future__ import annotations

import sys

from drlspec.harness import compare, gate, regress

DRAWS = 1000
SEEDS = 5


def main(paths: list[str]) -> int:
    cases = regress.load_cases(regress.default_table())
    reference = compare.load_reference(cases)
    pools: dict[str, dict[int, float]] = {
        case.name: dict(
            zip(reference[case.name]["seeds"], reference[case.name]["final_returns"], strict=True)
        )
        for case in cases
    }
    for name, finals in regress.calibration_finals(paths, cases).items():
        pools[name].update(finals)
    print(f"{'case':<28} {'pool':>4} {'false alarms':>12}")
    none = 1.0
    for case in cases:
        pool = list(pools[case.name].values())
        rate = gate.false_alarm_rate(pool, seeds=SEEDS, draws=DRAWS)
        none *= 1 - rate
        print(f"{case.name:<28} {len(pool):>4} {rate:>12.3f}")
    print(f"{'P(some case called worse)':<33} {1 - none:>12.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
