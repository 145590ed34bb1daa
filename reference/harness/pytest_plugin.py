"""pytest plugin for the property suite (entry point ``drlspec``; ``-p no:drlspec`` turns it off).

Run drlspec's properties against your own implementation, from your own repository::

    pytest --pyargs drlspec.properties --drlspec-impl gae=my_lib.advantages:gae \\
        --drlspec-backend numpy

Contracts without a ``--drlspec-impl`` run on the reference. Every property
runs as under ``drlspec verify``: in the sandbox (:mod:`drlspec.harness.sandbox`),
with the run's hypothesis settings, so a target that exits, crashes, hangs or
floods its output fails its test instead of ending the session, and its module
is never imported into the pytest process.

The options carry a ``drlspec-`` prefix and the plugin touches only drlspec's
own property modules, so that a project with its own ``--device`` option or
``device`` fixture keeps them (tests/test_downstream.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from drlspec.contracts import CONTRACTS, PROPERTIES_DIR, Contract
from drlspec.harness.target import UsageError


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("drlspec")
    group.addoption(
        "--drlspec-impl",
        action="append",
        default=[],
        metavar="CONTRACT=TARGET",
        help="verify TARGET (package.module:attr or path/file.py:attr) for CONTRACT",
    )
    group.addoption(
        "--drlspec-backend",
        choices=("torch", "numpy"),
        default="torch",
        help="array type handed to --drlspec-impl targets (default: torch)",
    )
    group.addoption(
        "--drlspec-device",
        choices=("cpu", "cuda", "all"),
        default=None,
        help="devices for torch properties (default: cpu, plus cuda when available)",
    )


_TARGET_SPECS = pytest.StashKey[dict]()


def pytest_configure(config: pytest.Config) -> None:
    targets: dict[str, str] = {}
    for item in config.getoption("--drlspec-impl"):
        name, sep, spec = item.partition("=")
        if not sep or name not in CONTRACTS:
            raise pytest.UsageError(
                f"--drlspec-impl {item!r}: expected CONTRACT=TARGET with CONTRACT one of "
                f"{', '.join(sorted(CONTRACTS))}"
            )
        targets[name] = spec
    config.stash[_TARGET_SPECS] = targets


def _contract_of(module: object) -> Contract | None:
    """The contract of one of drlspec's property modules; None for any other module."""
    path = getattr(module, "__file__", None)
    name = getattr(module, "CONTRACT", None)
    if path is None or name not in CONTRACTS:
        return None
    if Path(path).resolve().parent != PROPERTIES_DIR.resolve():
        return None
    return CONTRACTS[name]


@dataclass(frozen=True)
class IsolatedTarget:
    """The implementation a property item verifies: named here, loaded only in the sandbox."""

    contract: Contract
    spec: str
    backend: str


def _target(config: pytest.Config, contract: Contract) -> IsolatedTarget:
    spec = config.stash[_TARGET_SPECS].get(contract.name)
    if spec is None:
        return IsolatedTarget(contract, contract.reference, "torch")
    return IsolatedTarget(contract, spec, config.getoption("--drlspec-backend"))


def _devices(config: pytest.Config) -> list:
    import torch

    request = config.getoption("--drlspec-device")
    has_cuda = torch.cuda.is_available()
    names = {None: ["cpu", "cuda"], "cpu": ["cpu"], "cuda": ["cuda"], "all": ["cpu", "cuda"]}[
        request
    ]
    params = []
    for name in names:
        if name == "cuda" and not has_cuda:
            reason = (
                "no CUDA device present"
                if request is None
                else "--drlspec-device asks for CUDA, none present"
            )
            params.append(pytest.param(name, marks=pytest.mark.skip(reason=reason)))
        else:
            params.append(name)
    return params


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "device" in metafunc.fixturenames and _contract_of(metafunc.module) is not None:
        metafunc.parametrize("device", _devices(metafunc.config), scope="session")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run one property of one contract in the sandbox, as ``drlspec verify`` does."""
    contract = _contract_of(pyfuncitem.module)
    if contract is None or "impl" not in pyfuncitem.fixturenames:
        return None
    from drlspec.harness.verify import format_failure, verify

    target = _target(pyfuncitem.config, contract)
    callspec = getattr(pyfuncitem, "callspec", None)  # properties without `device` have none
    device = callspec.params.get("device", "cpu") if callspec is not None else "cpu"
    try:
        result = verify(
            contract.name,
            target.spec,
            backend=target.backend,
            device=device,
            properties=[pyfuncitem.originalname],
        )
    except UsageError as error:
        pytest.fail(f"--drlspec-impl {contract.name}={target.spec}: {error}", pytrace=False)
    failures = [r for r in result.results if not r.passed]
    if failures:
        pytest.fail(
            "\n\n".join(f"{r.name} [{r.device}]\n{format_failure(r)}" for r in failures),
            pytrace=False,
        )
    return True


@pytest.fixture(scope="module")
def impl(request: pytest.FixtureRequest) -> IsolatedTarget:
    """The implementation a drlspec property module verifies (default: the reference)."""
    contract = _contract_of(request.module)
    if contract is None:
        raise pytest.UsageError(f"{request.module.__name__} is not one of drlspec's properties")
    return _target(request.config, contract)


@pytest.fixture(scope="module")
def backend(impl: IsolatedTarget) -> str:
    """The backend the implementation under test was declared with."""
    return impl.backend
