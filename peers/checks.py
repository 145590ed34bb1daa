"""What ``peers/run.py`` checks: each adapter against its contract, with the recorded verdict.

Each adapter module declares its own ``CHECKS`` next to the adapters, so that
the verdict docs/peers.md records sits beside the code it is about;
``peers/run.py`` gathers them from :data:`ADAPTER_MODULES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ADAPTER_MODULES", "EVERY_PROPERTY", "Check"]

EVERY_PROPERTY = frozenset({"*"})  # stands for "every property of the contract fails"

# The modules whose CHECKS peers/run.py runs, in the order of the table it prints.
ADAPTER_MODULES = [
    "peers.sb3_gae",
    "peers.torchrl_gae",
    "peers.torchrl_returns",
    "peers.torchrl_value",
    "peers.torchrl_policy",
    "peers.torchrl_distributions",
    "peers.tianshou_returns",
    "peers.tianshou_value",
    "peers.tianshou_replay",
    "peers.tianshou_policy",
    "peers.tianshou_trust_region",
    "peers.sb3_targets",
    "peers.sb3_policy_losses",
    "peers.sb3_contrib_ppo",
    "peers.sb3_distributions",
    "peers.sb3_contrib_trpo",
    "peers.cleanrl_updates",
    "peers.sb3_updates",
    "peers.cleanrl_collect",
    "peers.sb3_collect",
]


@dataclass
class Check:
    """One adapter verified against one contract, and the verdict docs/peers.md records."""

    contract: str
    target: str
    expected_failures: frozenset[str] = field(default_factory=frozenset)
    note: str = ""
    backend: str = "torch"
