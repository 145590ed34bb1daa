"""``drlspec regress --impl``: another implementation through the convergence table, judged
against the threshold and against the reference's stored runs, with no training at all.

The train functions of tests/external_targets.py return at once: a hand-written CartPole
controller (PASS, indistinguishable from the reference, which reaches 500 on every seed), a
random policy (FAIL, worse), one that raises on seed 2 (that run fails, the others are judged),
and targets that are not train functions (exit 2, one line).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from drlspec.cli import main as main_cli
from drlspec.external import Trained, call_train, check_train_function, episodes_of
from drlspec.harness import compare, gate, regress
from drlspec.harness.target import UsageError

CARTPOLE = ["--select", "ppo and CartPole", "--device", "cpu", "--jobs", "1"]


def _regress(tmp_path: Path, target: str, *extra: str) -> tuple[int, dict]:
    output = tmp_path / "out"
    impl = f"ppo=tests.external_targets:{target}"
    code = main_cli(["regress", "--impl", impl, *CARTPOLE, "--output", str(output), *extra])
    return code, json.loads((output / "results.json").read_text())


# --------------------------------------------------------------------------
# End to end
# --------------------------------------------------------------------------


def test_a_controller_that_balances_passes_and_is_indistinguishable(tmp_path, capsys):
    """The hand-written controller passes the threshold and matches the reference."""
    code, document = _regress(tmp_path, "balance", "--seeds", "3")
    assert code == 0
    (verdict,) = document["verdicts"]
    assert verdict["status"] == "pass" and verdict["final_returns"] == [500.0] * 3
    (comparison,) = document["comparison"]["cases"]
    assert comparison["verdict"] in ("indistinguishable", "better")
    assert comparison["regression"] is False and comparison["seeds"] == 3
    assert comparison["reference_seeds"] >= 5
    assert document["implementations"] == {"ppo": "tests.external_targets:balance"}
    # The reported episodes become the learning curve, drawn on the reference's grid: no
    # episode has ended at step 0; at the end, the mean of the last 10 episodes' returns.
    curve = document["runs"][0]["curve"]
    last_ten = [min(500.0, 20.0 + step / 100) for step in range(45_500, 50_001, 500)]
    assert len(curve) == regress.CURVE_POINTS and curve[0] is None
    assert curve[-1] == pytest.approx(np.mean(last_ten))
    for plot in document["comparison"]["plots"]:
        assert Path(plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shown = capsys.readouterr().out
    assert "INDISTINGUISHABLE" in shown or "BETTER" in shown
    assert "ppo=tests.external_targets:balance against the threshold" in shown


def test_a_random_policy_fails_and_is_worse(tmp_path, capsys):
    """A random policy fails the threshold and is worse than the reference: exit 1."""
    code, document = _regress(tmp_path, "uniform", "--seeds", "3")
    assert code == 1
    (verdict,) = document["verdicts"]
    assert verdict["status"] == "fail" and verdict["iqm"] < 100
    (comparison,) = document["comparison"]["cases"]
    assert comparison["verdict"] == "worse" and comparison["regression"] is True
    assert comparison["difference_high"] < 0 and comparison["probability_high"] < 0.5
    (overall,) = document["comparison"]["aggregates"]
    assert overall["verdict"] == "worse"
    assert document["passed"] is False
    assert "WORSE" in capsys.readouterr().out


def test_a_run_that_raises_is_a_failed_seed_and_the_others_are_judged(tmp_path):
    """Seed 2 raises: it is recorded as failed; seeds 1 and 3 are evaluated and compared."""
    code, document = _regress(tmp_path, "crash_on_seed_two", "--seeds", "3")
    assert code == 1  # a crashed seed fails the threshold verdict, as for the reference
    runs = {r["seed"]: r for r in document["runs"]}
    assert runs[2]["status"] == "error" and "diverged on seed 2" in runs[2]["error"]
    assert runs[1]["status"] == runs[3]["status"] == "ok"
    (verdict,) = document["verdicts"]
    assert verdict["status"] == "fail" and verdict["final_returns"] == [500.0, 500.0]
    (comparison,) = document["comparison"]["cases"]
    assert comparison["seeds"] == 2 and comparison["verdict"] != "worse"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("flip_flop", "not deterministic"),
        ("wrong_shape", "one action per observation"),
    ],
)
def test_an_act_function_that_breaks_the_protocol_fails_its_runs(tmp_path, target, message):
    """A sampling act function, or one action for a batch, fails every run with the reason."""
    code, document = _regress(tmp_path, target, "--seeds", "2")
    assert code == 1
    assert all(r["status"] == "error" and message in r["error"] for r in document["runs"])
    assert document["comparison"]["cases"][0]["verdict"] == "missing"


@pytest.mark.parametrize(
    ("impl", "message"),
    [
        ("ppo=tests.external_targets:not_callable", "not callable"),
        ("ppo=tests.external_targets:wrong_signature", "missing a required argument"),
        ("ppo=tests.external_targets:absent", "has no attribute 'absent'"),
        ("ppo=no_such_module_here:train", "cannot import module"),
        ("ppo=missing/file.py:train", "does not exist"),
        ("ppo", "expected ALGO=TARGET"),
        ("sarsa=tests.external_targets:balance", "unknown algorithm 'sarsa'"),
    ],
)
def test_a_bad_target_is_one_line_and_exit_2(tmp_path, capsys, impl, message):
    """A target that is not a train function stops before any run: one line, exit 2."""
    code = main_cli(["regress", "--impl", impl, *CARTPOLE, "--output", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_usage_errors_of_the_comparison_options(tmp_path, capsys):
    """--reference without --impl, an unknown --reference, --impl twice, no case of ALGO."""
    impl = "ppo=tests.external_targets:balance"
    for argv, message in [
        (["--reference", "rerun"], "--reference needs --impl"),
        (["--impl", impl, "--reference", "nowhere.json"], "not 'stored', 'rerun'"),
        (["--impl", impl, "--impl", impl], "given twice"),
        (["--impl", "dqn=tests.external_targets:balance", "--select", "ppo"], "no selected case"),
    ]:
        assert main_cli(["regress", *argv, "--output", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1


def test_resume_refuses_a_sweep_of_another_implementation(tmp_path, capsys):
    """A results file of one implementation cannot be resumed with another (or the reference)."""
    _regress(tmp_path, "balance", "--seeds", "1")
    results = str(tmp_path / "out" / "results.json")
    for argv in (
        ["--impl", "ppo=tests.external_targets:uniform"],
        [],
    ):
        code = main_cli(["regress", *argv, *CARTPOLE, "--resume", results])
        assert code == 2
        assert "start a new sweep" in capsys.readouterr().err


# --------------------------------------------------------------------------
# The stored reference results
# --------------------------------------------------------------------------


def _table_cases() -> list[regress.Case]:
    return regress.load_cases(regress.default_table())


def test_the_store_holds_every_case_of_the_table_and_is_current():
    """The committed store holds a full sweep: seeds 1-5 of every case, made for today's table
    and reference agents, each run's final return and learning curve."""
    cases = _table_cases()
    reference = compare.load_reference(cases)  # raises if anything is stale
    for case in cases:
        runs = reference[case.name]
        assert runs["seeds"] == list(range(1, case.seeds + 1))
        assert np.isfinite(runs["final_returns"]).all()
        assert [len(curve) for curve in runs["curves"]] == [regress.CURVE_POINTS] * case.seeds
        # A run's curve ends at the mean training return of its last episodes: a real run.
        assert all(curve[-1] is not None for curve in runs["curves"])


