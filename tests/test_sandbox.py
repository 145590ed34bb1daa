"""Nothing an implementation does can end, freeze or fool the verdict (issue 13).

Each case is a misbehaving implementation from tests/sandbox_targets.py, run
through the same paths a user takes: ``verify()`` (which ``drlspec verify``
and the pytest ``--impl`` path call), the command line, and pytest.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drlspec.contracts import CONTRACTS, implemented_contracts
from drlspec.harness import verify
from drlspec.harness.sandbox import Limits
from drlspec.harness.verify import findings

ROOT = Path(__file__).resolve().parent.parent
TARGETS = "tests.sandbox_targets"
QUICK = {"fail_fast": True, "shrink": False, "device": "cpu"}


def _messages(result) -> str:
    return "\n".join(f"{r.name}: {r.message}" for r in result.results if not r.passed)


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "drlspec.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_writing_into_an_input_fails_naming_it():
    """The "time-outs are terminal" bug, written into the caller's tensor, is caught."""
    result = verify("gae", f"{TARGETS}:gae_time_outs_are_terminal", **QUICK)
    assert not result.passed
    assert "modified its input `terminated` in place" in _messages(result)


def test_a_numpy_implementation_writing_into_an_input_fails_naming_it():
    result = verify(
        "td_target", f"{TARGETS}:numpy_td_target_writes_rewards", backend="numpy", **QUICK
    )
    assert not result.passed
    assert "modified its input `rewards` in place" in _messages(result)


# adapt_kl_beta takes numbers only; target_update takes modules and a number (that it leaves
# the online module alone is its own property, test_online_network_unchanged);
# collect_transitions takes an environment, a function, a count and its own carry.
ARRAY_CONTRACTS = [
    c.name
    for c in implemented_contracts()
    if c.name not in ("adapt_kl_beta", "target_update", "collect_transitions")
]


@pytest.mark.parametrize("contract", ARRAY_CONTRACTS)
def test_every_contract_rejects_a_write_into_its_inputs(contract):
    """The right answer, then a scribble on an input: every contract names the input."""
    result = verify(contract, f"{TARGETS}:writes_into_{contract}", **QUICK)
    assert not result.passed, f"writes_into_{contract} passed"
    assert "modified its input `" in _messages(result), _messages(result)


@pytest.mark.parametrize(
    "target", ["gae_scratch_in_place_on_copies", "gae_prints_a_little"], ids=str
)
def test_correct_implementations_that_work_in_place_on_copies_or_print_pass(target):
    result = verify("gae", f"{TARGETS}:{target}", device="cpu", max_examples=20)
    assert result.passed, _messages(result)


@pytest.mark.parametrize(
    ("target", "cause"),
    [
        ("calls_sys_exit", "raised SystemExit"),
        ("calls_os_exit", "ended the process (exit status 0"),
        ("segfaults", "crashed the process (SIGSEGV)"),
        ("floods_output", "wrote more than 1 MiB to stdout/stderr"),
    ],
)
def test_an_implementation_that_ends_or_floods_the_process_fails(target, cause):
    result = verify("td_target", f"{TARGETS}:{target}", device="cpu", shrink=False)
    assert not result.passed
    # Every property is judged, each in a fresh process after a death.
    assert len(result.results) == len(verify_names("td_target"))
    assert all(cause in r.message for r in result.results), _messages(result)


def verify_names(contract: str) -> list[str]:
    from drlspec.harness.verify import properties_of

    return [name for name, _ in properties_of(CONTRACTS[contract])]


def test_a_hang_fails_within_the_time_limit_and_the_rest_is_not_run():
    start = time.monotonic()
    result = verify("gae", f"{TARGETS}:hangs", device="cpu", limits=Limits(call_seconds=1.0))
    elapsed = time.monotonic() - start
    assert not result.passed
    first, *rest = result.results
    assert "did not return within 1 s" in first.message
    assert rest and all(r.message.startswith("not run: an earlier property stopped") for r in rest)
    assert elapsed < 30, f"a 1 s time limit took {elapsed:.1f} s to report"
    # One hang, one finding: the properties it kept from running belong to it.
    [finding] = findings(result.results)
    assert finding.results == result.results


