"""Drift detector: every agent's first updates equal the stored fingerprints.

A change in an algorithm shows up here in seconds. Regenerate deliberately, after checking that
the change is intended, with ``python -m drlspec.harness.fingerprints --update`` (it prints
what changed); tolerances and why: :mod:`drlspec.harness.fingerprints`.
"""

from __future__ import annotations

import json

import pytest

from drlspec.harness import fingerprints

STORED = json.loads(fingerprints.default_path().read_text())["fingerprints"]


def test_every_spec_has_a_stored_fingerprint():
    assert [entry["name"] for entry in STORED] == [spec["name"] for spec in fingerprints.SPECS]
    for entry in STORED:
        assert len(entry["updates"]) >= 3, f"{entry['name']}: too few updates to fingerprint"


@pytest.mark.parametrize("stored", STORED, ids=[entry["name"] for entry in STORED])
def test_first_updates_match_the_fingerprint(stored):
    problems = fingerprints.compare(stored, fingerprints.fingerprint(fingerprints.spec_of(stored)))
    assert not problems, (
        f"{stored['name']} drifted from its fingerprint:\n  "
        + "\n  ".join(problems[:10])
        + "\nIf the change is intended: python -m drlspec.harness.fingerprints --update"
    )
