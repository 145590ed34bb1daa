"""Properties of ``collect_transitions``: what a collector records from a gymnasium vector env.

``f(envs, act, num_steps, carry) -> (transitions, carry)`` steps ``envs`` ``num_steps`` times
with ``actions = act(observations)`` and returns ``[T, N, ...]`` arrays ``observations``,
``actions``, ``next_observations`` and ``[T, N]`` ``rewards``, ``terminated``, ``truncated``,
``valid``: every valid row is a true transition of its environment, with the *true* next
observation (the last one at an episode's end, for termination and truncation alike, never
the reset one) and the environment's own flags; ``valid`` is false exactly on
``NEXT_STEP``'s reset steps; calling again with the returned carry continues without losing
or repeating a step.

Spec: Collection. Seed: 1、DQN / :two: 算法流程 (store ``(s, a, r, s')``) and 2、策略梯度 /
:two: REINFORCE / 主要代码.

Inputs (properties/toy_envs.py): ``SyncVectorEnv`` of 1 to 5 deterministic toy environments
in ``AutoresetMode.NEXT_STEP`` or ``SAME_STEP``, Discrete or Box actions, whose observation
``[env, episode, t, seed, kind]`` and reward ``10000 env + 100 t + code(action)`` say where
they came from; episodes of 1 to 12 steps ending by termination, truncation or both at once.
``act`` is a deterministic function of the observation. 1 to 40 steps in all, in 1 to 4
calls, each call passing back the carry the previous one returned. Everything is exact
(small integers in float32): no tolerance. The oracle is the environments' own definition
(``expected_transition``) and gymnasium's documented autoreset rules (``expected_rows``),
never a collector.

Accepted either way: arrays as numpy arrays or torch tensors (any float dtype, integer or
float Discrete actions, a Discrete action column ``[T, N]`` or ``[T, N, 1]``); the result as
a dict or an object with those attributes; the carry is opaque. At an episode end that is
both terminated and truncated, ``truncated`` may be reported false (stable-baselines3 keeps
``TimeLimit.truncated`` only without termination): a learner treats that step as terminal
either way.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from drlspec.properties.toy_envs import (
    ACTION_KINDS,
    MODES,
    ExpectedRow,
    RecordingPolicy,
    decode,
    describe_observation,
    expected_rows,
    expected_transition,
    make_vector_env,
    policy_action,
)

CONTRACT = "collect_transitions"

FIELDS = (
    "observations",
    "actions",
    "rewards",
    "next_observations",
    "terminated",
    "truncated",
    "valid",
)
FLAGS = ("terminated", "truncated", "valid")
MAX_STEPS = 40


@dataclass(frozen=True)
class Case:
    """One collection: the vector environment and how many steps each call takes."""

    seed: int
    num_envs: int
    mode: str
    action_kind: str
    calls: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.calls)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    total = draw(st.integers(1, MAX_STEPS))
    parts = draw(st.integers(1, min(4, total)))
    cuts: list[int] = []
    if parts > 1:
        cut = st.integers(1, total - 1)
        cuts = draw(st.lists(cut, min_size=parts - 1, max_size=parts - 1, unique=True))
    bounds = [0, *sorted(cuts), total]
    calls = tuple(b - a for a, b in itertools.pairwise(bounds))
    return Case(
        seed=draw(st.integers(0, 999_999)),
        num_envs=draw(st.integers(1, 5)),
        mode=draw(st.sampled_from(sorted(MODES))),
        action_kind=draw(st.sampled_from(ACTION_KINDS)),
        calls=calls,
    )


# Seed 33823: env 0's first episode is one step long and truncated, its second terminates
# after two; env 1's first ends terminated and truncated at once after two steps. With calls
# of 1, 1, 2 and 3 steps both ends fall on a call boundary: the next call starts with a
# pending NEXT_STEP reset (or, SAME_STEP, with final_obs in the first step's info).
PINNED = (
    Case(33823, 2, "next_step", "discrete", (1, 1, 2, 3)),
    Case(33823, 2, "same_step", "box", (1, 1, 2, 3)),
)


def pinned_examples(test: Any) -> Any:
    """Run ``test`` on the :data:`PINNED` cases first (every run, every profile)."""
    for case in PINNED:
        test = example(case=case)(test)
    return test


@dataclass
class Collected:
    """What the implementation returned over all calls, rows concatenated: ``[K, N, ...]``."""

    case: Case
    arrays: dict[str, np.ndarray]  # float64 values (flags as bool), K = case.total rows
    dtypes: dict[str, list[np.dtype]]  # each call's dtype per field
    envs: Any
    where: list[tuple[int, int]]  # global row k -> (call number, row within the call)

    def row(self, k: int, i: int) -> str:
        call, t = self.where[k]
        if len(self.case.calls) == 1:
            return f"row t={t} env {i}"
        return f"row t={t} env {i} (call {call + 1} of {len(self.case.calls)})"

    def setting(self) -> str:
        return _describe(self.case)


def _field(transitions: Any, name: str) -> Any:
    if isinstance(transitions, Mapping):
        if name not in transitions:
            raise AssertionError(
                f"the transitions returned have no {name!r} (they have {sorted(transitions)}); "
                f"the contract returns {', '.join(FIELDS)}"
            )
        return transitions[name]
    if not hasattr(transitions, name):
        raise AssertionError(
            f"the transitions returned ({type(transitions).__name__}) have no {name!r}; the "
            f"contract returns a dict of {', '.join(FIELDS)}"
        )
    return getattr(transitions, name)


def _as_numpy(value: Any, name: str) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, possibly on an accelerator
        value = value.detach().cpu()
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as error:
        raise AssertionError(f"transitions[{name!r}] is not an array: {error}") from None


def _expected_shape(name: str, steps: int, case: Case) -> tuple[int, ...]:
    n = case.num_envs
    if name in ("observations", "next_observations"):
        return (steps, n, 5)
    if name == "actions":
        return (steps, n) if case.action_kind == "discrete" else (steps, n, 2)
    return (steps, n)


def _collect(impl: Any, case: Case) -> Collected:
    """Run ``case``: one vector environment, ``len(case.calls)`` calls passing the carry on."""
    envs = make_vector_env(case.seed, case.num_envs, case.mode, case.action_kind)
    act = RecordingPolicy(case.action_kind)
    carry = None
    parts: dict[str, list[np.ndarray]] = {name: [] for name in FIELDS}
    dtypes: dict[str, list[np.dtype]] = {name: [] for name in FIELDS}
    where: list[tuple[int, int]] = []
    for number, steps in enumerate(case.calls):
        result = impl(envs, act, steps, carry)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise AssertionError(
                f"collect_transitions returned {type(result).__name__}, not the pair "
                "(transitions, carry)"
            )
        transitions, carry = result
        for name in FIELDS:
            array = _as_numpy(_field(transitions, name), name)
            want = _expected_shape(name, steps, case)
            if (
                name == "actions"
                and case.action_kind == "discrete"
                and array.shape
                == (
                    *want,
                    1,
                )
            ):
                array = array[..., 0]
            if array.shape != want:
                raise AssertionError(
                    f"call {number + 1}: transitions[{name!r}] has shape {list(array.shape)}, "
                    f"expected {list(want)} (T={steps} steps, N={case.num_envs} environments) "
                    f"{_describe(case)}"
                )
            dtypes[name].append(array.dtype)
            parts[name].append(array.astype(bool if name in FLAGS else np.float64))
        where.extend((number, t) for t in range(steps))
    arrays = {name: np.concatenate(values) for name, values in parts.items()}
    return Collected(case, arrays, dtypes, envs, where)


def _describe(case: Case) -> str:
    return (
        f"[{case.mode.upper()} autoreset, {case.action_kind} actions, N={case.num_envs}, "
        f"calls of {list(case.calls)} steps]"
    )


def _valid_rows(run: Collected) -> list[tuple[int, int]]:
    valid = run.arrays["valid"]
    return [(k, i) for k in range(valid.shape[0]) for i in range(valid.shape[1]) if valid[k, i]]


def _action(value: Any) -> str:
    """An action as the policy wrote it: ``3`` or ``[0.5, -1.0]``."""
    values = np.asarray(value, dtype=np.float64).reshape(-1).tolist()
    shown = [int(v) if v == int(v) and len(values) == 1 else v for v in values]
    return str(shown[0]) if len(shown) == 1 else str(shown)


def _same(a: Any, b: Any) -> bool:
    return bool(np.array_equal(np.asarray(a, np.float64), np.asarray(b, np.float64)))


def _obs_problem(run: Collected, k: int, i: int) -> str | None:
    """Why row (k, i)'s observation is not one env i could step from, or None."""
    obs = run.arrays["observations"][k, i]
    d = decode(obs)
    if d is None:
        return f"{run.row(k, i)}: the observation is {describe_observation(obs)}"
    if d.env_index != i:
        return (
            f"{run.row(k, i)}: the observation is {describe_observation(obs)}: rows of "
            "different environments are mixed"
        )
    if d.is_last:
        return (
            f"{run.row(k, i)} is marked valid but starts from {describe_observation(obs)}: "
            "no step is taken from an episode's last observation (the next step resets it)"
        )
    return None