def test_a_memory_blow_up_fails():
    limits = Limits(memory_bytes=2**30)
    result = verify("td_target", f"{TARGETS}:eats_memory", limits=limits, **QUICK)
    assert not result.passed
    assert "used more than 1 GiB of memory" in _messages(result)


@pytest.mark.parametrize(
    ("source", "cause"),
    [
        ("import os\nos._exit(0)\n", "ended the process (exit status 0"),
        ("import sys\nsys.exit(0)\n", "raised SystemExit"),
    ],
    ids=["os_exit", "sys_exit"],
)
def test_a_module_that_exits_at_import_fails(tmp_path, source, cause):
    path = tmp_path / "exits_at_import.py"
    path.write_text(source + "def f(*args):\n    return None\n")
    result = verify("td_target", f"{path}:f", device="cpu")
    assert not result.passed
    assert [r.name for r in result.results] == ["import"]
    assert cause in result.results[0].message


def test_command_line_exit_status_is_1_when_the_implementation_exits():
    completed = _cli("verify", "td_target", f"{TARGETS}:calls_os_exit", "--quiet")
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "ended the process" in completed.stdout
    assert "td_target: 0/" in completed.stdout


def test_command_line_names_a_modified_input():
    completed = _cli("verify", "gae", f"{TARGETS}:gae_time_outs_are_terminal", "--quiet")
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "modified its input `terminated` in place" in completed.stdout


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (Linux /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_ctrl_c_is_one_line_and_leaves_no_process_behind():
    process = subprocess.Popen(
        [sys.executable, "-m", "drlspec.cli", "verify", "gae", f"{TARGETS}:hangs"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # A process started in the background inherits SIGINT ignored; restore the default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.default_int_handler),
    )
    # Wait until the child runs the implementation (the header is printed before that).
    deadline = time.monotonic() + 120
    header = process.stdout.readline()
    assert header.startswith("verifying"), header
    while len(_descendants(process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # the fork server and the child running the implementation
    time.sleep(1.0)
    spawned = _descendants(process.pid)
    assert len(spawned) >= 2, spawned
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stdout + stderr
    assert stderr.strip() == "drlspec verify: interrupted", stderr
    assert "Traceback" not in stdout + stderr
    time.sleep(2.0)
    assert not [pid for pid in spawned if _alive(pid)], "a sandbox process outlived drlspec"


def test_bench_fails_a_hanging_target_instead_of_hanging():
    completed = _cli(
        "bench", "td_target", f"{TARGETS}:hangs", "--seconds", "0.1", "--time-limit", "1"
    )
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "did not finish within" in completed.stdout


def test_pytest_drlspec_impl_path_fails_an_exiting_target_and_finishes_the_session(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:xdist",
            "-q",
            "properties/test_td_target.py",
            "--drlspec-impl",
            f"td_target={TARGETS}:calls_os_exit",
            "--drlspec-device",
            "cpu",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "ended the process" in completed.stdout
    failed = len(verify_names("td_target"))
    assert f"{failed} failed" in completed.stdout, completed.stdout[-2000:]


def test_leaving_torch_global_state_changed_fails():
    result = verify("gae", f"{TARGETS}:gae_leaves_grad_disabled", **QUICK)
    assert not result.passed
    assert "changed torch's global state and left it changed (grad mode True -> False" in (
        _messages(result)
    )


def test_a_script_without_a_main_guard_is_not_rerun_by_the_sandbox(tmp_path):
    script = tmp_path / "check_my_kernel.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from drlspec.harness import verify\n"
        "print('top level ran')\n"
        "result = verify('td_target', max_examples=5)\n"
        "print('passed' if result.passed else 'failed')\n"
    )
    completed = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.splitlines() == ["top level ran", "passed"]


def test_the_run_settings_reach_the_properties(tmp_path, monkeypatch):
    """hypothesis binds settings when ``@given`` decorates: the child imports under the run's."""
    verify("td_target", max_examples=1)  # the fork server starts before the variable is set
    log = tmp_path / "calls.txt"
    monkeypatch.setenv("DRLSPEC_TEST_CALL_LOG", str(log))
    result = verify(
        "td_target",
        f"{TARGETS}:td_target_counting_calls",
        max_examples=7,
        properties=["test_matches_definition"],
    )
    assert result.passed, _messages(result)
    calls = len(log.read_text().splitlines())
    assert 1 <= calls <= 7, f"{calls} calls for max_examples=7"
