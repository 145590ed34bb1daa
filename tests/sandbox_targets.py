"""Implementations that misbehave the way real code does, for tests/test_sandbox.py.

None of these is a mutant of one formula: each computes the right answer (by
calling the reference) and then does something that must still fail the
verdict: writes into its inputs, exits, crashes, hangs, eats memory or floods
the terminal. ``writes_into_<contract>`` exists for every contract.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time
from typing import Any

import numpy as np
import torch

from drlspec.contracts import CONTRACTS
from drlspec.harness.target import load_object
from drlspec.returns import gae


def gae_time_outs_are_terminal(
    rewards, values, next_values, terminated, truncated, gamma, lam
) -> torch.Tensor:
    """The classic bug, written into the caller's tensor: a time limit marked as termination.

    Its own result is the reference's for the flags it rewrote; with the
    harness handing it the caller's tensors, the oracle saw the rewritten
    flags too and it passed every property.
    """
    terminated[truncated.bool()] = True
    return gae(rewards, values, next_values, terminated, truncated, gamma, lam)


def gae_scratch_in_place_on_copies(
    rewards, values, next_values, terminated, truncated, gamma, lam
) -> torch.Tensor:
    """Correct: computes in place, but on its own copies (must be accepted)."""
    rewards, values = rewards.clone(), values.clone()
    rewards.sub_(values)  # r - V, reused below as the start of delta
    rewards.add_(values)
    return gae(rewards, values, next_values.clone(), terminated, truncated, gamma, lam)


def gae_prints_a_little(
    rewards, values, next_values, terminated, truncated, gamma, lam
) -> torch.Tensor:
    """Correct, and chatty within reason (must be accepted)."""
    print(f"gae called on {tuple(rewards.shape)}")
    return gae(rewards, values, next_values, terminated, truncated, gamma, lam)


def calls_sys_exit(*args: Any) -> None:
    sys.exit(0)


def calls_os_exit(*args: Any) -> None:
    os._exit(0)


def segfaults(*args: Any) -> None:
    ctypes.string_at(0)  # reads address 0: SIGSEGV, as a broken compiled kernel does


def hangs(*args: Any) -> None:
    while True:
        time.sleep(0.05)


def eats_memory(*args: Any) -> None:
    blocks = []
    while True:
        blocks.append(np.ones(2**25))  # 256 MiB, written, so resident


def floods_output(*args: Any) -> None:
    line = "debug " * 100
    while True:
        print(line)


def _first_writable_array(args: tuple) -> tuple[int, Any] | None:
    for position, value in enumerate(args):
        if isinstance(value, torch.Tensor) and not value.requires_grad and value.numel():
            return position, value
        if isinstance(value, np.ndarray) and value.size:
            return position, value
    return None


def _scribble(value: Any) -> None:
    """Change every element of ``value`` in place, whatever its dtype."""
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.bool:
            value.logical_not_()
        else:
            value.add_(1)
    elif value.dtype == np.bool_:
        np.logical_not(value, out=value)
    else:
        value += 1


def _writes_into(contract_name: str) -> Any:
    contract = CONTRACTS[contract_name]
    reference = load_object(contract.reference)
    if contract.kind == "class":

        class WritesIntoInputs(reference):  # type: ignore[misc, valid-type]
            """The reference tree, which scribbles on the priorities it was given."""

            def update(self, indices, priorities):
                result = super().update(indices, priorities)
                _scribble(priorities)
                return result

        WritesIntoInputs.__name__ = f"writes_into_{contract_name}"
        return WritesIntoInputs

    def writes_into_inputs(*args: Any) -> Any:
        result = reference(*args)
        found = _first_writable_array(args)
        if found is not None:
            _scribble(found[1])
        return result

    writes_into_inputs.__name__ = f"writes_into_{contract_name}"
    return writes_into_inputs


for _name in CONTRACTS:
    globals()[f"writes_into_{_name}"] = _writes_into(_name)


def numpy_td_target_writes_rewards(rewards, next_values, terminated, gamma):
    """A numpy implementation that accumulates into the rewards array it was given."""
    rewards += gamma * np.where(terminated.astype(bool), 0.0, next_values)
    return rewards


def gae_leaves_grad_disabled(
    rewards, values, next_values, terminated, truncated, gamma, lam
) -> torch.Tensor:
    """Right values, but switches autograd off for everything its caller does next."""
    torch.set_grad_enabled(False)
    return gae(rewards, values, next_values, terminated, truncated, gamma, lam)


def td_target_counting_calls(rewards, next_values, terminated, gamma):
    """Correct; appends a line per call to the file named by DRLSPEC_TEST_CALL_LOG."""
    with open(os.environ["DRLSPEC_TEST_CALL_LOG"], "a") as log:
        log.write("call\n")
    return rewards + gamma * torch.where(terminated.bool(), 0.0, next_values)
