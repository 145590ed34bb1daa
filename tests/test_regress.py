"""The convergence regression harness: the table, the verdict statistics, the runner, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from drlspec.cli import main as main_cli
from drlspec.harness import regress
from drlspec.harness.target import UsageError

ROOT = Path(__file__).resolve().parent.parent

# Published budgets, the ceiling the issue sets per case: rl-baselines3-zoo's tuned
# hyperparams/*.yml, and CleanRL's dqn.py default (CartPole-v1, 5e5) for the DQN variants the
# zoo does not tune.
PUBLISHED_BUDGET = {
    ("CartPole-v1", "dqn"): 50_000,
    ("CartPole-v1", "double_dqn"): 500_000,
    ("CartPole-v1", "dueling_dqn"): 500_000,
    ("CartPole-v1", "per_dqn"): 500_000,
    ("CartPole-v1", "reinforce"): 500_000,  # a2c
    ("CartPole-v1", "actor_critic"): 500_000,  # a2c
    ("CartPole-v1", "trpo"): 100_000,
    ("CartPole-v1", "ppo"): 100_000,
    ("CartPole-v1", "ppo_penalty"): 100_000,
    ("Acrobot-v1", "dqn"): 100_000,
    ("Acrobot-v1", "ppo"): 1_000_000,
    ("Pendulum-v1", "ppo"): 100_000,
    ("Pendulum-v1", "trpo"): 100_000,
}
THRESHOLD = {"CartPole-v1": 475.0, "Acrobot-v1": -100.0, "Pendulum-v1": -250.0}


def _case(**changes) -> regress.Case:
    fields = {
        "algorithm": "ppo",
        "env_id": "CartPole-v1",
        "steps": 1000,
        "threshold": 150.0,
        "random_return": 20.0,
        "seeds": 5,
        "smoke_seeds": 0,
        "eval_episodes": 2,
        "seconds": 1.0,
    }
    return regress.Case(**{**fields, **changes})


def _runs(finals, name="ppo-CartPole-v1", device="cpu"):
    return [
        {
            "case": name,
            "device": device,
            "seed": seed,
            "status": "ok",
            "final_return": value,
            "seconds": 1.0,
        }
        for seed, value in enumerate(finals, start=1)
    ]


# ---------------------------------------------------------------- the table


def test_the_table_holds_every_required_case_within_the_published_budgets():
    cases = regress.load_cases(regress.default_table())
    found = {(c.env_id, c.algorithm): c for c in cases}
    assert set(PUBLISHED_BUDGET) <= set(found), set(PUBLISHED_BUDGET) - set(found)
    for key, case in found.items():
        assert case.threshold == THRESHOLD[case.env_id]
        assert case.steps <= PUBLISHED_BUDGET[key], (
            f"{case.name}: {case.steps} > {PUBLISHED_BUDGET[key]}"
        )
        assert case.source, f"{case.name} cites no source for its budget"
        assert case.seeds >= 5, f"{case.name}: the IQM needs at least 5 seeds to trim anything"


def test_every_case_of_the_table_builds_its_agent():
    """Every override names a real config field with a valid value (make_config builds it)."""
    from drlspec.agents import make_config

    for case in regress.load_cases(regress.default_table()):
        make_config(case.algorithm, env_id=case.env_id, overrides=case.assignments())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[case]]\nalgorithm = "ppo"\nenv = "CartPole-v1"\nsteps = 10\n', "threshold"),
        (
            '[environments."CartPole-v1"]\nthreshold = 1\n[[case]]\nalgorithm = "nope"\n'
            'env = "CartPole-v1"\nsteps = 10\n',
            "unknown algorithm",
        ),
        (
            '[environments."CartPole-v1"]\nthreshold = 1\n[[case]]\nalgorithm = "ppo"\n'
            'env = "CartPole-v1"\nsteps = 10\nbudget = 3\n',
            "unknown keys",
        ),
        ('[environments."CartPole-v1"]\nthreshold = 1\n', "no [[case]]"),
        ("[[case]\n", "not valid TOML"),
        (
            '[environments."CartPole-v1"]\nthreshold = 1\n[[case]]\nalgorithm = "ppo"\n'
            'env = "CartPole-v1"\nsteps = 10\nseeds = 0\n',
            "positive",
        ),
    ],
)
def test_a_malformed_table_is_a_usage_error(tmp_path, text, message):
    path = tmp_path / "cases.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message.replace("[", r"\[")):
        regress.load_cases(path)


def test_select_is_a_keyword_expression_over_case_names():
    cases = regress.load_cases(regress.default_table())
    names = lambda expr: [c.name for c in regress.select_cases(cases, expr)]  # noqa: E731
    assert names("ppo and not Pendulum") == [
        "ppo-CartPole-v1",
        "ppo_penalty-CartPole-v1",
        "ppo-Acrobot-v1",
    ]
    assert names("acrobot") == ["dqn-Acrobot-v1", "ppo-Acrobot-v1"]
    assert names("(trpo or reinforce) and CartPole") == [
        "reinforce-CartPole-v1",
        "trpo-CartPole-v1",
    ]
    assert len(names(None)) == len(cases)
    with pytest.raises(UsageError, match="matches no case"):
        names("sarsa")
    with pytest.raises(UsageError, match="not a valid expression"):
        names("ppo and")


# ---------------------------------------------------------------- verdicts


def test_iqm_is_the_mean_of_the_middle_half_and_decides_the_verdict():
    case = _case(threshold=150.0)
    # Five seeds: the lowest and the highest are cut, the middle three averaged.
    verdict = regress.judge(case, "cpu", _runs([0.0, 100.0, 200.0, 300.0, 1000.0]))
    assert verdict["iqm"] == pytest.approx(200.0)
    assert verdict["passed"] and verdict["status"] == "pass"
    assert verdict["ci_low"] <= verdict["iqm"] <= verdict["ci_high"]
    # One collapsed seed does not fail a case whose other seeds solve it...
    assert regress.judge(case, "cpu", _runs([-500.0, 160, 170, 180, 190]))["passed"]
    # ...two do (the IQM then includes one of them).
    assert not regress.judge(case, "cpu", _runs([-500.0, -500.0, 170, 180, 190]))["passed"]


def test_threshold_is_reached_not_exceeded():
    case = _case(threshold=500.0)
    assert regress.judge(case, "cpu", _runs([500.0] * 5))["passed"]
    assert not regress.judge(case, "cpu", _runs([499.9] * 5))["passed"]


def test_a_crashed_seed_fails_the_case_whatever_the_others_score():
    runs = _runs([500.0] * 4)
    runs.append(
        {
            "case": "ppo-CartPole-v1",
            "device": "cpu",
            "seed": 5,
            "status": "error",
            "error": "NonFiniteError: loss is nan",
            "seconds": 1.0,
        }
    )
    verdict = regress.judge(_case(), "cpu", runs)
    assert not verdict["passed"]
    assert verdict["errors"] == ["seed 5: NonFiniteError: loss is nan"]


def test_the_interval_does_not_depend_on_completion_order():
    finals = [120.0, 480.0, 500.0, 300.0, 410.0, 95.0, 500.0]
    forward = regress.judge(_case(), "cpu", _runs(finals))
    backward = regress.judge(_case(), "cpu", list(reversed(_runs(finals))))
    assert (forward["ci_low"], forward["ci_high"]) == (backward["ci_low"], backward["ci_high"])
    assert forward["ci_low"] < forward["iqm"] < forward["ci_high"]


def test_identical_seeds_give_a_point_interval():
    verdict = regress.judge(_case(), "cpu", _runs([500.0] * 5))
    assert verdict["ci_low"] == verdict["ci_high"] == verdict["iqm"] == 500.0


def test_the_aggregate_stratifies_by_case():
    """Every case keeps its weight: resampling within cases, never across them."""
    solved = _case(algorithm="ppo")
    unsolved = _case(algorithm="trpo")
    runs = _runs([150.0] * 5, name=solved.name) + _runs([20.0] * 5, name=unsolved.name)
    result = regress.aggregate([solved, unsolved], "cpu", runs)
    # Normalized scores: five 1s and five 0s; each resample keeps five of each, so the pooled
    # IQM is 0.5 in every resample. Unstratified resampling would spread it.
    assert result["normalized_iqm"] == pytest.approx(0.5)
    assert result["ci_low"] == pytest.approx(0.5) and result["ci_high"] == pytest.approx(0.5)


def test_learning_curve_averages_the_last_episodes_finished(tmp_path):
    path = tmp_path / "episodes.csv"
    ends = np.arange(1, 31) * 10  # an episode ends every 10 steps, returns 1..30
    path.write_text(
        "step,return,length\n" + "".join(f"{e},{i + 1},10\n" for i, e in enumerate(ends))
    )
    curve = regress.learning_curve(path, 400)
    grid = np.linspace(0, 400, regress.CURVE_POINTS)
    for point, value in zip(grid, curve, strict=True):
        finished = int(min(point // 10, 30))
        if finished == 0:
            assert value is None
        else:
            window = np.arange(max(1, finished - regress.CURVE_WINDOW + 1), finished + 1)
            assert value == pytest.approx(window.mean())


# ---------------------------------------------------------------- the runner


TINY = """
[environments."CartPole-v1"]
threshold = 30.0
random_return = 23.7
[[case]]
algorithm = "ppo"
env = "CartPole-v1"
steps = 2048
seeds = 2
eval_episodes = 2
set = { num_envs = 4, num_steps = 64, update_epochs = 2 }
[[case]]
algorithm = "dqn"
env = "CartPole-v1"
steps = 600
seeds = 1
eval_episodes = 2
set = { learning_starts = 300 }
"""


def test_sweep_is_reproducible_and_the_same_in_process_and_in_a_pool(tmp_path):
    table = tmp_path / "cases.toml"
    table.write_text(TINY)
    cases = regress.load_cases(table)
    serial = regress.run_sweep(
        cases, devices=("cpu", "cuda"), jobs=1, output=tmp_path / "a", report=lambda _: None
    )
    pooled = regress.run_sweep(
        cases, devices=("cpu", "cuda"), jobs=2, output=tmp_path / "b", report=lambda _: None
    )
    document = json.loads(serial.results.read_text())
    assert document["passed"] == serial.passed
    assert len(document["runs"]) == 3 and all(r["status"] == "ok" for r in document["runs"])
    finals = lambda sweep: {  # noqa: E731
        (r["case"], r["seed"]): r["eval_returns"]
        for r in json.loads(sweep.results.read_text())["runs"]
    }
    assert finals(serial) == finals(pooled)  # bit-identical on the CPU
    strip = lambda vs: [{k: v for k, v in x.items() if k != "seconds"} for x in vs]  # noqa: E731
    assert strip(serial.verdicts) == strip(pooled.verdicts)
    statuses = {(v["case"], v["device"]): v["status"] for v in serial.verdicts}
    if regress.cuda_skip_reason() is not None:
        assert statuses[("ppo-CartPole-v1", "cuda")] == "skipped"
    assert serial.plot.stat().st_size > 10_000  # a real PNG, not an empty figure


def test_a_run_that_raises_is_recorded_not_propagated(tmp_path):
    case = _case(overrides=(("no_such_field", 1),))
    record = regress.run_one(case, 1, "cpu", tmp_path)
    assert record["status"] == "error"
    assert "no_such_field" in record["error"]


# ---------------------------------------------------------------- the command line


def _drlspec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "drlspec.cli", "regress", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--seeds", "0"), "--seeds must be at least 1"),
        (("--jobs", "0"), "--jobs must be at least 1"),
        (("--select", "sarsa"), "matches no case"),
        (("--table", "no/such/table.toml"), "cannot read the case table"),
        (("--device", "tpu"), "invalid choice"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args, message):
    run = _drlspec(*args)
    assert run.returncode == 2, run.stdout + run.stderr
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert "Traceback" not in run.stderr


def test_cli_runs_a_table_and_exits_1_on_a_failed_case(tmp_path):
    table = tmp_path / "cases.toml"
    # An unreachable threshold: the run completes, the verdict is FAIL, the exit code 1.
    table.write_text(TINY.replace("threshold = 30.0", "threshold = 501.0"))
    run = _drlspec(
        "--table",
        str(table),
        "--select",
        "ppo",
        "--device",
        "cpu",
        "--jobs",
        "1",
        "--output",
        str(tmp_path / "out"),
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "FAIL" in run.stdout and "IQM" in run.stdout and "wall time" in run.stdout
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [v["status"] for v in document["verdicts"]] == ["fail"]


def test_an_interrupted_sweep_resumes_without_rerunning(tmp_path):
    table = tmp_path / "cases.toml"
    table.write_text(TINY)
    cases = regress.load_cases(table)
    quiet = dict(devices=("cpu",), jobs=1, report=lambda _: None)
    complete = regress.run_sweep(cases, output=tmp_path / "complete", **quiet)

    def interrupted(case, seed, device, root):
        if case.algorithm == "dqn":
            raise KeyboardInterrupt  # Ctrl-C during the last run
        return regress.run_one(case, seed, device, root)

    with pytest.raises(KeyboardInterrupt):
        regress.run_sweep(cases, output=tmp_path / "partial", run=interrupted, **quiet)
    partial = tmp_path / "partial" / "results.json"
    assert len(json.loads(partial.read_text())["runs"]) == 2  # what finished is on disk

    performed = []

    def counting(case, seed, device, root):
        performed.append((case.name, seed))
        return regress.run_one(case, seed, device, root)

    resumed = regress.run_sweep(cases, output=tmp_path / "x", resume=partial, run=counting, **quiet)
    assert performed == [("dqn-CartPole-v1", 1)]
    assert resumed.results == partial
    strip = lambda vs: [{k: v for k, v in x.items() if k != "seconds"} for x in vs]  # noqa: E731
    assert strip(resumed.verdicts) == strip(complete.verdicts)


def test_resume_refuses_a_changed_case(tmp_path):
    table = tmp_path / "cases.toml"
    table.write_text(TINY)
    cases = regress.load_cases(table)
    regress.run_sweep(
        cases[1:], devices=("cpu",), jobs=1, output=tmp_path / "a", report=lambda _: None
    )
    table.write_text(TINY.replace("learning_starts = 300", "learning_starts = 400"))
    with pytest.raises(UsageError, match="has changed"):
        regress.run_sweep(
            regress.load_cases(table),
            devices=("cpu",),
            jobs=1,
            output=tmp_path / "b",
            resume=tmp_path / "a" / "results.json",
            report=lambda _: None,
        )


_OK_RUN = {
    "case": "dqn-CartPole-v1",
    "seed": 1,
    "device": "cpu",
    "status": "ok",
    "final_return": 20.0,
    "eval_returns": [20.0, 20.0],
    "seconds": 1.0,
    "curve": [None] * regress.CURVE_POINTS,
}


def _results(**changes) -> str:
    return json.dumps({"cases": [], "runs": [_OK_RUN], **changes})


def _run(**changes) -> str:
    return _results(runs=[{**_OK_RUN, **changes}])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("  \n", "the file is empty"),
        (_results()[:-20], "not valid JSON (Expecting"),  # truncated mid-write
        ("[]", "it holds a JSON list, not an object"),
        ('"results"', "it holds a JSON str, not an object"),
        (json.dumps({"runs": []}), "no 'cases' key"),
        (json.dumps({"cases": []}), "no 'runs' key"),
        (_results(cases={}), "'cases' is a dict, not a list"),
        (_results(runs={"a": 1}), "'runs' is a dict, not a list"),
        (_results(cases=[1]), "cases[0] is not an object with a string 'name'"),
        (_results(cases=[{"steps": 5}]), "cases[0] is not an object with a string 'name'"),
        (_results(runs=[3]), "runs[0] is a int, not an object"),
        (_results(runs=[_OK_RUN, None]), "runs[1] is a NoneType, not an object"),
        (_run(seed="1"), "runs[0] has no int 'seed' (got '1')"),
        (_run(seed=True), "runs[0] has no int 'seed' (got True)"),
        (_run(case=None), "runs[0] has no str 'case'"),
        (_run(status=1), "runs[0] has no str 'status'"),
        (_run(final_return="20"), "runs[0] (finished) has no number 'final_return'"),
        (_run(final_return=None), "runs[0] (finished) has no number 'final_return'"),
        (_run(seconds=[1]), "runs[0] (finished) has no number 'seconds'"),
        (_run(eval_returns="20"), "runs[0] 'eval_returns' is not a list of numbers"),
        (_run(curve=[1.0]), f"runs[0] 'curve' is not a list of {regress.CURVE_POINTS} numbers"),
        (_run(curve={"a": 1}), "runs[0] 'curve' is not a list"),
        (
            _results(runs=[_OK_RUN, _OK_RUN]),
            "runs[1] repeats the finished run dqn-CartPole-v1 seed 1 on cpu",
        ),
    ],
)
def test_resume_from_a_malformed_results_file_is_one_line_and_exit_2(
    text, message, tmp_path, capsys
):
    """Whatever is wrong with the file: exit 2, one line naming the file and the fault, no
    traceback, nothing run, nothing written next to it, the file left as it was."""
    table = tmp_path / "cases.toml"
    table.write_text(TINY)
    results = tmp_path / "sweep" / "results.json"
    results.parent.mkdir()
    results.write_text(text)
    code = main_cli(["regress", "--table", str(table), "--device", "cpu", "--resume", str(results)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"drlspec regress: error: --resume {results}: ")
    assert message in err
    assert results.read_text() == text
    assert sorted(p.name for p in results.parent.iterdir()) == ["results.json"]


def test_resume_from_an_unreadable_or_missing_results_file_is_one_line_and_exit_2(tmp_path, capsys):
    table = tmp_path / "cases.toml"
    table.write_text(TINY)
    binary = tmp_path / "results.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    for target, message in (
        (binary, "cannot read it"),
        (tmp_path, "is a folder; name its results.json"),
        (tmp_path / "missing.json", "no such file"),
    ):
        code = main_cli(["regress", "--table", str(table), "--resume", str(target)])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and message in err, err


def test_resume_keeps_failed_runs_out_whatever_else_they_lack(tmp_path):
    """A failed run is run again: only its key is read, not the fields of a finished run."""
    path = tmp_path / "results.json"
    failed = {"case": "ppo-CartPole-v1", "seed": 2, "device": "cpu", "status": "error"}
    path.write_text(_results(runs=[_OK_RUN, failed]))
    assert regress._finished_runs(path, []) == [_OK_RUN]


def test_the_ray_backend_without_ray_says_how_to_install_it(monkeypatch):
    from drlspec.harness import ray_backend

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(UsageError, match=r"pip install 'drlspec\[ray\]'"):
        ray_backend.import_ray()


def test_cli_backend_ray_without_ray_is_one_line_and_exit_2(tmp_path):
    # A child interpreter in which `import ray` fails, whether or not Ray is installed here.
    code = (
        "import sys; sys.modules['ray'] = None; from drlspec.cli import main; "
        "sys.exit(main(['regress', '--backend', 'ray', '--select', 'ppo-CartPole']))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "pip install 'drlspec[ray]'" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
