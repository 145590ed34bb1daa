"""pytest plugin for the property suite: ``--impl``, ``--backend``, ``--device`` and their fixtures.

``pytest properties --impl gae=my.module:gae --backend numpy`` runs the ``gae``
properties on ``my.module:gae``, handing it numpy arrays. Contracts without an
``--impl`` run on the reference. The same property functions also run
without pytest, under ``drlspec verify`` (see :mod:`reference.harness.verify`).
"""

from __future__ import annotations

import pytest
import torch

from reference.contracts import CONTRACTS
from reference.harness.target import Target, UsageError, load_object


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("drlspec")
    group.addoption(
        "--impl",
        action="append",
        default=[],
        metavar="CONTRACT=TARGET",
        help="verify TARGET (package.module:attr or path/file.py:attr) for CONTRACT",
    )
    group.addoption(
        "--backend",
        choices=("torch", "numpy"),
        default="torch",
        help="array type handed to --impl targets (default: torch)",
    )
    group.addoption(
        "--device",
        choices=("cpu", "cuda", "all"),
        default=None,
        help="devices for torch properties (default: cpu, plus cuda when available)",
    )


def pytest_configure(config: pytest.Config) -> None:
    from properties import profiles

    profiles.load_from_environment()
    # Small kernels are far slower (and timings noisier) with torch's thread pool,
    # above all with two xdist workers sharing two cores.
    torch.set_num_threads(1)
    targets: dict[str, str] = {}
    for item in config.getoption("--impl"):
        name, sep, spec = item.partition("=")
        if not sep or name not in CONTRACTS:
            raise pytest.UsageError(
                f"--impl {item!r}: expected CONTRACT=TARGET with CONTRACT one of "
                f"{', '.join(sorted(CONTRACTS))}"
            )
        targets[name] = spec
    config.stash[_TARGET_SPECS] = targets
    config.stash[_TARGETS] = {}


_TARGET_SPECS = pytest.StashKey[dict]()
_TARGETS = pytest.StashKey[dict]()


def _devices(config: pytest.Config) -> list:
    request = config.getoption("--device")
    has_cuda = torch.cuda.is_available()
    names = {None: ["cpu", "cuda"], "cpu": ["cpu"], "cuda": ["cuda"], "all": ["cpu", "cuda"]}[
        request
    ]
    params = []
    for name in names:
        if name == "cuda" and not has_cuda:
            if request is None:
                # Default run on a machine without a GPU: CUDA cases are reported as skipped.
                params.append(
                    pytest.param(name, marks=pytest.mark.skip(reason="no CUDA device present"))
                )
            else:
                params.append(
                    pytest.param(
                        name, marks=pytest.mark.skip(reason="--device asks for CUDA, none present")
                    )
                )
        else:
            params.append(name)
    return params


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", _devices(metafunc.config), scope="session")


@pytest.fixture(scope="module")
def impl(request: pytest.FixtureRequest) -> Target:
    """The implementation under test for the module's ``CONTRACT`` (default: the reference)."""
    name = getattr(request.module, "CONTRACT", None)
    if name is None:
        raise pytest.UsageError(f"{request.module.__name__} uses `impl` but defines no CONTRACT")
    cache = request.config.stash[_TARGETS]
    if name not in cache:
        contract = CONTRACTS[name]
        spec = request.config.stash[_TARGET_SPECS].get(name)
        backend = request.config.getoption("--backend") if spec else "torch"
        spec = spec or contract.reference
        try:
            cache[name] = Target(contract, load_object(spec), spec, backend)
        except UsageError as error:
            raise pytest.UsageError(f"--impl {name}={spec}: {error}") from None
    return cache[name]


@pytest.fixture(scope="module")
def backend(impl: Target) -> str:
    """The backend the implementation under test was declared with."""
    return impl.backend
