"""The pytest entry of the convergence table: ``pytest regression -m convergence``.

Items are (case, device) pairs of ``reference/data/cases.toml``, in two tiers:

* ``convergence``: every case with its full seed count (``pytest regression -m convergence``);
* ``smoke``: the cases with ``smoke_seeds``, at that many seeds. Without ``-m`` only the smoke
  tier runs (the default ``tox`` includes it); the full tier is deselected.

Each item trains its seeds with :func:`drlspec.harness.regress.run_one` and is judged by
:func:`drlspec.harness.regress.judge`, the code behind ``drlspec regress``. The verdicts
travel to the controlling process in ``user_properties`` (so pytest-xdist works); at the end
the terminal summary prints the same table as ``drlspec regress``, and ``results.json`` and
``learning_curves.png`` are written to ``--regress-output``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drlspec.harness import regress

PROPERTY = regress.PYTEST_PROPERTY


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("drlspec regression")
    group.addoption(
        "--regress-device",
        choices=("cpu", "cuda", "all"),
        default="all",
        help="devices of the convergence items (default all; cuda skips without a GPU)",
    )
    group.addoption(
        "--regress-seeds", type=int, default=None, help="seeds per case (default: the table's)"
    )
    group.addoption(
        "--regress-output",
        default=None,
        help="folder for results.json, learning_curves.png and the runs "
        "(default runs/pytest-regress, replaced by each session)",
    )


def _cases() -> list[regress.Case]:
    return regress.load_cases(regress.default_table())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "regression_item" not in metafunc.fixturenames:
        return
    option = metafunc.config.getoption("--regress-device")
    devices = regress.DEVICES if option == "all" else (option,)
    params = []
    for tier, marker in (("smoke", pytest.mark.smoke), ("full", pytest.mark.convergence)):
        for case in _cases():
            if tier == "smoke" and case.smoke_seeds == 0:
                continue
            for device in devices:
                params.append(
                    pytest.param(
                        (tier, case, device),
                        id=f"{tier}-{case.name}-{device}",
                        marks=[marker, *([pytest.mark.cuda] if device == "cuda" else [])],
                    )
                )
    metafunc.parametrize("regression_item", params)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without ``-m``, the full tier is deselected (it takes tens of minutes)."""
    if config.option.markexpr:
        return
    keep, drop = [], []
    for item in items:
        (drop if item.get_closest_marker("convergence") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def regression_output(request: pytest.FixtureRequest) -> Path:
    return _output_folder(request.config)


def _output_folder(config: pytest.Config) -> Path:
    # One fixed default, not a timestamp: pytest-xdist's workers and controller must agree.
    given = config.getoption("--regress-output")
    return Path("runs/pytest-regress" if given is None else given)


# Verdicts gathered in the controlling process (xdist workers report through user_properties).
_collected: list[dict] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    for name, value in report.user_properties:
        if name == PROPERTY:
            _collected.append(json.loads(value))


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if _is_worker(config) or not _collected:
        return
    verdicts = [entry["verdict"] for entry in _collected]
    terminalreporter.section("convergence regression")
    terminalreporter.write_line(regress.format_table(verdicts))
    output = _output_folder(config)
    terminalreporter.write_line(f"results: {output / 'results.json'}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if _is_worker(config) or not _collected:
        return
    output = _output_folder(config)
    output.mkdir(parents=True, exist_ok=True)
    names = {entry["verdict"]["case"] for entry in _collected}
    cases = [case for case in _cases() if case.name in names]
    runs = [run for entry in _collected for run in entry["runs"]]
    from drlspec.agents.files import atomic_write_text

    document = {
        "entry": "pytest",
        "machine": regress.machine(),
        "evaluation_seed": regress.EVALUATION_SEED,
        "verdicts": [entry["verdict"] for entry in _collected],
        "runs": runs,
    }
    atomic_write_text(output / "results.json", json.dumps(document, indent=1) + "\n")
    regress.plot_curves(cases, runs, output / "learning_curves.png", document["verdicts"])
