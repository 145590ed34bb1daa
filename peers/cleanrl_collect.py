"""CleanRL's PPO rollout collection, transcribed as ``collect_transitions``.

CleanRL is a set of single-file scripts: :func:`collect_transitions` transcribes the
rollout loop of ``cleanrl/ppo.py`` unchanged (CleanRL commit
``fe8d8a03c41a7ef5b523e2e354bd01c363e786bb``, 2026-04-20; ``cleanrl/ppo.py`` last changed
in ``e421c2e50b81febf639fced51a69e2602593d50d``, 2023-11-27) and replaces only the agent
and the logging:

* storage, lines 171-176: ``obs``, ``actions``, ``logprobs``, ``rewards``, ``dones``,
  ``values``, ``torch.zeros((num_steps, num_envs) + shape)`` (float32);
* start, lines 181-183: ``next_obs, _ = envs.reset(seed=args.seed)``, ``next_done =
  torch.zeros(num_envs)`` (``args.seed`` is 1 by default, line 21);
* the loop, lines 192-208: ``obs[step] = next_obs``; ``dones[step] = next_done``; the
  action from ``next_obs``; ``envs.step(action.cpu().numpy())``; ``next_done =
  np.logical_or(terminations, truncations)``; ``rewards[step] = reward``. Lines 198-200
  and 202 (``agent.get_action_and_value``, ``values``, ``logprobs``) become ``action =
  act(next_obs)``: the contract has no critic and no log-probabilities. Lines 210-215
  only log ``infos["final_info"]``.

``next_obs`` and ``next_done`` outlive the loop (they start the next iteration and
bootstrap the last step, lines 218-225): they are the carry, and a call of the contract
is one iteration's loop.

What CleanRL keeps, on the contract's layout. The loop stores no next observation, no
separate flags and no mask. Its learner (the GAE, lines 222-230) reads step ``t``'s next
observation as ``obs[t + 1]`` (through ``values[t + 1]``; ``next_obs`` after the last
step) and its end as ``dones[t + 1]`` (``next_done`` after the last step), used as
"does not bootstrap" (``nextnonterminal = 1.0 - dones[t + 1]``); every row enters the
batch (lines 234-239). So the adapter reports exactly that: ``next_observations[t] =
obs[t + 1]``, ``terminated[t] = dones[t + 1]`` (termination *or* truncation: what the
GAE treats as terminal), ``truncated`` all false (nothing is kept; a truncation is never
bootstrapped), ``valid`` all true. Flags become bool (the storage is float32 0/1).

Gymnasium: CleanRL pins ``gymnasium==0.29.1`` (``pyproject.toml`` line 18), whose
``SyncVectorEnv`` resets in the same step (``SAME_STEP``) and puts the last observation
in ``infos["final_observation"]``, which ``ppo.py`` never reads. Gymnasium 1.0 made
``NEXT_STEP`` the default, and CleanRL's issue #499 ("after updating the Gymnasium to
1.0 ... doesn't work anymore", open) records that its scripts were written for the
other mode; gymnasium 1.1 added ``autoreset_mode`` so they can ask for ``SAME_STEP``.
The properties run the loop in both modes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from drlspec.collection import collect_transitions as reference_collect_transitions
from peers.checks import EVERY_PROPERTY, Check

__all__ = [
    "SAME_STEP_RESET_OBS_AS_NEXT",
    "collect_transitions",
    "collect_transitions_next_step_only",
    "collect_transitions_same_step_only",
    "in_one_mode",
]


@dataclass
class CleanRLCarry:
    """``next_obs`` and ``next_done`` as ``ppo.py`` carries them from one iteration on."""

    next_obs: torch.Tensor
    next_done: torch.Tensor


def collect_transitions(
    envs: Any,
    act: Callable[[Any], Any],
    num_steps: int,
    carry: CleanRLCarry | None = None,
) -> tuple[dict[str, torch.Tensor], CleanRLCarry]:
    args = SimpleNamespace(num_steps=num_steps, num_envs=envs.num_envs, seed=1)
    device = torch.device("cpu")

    # ppo.py lines 171-176, the shape tuple named (logprobs, values: no agent, see above)
    shape = (args.num_steps, args.num_envs)
    obs = torch.zeros(shape + envs.single_observation_space.shape).to(device)
    actions = torch.zeros(shape + envs.single_action_space.shape).to(device)
    rewards = torch.zeros((args.num_steps, args.num_envs)).to(device)
    dones = torch.zeros((args.num_steps, args.num_envs)).to(device)

    if carry is None:
        # lines 181-183
        next_obs, _ = envs.reset(seed=args.seed)
        next_obs = torch.Tensor(next_obs).to(device)
        next_done = torch.zeros(args.num_envs).to(device)
    else:
        next_obs, next_done = carry.next_obs, carry.next_done

    # lines 192-208
    for step in range(0, args.num_steps):
        obs[step] = next_obs
        dones[step] = next_done

        # ALGO LOGIC: action logic (lines 198-202: agent.get_action_and_value(next_obs))
        with torch.no_grad():
            action = torch.as_tensor(act(next_obs))
        actions[step] = action

        # TRY NOT TO MODIFY: execute the game and log data.
        # infos: lines 210-215 only log infos["final_info"]
        next_obs, reward, terminations, truncations, _ = envs.step(action.cpu().numpy())
        next_done = np.logical_or(terminations, truncations)
        rewards[step] = torch.tensor(reward).to(device).view(-1)
        next_obs, next_done = torch.Tensor(next_obs).to(device), torch.Tensor(next_done).to(device)

    # What the GAE (lines 222-228) reads as step t's successor: row t + 1, and after the
    # last row the carried next_obs / next_done.
    next_observations = torch.cat([obs[1:], next_obs.unsqueeze(0)])
    ends = torch.cat([dones[1:], next_done.unsqueeze(0)]).bool()
    transitions = {
        "observations": obs,
        "actions": actions,
        "rewards": rewards,
        "next_observations": next_observations,
        "terminated": ends,
        "truncated": torch.zeros_like(ends),
        "valid": torch.ones_like(ends),
    }
    return transitions, CleanRLCarry(next_obs, next_done)


def in_one_mode(
    mode: str,
    collector: Callable[..., tuple[Any, Any]],
    envs: Any,
    act: Callable[[Any], Any],
    num_steps: int,
    carry: Any,
) -> tuple[Any, Any]:
    """``collector`` on ``mode``'s examples (``"SameStep"``, ``"NextStep"``), the reference else.

    A measuring device, not a peer: the properties draw both autoreset modes, so a peer's
    verdict mixes what goes wrong in each; handing the other mode's examples to the
    reference (which passes them) isolates one mode's verdict. A vector environment keeps
    its mode, so every call of one example goes the same way and the carry stays the
    collector's own.
    """
    current = envs.metadata["autoreset_mode"]
    if getattr(current, "value", current) == mode:
        return collector(envs, act, num_steps, carry)
    return reference_collect_transitions(envs, act, num_steps, carry)


def collect_transitions_same_step_only(
    envs: Any, act: Callable[[Any], Any], num_steps: int, carry: Any = None
) -> tuple[dict[str, Any], Any]:
    """CleanRL's loop on ``SAME_STEP`` examples (its pinned gymnasium 0.29's behaviour) only."""
    return in_one_mode("SameStep", collect_transitions, envs, act, num_steps, carry)


def collect_transitions_next_step_only(
    envs: Any, act: Callable[[Any], Any], num_steps: int, carry: Any = None
) -> tuple[dict[str, Any], Any]:
    """CleanRL's loop on ``NEXT_STEP`` examples (gymnasium 1.x's default, #499) only."""
    return in_one_mode("NextStep", collect_transitions, envs, act, num_steps, carry)


