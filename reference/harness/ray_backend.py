"""``drlspec regress --backend ray``: every (case, seed, device) run as a Ray task.

Ray is an optional extra (``pip install 'drlspec[ray]'``) and is imported only here, only when
this backend is asked for. Each run is the same function as on the local pool
(:func:`drlspec.harness.regress.run_one`), submitted as a task that needs one CPU, plus a
fraction of a GPU (``GPU_SHARE``) for a CUDA run; results stream back as tasks finish, and
:func:`drlspec.harness.regress.run_sweep` writes each one to ``results.json`` at once, so an
interrupted sweep resumes with ``--resume`` without rerunning what finished.

A task whose worker process dies (killed, out of memory, node lost) is retried by Ray up to
``retries`` times; after that it is recorded as a failed run with Ray's error. A run that
*raises* is not retried: :func:`run_one` records the exception, and the seed counts as failed.

Without ``address`` a private single-machine Ray instance is started in-process, and every
server it opens listens on the loopback interface only: ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``
makes Ray take ``127.0.0.1`` as the node address (the single-machine mode Ray uses on macOS
and Windows), and Ray (2.60 tested) binds its servers to the node address, not 0.0.0.0;
``regression/test_ray_backend.py`` checks every socket the instance opens.
With ``address`` (``ray://host:10001`` or ``host:6379``) the tasks go to that cluster; every
node needs drlspec installed, and run folders stay on the node that ran them (the records,
learning curves included, come back through Ray).
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from drlspec.harness.target import UsageError

__all__ = ["GPU_SHARE", "import_ray", "run_tasks"]

GPU_SHARE = 0.25
"""GPUs a CUDA run asks for: four small-MLP runs share one GPU."""

INSTALL_HINT = "the ray backend needs Ray: pip install 'drlspec[ray]' (or pip install 'ray>=2.60')"


def import_ray() -> Any:
    """The ``ray`` module, or a :class:`UsageError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return ray


def _run_in_worker(run: Callable[..., dict], case, seed: int, device: str, root: str) -> dict:
    import torch

    torch.set_num_threads(1)
    return run(case, seed, device, Path(root))


def start_local(ray: Any, cpus: int) -> None:
    """A private Ray instance on this machine, listening on loopback only.

    Ray reads ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` when it is imported; if it was imported
    before this call, its module constant is set too. Either way the node address is checked
    after start: anything but loopback stops Ray and raises.
    """
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # inherited by raylet and GCS
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    constants = getattr(getattr(ray, "_private", None), "ray_constants", None)
    if constants is not None and hasattr(constants, "ENABLE_RAY_CLUSTER"):
        constants.ENABLE_RAY_CLUSTER = False
    ray.init(
        num_cpus=cpus,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    node = ray.util.get_node_ip_address()
    if not ipaddress.ip_address(node).is_loopback:
        ray.shutdown()
        raise RuntimeError(
            f"the local Ray instance took node address {node}, not loopback; refusing to run "
            "(set RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 before Ray is imported)"
        )


def run_tasks(
    tasks: Sequence[tuple[Any, int, str]],
    run_root: Path,
    *,
    address: str | None,
    jobs: int,
    retries: int,
    run: Callable[..., dict],
    on_result: Callable[[dict], None],
) -> None:
    """Submit every task, call ``on_result`` with each record as it arrives."""
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        if address is None:
            start_local(ray, jobs)
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    try:
        remote = ray.remote(_run_in_worker)
        pending: dict[Any, tuple[Any, int, str, float]] = {}
        for case, seed, device in tasks:
            options: dict[str, Any] = {"num_cpus": 1, "max_retries": retries}
            if device.startswith("cuda"):
                options["num_gpus"] = GPU_SHARE
            reference = remote.options(**options).remote(run, case, seed, device, str(run_root))
            pending[reference] = (case, seed, device, time.perf_counter())
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for reference in ready:
                case, seed, device, submitted = pending.pop(reference)
                try:
                    record = ray.get(reference)
                except ray.exceptions.RayError as error:
                    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
                    record = {
                        "case": case.name,
                        "seed": seed,
                        "device": device,
                        "status": "error",
                        "error": f"{type(error).__name__} after {retries} retries: {first_line}",
                        "seconds": round(time.perf_counter() - submitted, 1),
                    }
                on_result(record)
    finally:
        if started_here:
            ray.shutdown()
