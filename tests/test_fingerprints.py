"""The fingerprint drift detector catches a changed algorithm and tolerates only rounding."""

from __future__ import annotations

import copy
import json

from drlspec.harness import fingerprints


def _stored(name: str) -> dict:
    document = json.loads(fingerprints.default_path().read_text())
    return next(entry for entry in document["fingerprints"] if entry["name"] == name)


def test_a_changed_discount_is_caught():
    stored = _stored("dqn-CartPole-v1")
    spec = fingerprints.spec_of(stored)
    spec["set"] = [*spec["set"], "gamma=0.98"]
    assert fingerprints.compare(stored, fingerprints.fingerprint(spec))


def test_a_changed_ppo_clip_range_is_caught():
    stored = _stored("ppo-CartPole-v1")
    spec = fingerprints.spec_of(stored)
    spec["set"] = [*spec["set"], "clip_eps=0.1"]
    assert fingerprints.compare(stored, fingerprints.fingerprint(spec))


def test_compare_tolerates_float32_rounding_but_not_more():
    stored = _stored("trpo-Pendulum-v1")
    nudged = copy.deepcopy(stored)
    key = next(k for k in nudged["updates"][0] if k != "step")
    value = stored["updates"][0][key]
    nudged["updates"][0][key] = value * (1 + 1e-6)  # float32 rounding: accepted
    assert fingerprints.compare(stored, nudged) == []
    nudged["updates"][0][key] = value * (1 + 1e-2) + 1e-5  # a real change: caught
    assert fingerprints.compare(stored, nudged)
    shorter = {**stored, "updates": stored["updates"][:-1]}
    assert fingerprints.compare(stored, shorter)
