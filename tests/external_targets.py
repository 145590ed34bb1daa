"""Train functions for tests/test_external.py: the train protocol (drlspec.external) without
training. Each "trains" instantly, so the default CI exercises ``drlspec regress --impl`` end to
end: the runner, the evaluation, both verdicts and the report."""

from __future__ import annotations

import zlib

import numpy as np

from drlspec.external import Trained


def balance(*, env_id: str, seed: int, total_steps: int, device: str):
    """A hand-written CartPole controller: push towards the side the pole falls to.

    It keeps the pole up for all 500 steps of every evaluation episode, so it should pass the
    threshold and be indistinguishable from the reference (which also reaches 500).
    """
    if env_id != "CartPole-v1":
        raise ValueError(f"balance only knows CartPole-v1, not {env_id}")

    def act(observations: np.ndarray) -> np.ndarray:
        x, x_dot, theta, theta_dot = observations.T
        return (theta + 0.3 * theta_dot + 0.01 * x + 0.1 * x_dot > 0).astype(np.int64)

    # A made-up learning curve: the runner must draw it like the reference's.
    episodes = [(float(step), min(500.0, 20.0 + step / 100)) for step in range(500, 50_001, 500)]
    return Trained(act=act, episodes=episodes)


def uniform(*, env_id: str, seed: int, total_steps: int, device: str):
    """A uniformly random policy, deterministic per observation (a checksum of its bytes picks
    the action): it must fail the threshold and be worse than the reference."""

    def act(observations: np.ndarray) -> np.ndarray:
        rows = np.asarray(observations)
        return np.array([zlib.crc32(row.tobytes()) % 2 for row in rows], dtype=np.int64)

    return act


def crash_on_seed_two(*, env_id: str, seed: int, total_steps: int, device: str):
    """The controller, except that training seed 2 raises: that run fails, the rest are judged."""
    if seed == 2:
        raise RuntimeError("diverged on seed 2")
    return balance(env_id=env_id, seed=seed, total_steps=total_steps, device=device)


def flip_flop(*, env_id: str, seed: int, total_steps: int, device: str):
    """An act function that samples: the same observation may give another action."""
    generator = np.random.default_rng(seed)

    def act(observations: np.ndarray) -> np.ndarray:
        return generator.integers(0, 2, size=len(observations))

    return act


def wrong_shape(*, env_id: str, seed: int, total_steps: int, device: str):
    """Returns one action for a whole batch's worth of observations, as a scalar."""
    return lambda observations: 0


not_callable = 42


def wrong_signature(env, steps):
    """Positional arguments with other names: not a train function."""
    return None
