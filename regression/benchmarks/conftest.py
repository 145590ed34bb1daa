"""Benchmark session settings: one torch thread; the yardstick measured again before each benchmark.

Every time is stored in yardstick units (``--benchmark-timer=
drlspec.harness.bench.yardstick_clock``). The machines these run on are
shared, and their load drifts over a run of several minutes, so the
yardstick is measured again right before each benchmark: each figure is then
a ratio to the yardstick under the same load.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from drlspec.harness.bench import YARDSTICK_NOMINAL_SECONDS, calibrate_yardstick

# The peers' adapters (peers/, not part of the installed package) are imported as `peers.…`
# from the repository root, as `python peers/run.py` and `drlspec verify … peers.x:f` do.
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pytest_configure(config) -> None:
    # Two cores, other work on them: one thread keeps torch from fighting itself.
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _recalibrate_yardstick(benchmark) -> None:
    # Kept with each benchmark, not in machine_info: pytest-benchmark warns when
    # machine_info differs from the compared run's, and this differs every run.
    benchmark.extra_info["yardstick_seconds"] = calibrate_yardstick(runs=31)


def pytest_benchmark_update_machine_info(config, machine_info) -> None:
    machine_info["drlspec_yardstick_nominal_seconds"] = YARDSTICK_NOMINAL_SECONDS
    machine_info["drlspec_timer"] = str(config.getoption("benchmark_timer"))
    machine_info["torch"] = torch.__version__
