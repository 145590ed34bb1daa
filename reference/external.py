"""The train protocol: how ``drlspec regress --impl ALGO=TARGET`` runs an agent that is not ours.

A *train function* trains one agent and hands back how it acts::

    def train(*, env_id: str, seed: int, total_steps: int, device: str) -> Act | Trained

* ``env_id``: a gymnasium id from the case table (``CartPole-v1``, ``Acrobot-v1``,
  ``Pendulum-v1``); the implementation makes its own environments, as many as it likes.
* ``seed``: the run's seed (1, 2, ...); the implementation seeds everything it uses from it.
* ``total_steps``: the case's budget of environment steps, counted over all parallel
  environments. Training longer is training on a bigger budget than the reference had; when
  the implementation reports its episodes, the report shows the steps it took.
* ``device``: ``"cpu"`` or ``"cuda"``.

It is called with these four keyword arguments, once per (case, seed, device), in a worker
process of its own (one torch thread), and returns either

* an *act function* ``observations -> actions``: a batch ``[B, obs_dim]`` (numpy, float32) in,
  ``[B]`` discrete actions or ``[B, act_dim]`` continuous actions out (numpy or torch). It must
  be **deterministic**: the greedy action, the Gaussian mean. drlspec plays it for the case's
  evaluation episodes with the same seeds and the same clipping of continuous actions to the
  action space as the reference agents get (:func:`drlspec.agents.evaluation.evaluate_policy`);
* or a :class:`Trained` with the act function and, optionally, the training episodes, from
  which drlspec draws the learning curve exactly as it draws the reference's.

The case table's ``set`` (hyperparameters) belongs to the reference: an implementation keeps its
own. A complete example that wraps stable-baselines3's PPO is ``peers/sb3_agents.py``; the
smallest one, a hand-written CartPole controller that needs no training::

    def balance(*, env_id, seed, total_steps, device):
        def act(observations):
            x, x_dot, theta, theta_dot = observations.T
            return (theta + 0.3 * theta_dot + 0.01 * x + 0.1 * x_dot > 0).astype(int)
        return act

``drlspec regress --impl ppo=mymodule:balance --select "ppo and CartPole"`` then judges it
against the threshold and against the reference's stored results (regression/README.md).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Act", "TrainFunction", "Trained", "act_of", "call_train", "episodes_of"]

Act = Callable[[np.ndarray], Any]
"""``observations [B, obs_dim] -> actions [B] or [B, act_dim]``, deterministic."""

TrainFunction = Callable[..., "Act | Trained"]
"""``train(*, env_id, seed, total_steps, device) -> Act | Trained``."""

ARGUMENTS = ("env_id", "seed", "total_steps", "device")


@dataclass(frozen=True)
class Trained:
    """What a train function may return instead of a bare act function.

    ``episodes``: the training episodes in the order they finished, each
    ``(environment steps taken when it ended, its undiscounted return)``, steps counted over
    all parallel environments (the reference's ``episodes.csv`` holds the same pairs).
    """

    act: Act
    episodes: Sequence[tuple[float, float]] | None = None


def check_train_function(train: Any, target: str) -> None:
    """Raise ``TypeError`` unless ``train`` can be called with the protocol's four keywords."""
    if not callable(train):
        raise TypeError(f"{target} is not a train function: it is not callable")
    try:
        signature = inspect.signature(train)
    except (TypeError, ValueError):
        return  # a builtin or C callable: it is asked at the call
    try:
        signature.bind(**dict.fromkeys(ARGUMENTS))
    except TypeError as error:
        raise TypeError(
            f"{target} cannot be called as train(env_id=..., seed=..., total_steps=..., "
            f"device=...): {error}"
        ) from None


def call_train(train: TrainFunction, env_id: str, seed: int, total_steps: int, device: str):
    """Call a train function with the protocol's keywords; its result, checked."""
    result = train(env_id=env_id, seed=seed, total_steps=total_steps, device=device)
    if not isinstance(result, Trained) and not callable(result):
        raise TypeError(
            f"the train function returned a {type(result).__name__}; expected an act function "
            "observations -> actions or a drlspec.external.Trained"
        )
    return result


def act_of(result: Act | Trained) -> Act:
    """The act function of a train function's result."""
    return result.act if isinstance(result, Trained) else result


def episodes_of(result: Act | Trained) -> np.ndarray | None:
    """The reported training episodes as a ``[E, 2]`` float array, or ``None``.

    Raises ``ValueError`` when they are not finite ``(step, return)`` pairs in step order.
    """
    if not isinstance(result, Trained) or result.episodes is None:
        return None
    episodes = np.asarray(result.episodes, dtype=float)
    if episodes.size == 0:
        return np.zeros((0, 2))
    if episodes.ndim != 2 or episodes.shape[1] != 2:
        raise ValueError(
            f"Trained.episodes must be (step, return) pairs, got an array of shape {episodes.shape}"
        )
    if not np.isfinite(episodes).all():
        raise ValueError("Trained.episodes holds a NaN or infinite step or return")
    if np.any(np.diff(episodes[:, 0]) < 0):
        raise ValueError("Trained.episodes must be in the order the episodes finished (steps)")
    return episodes
