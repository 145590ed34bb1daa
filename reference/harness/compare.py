"""An implementation judged against the reference: the stored results, the comparison, the plots.

``drlspec regress --impl ALGO=TARGET`` runs the table's cases with an implementation that is
not ours (:mod:`drlspec.external`) and judges it twice: against the threshold, exactly as the
reference is (:func:`drlspec.harness.regress.judge`), and against the reference's own runs of
the same cases (:func:`drlspec.harness.gate.compare`).

The reference's runs come from the *store*, ``reference/data/reference_results.json``: the
per-seed final returns and learning curves of a full sweep of the table on the CPU, committed
with each case's definition and the reference agent's fingerprints, so that comparing does not
rerun the reference. A store made for another case definition (budget, settings, evaluation
episodes) or another reference agent (its fingerprints in ``reference/data/fingerprints.json``
have changed) is refused: its numbers would belong to something else. ``--reference rerun``
runs the reference in the same sweep instead; ``--reference RESULTS.json`` reads the reference
runs of an earlier ``drlspec regress``. Regenerate the store after a full reference sweep::

    python -m drlspec.harness.compare store runs/regress-<time>/results.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from drlspec.harness import gate
from drlspec.harness.regress import CURVE_POINTS, Case, save_figure, stored_identity
from drlspec.harness.target import UsageError

__all__ = [
    "Reference",
    "compare_runs",
    "default_store",
    "format_comparison",
    "load_reference",
    "plot_learning_curves",
    "plot_performance_profiles",
    "write_store",
]

REGENERATE = "python -m drlspec.harness.compare store RESULTS.json"


def default_store() -> Path:
    """The reference results shipped with the package."""
    return Path(__file__).resolve().parents[1] / "data" / "reference_results.json"


def definition_fingerprint(identity: dict[str, Any]) -> str:
    """A short hash of a case's definition (:meth:`Case.identity`)."""
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def agent_fingerprint(algorithm: str) -> str:
    """A short hash of the reference agent's fingerprints (its first updates, all envs)."""
    from drlspec.harness.fingerprints import default_path

    stored = json.loads(default_path().read_text())["fingerprints"]
    mine = [entry for entry in stored if entry["algorithm"] == algorithm]
    text = json.dumps(mine, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------
# The reference's runs
# --------------------------------------------------------------------------


class Reference(dict):
    """Case name -> ``{"seeds", "final_returns", "curves"}`` of the reference, and its source."""

    def __init__(self, source: str, runs: dict[str, dict[str, Any]]) -> None:
        super().__init__(runs)
        self.source = source


def write_store(results: Path, store: Path | None = None) -> Path:
    """Write the store from a reference sweep's ``results.json`` (its CPU runs); returns it."""
    store = store or default_store()
    document = _read_results(results, "store")
    if document.get("implementations"):
        raise UsageError(f"{results}: a sweep of {document['implementations']}, not the reference")
    cases: dict[str, Any] = {}
    for entry in document["cases"]:
        runs = sorted(
            (
                r
                for r in document["runs"]
                if r["case"] == entry["name"] and r["device"] == "cpu" and r["status"] == "ok"
            ),
            key=lambda r: r["seed"],
        )
        if not runs:
            continue
        identity = stored_identity(entry)
        cases[entry["name"]] = {
            "definition": identity,
            "definition_fingerprint": definition_fingerprint(identity),
            "agent_fingerprint": agent_fingerprint(entry["algorithm"]),
            "device": "cpu",
            "seeds": [r["seed"] for r in runs],
            "final_returns": [r["final_return"] for r in runs],
            "curves": [r.get("curve") or [None] * CURVE_POINTS for r in runs],
        }
    if not cases:
        raise UsageError(f"{results}: no finished CPU run to store")
    from drlspec.agents.files import atomic_write_text

    body = {
        "about": "The reference's per-seed final returns and learning curves on the CPU, read by "
        f"drlspec regress --impl. Regenerate after a full reference sweep: {REGENERATE}",
        "made_from": str(results),
        "started": document.get("started"),
        "machine": document.get("machine"),
        "cases": cases,
    }
    atomic_write_text(store, json.dumps(body, indent=1) + "\n")
    return store


def load_reference(cases: Sequence[Case], source: str | Path = "stored") -> Reference:
    """The reference's runs of ``cases``: from the store, or from a reference sweep's results.

    Raises :class:`UsageError` when a case is missing from the source or the source was made
    for another definition of the case or another reference agent.
    """
    if str(source) == "stored":
        path = default_store()
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise UsageError(f"cannot read the stored reference results {path}: {error}") from None
        runs: dict[str, dict[str, Any]] = {}
        for case in cases:
            entry = document["cases"].get(case.name)
            if entry is None:
                raise UsageError(
                    f"the stored reference results have no {case.name}; run the reference with "
                    f"--reference rerun, or regenerate the store: {REGENERATE}"
                )
            _refuse_stale(case, entry["definition"], "the stored reference results")
            if entry["agent_fingerprint"] != agent_fingerprint(case.algorithm):
                raise UsageError(
                    f"the stored reference results of {case.name} were made by another version "
                    f"of the reference {case.algorithm} agent (its fingerprints have changed "
                    f"since); rerun it with --reference rerun, or regenerate the store: "
                    f"{REGENERATE}"
                )
            runs[case.name] = {key: entry[key] for key in ("seeds", "final_returns", "curves")}
        return Reference(f"stored ({path.name}, made {document.get('started')})", runs)
    path = Path(source)
    document = _read_results(path, "--reference")
    if document.get("implementations"):
        raise UsageError(f"--reference {path}: a sweep of {document['implementations']}")
    stored = {entry["name"]: entry for entry in document["cases"]}
    runs = {}
    for case in cases:
        if case.name not in stored:
            raise UsageError(f"--reference {path}: no runs of {case.name}")
        _refuse_stale(case, stored_identity(stored[case.name]), f"--reference {path}")
        mine = sorted(
            (
                r
                for r in document["runs"]
                if r["case"] == case.name and r["device"] == "cpu" and r["status"] == "ok"
            ),
            key=lambda r: r["seed"],
        )
        if not mine:
            raise UsageError(f"--reference {path}: no finished CPU run of {case.name}")
        runs[case.name] = {
            "seeds": [r["seed"] for r in mine],
            "final_returns": [r["final_return"] for r in mine],
            "curves": [r.get("curve") or [None] * CURVE_POINTS for r in mine],
        }
    return Reference(str(path), runs)


def _refuse_stale(case: Case, stored: dict[str, Any], where: str) -> None:
    identity = case.identity()
    if stored == identity:
        return
    changed = sorted(key for key in identity if stored.get(key) != identity[key])
    raise UsageError(
        f"{where} of {case.name} were made for another definition of the case (changed since: "
        f"{', '.join(changed)}); rerun the reference with --reference rerun, or regenerate the "
        f"store: {REGENERATE}"
    )


def _read_results(path: Path, flag: str) -> dict[str, Any]:
    from drlspec.harness.regress import _results_problem

    try:
        document = json.loads(Path(path).read_text())
    except OSError as error:
        raise UsageError(f"{flag} {path}: cannot read it ({error.strerror})") from None
    except ValueError as error:
        raise UsageError(f"{flag} {path}: not valid JSON ({error})") from None
    problem = _results_problem(document)
    if problem is not None:
        raise UsageError(f"{flag} {path}: not a results file of drlspec regress: {problem}")
    return document


# --------------------------------------------------------------------------
# The comparison
# --------------------------------------------------------------------------


def _finals(runs: Sequence[dict], case: Case, device: str) -> np.ndarray:
    mine = sorted(
        (r for r in runs if r["case"] == case.name and r["device"] == device),
        key=lambda r: r["seed"],
    )
    return np.array([r["final_return"] for r in mine if r["status"] == "ok"], dtype=float)


def compare_runs(
    cases: Sequence[Case], devices: Sequence[str], runs: Sequence[dict], reference: Reference
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per (case, device) and per device over cases: the implementation against the reference.

    Each comparison holds the IQMs of both, :class:`drlspec.harness.gate.Comparison`'s fields
    and ``regression`` (the verdict is "worse"). A (case, device) without a finished run of the
    implementation has no comparison ("missing"): its threshold verdict has already failed.
    """
    comparisons, aggregates = [], []
    for device in devices:
        xs, ys = [], []
        for case in cases:
            x = _finals(runs, case, device)
            y = np.asarray(reference[case.name]["final_returns"], dtype=float)
            entry: dict[str, Any] = {
                "case": case.name,
                "device": device,
                "seeds": int(x.size),
                "reference_seeds": int(y.size),
                "reference_iqm": float(gate.interquartile_mean(y)),
            }
            if x.size == 0:
                comparisons.append({**entry, "verdict": "missing", "regression": True})
                continue
            result = gate.compare(x, y)
            comparisons.append(
                {
                    **entry,
                    "iqm": float(gate.interquartile_mean(x)),
                    **result.as_dict(),
                    "regression": result.verdict == "worse",
                }
            )
            xs.append(case.normalized(x))
            ys.append(case.normalized(y))
        if xs:
            result = gate.compare_aggregate(xs, ys)
            aggregates.append(
                {
                    "device": device,
                    "cases": len(xs),
                    **result.as_dict(),
                    "regression": result.verdict == "worse",
                }
            )
    return comparisons, aggregates


def format_comparison(
    comparisons: Sequence[dict], aggregates: Sequence[dict], reference: Reference
) -> str:
    """The terminal table of the comparison with the reference."""
    header = (
        f"{'case':<28} {'device':<6} {'IQM':>8} {'ref IQM':>8}  {'IQM difference [95% CI]':<30}"
        f" {'P(impl > ref) [95% CI]':<23} verdict"
    )
    lines = [f"against the reference ({reference.source}):", header, "-" * len(header)]
    for c in comparisons:
        head = f"{c['case']:<28} {c['device']:<6}"
        if c["verdict"] == "missing":
            lines.append(f"{head} no finished run: nothing to compare")
            continue
        difference = (
            f"{c['iqm_difference']:+.1f} [{c['difference_low']:+.1f}, {c['difference_high']:+.1f}]"
        )
        probability = (
            f"{c['probability_of_improvement']:.2f} "
            f"[{c['probability_low']:.2f}, {c['probability_high']:.2f}]"
        )
        lines.append(
            f"{head} {c['iqm']:>8.1f} {c['reference_iqm']:>8.1f}  {difference:<30} "
            f"{probability:<23} {c['verdict'].upper()}"
        )
    for a in aggregates:
        lines.append(
            f"over {a['cases']} cases on {a['device']}: normalized IQM difference "
            f"{a['iqm_difference']:+.3f} [{a['difference_low']:+.3f}, {a['difference_high']:+.3f}],"
            f" P(impl > ref) {a['probability_of_improvement']:.2f} "
            f"[{a['probability_low']:.2f}, {a['probability_high']:.2f}]: {a['verdict'].upper()}"
        )
    lines.append(
        "verdict at 95%: WORSE when the IQM difference's interval lies below 0 and "
        "P(impl > ref)'s below 0.5 (a regression); BETTER when both lie above; else "
        "INDISTINGUISHABLE"
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------


def performance_profile(samples: Sequence[np.ndarray], taus: np.ndarray) -> np.ndarray:
    """Fraction of runs with a normalized score above each tau, every case weighted equally."""
    return np.mean([np.mean(s[:, None] > taus[None, :], axis=0) for s in samples], axis=0)


def plot_performance_profiles(
    cases: Sequence[Case],
    device: str,
    runs: Sequence[dict],
    reference: Reference,
    path: Path,
    label: str,
) -> bool:
    """Both performance profiles (Agarwal et al. 2021) over the cases; False if nothing ran."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    mine, theirs = [], []
    for case in cases:
        x = _finals(runs, case, device)
        if x.size:
            mine.append(case.normalized(x))
            theirs.append(case.normalized(np.asarray(reference[case.name]["final_returns"])))
    if not mine:
        return False
    taus = np.linspace(0.0, 1.25, 251)
    figure, panel = plt.subplots(figsize=(5.5, 3.8))
    for samples, name, colour in ((theirs, "reference", "black"), (mine, label, "tab:orange")):
        panel.step(taus, performance_profile(samples, taus), where="post", color=colour, label=name)
    panel.axvline(1.0, color="grey", ls="--", lw=1, label="threshold")
    panel.set_xlabel("normalized score tau (0 = random policy, 1 = threshold)", fontsize=8)
    panel.set_ylabel("fraction of runs with score > tau", fontsize=8)
    panel.set_ylim(-0.02, 1.02)
    panel.set_title(f"Performance profiles over {len(mine)} cases ({device})", fontsize=10)
    panel.legend(fontsize=7, loc="lower left")
    panel.tick_params(labelsize=7)
    figure.tight_layout()
    save_figure(figure, path)
    return True


def plot_learning_curves(
    cases: Sequence[Case],
    runs: Sequence[dict],
    reference: Reference,
    path: Path,
    labels: dict[str, str],
) -> bool:
    """Per case: the reference's and the implementation's median and interquartile band.

    ``labels``: the implementation's name in the legend, per algorithm.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    columns = min(4, len(cases))
    rows = -(-len(cases) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for panel, case in zip(axes.flat, cases, strict=False):
        grid = np.linspace(0, case.steps, CURVE_POINTS)
        implementation = [r.get("curve") for r in runs if r["case"] == case.name]
        series = (
            (reference[case.name]["curves"], "reference", "black"),
            ([c for c in implementation if c], labels[case.algorithm], "tab:orange"),
        )
        for curves, name, colour in series:
            values = np.array([[np.nan if x is None else x for x in c] for c in curves], float)
            if values.size == 0 or np.all(np.isnan(values)):
                continue
            valid = ~np.all(np.isnan(values), axis=0)
            low, median, high = np.nanpercentile(values[:, valid], [25, 50, 75], axis=0)
            panel.plot(grid[valid], median, color=colour, label=f"{name} ({len(curves)} seeds)")
            panel.fill_between(grid[valid], low, high, color=colour, alpha=0.2, lw=0)
        panel.axhline(case.threshold, color="grey", ls="--", lw=1, label="threshold")
        panel.set_title(case.name, fontsize=10)
        panel.set_xlabel("environment steps", fontsize=8)
        panel.set_ylabel("training episode return", fontsize=8)
        panel.tick_params(labelsize=7)
        panel.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
        panel.legend(fontsize=7, loc="best")
    for panel in list(axes.flat)[len(cases) :]:
        panel.set_visible(False)
    figure.suptitle(
        "Training return (mean of the last 10 episodes):\nmedian over seeds, interquartile band",
        fontsize=9,
    )
    figure.tight_layout()
    save_figure(figure, path)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m drlspec.harness.compare",
        description="Write the stored reference results from a full reference sweep.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    store = commands.add_parser("store", help="results.json of a reference sweep -> the store")
    store.add_argument("results", metavar="RESULTS.json")
    store.add_argument("--output", default=None, help="default: the packaged store")
    args = parser.parse_args(argv)
    try:
        path = write_store(Path(args.results), Path(args.output) if args.output else None)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
