"""tianshou's dueling head as the ``dueling_aggregate`` contract (tianshou 2.0.1).

``tianshou.utils.net.common.Net.forward`` with ``dueling_param`` (``common.py`` lines
357-364) aggregates ``q - q.mean(dim=1, keepdim=True) + v`` (``q`` the advantage stream,
``v`` the value stream, ``num_atoms = 1``); the adapter transcribes that line. tianshou
has no ``"max"`` mode.
"""

from __future__ import annotations

from peers.checks import Check

__all__ = ["dueling_aggregate"]


def dueling_aggregate(value, advantages, mode):
    """``Net.forward``'s dueling line; ``"max"`` has no counterpart."""
    if mode != "mean":
        raise NotImplementedError(f"tianshou's dueling networks have no {mode!r} mode")
    q, v = advantages, value
    return q - q.mean(dim=1, keepdim=True) + v


CHECKS = [
    Check(
        "dueling_aggregate",
        "peers.tianshou_value:dueling_aggregate",
        frozenset(
            {
                "test_matches_definition",
                "test_gradient_matches_definition",
                "test_max_mode_greedy_value_is_value",
                "test_per_state_constant_in_advantages_cancels",
                "test_action_differences_are_advantage_differences",
            }
        ),
        "no 'max' mode",
    ),
]
