"""Wrong collectors: each records what real RL code recorded from a gymnasium vector env.

Each is the reference loop (drlspec.collection) with one real bug. They share the
reference's carry (``CollectorCarry``) so that only the bug differs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from drlspec.collection import CollectorCarry

FIELDS = (
    "observations",
    "actions",
    "rewards",
    "next_observations",
    "terminated",
    "truncated",
    "valid",
)


def _mode(envs: Any) -> str:
    mode = envs.metadata["autoreset_mode"]
    return getattr(mode, "value", mode)


def _start(envs: Any, carry: Any) -> tuple[np.ndarray, np.ndarray]:
    if carry is None:
        observations, _ = envs.reset()
        return np.asarray(observations), np.zeros(envs.num_envs, dtype=bool)
    return carry.observations, carry.episode_ended


def _loop(envs: Any, act: Any, num_steps: int, carry: Any, row: Any) -> tuple[dict, Any]:
    """The reference loop; ``row(...)`` decides one row's recorded fields (the bug lives there).

    ``row(mode, observations, next_observations, terminated, truncated, infos, episode_ended)``
    returns ``(observations, next_observations, terminated, truncated, valid)`` to record.
    """
    mode = _mode(envs)
    observations, episode_ended = _start(envs, carry)
    rows: dict[str, list[np.ndarray]] = {name: [] for name in FIELDS}
    for _ in range(num_steps):
        actions = np.asarray(act(observations))
        next_obs, rewards, terminated, truncated, infos = envs.step(actions)
        next_obs = np.asarray(next_obs)
        terminated, truncated = np.asarray(terminated, bool), np.asarray(truncated, bool)
        obs_row, next_row, term_row, trunc_row, valid = row(
            mode, observations, next_obs, terminated, truncated, infos, episode_ended
        )
        for name, value in (
            ("observations", obs_row),
            ("actions", actions),
            ("rewards", np.asarray(rewards)),
            ("next_observations", next_row),
            ("terminated", term_row),
            ("truncated", trunc_row),
            ("valid", valid),
        ):
            rows[name].append(np.array(value, copy=True))
        episode_ended = terminated | truncated
        observations = next_obs
    transitions = {name: np.stack(values) for name, values in rows.items()}
    return transitions, CollectorCarry(observations, episode_ended)


def _final(next_obs: np.ndarray, infos: dict, where: np.ndarray) -> np.ndarray:
    """``next_obs`` with ``infos["final_obs"][i]`` put back where ``where[i]``."""
    true_next = np.array(next_obs, copy=True)
    for i in np.flatnonzero(where & np.asarray(infos.get("_final_obs", False), bool)):
        true_next[i] = infos["final_obs"][i]
    return true_next


def _correct(mode, obs, next_obs, terminated, truncated, infos, ended):
    if mode == "NextStep":
        return obs, next_obs, terminated, truncated, ~ended
    done = terminated | truncated
    return obs, _final(next_obs, infos, done), terminated, truncated, np.ones_like(done)


def final_obs_for_termination_only(envs, act, num_steps, carry):
    """SAME_STEP: ``final_obs`` is put back only where the episode *terminated*; at a time
    limit the reset observation is stored as the next observation, so the truncated step
    bootstraps from the next episode's first state (the issue's "final_obs used for
    termination only"; the bootstrap half of mujoco_playground #305)."""

    def row(mode, obs, next_obs, terminated, truncated, infos, ended):
        if mode == "NextStep":
            return obs, next_obs, terminated, truncated, ~ended
        valid = np.ones_like(terminated)
        return obs, _final(next_obs, infos, terminated), terminated, truncated, valid

    return _loop(envs, act, num_steps, carry, row)


def ignores_final_obs(envs, act, num_steps, carry):
    """SAME_STEP: the returned observation is stored as the next observation, ``final_obs``
    never read: at every episode end ``s'`` is the reset observation (envpool / brax-style
    wrappers that drop the final observation, mujoco_playground #305; stable-baselines3 users
    who skip ``terminal_observation``, #1787)."""

    def row(mode, obs, next_obs, terminated, truncated, infos, ended):
        if mode == "NextStep":
            return obs, next_obs, terminated, truncated, ~ended
        return obs, next_obs, terminated, truncated, np.ones_like(terminated)

    return _loop(envs, act, num_steps, carry, row)