def _expected(run: Collected, k: int, i: int) -> tuple[float, np.ndarray, bool, bool]:
    return expected_transition(i, run.arrays["observations"][k, i], run.arrays["actions"][k, i])


def _fail(run: Collected, message: str) -> None:
    raise AssertionError(f"{message} {run.setting()}")


def _check_true_transition(run: Collected, k: int, i: int) -> None:
    """Row (k, i), marked valid, is the environment's own transition (else a failure)."""
    problem = _obs_problem(run, k, i)
    if problem:
        _fail(run, problem)
    a = run.arrays
    reward, next_obs, terminated, truncated = _expected(run, k, i)
    start = describe_observation(a["observations"][k, i])
    if a["rewards"][k, i] != reward:
        _fail(
            run,
            f"{run.row(k, i)}: reward {a['rewards'][k, i]:g}, but the step from {start} with "
            f"the recorded action gives {reward:g}",
        )
    _check_next_observation(run, k, i, next_obs, terminated or truncated)
    _check_flags(run, k, i, terminated, truncated)


def _check_next_observation(run: Collected, k: int, i: int, want: np.ndarray, ends: bool) -> None:
    got = run.arrays["next_observations"][k, i]
    if _same(got, want):
        return
    start = describe_observation(run.arrays["observations"][k, i])
    got_d, want_d = decode(got), decode(want)
    if ends and got_d is not None and want_d is not None and got_d.t == 0:
        _fail(
            run,
            f"{run.row(k, i)}: next observation is {describe_observation(got)}, not "
            f"{describe_observation(want)}: at an episode's end the true next observation is "
            "the last one (final_obs in SAME_STEP mode), never the reset one",
        )
    if got_d is not None and got_d.env_index != i:
        _fail(
            run,
            f"{run.row(k, i)}: next observation is {describe_observation(got)}, not "
            f"{describe_observation(want)}: rows of different environments are mixed",
        )
    _fail(
        run,
        f"{run.row(k, i)}: the step from {start} leads to {describe_observation(want)}, but "
        f"the next observation recorded is {describe_observation(got)}",
    )


