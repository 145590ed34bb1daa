"""Agent configurations: the fields every algorithm has, ``--set key=value`` parsing, JSON.

Each algorithm's ``Config`` is a dataclass derived from :class:`BaseConfig` (one docstring per
field) whose ``__post_init__`` range-checks the fields it declares with :func:`check_ranges`,
after the base class has checked its own. :func:`apply_overrides` applies ``--set key=value``
by the field's annotated type; :func:`config_to_dict` and :func:`config_from_dict` write and
read ``config.json``. A bad key, value or range is a :class:`ConfigError` naming it, before any
run folder exists; so is a combination of fields with which a run could not learn (each agent's
``__post_init__`` checks its own, e.g. DQN's batch against its buffer, PPO's minibatch against
its rollout).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
import types
import typing
from collections.abc import Collection, Sequence
from typing import Any

__all__ = [
    "SEED_LIMIT",
    "BaseConfig",
    "ConfigError",
    "apply_overrides",
    "check_minibatch",
    "check_ranges",
    "check_seed",
    "config_from_dict",
    "config_to_dict",
]


class ConfigError(ValueError):
    """A bad configuration: unknown key, bad value, unsupported space or environment."""


SEED_LIMIT = 2**64
"""Seeds lie in ``[0, SEED_LIMIT)``: ``numpy.random.default_rng`` and gymnasium's ``reset`` refuse
a negative seed, ``torch.manual_seed`` one above ``2**64 - 1`` (numpy, gymnasium and Python's
``random`` take any larger non-negative integer, so the environments' ``seed + i`` and the
evaluation's ``seed + 10_000`` may exceed it)."""


def check_seed(seed: Any, name: str = "seed") -> int:
    """``seed`` if it is an integer in ``[0, SEED_LIMIT)``, else a :class:`ConfigError`
    naming ``name``: numpy, torch and gymnasium must all accept it before a run starts."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ConfigError(f"{name} must be an integer, got {seed!r}")
    if not 0 <= seed < SEED_LIMIT:
        raise ConfigError(
            f"{name} must lie in [0, 2**64 - 1], got {seed} (numpy and gymnasium refuse a "
            "negative seed, torch.manual_seed one of 2**64 or more)"
        )
    return int(seed)


def check_minibatch(config: Any) -> None:
    """``minibatch_size`` must not exceed one rollout of ``num_envs * num_steps`` samples.

    The minibatches are drawn from that rollout alone; a larger one could only be cut down to
    the whole rollout, so the size the user asked for would silently not be the one used.
    """
    values = (config.num_envs, config.num_steps, config.minibatch_size)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return  # a value of the wrong kind is not a combination to judge
    rollout = config.num_envs * config.num_steps
    if config.minibatch_size > rollout:
        raise ConfigError(
            f"minibatch_size ({config.minibatch_size}) is larger than one rollout (num_envs "
            f"{config.num_envs} x num_steps {config.num_steps} = {rollout} samples), from which "
            "every minibatch is drawn; lower minibatch_size or raise num_envs or num_steps"
        )


@dataclasses.dataclass
class BaseConfig:
    """Fields every algorithm has; each agent's config adds its own below these."""

    env_id: str = "CartPole-v1"
    """gymnasium environment id."""
    total_steps: int = 100_000
    """environment steps to train for (summed over parallel environments)."""
    seed: int = 1
    """seeds torch, numpy, Python's random, the environments and their action spaces; an integer
    in [0, 2**64 - 1] (see SEED_LIMIT)."""
    device: str = "cpu"
    """torch device of the networks ("cpu" or "cuda")."""
    checkpoint_interval: int = 10_000
    """environment steps between checkpoints (and metrics flushes)."""
    eval_interval: int = 0
    """environment steps between evaluations (0: only at the end); the best is kept as best.pt."""
    eval_episodes: int = 10
    """episodes per evaluation (deterministic actions)."""
    autoreset_mode: str = "same_step"
    """how the training environments reset a finished episode: "same_step" or "next_step"
    (gymnasium's default). Either way each transition keeps its true next observation
    (drlspec.collection.collect_transitions); a next-step reset step counts as an environment
    step but is not a transition."""

    def __post_init__(self) -> None:
        """Range checks of the fields above; each agent's ``Config`` checks its own after these."""
        check_ranges(self, BaseConfig, non_negative={"eval_interval"}, any_number={"seed"})
        check_seed(self.seed)
        if self.autoreset_mode not in ("same_step", "next_step"):
            raise ConfigError(
                f"autoreset_mode must be 'same_step' or 'next_step', got {self.autoreset_mode!r}"
            )


def check_ranges(
    config: Any,
    declared_in: type,
    *,
    unit_interval: Collection[str] = (),
    non_negative: Collection[str] = (),
    any_number: Collection[str] = (),
) -> None:
    """Range checks of the fields the class ``declared_in`` declares, so that ``--set`` cannot
    start a run that must crash; a bad value is a :class:`ConfigError` naming the field.

    A number must be > 0 unless it is named in ``unit_interval`` ([0, 1]), ``non_negative``
    (>= 0) or ``any_number`` (unchecked). A tuple (of layer widths) must be non-empty and every
    width >= 1. Booleans and strings are left to the agent. The check goes by the value, not by
    the annotation, so a value of the wrong kind is still caught where it can be.
    """
    for name in inspect.get_annotations(declared_in):
        value = getattr(config, name)
        if name in any_number or isinstance(value, bool):
            continue
        if isinstance(value, tuple):
            if not value or any(width < 1 for width in value):
                raise ConfigError(f"{name} must be positive widths, got {value}")
            continue
        if not isinstance(value, int | float):
            continue
        if name in unit_interval:
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must lie in [0, 1], got {value}")
        elif name in non_negative:
            if value < 0:
                raise ConfigError(f"{name} must be >= 0, got {value}")
        elif value <= 0:
            raise ConfigError(f"{name} must be > 0, got {value}")


def _parse_value(name: str, kind: Any, text: str) -> Any:
    origin = typing.get_origin(kind)
    if kind is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false, got {text!r}")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {text!r}") from None
    if kind is float:
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {text!r}") from None
        if not math.isfinite(value):
            raise ConfigError(f"{name} must be finite, got {text!r}")
        return value
    if kind is str:
        return text
    if origin is tuple:
        item = typing.get_args(kind)[0]
        parts = [p for p in text.replace(" ", "").split(",") if p]
        return tuple(_parse_value(name, item, p) for p in parts)
    if origin in (typing.Union, types.UnionType):
        return _parse_value(
            name, next(a for a in typing.get_args(kind) if a is not type(None)), text
        )
    raise ConfigError(f"{name} cannot be set from the command line")