def keeps_reset_step(envs, act, num_steps, carry):
    """NEXT_STEP: every row is kept, the reset step included: a "transition" from the last
    observation of one episode to the first of the next, with reward 0 and an action the
    environment ignored (CleanRL's scripts after gymnasium 1.0, CleanRL issue #499)."""

    def row(mode, obs, next_obs, terminated, truncated, infos, ended):
        if mode == "NextStep":
            return obs, next_obs, terminated, truncated, np.ones_like(ended)
        return _correct(mode, obs, next_obs, terminated, truncated, infos, ended)

    return _loop(envs, act, num_steps, carry, row)


def truncation_as_termination(envs, act, num_steps, carry):
    """Records ``terminated | truncated`` as terminated: a time limit reads as a terminal
    state and the learner stops bootstrapping there (the seed's single ``done``, errata E3/R2;
    cleanrl issue 198)."""

    def row(mode, obs, next_obs, terminated, truncated, infos, ended):
        o, n, te, tr, v = _correct(mode, obs, next_obs, terminated, truncated, infos, ended)
        return o, n, te | tr, tr, v

    return _loop(envs, act, num_steps, carry, row)


def drops_last_transition(envs, act, num_steps, carry):
    """Marks the step that ends an episode invalid (``valid = ~done``), as loops that test
    ``if done: reset; continue`` before storing do: every episode loses its last reward and
    termination is never seen by the learner."""

    def row(mode, obs, next_obs, terminated, truncated, infos, ended):
        o, n, te, tr, v = _correct(mode, obs, next_obs, terminated, truncated, infos, ended)
        return o, n, te, tr, v & ~(terminated | truncated)

    return _loop(envs, act, num_steps, carry, row)


def final_obs_from_wrong_index(envs, act, num_steps, carry):
    """SAME_STEP: reads ``final_obs`` as if it held only the ended environments, in order
    (``final_obs[j]`` for the ``j``-th ended one), while gymnasium >= 1.0 indexes it by
    environment: with two environments and only env 1 ending, env 1 gets env 0's slot (None
    or a stale observation) - one environment's row mixed with another's."""

    def row(mode, obs, next_obs, terminated, truncated, infos, ended):
        if mode == "NextStep":
            return obs, next_obs, terminated, truncated, ~ended
        true_next = np.array(next_obs, copy=True)
        mask = np.asarray(infos.get("_final_obs", np.zeros(len(next_obs), bool)), bool)
        for j, i in enumerate(np.flatnonzero(mask)):
            slot = infos["final_obs"][j]
            true_next[i] = slot if slot is not None else next_obs[j]
        return obs, true_next, terminated, truncated, np.ones_like(terminated)

    return _loop(envs, act, num_steps, carry, row)


def observation_after_step(envs, act, num_steps, carry):
    """Records the observation the step returned as the row's observation (``obs = next_obs``
    before storing): every row starts one step late, pairing each action with the state it
    led to instead of the one it was chosen in."""

    def row(mode, obs, next_obs, terminated, truncated, infos, ended):
        _, n, te, tr, v = _correct(mode, obs, next_obs, terminated, truncated, infos, ended)
        return next_obs, n, te, tr, v

    return _loop(envs, act, num_steps, carry, row)


def resets_on_every_call(envs, act, num_steps, carry):
    """Ignores the carry and calls ``envs.reset()`` at the start of every call (a collector
    written as one self-contained rollout): episodes in progress are cut off without an end
    flag and restarted, so steps are lost between calls."""
    return _loop(envs, act, num_steps, None, _correct)


def carry_forgets_pending_reset(envs, act, num_steps, carry):
    """NEXT_STEP: the carry keeps the observations but not which environments just ended,
    so when a call stops right after an episode's end the next call's first step (the reset
    step) is recorded as a valid transition."""
    if carry is not None:
        carry = CollectorCarry(carry.observations, np.zeros_like(carry.episode_ended))
    return _loop(envs, act, num_steps, carry, _correct)


def next_step_only(envs, act, num_steps, carry):
    """Written for NEXT_STEP only (gymnasium >= 1.0's default) and given a SAME_STEP
    environment: the row after each episode end is dropped as a "reset step" although it is
    a real transition, and the reset observation is stored at every episode end."""

    def row(mode, obs, next_obs, terminated, truncated, infos, ended):
        return obs, next_obs, terminated, truncated, ~ended

    return _loop(envs, act, num_steps, carry, row)
