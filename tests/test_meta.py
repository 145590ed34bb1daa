"""The suite checks its own coverage of the spec.

Every implemented contract (one with a property module) must have a reference
that imports and cites the seed and a paper, at least three documented
mutants, and documented properties. Every contract of the spec's tables is in
the registry, with the same signature. Every test that docs/errata.md names as
pinning an erratum exists.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

from drlspec.contracts import CONTRACTS, implemented_contracts
from drlspec.harness import load_object

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "docs" / "contracts.md"  # a copy of the spec (shared/spec/contracts.md)

IMPLEMENTED = [c.name for c in implemented_contracts()]


@pytest.mark.parametrize("name", IMPLEMENTED)
def test_contract_has_reference_and_three_mutants(name):
    contract = CONTRACTS[name]
    reference = load_object(contract.reference)
    assert callable(reference)
    if contract.kind == "class":
        assert inspect.isclass(reference)
    module = importlib.import_module(f"tests.mutants.{name}")
    mutants = [
        n
        for n, obj in vars(module).items()
        if not n.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module.__name__
    ]
    assert len(mutants) >= 3, f"{name} has {len(mutants)} mutants: {mutants}"
    for mutant in mutants:
        assert getattr(module, mutant).__doc__, f"mutant {name}:{mutant} has no docstring"


@pytest.mark.parametrize("name", IMPLEMENTED)
def test_property_module_declares_its_contract_and_documents_each_property(name):
    module = importlib.import_module(CONTRACTS[name].property_module)
    assert module.CONTRACT == name
    tests = [obj for n, obj in vars(module).items() if n.startswith("test_") and callable(obj)]
    assert len(tests) >= 3
    for test in tests:
        assert inspect.getdoc(test), f"{test.__name__} has no docstring"


@pytest.mark.parametrize("name", IMPLEMENTED)
def test_reference_docstring_cites_the_seed_and_a_paper(name):
    reference = load_object(CONTRACTS[name].reference)
    doc = inspect.getdoc(reference) or ""
    assert "Seed" in doc, f"{name}: docstring does not cite the seed section"
    assert re.search(r"(19|20)\d\d", doc), f"{name}: docstring cites no paper (year)"


def test_registry_matches_the_spec_tables():
    text = SPEC.read_text(encoding="utf-8")
    names = re.findall(r"^\| `(\w+)` \|", text, flags=re.MULTILINE)
    assert set(names) == set(CONTRACTS), "registry and spec name different contracts"
    for name, call in re.findall(r"^\| `(\w+)` \| `(f\([^`]+)`", text, flags=re.MULTILINE):
        assert CONTRACTS[name].signature.startswith(call), f"{name}: spec says {call}"


def _pinning_references() -> list[str]:
    text = (ROOT / "docs" / "errata.md").read_text(encoding="utf-8")
    return sorted(set(re.findall(r"`((?:tests|properties)/[\w/]+\.py::\w+)`", text)))


def test_errata_cite_pinning_tests():
    assert len(_pinning_references()) >= 10


@pytest.mark.parametrize("reference", _pinning_references())
def test_errata_pinning_test_exists(reference):
    path, _, name = reference.partition("::")
    source = (ROOT / path).read_text(encoding="utf-8")
    defined = re.search(rf"^\s*(def|class) {name}\b", source, flags=re.MULTILINE)
    assert defined, f"docs/errata.md cites {reference}, which does not exist"
