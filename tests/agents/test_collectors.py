"""The agents' collectors meet the contract ``collect_transitions`` in both autoreset modes."""

from __future__ import annotations

import pytest

from drlspec.testing import check_contract


@pytest.mark.parametrize("collector", ["rollout_collector", "dqn_replay"])
def test_agent_collector_meets_the_contract(collector):
    """What the on-policy agents and DQN's replay buffer hold is what the contract records.

    The contract's toy environments run in NEXT_STEP and SAME_STEP mode, Discrete and Box."""
    check_contract("collect_transitions", f"tests.agents.collector_targets:{collector}")


def test_a_collector_that_drops_final_observations_is_caught():
    """The same check rejects a collector that stores the reset observation as s'."""
    with pytest.raises(AssertionError, match="collect_transitions"):
        check_contract("collect_transitions", "tests.mutants.collect_transitions:ignores_final_obs")
