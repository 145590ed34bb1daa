"""Deterministic toy environments whose every number says where it came from.

The properties of ``collect_transitions`` judge a collector by what it recorded, so the
environments it steps make every recorded value decodable:

* an observation is ``[env_index, episode, t, seed, kind]`` (float32, small integers, so exact
  in float32 and float64): which sub-environment, which of its episodes (0 from the first
  reset, +1 at every reset), which time step in the episode, the seed of the vector
  environment and the action kind (0 Discrete, 1 Box);
* the reward of the step from time ``t`` with action ``a`` is
  ``10000 * env_index + 100 * t + code(a)`` (``code``: the Discrete action itself, 0..4; for
  the Box action ``[a0, a1]`` with halves in ``[-1, 1]``, ``10 (2 a0 + 2) + (2 a1 + 2)``),
  exact in float32;
* episode ``e`` of sub-environment ``i`` lasts ``L(seed, i, e)`` steps, 1 to 12 (length 1
  about one episode in seven), and ends by termination (45 %), by time-limit truncation
  (45 %) or by both at once (10 %), all drawn from a hash of ``(seed, i, e)``.

:func:`expected_transition` is the environments' own definition (the model the properties
check the collector against); :func:`expected_rows` plays gymnasium's documented autoreset
rules on top of it (which vector step is ``NEXT_STEP``'s reset step). Neither looks at a
collector. The environments also log every ``step`` they take and every reset, and
:class:`RecordingPolicy` is a deterministic ``act`` (its action is a function of the
observation alone, so a recorded row's action can be checked against it).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv

__all__ = [
    "ACTION_KINDS",
    "MAX_EPISODE_LENGTH",
    "MODES",
    "Decoded",
    "EpisodePlan",
    "ExpectedRow",
    "RecordingPolicy",
    "ToyEnv",
    "decode",
    "describe_observation",
    "episode_plan",
    "expected_rows",
    "expected_transition",
    "make_vector_env",
    "observation",
    "policy_action",
]

ACTION_KINDS = ("discrete", "box")
MODES = {"next_step": AutoresetMode.NEXT_STEP, "same_step": AutoresetMode.SAME_STEP}
MAX_EPISODE_LENGTH = 12
NUM_DISCRETE_ACTIONS = 5
OBSERVATION_SIZE = 5
_MASK = (1 << 64) - 1
# How a reproducer (one self-contained expression per argument) reaches this module.
_MODULE = "__import__('drlspec.properties.toy_envs', fromlist=['*'])"


def _mix(*values: int) -> int:
    """A 64-bit hash of small integers (splitmix64 steps): the same on every platform."""
    h = 0x9E3779B97F4A7C15
    for value in values:
        h = ((h ^ (value & _MASK)) * 0xBF58476D1CE4E5B9) & _MASK
        h ^= h >> 31
        h = (h * 0x94D049BB133111EB) & _MASK
        h ^= h >> 29
    return h


@dataclass(frozen=True)
class EpisodePlan:
    """How one episode goes: its length and how it ends."""

    length: int
    terminated: bool
    truncated: bool

    @property
    def how(self) -> str:
        if self.terminated and self.truncated:
            return "terminated and truncated"
        return "terminated" if self.terminated else "truncated"


@functools.lru_cache(maxsize=65536)
def episode_plan(seed: int, env_index: int, episode: int) -> EpisodePlan:
    """Episode ``episode`` of sub-environment ``env_index``: length 1..12 and its end."""
    h = _mix(seed, env_index, episode)
    length = 1 if h % 7 == 0 else 2 + (h >> 8) % (MAX_EPISODE_LENGTH - 1)
    end = (h >> 24) % 20
    # 0-8: terminated only; 9-17: truncated only (a time limit); 18-19: both at once.
    return EpisodePlan(length, end < 9 or end >= 18, end >= 9)


def _kind_code(action_kind: str) -> int:
    if action_kind not in ACTION_KINDS:
        raise ValueError(f"action_kind must be one of {ACTION_KINDS}, got {action_kind!r}")
    return ACTION_KINDS.index(action_kind)


def observation(env_index: int, episode: int, t: int, seed: int, action_kind: str) -> np.ndarray:
    """The observation at time ``t`` of episode ``episode`` of sub-environment ``env_index``."""
    return np.array([env_index, episode, t, seed, _kind_code(action_kind)], dtype=np.float32)


@dataclass(frozen=True)
class Decoded:
    """What an observation says about itself."""

    env_index: int
    episode: int
    t: int
    seed: int
    action_kind: str

    @property
    def plan(self) -> EpisodePlan:
        return episode_plan(self.seed, self.env_index, self.episode)

    @property
    def is_last(self) -> bool:
        return self.t == self.plan.length


def decode(obs: Any) -> Decoded | None:
    """The decoded observation, or None if no toy environment returns this vector."""
    if hasattr(obs, "detach"):  # a torch tensor
        obs = obs.detach().cpu().numpy()
    # Plain Python floats: this runs for every row of every example.
    values = np.asarray(obs, dtype=np.float64).reshape(-1).tolist()
    if len(values) != OBSERVATION_SIZE:
        return None
    if not all(math.isfinite(v) and v >= 0 and v == int(v) for v in values):
        return None
    i, e, t, seed, kind = (int(v) for v in values)
    if kind >= len(ACTION_KINDS) or t > episode_plan(seed, i, e).length:
        return None
    return Decoded(i, e, t, seed, ACTION_KINDS[kind])


def describe_observation(obs: Any) -> str:
    """``the last observation of episode 1 (t=5, truncated)``, ``the reset observation ...``."""
    d = decode(obs)
    if d is None:
        shown = np.array2string(np.asarray(obs, dtype=np.float64).reshape(-1), precision=4)
        return f"an observation no environment returned ({shown})"
    where = f"of episode {d.episode} of env {d.env_index}"
    if d.t == 0:
        return f"the reset observation {where} (t=0)"
    if d.is_last:
        return f"the last observation {where} (t={d.t}, {d.plan.how})"
    return f"observation t={d.t} {where}"


def action_code(action_kind: str, action: Any) -> float:
    """The part of the reward that encodes the action."""
    values = np.asarray(action, dtype=np.float64).reshape(-1)
    if action_kind == "discrete":
        return float(values[0])
    return 10.0 * (2.0 * values[0] + 2.0) + (2.0 * values[1] + 2.0)


def expected_transition(
    env_index: int, obs: Any, action: Any
) -> tuple[float, np.ndarray, bool, bool]:
    """``(reward, next_obs, terminated, truncated)`` of the step from ``obs`` with ``action``.

    The environments' own definition. ``obs`` must decode to an observation of
    ``env_index`` before its episode's end (ValueError otherwise).
    """
    d = decode(obs)
    if d is None or d.env_index != env_index or d.is_last:
        raise ValueError(f"env {env_index} takes no step from {describe_observation(obs)}")
    reward = 10000.0 * env_index + 100.0 * d.t + action_code(d.action_kind, action)
    next_obs = observation(env_index, d.episode, d.t + 1, d.seed, d.action_kind)
    plan = d.plan
    if d.t + 1 == plan.length:
        return reward, next_obs, plan.terminated, plan.truncated
    return reward, next_obs, False, False


def policy_action(obs: Any) -> Any:
    """The action :class:`RecordingPolicy` takes at ``obs`` (a function of ``obs`` alone)."""
    values = np.asarray(obs, dtype=np.float64).reshape(-1)
    i, e, t, seed, kind = (round(v) for v in values[:OBSERVATION_SIZE].tolist())
    if kind == 0:
        return (3 * i + 7 * e + t + seed) % NUM_DISCRETE_ACTIONS
    return np.array(
        [((i + e + 2 * t + seed) % 5 - 2) / 2.0, ((2 * i + e + t) % 5 - 2) / 2.0],
        dtype=np.float32,
    )


class RecordingPolicy:
    """``act``: ``observations [N, 5] -> actions`` by :func:`policy_action`, row by row.

    Accepts numpy arrays, torch tensors or nested lists (a collector may convert the
    observations before calling its policy) and returns numpy actions: ``int64 [N]`` for
    Discrete, ``float32 [N, 2]`` for Box. Remembers every call.
    """

    def __init__(self, action_kind: str) -> None:
        self.action_kind = action_kind
        self.calls: list[tuple[np.ndarray, np.ndarray]] = []

    def __call__(self, observations: Any) -> np.ndarray:
        obs = np.asarray(observations, dtype=np.float64)
        obs = obs.reshape(-1, OBSERVATION_SIZE)
        if self.action_kind == "discrete":
            actions = np.array([policy_action(row) for row in obs], dtype=np.int64)
        else:
            actions = np.stack([policy_action(row) for row in obs]).astype(np.float32)
        self.calls.append((obs.copy(), actions.copy()))
        return actions

    def __drlspec_repro__(self) -> str:
        return f"{_MODULE}.RecordingPolicy({self.action_kind!r})"


@dataclass
class StepRecord:
    """One ``step`` a toy environment took: where from, the action it received, what it gave."""

    episode: int
    t: int
    action: np.ndarray
    reward: float
    terminated: bool
    truncated: bool


class ToyEnv(gymnasium.Env):
    """Sub-environment ``env_index`` of a toy vector environment (see the module docstring).

    ``steps`` logs every step taken, ``resets`` the episode number every reset started.
    Stepping an episode that has ended (without a reset) raises.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 - gymnasium's convention

    def __init__(self, seed: int, env_index: int, action_kind: str) -> None:
        self.seed_value = seed
        self.env_index = env_index
        self.action_kind = action_kind
        _kind_code(action_kind)
        self.observation_space = gymnasium.spaces.Box(
            0.0, float(2**24), shape=(OBSERVATION_SIZE,), dtype=np.float32
        )
        if action_kind == "discrete":
            self.action_space = gymnasium.spaces.Discrete(NUM_DISCRETE_ACTIONS)
        else:
            self.action_space = gymnasium.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.episode = -1
        self.t = 0
        self.steps: list[StepRecord] = []
        self.resets: list[int] = []

    def _obs(self) -> np.ndarray:
        return observation(self.env_index, self.episode, self.t, self.seed_value, self.action_kind)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        # The episodes are a function of the construction seed alone: a reset seed changes
        # nothing, so a collector that reseeds (or not) sees the same episodes.
        super().reset(seed=seed)
        self.episode += 1
        self.t = 0
        self.resets.append(self.episode)
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.episode < 0:
            raise RuntimeError(f"toy env {self.env_index}: step before the first reset")
        obs = self._obs()
        if decode(obs).is_last:  # type: ignore[union-attr]
            raise RuntimeError(
                f"toy env {self.env_index}: step after episode {self.episode} ended, no reset"
            )
        reward, _, terminated, truncated = expected_transition(self.env_index, obs, action)
        record = StepRecord(
            self.episode, self.t, np.array(action, copy=True), reward, terminated, truncated
        )
        self.steps.append(record)
        self.t += 1
        return self._obs(), reward, terminated, truncated, {}


