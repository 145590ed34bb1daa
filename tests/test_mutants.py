"""Every mutant is rejected by `drlspec verify`; every alternative and the reference pass.

A property that no wrong implementation fails is worth nothing: this module is
what shows the suite's teeth. Mutants are every public function or class
defined in ``tests/mutants/<contract>.py``; correct alternatives (written
differently: numpy, other loop orders, float32 inside) live in
``tests/alternatives/<contract>.py`` and must be accepted, numpy-based ones
(named ``numpy_*``) under the numpy backend.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from drlspec.contracts import CONTRACTS, implemented_contracts
from drlspec.harness import verify


def _members(package: str) -> list[tuple[str, str]]:
    """(contract, "module:attr") for every public function or class in package/<contract>.py."""
    found = []
    root = importlib.import_module(package)
    for info in pkgutil.iter_modules(root.__path__):
        if info.name not in CONTRACTS:
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        for name, obj in vars(module).items():
            defined_here = getattr(obj, "__module__", None) == module.__name__
            if name.startswith("_") or not defined_here:
                continue
            if inspect.isfunction(obj) or inspect.isclass(obj):
                found.append((info.name, f"{module.__name__}:{name}"))
    return found


MUTANTS = _members("tests.mutants")
ALTERNATIVES = _members("tests.alternatives")

ALTERNATIVE_EXAMPLES = 30
"""Examples per property for each correct alternative (besides every property's explicit
``@example`` edge cases), whatever the profile. There are over a hundred alternatives, each a
whole run of its contract's properties; at the ``ci`` profile's former 200 they took about
1,800 s of pytest-worker time in a run on a loaded machine, most of the default run, whose
budget is 12 minutes on two cores.
The reference itself runs every property at the profile's count (properties/), and
``drlspec verify`` of a user's implementation is unaffected."""


@pytest.mark.parametrize(("contract", "target"), MUTANTS, ids=[t for _, t in MUTANTS])
def test_mutant_is_rejected(contract, target):
    result = verify(contract, target, fail_fast=True, shrink=False, device="cpu")
    assert not result.passed, f"{target} passed every property of {contract}"


@pytest.mark.parametrize(
    "contract", [c.name for c in implemented_contracts()], ids=lambda name: name
)
def test_reference_is_accepted(contract):
    # The properties run in full under pytest (properties/); this checks the verify path.
    result = verify(contract, device="cpu", max_examples=20)
    failures = [f"{r.name}: {r.message}" for r in result.results if not r.passed]
    assert result.passed, "\n".join(failures)


@pytest.mark.parametrize(("contract", "target"), ALTERNATIVES, ids=[t for _, t in ALTERNATIVES])
def test_correct_alternative_is_accepted(contract, target):
    backend = "numpy" if target.rpartition(":")[2].startswith("numpy_") else "torch"
    result = verify(
        contract, target, backend=backend, device="cpu", max_examples=ALTERNATIVE_EXAMPLES
    )
    failures = [f"{r.name}: {r.message}" for r in result.results if not r.passed]
    assert result.passed, "\n".join(failures)
