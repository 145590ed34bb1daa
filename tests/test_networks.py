"""Unit tests of reference/networks.py: QNetwork, DuelingQNetwork, mlp."""

import pytest
import torch

from drlspec.networks import DuelingQNetwork, QNetwork, mlp


def test_q_network_maps_observations_to_action_values():
    torch.manual_seed(0)
    net = QNetwork(obs_dim=4, num_actions=2, hidden_sizes=(16, 16))
    assert net(torch.randn(7, 4)).shape == (7, 2)


@pytest.mark.parametrize("mode", ["mean", "max"])
def test_dueling_network_satisfies_its_identity(mode):
    torch.manual_seed(0)
    net = DuelingQNetwork(obs_dim=3, num_actions=5, hidden_sizes=(32, 32), mode=mode)
    observations = torch.randn(11, 3)
    q_values = net(observations)
    value = net.value_head(net.trunk(observations))
    baseline = q_values.mean(dim=1, keepdim=True) if mode == "mean" else q_values.amax(1, True)
    torch.testing.assert_close(baseline, value)


def test_dueling_network_streams_share_the_trunk():
    net = DuelingQNetwork(obs_dim=3, num_actions=2, hidden_sizes=(8, 8))
    q_values = net(torch.randn(4, 3)).sum()
    q_values.backward()
    assert all(p.grad is not None for p in net.trunk.parameters())
    assert all(p.grad is not None for p in net.value_head.parameters())


def test_networks_reject_bad_observations():
    net = QNetwork(obs_dim=4, num_actions=2)
    with pytest.raises(ValueError, match="observations"):
        net(torch.randn(4))
    with pytest.raises(ValueError, match="observations"):
        net(torch.randn(2, 5))
    with pytest.raises(TypeError, match="observations"):
        net(torch.zeros(2, 4, dtype=torch.long))


def test_constructors_reject_bad_sizes():
    with pytest.raises(ValueError, match="num_actions"):
        QNetwork(obs_dim=4, num_actions=0)
    with pytest.raises(TypeError, match="obs_dim"):
        QNetwork(obs_dim=4.0, num_actions=2)
    with pytest.raises(ValueError, match="mode"):
        DuelingQNetwork(obs_dim=4, num_actions=2, mode="sum")
    with pytest.raises(ValueError, match="hidden_sizes"):
        mlp(4, [8, 0], 2)