def make_vector_env(
    seed: int, num_envs: int, mode: str | AutoresetMode, action_kind: str
) -> SyncVectorEnv:
    """``num_envs`` toy environments in a ``SyncVectorEnv`` in autoreset ``mode``.

    ``mode``: ``"next_step"``, ``"same_step"`` or the ``AutoresetMode`` itself. The
    sub-environments (with their logs) are ``envs.envs``. Not reset: the collector resets.
    """
    autoreset = MODES[mode] if isinstance(mode, str) else mode
    if autoreset not in MODES.values():
        raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode!r}")
    envs = SyncVectorEnv(
        [functools.partial(ToyEnv, seed, i, action_kind) for i in range(num_envs)],
        autoreset_mode=autoreset,
    )
    # The reproducer rebuilds it from this line (an attribute of this instance only).
    envs.__drlspec_repro__ = lambda: (  # type: ignore[attr-defined]
        f"{_MODULE}.make_vector_env({seed}, {num_envs}, {autoreset.name.lower()!r}, "
        f"{action_kind!r})"
    )
    return envs


@dataclass(frozen=True)
class ExpectedRow:
    """What vector step ``k`` is for one sub-environment, by the model and gymnasium's rules.

    ``valid``: a real transition (False: ``NEXT_STEP``'s reset step). ``obs`` the observation
    the step starts from; ``next_obs`` the true next observation (for a reset step: the reset
    observation); ``terminated``/``truncated`` the environment's flags.
    """

    valid: bool
    obs: np.ndarray
    action: Any
    reward: float
    next_obs: np.ndarray
    terminated: bool
    truncated: bool