def test_a_store_made_for_another_case_definition_is_refused(tmp_path):
    """Changing a case's budget makes its stored results stale: refused, with how to fix it."""
    case = next(c for c in _table_cases() if c.name == "ppo-CartPole-v1")
    changed = regress.Case(**{**case.__dict__, "steps": case.steps // 2})
    with pytest.raises(UsageError, match=r"changed since: steps.*--reference rerun"):
        compare.load_reference([changed])


def test_a_store_made_by_another_reference_agent_is_refused(monkeypatch):
    """When the agent's fingerprints change, its stored results belong to another agent."""
    monkeypatch.setattr(compare, "agent_fingerprint", lambda algorithm: "0" * 16)
    with pytest.raises(UsageError, match="fingerprints have changed"):
        compare.load_reference(_table_cases()[:1])


def test_write_store_reads_a_reference_sweep_and_load_reference_reads_it_back(tmp_path):
    """The store keeps each case's CPU runs in seed order; a results file works as a source."""
    case = _table_cases()[0]
    runs = [
        {
            "case": case.name,
            "seed": seed,
            "device": device,
            "status": status,
            "final_return": final,
            "seconds": 1.0,
            "eval_returns": [final],
            "curve": None,
        }
        for seed, device, status, final in [
            (3, "cpu", "ok", 30.0),
            (1, "cpu", "ok", 10.0),
            (2, "cpu", "error", 0.0),
            (1, "cuda", "ok", 99.0),
        ]
    ]
    results = tmp_path / "results.json"
    results.write_text(
        json.dumps({"cases": [{**case.identity(), "name": case.name}], "runs": runs})
    )
    store = compare.write_store(results, tmp_path / "store.json")
    entry = json.loads(store.read_text())["cases"][case.name]
    assert entry["seeds"] == [1, 3] and entry["final_returns"] == [10.0, 30.0]
    assert entry["definition"] == case.identity()
    from_results = compare.load_reference([case], results)
    assert from_results[case.name]["final_returns"] == [10.0, 30.0]


# --------------------------------------------------------------------------
# The statistics
# --------------------------------------------------------------------------


def test_probability_of_improvement_counts_pairs_and_half_ties():
    """P(X > Y) + P(X = Y)/2 over all n*m pairs, worked by hand."""
    # Pairs (1,2) (1,3) (2,2) (2,3): one tie, no win.
    assert gate.probability_of_improvement([1, 2], [2, 3]) == pytest.approx(0.125)
    assert gate.probability_of_improvement([5, 6, 7], [1]) == 1.0
    assert gate.probability_of_improvement([4, 4], [4, 4, 4]) == 0.5


def test_the_comparison_is_antisymmetric():
    """Swapping X and Y negates the difference and takes P to 1 - P; verdicts swap."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(0, 1, 7), rng.normal(1.5, 1, 5)
    forward, backward = gate.compare(x, y), gate.compare(y, x)
    assert forward.iqm_difference == pytest.approx(-backward.iqm_difference)
    assert forward.probability_of_improvement == pytest.approx(
        1 - backward.probability_of_improvement
    )
    assert (forward.verdict, backward.verdict) == ("worse", "better")


def test_the_verdict_needs_both_intervals_past_no_difference():
    """Worse only when the difference's interval is below 0 and P's below 1/2."""
    assert gate.compare_verdict((-3.0, -1.0), (0.1, 0.4)) == "worse"
    assert gate.compare_verdict((-3.0, 0.0), (0.1, 0.4)) == "indistinguishable"
    assert gate.compare_verdict((-3.0, -1.0), (0.1, 0.5)) == "indistinguishable"
    assert gate.compare_verdict((1.0, 3.0), (0.6, 0.9)) == "better"
    # Saturated cases (every seed at the cap on both sides) are indistinguishable.
    assert gate.compare([500.0] * 5, [500.0] * 5).verdict == "indistinguishable"
    # One collapsed seed of five does not make a saturated implementation worse.
    assert gate.compare([500.0, 500, 500, 500, 120], [500.0] * 5).verdict != "worse"


def test_the_aggregate_weights_every_case_equally():
    """A case with many seeds does not outvote a case with few in P(X > Y)."""
    xs = [np.ones(20), np.zeros(2)]
    ys = [np.zeros(20), np.ones(2)]
    result = gate.compare_aggregate(xs, ys)
    assert result.probability_of_improvement == pytest.approx(0.5)
    with pytest.raises(ValueError, match="same cases"):
        gate.compare_aggregate(xs, ys[:1])
    with pytest.raises(ValueError, match="NaN"):
        gate.compare([1.0, float("nan")], [1.0])


def test_false_alarms_are_rare_for_a_correct_implementation():
    """X and Y from one distribution: few comparisons say worse; a constant case never does."""
    spread = [-87.1, -85.9, -84.0, -81.6, -82.5, -90.3, -83.2, -86.4]
    assert gate.false_alarm_rate(spread, seeds=5, draws=200, resamples=1000) <= 0.1
    assert gate.false_alarm_rate([500.0] * 5, seeds=5, draws=20, resamples=200) == 0.0


# --------------------------------------------------------------------------
# The protocol
# --------------------------------------------------------------------------


def test_the_protocol_checks_what_a_train_function_returns():
    """A train function returns an act function or a Trained; its episodes must be in order."""
    check_train_function(lambda *, env_id, seed, total_steps, device: None, "t")
    with pytest.raises(TypeError, match="returned a int"):
        call_train(lambda **kwargs: 3, "CartPole-v1", 1, 10, "cpu")
    act = call_train(lambda **kwargs: lambda o: o, "CartPole-v1", 1, 10, "cpu")
    assert episodes_of(act) is None
    assert episodes_of(Trained(act, [(10, 1.0), (20, 2.0)])).shape == (2, 2)
    with pytest.raises(ValueError, match="order"):
        episodes_of(Trained(act, [(20, 1.0), (10, 2.0)]))
    with pytest.raises(ValueError, match="NaN"):
        episodes_of(Trained(act, [(10, float("nan"))]))
    with pytest.raises(ValueError, match="pairs"):
        episodes_of(Trained(act, [(10, 1.0, 3.0)]))
