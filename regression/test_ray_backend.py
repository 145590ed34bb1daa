"""The Ray backend of ``drlspec regress``, on a private Ray instance started by the test.

Runs in ``tox -e regression`` and ``tox -e ray`` (Ray is the optional extra ``drlspec[ray]``,
so these tests are not in the default run). They check that a tiny slice of a table gives the
same records and verdicts on Ray as on the local runner, that a task whose worker process dies
is retried and, past its retries, reported as a failed run, that an interrupted sweep resumes
without rerunning what finished, and that the Ray instance listens on loopback only.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install drlspec[ray])")

from drlspec.harness import ray_backend, regress  # noqa: E402

# Ray workers cannot import this test module by name: ship its functions by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

TABLE = """
[environments."CartPole-v1"]
threshold = 30.0
random_return = 23.7
[environments."Pendulum-v1"]
threshold = -1300.0
random_return = -1400.0
[[case]]
algorithm = "ppo"
env = "CartPole-v1"
steps = 2048
seeds = 2
eval_episodes = 2
set = { num_envs = 4, num_steps = 64, update_epochs = 2 }
[[case]]
algorithm = "trpo"
env = "Pendulum-v1"
steps = 1024
seeds = 1
eval_episodes = 1
set = { num_envs = 2, num_steps = 256 }
"""


def _listening() -> set[tuple[str, int]]:
    """(address, port) of every listening TCP socket on this machine (/proc/net/tcp*)."""
    found = set()
    for name, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        if not os.path.exists(name):
            continue
        with open(name) as file:
            next(file)
            for line in file:
                local, state = line.split()[1], line.split()[3]
                if state != "0A":  # LISTEN
                    continue
                address_hex, port_hex = local.split(":")
                raw = bytes.fromhex(address_hex)
                # /proc stores each 32-bit word in host (little-endian) order.
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, width, 4))
                address = ipaddress.ip_address(raw)
                found.add((str(address), int(port_hex, 16)))
    return found


def _is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


@pytest.fixture(scope="module")
def local_ray():
    before = _listening()
    ray_backend.start_local(ray, 2)
    opened = _listening() - before
    yield opened
    ray.shutdown()


@pytest.fixture
def cases(tmp_path) -> list[regress.Case]:
    table = tmp_path / "cases.toml"
    table.write_text(TABLE)
    return regress.load_cases(table)


def _records(sweep) -> dict:
    return {
        (r["case"], r["seed"], r["device"]): (r["status"], r.get("eval_returns"), r.get("curve"))
        for r in json.loads(sweep.results.read_text())["runs"]
    }


def _verdicts(sweep) -> list[dict]:
    return [{k: v for k, v in x.items() if k != "seconds"} for x in sweep.verdicts]


def test_ray_listens_on_loopback_only(local_ray):
    assert local_ray, "the Ray instance opened no listening socket at all?"
    exposed = sorted((a, p) for a, p in local_ray if not _is_loopback(a))
    assert not exposed, f"Ray listens beyond loopback: {exposed}"


def test_ray_gives_the_local_runners_records_and_verdicts(local_ray, cases, tmp_path):
    quiet = dict(report=lambda _: None, devices=("cpu", "cuda"), jobs=2)
    local = regress.run_sweep(cases, output=tmp_path / "local", **quiet)
    on_ray = regress.run_sweep(cases, output=tmp_path / "ray", backend="ray", **quiet)
    assert _records(on_ray) == _records(local)  # bit-identical: same seeds, CPU
    assert _verdicts(on_ray) == _verdicts(local)
    assert json.loads(on_ray.results.read_text())["backend"] == "ray"
    assert on_ray.plot.exists()


def die_on_first_attempt(case, seed, device, root):
    """Kill the worker process the first time each run is attempted."""
    marker = Path(root).parent / f"attempted-{case.name}-{seed}-{device}"
    if not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("1")
        os._exit(1)
    marker.write_text(str(int(marker.read_text()) + 1))
    return regress.run_one(case, seed, device, root)


def always_die(case, seed, device, root):
    os._exit(1)


def test_a_dead_worker_is_retried(local_ray, cases, tmp_path):
    reference = regress.run_sweep(
        cases, devices=("cpu",), jobs=1, output=tmp_path / "ref", report=lambda _: None
    )
    sweep = regress.run_sweep(
        cases,
        devices=("cpu",),
        jobs=2,
        output=tmp_path / "faulty",
        backend="ray",
        retries=2,
        run=die_on_first_attempt,
        report=lambda _: None,
    )
    attempts = sorted(p.read_text() for p in (tmp_path / "faulty").glob("attempted-*"))
    assert attempts == ["2", "2", "2"]  # every run died once, then ran on a fresh worker
    assert _records(sweep) == _records(reference)
    assert _verdicts(sweep) == _verdicts(reference)


def test_a_worker_that_keeps_dying_is_a_failed_run(local_ray, cases, tmp_path):
    sweep = regress.run_sweep(
        cases[1:],
        devices=("cpu",),
        jobs=2,
        output=tmp_path / "dead",
        backend="ray",
        retries=1,
        run=always_die,
        report=lambda _: None,
    )
    (verdict,) = sweep.verdicts
    assert verdict["status"] == "error" and not verdict["passed"]
    assert "after 1 retries" in verdict["errors"][0]


def test_an_interrupted_ray_sweep_resumes_without_rerunning(local_ray, cases, tmp_path):
    complete = regress.run_sweep(
        cases, devices=("cpu",), jobs=1, output=tmp_path / "complete", report=lambda _: None
    )
    # An interrupted sweep: the results file holds only the PPO runs.
    partial = tmp_path / "partial"
    regress.run_sweep(cases[:1], devices=("cpu",), jobs=1, output=partial, report=lambda _: None)
    resumed = regress.run_sweep(
        cases,
        devices=("cpu",),
        jobs=2,
        output=tmp_path / "ignored",
        backend="ray",
        resume=partial / "results.json",
        run=die_on_first_attempt,  # leaves a marker for every run it performs
        report=lambda _: None,
    )
    ran = sorted(p.name for p in partial.glob("attempted-*"))
    assert ran == ["attempted-trpo-Pendulum-v1-1-cpu"]
    assert resumed.results == partial / "results.json"
    assert _records(resumed) == _records(complete)
    assert _verdicts(resumed) == _verdicts(complete)


def test_an_external_implementation_runs_on_ray_as_locally(local_ray, tmp_path, monkeypatch):
    """``drlspec regress --impl ... --backend ray``: the same records, verdicts and comparison."""
    from drlspec.cli import main as main_cli

    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    targets = Path("tests/external_targets.py").resolve()
    results = {}
    for backend in ("local", "ray"):
        output = tmp_path / backend
        argv = ["regress", "--impl", f"ppo={targets}:balance", "--impl", f"trpo={targets}:uniform"]
        argv += ["--select", "CartPole and (ppo or trpo)", "--seeds", "2", "--device", "cpu"]
        # On Ray the tasks go to the module's private instance (local_ray is running).
        argv += ["--jobs", "2", "--backend", backend, "--output", str(output)]
        assert main_cli(argv) == 1  # the random TRPO stand-in fails and is worse
        results[backend] = json.loads((output / "results.json").read_text())
    local, on_ray = results["local"], results["ray"]
    assert on_ray["backend"] == "ray"

    def records(document):
        return {
            (r["case"], r["seed"]): (r["status"], r["eval_returns"], r["curve"])
            for r in document["runs"]
        }

    assert records(on_ray) == records(local)
    assert [(c["case"], c["verdict"]) for c in on_ray["comparison"]["cases"]] == [
        ("trpo-CartPole-v1", "worse"),
        ("ppo-CartPole-v1", "indistinguishable"),
    ]
    assert on_ray["comparison"] == local["comparison"] | {"plots": on_ray["comparison"]["plots"]}
