"""Correct collectors written differently from the reference (drlspec.collection)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode


def flat_per_env_transitions(envs, act, num_steps, carry):
    """Records one flat transition record per (step, environment), CleanRL-style dicts in a
    list, then assembles the ``[T, N]`` arrays by index arithmetic; the carry is a dict.

    Which environments are due for a reset is a per-environment Python list of booleans."""
    same_step = envs.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    n = envs.num_envs
    if carry is None:
        obs, _ = envs.reset()
        carry = {"obs": np.asarray(obs), "due": [False] * n}
    obs, due = np.asarray(carry["obs"]), list(carry["due"])
    records: list[dict[str, Any]] = []
    for _ in range(num_steps):
        actions = np.asarray(act(obs))
        next_obs, rewards, terms, truncs, infos = envs.step(actions)
        final_mask = infos.get("_final_obs", [False] * n)
        for i in range(n):
            true_next = infos["final_obs"][i] if same_step and final_mask[i] else next_obs[i]
            records.append(
                {
                    "observations": np.array(obs[i]),
                    "actions": np.array(actions[i]),
                    "rewards": float(rewards[i]),
                    "next_observations": np.array(true_next),
                    "terminated": bool(terms[i]),
                    "truncated": bool(truncs[i]),
                    "valid": same_step or not due[i],
                }
            )
            due[i] = bool(terms[i] or truncs[i])
        obs = np.asarray(next_obs)
    transitions = {}
    for name in records[0]:
        flat = np.array([r[name] for r in records])
        transitions[name] = flat.reshape(num_steps, n, *flat.shape[1:])
    return transitions, {"obs": obs.copy(), "due": due}


class _TorchCarry:
    """Where collection stopped, as tensors."""

    def __init__(self, obs: torch.Tensor, done: torch.Tensor) -> None:
        self.obs = obs
        self.done = done


def torch_tensors(envs, act, num_steps, carry):
    """Preallocated torch buffers (float32 observations and rewards, bool flags), the
    policy called with a tensor, ``final_obs`` put back with ``torch.where`` on the mask."""
    next_step = envs.autoreset_mode == AutoresetMode.NEXT_STEP
    n = envs.num_envs
    if carry is None:
        obs, _ = envs.reset()
        carry = _TorchCarry(torch.as_tensor(obs, dtype=torch.float32), torch.zeros(n, dtype=bool))
    obs, done = carry.obs, carry.done
    shape = tuple(obs.shape[1:])
    out = {
        "observations": torch.zeros((num_steps, n, *shape)),
        "next_observations": torch.zeros((num_steps, n, *shape)),
        "rewards": torch.zeros((num_steps, n)),
        "terminated": torch.zeros((num_steps, n), dtype=torch.bool),
        "truncated": torch.zeros((num_steps, n), dtype=torch.bool),
        "valid": torch.ones((num_steps, n), dtype=torch.bool),
    }
    actions_seen = []
    for t in range(num_steps):
        action = act(obs)
        next_obs, reward, term, trunc, infos = envs.step(np.asarray(action))
        next_t = torch.as_tensor(next_obs, dtype=torch.float32)
        true_next = next_t
        if not next_step and "_final_obs" in infos:
            mask = torch.as_tensor(infos["_final_obs"], dtype=torch.bool)
            finals = torch.stack(
                [
                    torch.as_tensor(f if m else o, dtype=torch.float32)
                    for f, m, o in zip(
                        infos["final_obs"], infos["_final_obs"], next_obs, strict=True
                    )
                ]
            )
            true_next = torch.where(mask[:, None], finals, next_t)
        out["observations"][t] = obs
        out["next_observations"][t] = true_next
        out["rewards"][t] = torch.as_tensor(reward, dtype=torch.float32)
        out["terminated"][t] = torch.as_tensor(term)
        out["truncated"][t] = torch.as_tensor(trunc)
        if next_step:
            out["valid"][t] = ~done
        actions_seen.append(torch.as_tensor(np.asarray(action)))
        done = torch.as_tensor(term) | torch.as_tensor(trunc)
        obs = next_t
    out["actions"] = torch.stack(actions_seen)
    return out, _TorchCarry(obs, done)


def previous_flags_in_a_tuple_carry(envs, act, num_steps, carry):
    """Keeps the previous step's two flags (not their ``or``) in a plain tuple carry and
    derives the reset steps from them; ``final_obs`` put back with ``np.where`` over a
    stacked array. (The harness hands a tuple carry back as torch tensors: read with
    ``np.asarray``.)"""
    mode = envs.metadata["autoreset_mode"]
    if carry is None:
        obs, _ = envs.reset()
        zeros = np.zeros(envs.num_envs, dtype=bool)
        carry = (np.asarray(obs), zeros, zeros)
    obs, prev_term, prev_trunc = (np.asarray(c) for c in carry)
    columns: dict[str, list] = {}
    for _ in range(num_steps):
        actions = act(obs)
        next_obs, rewards, term, trunc, infos = envs.step(actions)
        next_obs = np.asarray(next_obs)
        if mode == AutoresetMode.SAME_STEP:
            mask = np.asarray(infos.get("_final_obs", np.zeros(len(next_obs), bool)))
            finals = np.stack(
                [infos["final_obs"][i] if mask[i] else next_obs[i] for i in range(len(mask))]
            )
            true_next = np.where(mask[:, None], finals, next_obs)
            valid = np.full(len(mask), True)
        else:
            true_next = next_obs
            valid = ~(prev_term | prev_trunc)
        row = {
            "observations": obs,
            "actions": np.asarray(actions),
            "rewards": np.asarray(rewards, dtype=np.float32),
            "next_observations": true_next,
            "terminated": np.asarray(term),
            "truncated": np.asarray(trunc),
            "valid": valid,
        }
        for name, value in row.items():
            columns.setdefault(name, []).append(np.copy(value))
        prev_term, prev_trunc = np.asarray(term), np.asarray(trunc)
        obs = next_obs
    transitions = {name: np.stack(values) for name, values in columns.items()}
    return transitions, (obs, prev_term, prev_trunc)