_NEXT_STEP_RESET_ROWS_KEPT = frozenset(
    {
        "test_result_has_the_documented_layout",
        "test_valid_rows_are_true_transitions",
        "test_flags_are_the_environments_own",
        "test_invalid_rows_are_exactly_the_next_step_reset_steps",
        "test_no_valid_row_crosses_an_episode_boundary",
        "test_every_step_is_recorded_once_across_calls",
    }
)
SAME_STEP_RESET_OBS_AS_NEXT = frozenset(
    {
        "test_valid_rows_are_true_transitions",
        "test_episode_end_records_the_final_observation",
        "test_flags_are_the_environments_own",
        "test_no_valid_row_crosses_an_episode_boundary",
    }
)

CHECKS = [
    Check(
        "collect_transitions",
        "peers.cleanrl_collect:collect_transitions",
        EVERY_PROPERTY,
        "both modes: the failures of the two rows below together",
    ),
    Check(
        "collect_transitions",
        "peers.cleanrl_collect:collect_transitions_same_step_only",
        SAME_STEP_RESET_OBS_AS_NEXT,
        "SAME_STEP: reset observation as next at every end, truncation kept as done (convention)",
    ),
    Check(
        "collect_transitions",
        "peers.cleanrl_collect:collect_transitions_next_step_only",
        _NEXT_STEP_RESET_ROWS_KEPT,
        "NEXT_STEP: the reset step kept as a transition (bug, CleanRL #499)",
    ),
]
