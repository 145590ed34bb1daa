"""Unit tests of reference/value.py and td_target beyond the contract: input validation."""

import pytest
import torch

from drlspec.returns import td_target
from drlspec.value import double_dqn_target, dqn_target, dueling_aggregate

B, A = 4, 3


def _good():
    return {
        "rewards": torch.zeros(B),
        "next_q": torch.zeros(B, A),
        "terminated": torch.zeros(B, dtype=torch.bool),
    }


@pytest.mark.parametrize("gamma", [-0.1, 1.5, float("nan")])
def test_gamma_outside_unit_interval_is_rejected(gamma):
    g = _good()
    with pytest.raises(ValueError, match="gamma"):
        dqn_target(g["rewards"], g["next_q"], g["terminated"], gamma)
    with pytest.raises(ValueError, match="gamma"):
        td_target(g["rewards"], g["rewards"], g["terminated"], gamma)


def test_gamma_of_wrong_type_is_rejected():
    g = _good()
    with pytest.raises(TypeError, match="gamma"):
        td_target(g["rewards"], g["rewards"], g["terminated"], "0.9")


def test_td_target_rejects_mismatched_batch():
    g = _good()
    with pytest.raises(ValueError, match="next_values"):
        td_target(g["rewards"], torch.zeros(B + 1), g["terminated"], 0.9)


def test_td_target_does_not_broadcast_column_vectors():
    g = _good()
    with pytest.raises(ValueError, match="next_values"):
        td_target(g["rewards"], torch.zeros(B, 1), g["terminated"], 0.9)


def test_flags_must_be_bool_or_zero_one():
    g = _good()
    with pytest.raises(ValueError, match="terminated"):
        td_target(g["rewards"], g["rewards"], torch.full((B,), 0.5), 0.9)
    with pytest.raises(TypeError, match="terminated"):
        td_target(g["rewards"], g["rewards"], torch.zeros(B, dtype=torch.long), 0.9)


def test_non_tensor_and_integer_inputs_are_rejected():
    g = _good()
    with pytest.raises(TypeError, match="rewards"):
        dqn_target([0.0] * B, g["next_q"], g["terminated"], 0.9)
    with pytest.raises(TypeError, match="next_q_target"):
        dqn_target(g["rewards"], torch.zeros(B, A, dtype=torch.long), g["terminated"], 0.9)


def test_dqn_target_rejects_wrong_rank_and_empty_actions():
    g = _good()
    with pytest.raises(ValueError, match="next_q_target"):
        dqn_target(g["rewards"], torch.zeros(B), g["terminated"], 0.9)
    with pytest.raises(ValueError, match="next_q_target"):
        dqn_target(g["rewards"], torch.zeros(B, 0), g["terminated"], 0.9)


def test_double_dqn_target_rejects_mismatched_networks():
    g = _good()
    with pytest.raises(ValueError, match="next_q_online"):
        double_dqn_target(g["rewards"], torch.zeros(B, A + 1), g["next_q"], g["terminated"], 0.9)


def test_double_dqn_target_uses_online_selection_on_a_worked_case():
    # Online prefers action 1; the target network rates action 1 at 5 and action 0 at 10.
    online = torch.tensor([[0.0, 1.0]])
    target = torch.tensor([[10.0, 5.0]])
    result = double_dqn_target(torch.tensor([1.0]), online, target, torch.tensor([False]), 0.5)
    assert result.item() == pytest.approx(1.0 + 0.5 * 5.0)


def test_dueling_aggregate_rejects_bad_mode_and_shapes():
    value, advantages = torch.zeros(B, 1), torch.zeros(B, A)
    with pytest.raises(ValueError, match="mode"):
        dueling_aggregate(value, advantages, "median")
    with pytest.raises(ValueError, match="value"):
        dueling_aggregate(torch.zeros(B), advantages, "mean")
    with pytest.raises(ValueError, match="value"):
        dueling_aggregate(torch.zeros(B + 1, 1), advantages, "mean")
    with pytest.raises(ValueError, match="advantages"):
        dueling_aggregate(value, torch.zeros(B, 0), "mean")


def test_outputs_keep_the_reward_dtype_and_device():
    g = _good()
    out = dqn_target(g["rewards"].double(), g["next_q"].double(), g["terminated"], 0.9)
    assert out.dtype == torch.float64
    assert out.shape == (B,)


def test_gradients_flow_into_q_values_not_through_targets_by_accident():
    # The reference does not detach: the caller decides (the agent detaches its target).
    next_q = torch.zeros(B, A, requires_grad=True)
    out = dqn_target(torch.zeros(B), next_q, torch.zeros(B, dtype=torch.bool), 0.9)
    out.sum().backward()
    assert next_q.grad is not None
    assert next_q.grad.sum().item() == pytest.approx(0.9 * B)