def _check_flags(run: Collected, k: int, i: int, terminated: bool, truncated: bool) -> None:
    got_term = bool(run.arrays["terminated"][k, i])
    got_trunc = bool(run.arrays["truncated"][k, i])
    # Both at once: truncated may be dropped (the step is terminal either way).
    trunc_ok = got_trunc == truncated or (terminated and got_term and not got_trunc)
    if got_term == terminated and trunc_ok:
        return
    end = describe_observation(run.arrays["observations"][k, i])
    if truncated and not terminated and got_term:
        _fail(
            run,
            f"{run.row(k, i)}: recorded as terminated, but the environment truncated the "
            f"episode (time limit) at the step from {end}: truncation is not termination "
            "(a truncated step bootstraps from V(next observation))",
        )
    _fail(
        run,
        f"{run.row(k, i)}: flags terminated={got_term}, truncated={got_trunc}, but the "
        f"environment returned terminated={terminated}, truncated={truncated} at the step "
        f"from {end}",
    )


def _expected_table(run: Collected) -> list[list[ExpectedRow]]:
    c = run.case
    return expected_rows(c.seed, c.num_envs, c.mode, c.action_kind, c.total)


@given(case=cases())
@pinned_examples
def test_result_has_the_documented_layout(impl, case):
    """The result has the documented shapes and dtypes, and records the actions taken.

    ``[T, N, ...]`` arrays, ``[T, N]`` bool flags; each valid row's action is the one ``act``
    chose and the environment received.

    Shapes per call; ``terminated``, ``truncated``, ``valid`` of dtype bool; observations and
    rewards numbers. For every valid row the action equals ``act``'s action at that row's
    observation and the action the environment's step received."""
    run = _collect(impl, case)
    for name in FLAGS:
        kinds = {dt.kind for dt in run.dtypes[name]}
        assert kinds == {"b"}, (
            f"transitions[{name!r}] has dtype {run.dtypes[name][0]}, expected bool {run.setting()}"
        )
    for name in ("observations", "next_observations", "rewards", "actions"):
        kinds = {dt.kind for dt in run.dtypes[name]}
        assert kinds <= set("iuf"), (
            f"transitions[{name!r}] has dtype {run.dtypes[name][0]}, expected numbers "
            f"{run.setting()}"
        )
    received = {
        i: {(s.episode, s.t): s.action for s in env.steps} for i, env in enumerate(run.envs.envs)
    }
    for k, i in _valid_rows(run):
        problem = _obs_problem(run, k, i)
        if problem:
            _fail(run, problem)
        obs, action = run.arrays["observations"][k, i], run.arrays["actions"][k, i]
        chosen = policy_action(obs)
        if not _same(action, chosen):
            _fail(
                run,
                f"{run.row(k, i)}: action {_action(action)} recorded, but act chose "
                f"{_action(chosen)} at {describe_observation(obs)}",
            )
        d = decode(obs)
        taken = received[i].get((d.episode, d.t))  # type: ignore[union-attr]
        if taken is not None and not _same(action, taken):
            _fail(
                run,
                f"{run.row(k, i)}: action {_action(action)} recorded, but the environment "
                f"received {_action(taken)} at {describe_observation(obs)}",
            )


