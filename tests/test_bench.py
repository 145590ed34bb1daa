"""``drlspec.harness.bench`` and ``drlspec bench``: cases, the output check, timing, exit codes.

No test asserts a speed (timings on a shared two-core machine are not
repeatable); they assert what ``bench`` promises: every contract has a case,
the inputs are deterministic, a wrong target is refused before anything is
timed, and the measurements are well formed.
"""

from __future__ import annotations

import json

import pytest
import torch

from drlspec.cli import main
from drlspec.contracts import CONTRACTS
from drlspec.harness.bench import (
    CASES,
    Measurement,
    bench,
    cases_of,
    check_output,
    compare,
    find_case,
    prepare,
    yardstick_clock,
)
from drlspec.harness.target import UsageError, load_object

# The readable loops take seconds at a million steps; their float32-vs-float64
# agreement is covered at 2048 x 8 (and the fast kernels' at a million steps).
QUICK_CASES = [c for c in CASES if "T1000000" not in c.size and c.workload is None]


def test_every_contract_has_one_default_case() -> None:
    for name in CONTRACTS:
        cases = cases_of(name)
        assert cases, f"{name} has no benchmark case"
        assert sum(c.default for c in cases) == 1, f"{name}: exactly one default size"
        assert cases[0].default
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))


def test_inputs_are_deterministic_and_the_same_numbers_in_both_dtypes() -> None:
    case = find_case("gae", None)
    first, again = case.inputs(torch.float32), case.inputs(torch.float32)
    wide = case.inputs(torch.float64)
    for a, b, w in zip(first, again, wide, strict=True):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b)
            if a.is_floating_point():
                assert a.dtype == torch.float32 and w.dtype == torch.float64
                assert torch.equal(w.to(torch.float32), a)


@pytest.mark.parametrize("case", QUICK_CASES, ids=lambda c: c.name)
def test_reference_on_float32_passes_its_own_check(case) -> None:
    """The check's tolerance admits the reference itself computing in float32."""
    reference = load_object(CONTRACTS[case.contract].reference)
    expected = prepare(case, reference, dtype=torch.float64).observe()
    check_output(case, prepare(case, reference).observe(), expected)


def test_check_refuses_a_wrong_answer() -> None:
    case = find_case("dqn_target", None)
    reference = load_object(CONTRACTS["dqn_target"].reference)
    expected = prepare(case, reference, dtype=torch.float64).observe()
    wrong = expected.clone()
    wrong[17] += 1e-2
    with pytest.raises(AssertionError, match=r"element \[17\]"):
        check_output(case, wrong, expected)


def test_sum_tree_check_refuses_a_wrong_leaf() -> None:
    case = find_case("sum_tree", "C1000000xK256-sample")
    observed = prepare(case, load_object("drlspec.fast.sum_tree:SumTree")).observe()
    check_output(case, observed, None)
    workload, touched, total, got = observed
    shifted = touched.clone()
    # A thousand leaves off: an off-by-one leaf at capacity 1e6 lies within the float32
    # slack the check must allow (the property suite pins off-by-one on small trees).
    shifted[0] = (shifted[0] + 1000) % 1_000_000
    with pytest.raises(AssertionError, match="interval"):
        check_output(case, (workload, shifted, total, got), None)


def test_compare_interleaves_and_reports_medians() -> None:
    order: list[str] = []
    result = compare(
        {"a": lambda: order.append("a"), "b": lambda: order.append("b")},
        seconds=0.0,
        min_rounds=4,
        warmup=1,
    )
    assert [m.name for m in result] == ["a", "b"]
    assert all(len(m.samples) == 4 and m.median > 0 and m.iqr >= 0 for m in result)
    assert order[:2] == ["a", "b"]  # warm-up, then calibration and rounds of both


def test_measurement_statistics() -> None:
    m = Measurement("x", (1.0, 2.0, 3.0, 4.0, 100.0), 1)
    assert m.median == 3.0
    assert m.iqr == pytest.approx(statistics_iqr([1.0, 2.0, 3.0, 4.0, 100.0]))


def statistics_iqr(values: list[float]) -> float:
    import statistics

    q = statistics.quantiles(values, n=4)
    return q[2] - q[0]


def test_bench_times_a_correct_target() -> None:
    case, target, reference = bench(
        "dueling_aggregate",
        "tests.alternatives.dueling_aggregate:" + _first_alternative("dueling_aggregate"),
        seconds=0.05,
    )
    assert case.contract == "dueling_aggregate"
    assert target.median > 0 and reference.median > 0


def _first_alternative(contract: str) -> str:
    import importlib
    import inspect

    module = importlib.import_module(f"tests.alternatives.{contract}")
    return next(
        name
        for name, obj in vars(module).items()
        if inspect.isfunction(obj)
        and not name.startswith(("_", "numpy_"))
        and obj.__module__ == module.__name__
    )


def test_bench_refuses_a_wrong_target_before_timing() -> None:
    with pytest.raises(AssertionError):
        bench("td_target", "tests.mutants.td_target:" + _first_mutant("td_target"), seconds=0.05)


def _first_mutant(contract: str) -> str:
    import importlib
    import inspect

    module = importlib.import_module(f"tests.mutants.{contract}")
    return next(
        name
        for name, obj in vars(module).items()
        if inspect.isfunction(obj)
        and not name.startswith("_")
        and obj.__module__ == module.__name__
    )


def test_bench_usage_errors() -> None:
    with pytest.raises(UsageError, match="no size"):
        bench("gae", "drlspec.fast.gae:gae", size="T3")
    with pytest.raises(UsageError, match="backend"):
        bench("conjugate_gradient", "drlspec.trust_region:conjugate_gradient", backend="numpy")
    with pytest.raises(UsageError, match="unknown contract"):
        bench("gea", "drlspec.fast.gae:gae")


def test_cli_exit_codes(capsys) -> None:
    assert main(["bench", "kkt_step", "drlspec.trust_region:kkt_step", "--seconds", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "ratio target / reference" in out and "median" in out
    mutant = "tests.mutants.td_target:" + _first_mutant("td_target")
    assert main(["bench", "td_target", mutant, "--seconds", "0.05"]) == 1
    assert "differs from the reference" in capsys.readouterr().out
    assert main(["bench", "gae", "no.such.module:gae"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err
    assert main(["bench", "gae", "drlspec.fast.gae:gae", "--seconds", "0"]) == 2


def test_yardstick_clock_runs_forward() -> None:
    first = yardstick_clock()
    assert yardstick_clock() >= first


def test_table_reports_ratios_to_the_reference(tmp_path) -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "regression" / "benchmarks" / "table.py"
    spec = importlib.util.spec_from_file_location("bench_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    run = tmp_path / "Linux" / "0001_x.json"
    run.parent.mkdir()
    bench_rows = [
        {"group": "gae[T2048xN8]", "extra_info": {"kernel": k}, "stats": {"median": m}}
        for k, m in (("reference", 8e-3), ("fast", 4e-5), ("peer x", 2e-3))
    ]
    run.write_text(json.dumps({"benchmarks": bench_rows, "machine_info": {}}))
    text = module.table(run)
    assert "| gae[T2048xN8] | 8 ms | fast | 40 us | 0.005 |" in text
    assert "| peer x | 2 ms | 0.25 |" in text
