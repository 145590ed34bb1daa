"""pytest plugin for the property suite: ``--impl``, ``--backend``, ``--device`` and their fixtures.

``pytest properties --impl gae=my.module:gae --backend numpy`` runs the ``gae``
properties on ``my.module:gae``, handing it numpy arrays. Contracts without an
``--impl`` run on the reference, in the pytest process. An ``--impl`` target
runs as under ``drlspec verify``: each property in the sandbox
(:mod:`drlspec.harness.sandbox`), so that a target that exits, crashes,
hangs or floods its output fails its test instead of ending the session;
its module is never imported into the pytest process.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from drlspec.contracts import CONTRACTS, Contract
from drlspec.harness.target import Target, UsageError


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
    from drlspec.properties import profiles

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


@dataclass(frozen=True)
class IsolatedTarget:
    """An ``--impl`` target: named here, loaded and called only in the sandbox."""

    contract: Contract
    spec: str
    backend: str


def _user_target(item: pytest.Item) -> IsolatedTarget | None:
    """The ``--impl`` target of a property test item, or None (the reference, or not a property)."""
    if "impl" not in getattr(item, "fixturenames", ()):
        return None
    name = getattr(item.module, "CONTRACT", None)
    spec = item.config.stash[_TARGET_SPECS].get(name)
    if spec is None:
        return None
    return IsolatedTarget(CONTRACTS[name], spec, item.config.getoption("--backend"))


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run a property of an ``--impl`` target in the sandbox, as ``drlspec verify`` does."""
    target = _user_target(pyfuncitem)
    if target is None:
        return None
    from drlspec.harness.verify import format_failure, verify

    device = pyfuncitem.callspec.params.get("device", "cpu")
    try:
        result = verify(
            target.contract.name,
            target.spec,
            backend=target.backend,
            device=device,
            properties=[pyfuncitem.originalname],
        )
    except UsageError as error:
        pytest.fail(f"--impl {target.contract.name}={target.spec}: {error}", pytrace=False)
    failures = [r for r in result.results if not r.passed]
    if failures:
        pytest.fail(
            "\n\n".join(f"{r.name} [{r.device}]\n{format_failure(r)}" for r in failures),
            pytrace=False,
        )
    return True


@pytest.fixture(scope="module")
def impl(request: pytest.FixtureRequest) -> Target | IsolatedTarget:
    """The implementation under test for the module's ``CONTRACT`` (default: the reference)."""
    name = getattr(request.module, "CONTRACT", None)
    if name is None:
        raise pytest.UsageError(f"{request.module.__name__} uses `impl` but defines no CONTRACT")
    spec = request.config.stash[_TARGET_SPECS].get(name)
    if spec is not None:
        return IsolatedTarget(CONTRACTS[name], spec, request.config.getoption("--backend"))
    cache = request.config.stash[_TARGETS]
    if name not in cache:
        cache[name] = Target.reference(CONTRACTS[name])
    return cache[name]


@pytest.fixture(scope="module")
def backend(impl: Target | IsolatedTarget) -> str:
    """The backend the implementation under test was declared with."""
    return impl.backend
