"""Seeding and the random states a checkpoint carries.

One integer seeds Python's ``random``, numpy and torch (and, in
:func:`drlspec.agents.environments.make_vector_env`, the environments' resets and their action
spaces), so two CPU runs with the same seed give bit-identical metrics. Training runs torch
single-threaded: the networks are small MLPs, for which one thread is faster than several, and
a fixed thread count keeps the reductions' order, hence the bits, fixed.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

__all__ = ["restore_rng_state", "rng_state", "seed_everything"]


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, numpy and torch; return the numpy generator the agent draws from."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (seeds any third-party code that uses it)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    return np.random.default_rng(seed)


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """Every random state a training loop draws from (for a checkpoint that resumes exactly)."""
    return {
        "numpy": rng.bit_generator.state,
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
    }


def restore_rng_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    """Put back the random states :func:`rng_state` saved."""
    rng.bit_generator.state = state["numpy"]
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