@given(case=cases())
@pinned_examples
def test_valid_rows_are_true_transitions(impl, case):
    """Every row marked valid is a true transition of its own environment.

    ``(obs, action) -> (reward, next_obs, terminated, truncated)`` exactly as the
    environment defines it, with ``obs`` an observation of the row's column's environment."""
    run = _collect(impl, case)
    for k, i in _valid_rows(run):
        _check_true_transition(run, k, i)


@given(case=cases())
@pinned_examples
def test_episode_end_records_the_final_observation(impl, case):
    """At every episode end the recorded next observation is the episode's last observation.

    For termination and for truncation alike (and both at once): never the reset observation
    that ``NEXT_STEP`` returns one step later or ``SAME_STEP`` returns at once (its last
    observation is ``infos["final_obs"]``). The row that ends each episode must be present
    and valid."""
    run = _collect(impl, case)
    table = _expected_table(run)
    rows_of = _rows_by_position(run)
    for i, rows in enumerate(table):
        for want in rows:
            if not (want.valid and (want.terminated or want.truncated)):
                continue
            d = decode(want.obs)
            found = rows_of[i].get((d.episode, d.t))  # type: ignore[union-attr]
            if found is None:
                _fail(
                    run,
                    f"env {i}: the step that ended episode {d.episode} "  # type: ignore[union-attr]
                    f"({describe_observation(want.next_obs)}) is not recorded as a valid row",
                )
            _check_next_observation(run, found, i, want.next_obs, True)


def _rows_by_position(run: Collected) -> list[dict[tuple[int, int], int]]:
    """Per env: (episode, t) of a valid row's observation -> the first row k holding it."""
    found: list[dict[tuple[int, int], int]] = [{} for _ in range(run.case.num_envs)]
    for k, i in _valid_rows(run):
        d = decode(run.arrays["observations"][k, i])
        if d is not None and d.env_index == i:
            found[i].setdefault((d.episode, d.t), k)
    return found


@given(case=cases())
@pinned_examples
def test_flags_are_the_environments_own(impl, case):
    """Every valid row's terminated and truncated are the environment's own flags.

    A time limit's truncation is never recorded as termination, and no end is invented or
    dropped (both at once may drop ``truncated``: the step is terminal either way)."""
    run = _collect(impl, case)
    for k, i in _valid_rows(run):
        problem = _obs_problem(run, k, i)
        if problem:
            _fail(run, problem)
        _, _, terminated, truncated = _expected(run, k, i)
        _check_flags(run, k, i, terminated, truncated)