def expected_rows(
    seed: int, num_envs: int, mode: str, action_kind: str, total_steps: int
) -> list[list[ExpectedRow]]:
    """``[N][K]``: every vector step of ``total_steps`` calls from the first reset, per env.

    ``NEXT_STEP``: the step after an episode's end resets (ignores the action, reward 0, both
    flags false). ``SAME_STEP``: the step that ends an episode continues from the reset
    observation. Actions are :func:`policy_action`'s.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode!r}")
    table: list[list[ExpectedRow]] = []
    for i in range(num_envs):
        rows: list[ExpectedRow] = []
        episode, obs, ended = 0, observation(i, 0, 0, seed, action_kind), False
        for _ in range(total_steps):
            action = policy_action(obs)
            if mode == "next_step" and ended:
                episode += 1
                reset = observation(i, episode, 0, seed, action_kind)
                rows.append(ExpectedRow(False, obs, action, 0.0, reset, False, False))
                obs, ended = reset, False
                continue
            reward, next_obs, terminated, truncated = expected_transition(i, obs, action)
            rows.append(ExpectedRow(True, obs, action, reward, next_obs, terminated, truncated))
            ended = terminated or truncated
            if ended and mode == "same_step":
                episode += 1
                obs, ended = observation(i, episode, 0, seed, action_kind), False
            else:
                obs = next_obs
        table.append(rows)
    return table
