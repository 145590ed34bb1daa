"""Wrong Double DQN TD errors: selection and evaluation wired to the wrong networks."""

import torch


def _alive(terminated, rewards):
    return 1.0 - terminated.to(rewards.dtype)


def _prediction(q_network, observations, actions):
    return q_network(observations).gather(1, actions.long()[:, None]).squeeze(1)


def selects_with_target_network(
    q_network, target_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """Selects ``a'`` with the target network (the plain DQN target at the loss level):
    the maximisation bias Double DQN exists to remove comes back."""
    with torch.no_grad():
        best = target_network(next_observations).max(dim=1).values
    y = rewards + gamma * _alive(terminated, rewards) * best
    return _prediction(q_network, observations, actions) - y


def evaluates_with_online_network(
    q_network, target_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """Selects with the target network and evaluates with the online one: the roles swapped."""
    with torch.no_grad():
        greedy = target_network(next_observations).argmax(dim=1, keepdim=True)
        value = q_network(next_observations).gather(1, greedy).squeeze(1)
    y = rewards + gamma * _alive(terminated, rewards) * value
    return _prediction(q_network, observations, actions) - y


def prediction_with_target_network(
    q_network, target_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """The seed's E1 at the Double DQN loss: the prediction uses the target network."""
    with torch.no_grad():
        greedy = q_network(next_observations).argmax(dim=1, keepdim=True)
        value = target_network(next_observations).gather(1, greedy).squeeze(1)
    y = rewards + gamma * _alive(terminated, rewards) * value
    return _prediction(target_network, observations, actions) - y


def target_with_gradient(
    q_network, target_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """Evaluates ``Q_target(s', a*)`` with gradient: backward reaches the target network."""
    greedy = q_network(next_observations).argmax(dim=1, keepdim=True)
    value = target_network(next_observations).gather(1, greedy).squeeze(1)
    y = rewards + gamma * _alive(terminated, rewards) * value
    return _prediction(q_network, observations, actions) - y


def actions_as_column(
    q_network, target_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """``[B, 1]`` predictions minus ``[B]`` targets: broadcasts to ``[B, B]``."""
    with torch.no_grad():
        greedy = q_network(next_observations).argmax(dim=1, keepdim=True)
        value = target_network(next_observations).gather(1, greedy).squeeze(1)
    y = rewards + gamma * _alive(terminated, rewards) * value
    return q_network(observations).gather(1, actions.long()[:, None]) - y