@given(case=cases())
@pinned_examples
def test_invalid_rows_are_exactly_the_next_step_reset_steps(impl, case):
    """``valid`` is false exactly on ``NEXT_STEP``'s reset steps, and nowhere in ``SAME_STEP``.

    A reset step is the step after one that ended the episode (in the same call or the
    previous one): it ignores the action and returns the reset observation with reward 0."""
    run = _collect(impl, case)
    table = _expected_table(run)
    valid = run.arrays["valid"]
    for i, rows in enumerate(table):
        for k, want in enumerate(rows):
            if bool(valid[k, i]) == want.valid:
                continue
            if want.valid:
                _fail(
                    run,
                    f"{run.row(k, i)} is marked invalid, but it is the real step from "
                    f"{describe_observation(want.obs)}: a transition is lost",
                )
            _fail(
                run,
                f"{run.row(k, i)} is marked valid, but it is {case.mode.upper()}'s reset step "
                f"after {describe_observation(want.obs)} (the action is ignored, the "
                f"environment returns {describe_observation(want.next_obs)} with reward 0)",
            )


@given(case=cases())
@pinned_examples
def test_no_valid_row_crosses_an_episode_boundary(impl, case):
    """No valid row goes from one episode (or environment) to another.

    Its next observation is the same environment's, same episode's, one time step later."""
    run = _collect(impl, case)
    for k, i in _valid_rows(run):
        obs = run.arrays["observations"][k, i]
        nxt = run.arrays["next_observations"][k, i]
        a, b = decode(obs), decode(nxt)
        if (
            a is None
            or b is None
            or (b.env_index, b.episode, b.t) != (a.env_index, a.episode, a.t + 1)
            or a.env_index != i
        ):
            _fail(
                run,
                f"{run.row(k, i)} is marked valid but goes from {describe_observation(obs)} to "
                f"{describe_observation(nxt)}: a transition stays inside one episode of one "
                "environment",
            )


@given(case=cases())
@pinned_examples
def test_every_step_is_recorded_once_across_calls(impl, case):
    """Every step each environment takes is recorded once, in order, across repeated calls.

    Column ``i``'s valid rows, concatenated over the calls, visit env ``i``'s ``(episode, t)``
    exactly as the environment steps through them: complete, no duplicates, nothing
    restarted (the carry continues where the last call stopped)."""
    run = _collect(impl, case)
    table = _expected_table(run)
    for i, rows in enumerate(table):
        want = [_position(r.obs) for r in rows if r.valid]
        got_rows = [k for k in range(case.total) if run.arrays["valid"][k, i]]
        got = [_position(run.arrays["observations"][k, i]) for k in got_rows]
        if got == want:
            continue
        j = next((j for j, (g, w) in enumerate(zip(got, want, strict=False)) if g != w), None)
        if j is None:
            what = "more" if len(got) > len(want) else "fewer"
            _fail(
                run,
                f"env {i}: {len(got)} valid rows, {what} than the {len(want)} steps it took "
                f"(episode, t): recorded {got}, taken {want}",
            )
        k = got_rows[j]
        seen = got[:j]
        if got[j] in seen:
            why = "a step recorded twice"
        elif got[j] in want[j:]:
            why = f"step (episode, t)={want[j]} is missing"
        elif got[j] is not None and want[j] is not None and got[j][0] > want[j][0]:
            why = (
                f"episode {want[j][0]} was cut off before t={want[j][1]} without an end and a "
                "new one started: the environment was reset instead of continuing from the carry"
            )
        else:
            why = "a step the environment was not due to take"
        _fail(
            run,
            f"env {i}: {run.row(k, i)} records the step from "
            f"{describe_observation(run.arrays['observations'][k, i])}, but the environment's "
            f"step number {j} started from (episode, t)={want[j]}: {why}",
        )


def _position(obs: Any) -> tuple[int, int] | None:
    d = decode(obs)
    return None if d is None else (d.episode, d.t)
