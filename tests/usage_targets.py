"""Targets for tests/test_usage.py: usage mistakes, and correct targets written unusually."""

from __future__ import annotations

import functools
import os
import time

import torch

from drlspec.returns import td_target as imported_td_target  # noqa: F401 - bound by an import


def td_target(rewards, next_values, terminated, gamma):
    return rewards + gamma * (~terminated.bool()).to(rewards.dtype) * next_values


def _with_a_wrapper(function):
    @functools.wraps(function)
    def wrapper(*args):
        return function(*args)

    return wrapper


@_with_a_wrapper
def decorated_wrong_arity(rewards, next_values, gamma):
    """Only the imported object shows the arity: the decorator hides it from the source."""
    return rewards


def _five(scale, rewards, next_values, terminated, gamma):
    return scale * td_target(rewards, next_values, terminated, gamma)


partial_td_target = functools.partial(_five, 1.0)  # four arguments left: correct


def td_target_with_extras(rewards, next_values, terminated, gamma, *extra, check=True):
    return td_target(rewards, next_values, terminated, gamma)


def raises_everywhere(rewards, next_values, terminated, gamma):
    raise IndexError(f"index {len(rewards)} is out of bounds for dimension 0")


def slow_and_wrong(rewards, next_values, terminated, gamma):
    """Wrong (ignores terminated) and slow per call: shrinking it would take minutes."""
    time.sleep(0.1)
    return rewards + gamma * next_values


def counts_imports() -> None:
    """Appends a line to $DRLSPEC_TEST_IMPORT_LOG each time this module is imported."""


_log = os.environ.get("DRLSPEC_TEST_IMPORT_LOG")
if _log:
    with open(_log, "a") as log:
        log.write(f"{os.getpid()}\n")


def random_start_cg(matvec, b, iters, residual_tol):
    """CG from a tiny random start, as sb3-contrib's: wrong only by the start the contract fixes."""
    x = 1e-4 * torch.randn_like(b)
    residual = b - matvec(x)
    direction = residual.clone()
    squared = residual @ residual
    for _ in range(iters):
        if squared < residual_tol:
            break
        product = matvec(direction)
        step = squared / (direction @ product)
        x = x + step * direction
        residual = residual - step * product
        squared, previous = residual @ residual, squared
        direction = residual + squared / previous * direction
    return x