def apply_overrides(config: Any, assignments: Sequence[str], **changes: Any) -> Any:
    """A copy of the dataclass ``config`` with ``changes`` and each ``key=value`` of
    ``assignments`` applied (an assignment wins over a change of the same field).

    Values are parsed by the field's annotated type (``int``, ``float``, ``bool``, ``str``,
    ``tuple[int, ...]`` as ``64,64``). An unknown key or an unparsable value is a
    :class:`ConfigError` naming it. Everything is applied at once, so that the checks of
    combinations (say DQN's ``learning_starts`` against ``total_steps``) see the final values,
    never a half-applied mixture of them and the defaults.
    """
    hints = typing.get_type_hints(type(config))
    names = [f.name for f in dataclasses.fields(config)]
    changes = dict(changes)
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {assignment!r}")
        if key not in names:
            raise ConfigError(
                f"unknown config key {key!r} for {type(config).__name__}; known keys: "
                + ", ".join(names)
            )
        changes[key] = _parse_value(key, hints[key], text)
    return dataclasses.replace(config, **changes)


def config_to_dict(config: Any) -> dict[str, Any]:
    """The config as JSON-ready values (tuples as lists)."""
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()
    }


def config_from_dict(config_class: type, values: dict[str, Any]) -> Any:
    """The inverse of :func:`config_to_dict` (unknown keys ignored)."""
    hints = typing.get_type_hints(config_class)
    names = {f.name for f in dataclasses.fields(config_class)}
    converted = {
        k: tuple(v) if typing.get_origin(hints[k]) is tuple else v
        for k, v in values.items()
        if k in names
    }
    return config_class(**converted)
