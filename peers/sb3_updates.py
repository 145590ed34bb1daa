"""stable-baselines3's DQN and PPO learning steps (SB3 2.9.2) as the update contracts.

SB3 computes both inline in its algorithms; these adapters transcribe the lines unchanged
and replace only the data plumbing (the buffer's sample, the policy's networks):

* ``dqn_td_errors``: ``DQN.train`` (``stable_baselines3/dqn/dqn.py``, lines 199-220).
  The loss is ``F.smooth_l1_loss(current_q_values, target_q_values)`` on ``[B, 1]``
  columns; the per-sample TD errors it penalises are ``current_q_values -
  target_q_values``, the contract's sign, which the adapter flattens to ``[B]``.
* ``target_update``: ``DQN._on_step`` (``dqn.py`` lines 183-185) with the tensor lists of
  ``DQN._setup_model`` (lines 153-154): ``polyak_update`` (``common/utils.py`` lines
  530-553) of the parameters with ``tau``, then of the batch-norm running statistics
  (``get_parameters_by_name(..., ["running_"])``, ``utils.py`` lines 504-514) with
  ``tau = 1.0``, a copy (SB3 GH issue #996). Both functions are SB3's own, called as
  ``_on_step`` calls them.
* ``ppo_clip_loss``: ``PPO.train`` (``ppo/ppo.py``, lines 208-256) with
  ``normalize_advantage=False`` and ``clip_range_vf=None`` (SB3's default: no value
  clipping; the contract has no old values), the settings that mean what the contract
  means; ``ppo_clip_loss_normalized`` is the same with ``normalize_advantage=True``,
  SB3's default. ``self.policy.evaluate_actions`` (``common/policies.py`` lines 719-741)
  becomes the contract's networks: ``distribution = policy(obs)``, ``log_prob =
  distribution.log_prob(actions)``, ``values = value_network(obs)``, ``entropy =
  distribution.entropy()`` (SB3's ``DiagGaussianDistribution`` sums the per-dimension
  log-probabilities and entropies, as the contract's ``Independent(Normal, 1)`` does).

Plumbing, as SB3's buffers hand the data to ``train``:

* DQN: the batch goes through SB3's own ``ReplayBuffer`` (``common/buffers.py``): added
  transition by transition with empty ``infos`` and read back with ``_get_samples`` in
  order. So actions come back ``[B, 1]`` in the ``Discrete`` space's int64, rewards and
  dones float32 ``[B, 1]``, ``dones = done * (1 - timeout)`` (the contract's
  ``terminated``: a time limit is not a termination), observations in the observation
  space's dtype (the networks' float64), all fresh tensors. With one-step replay
  ``replay_data.discounts`` is ``None`` and the discount is ``self.gamma``.
* PPO: ``RolloutBuffer`` stores values, log-probabilities, advantages and returns as
  float32 numpy arrays (``buffers.py`` lines 394-399) and casts actions to float32 when it
  hands them out (line 516); ``PPO.train`` turns discrete actions back into integers
  (lines 208-211). The adapter does the same (``peers.sb3_policy_losses.from_buffer``);
  observations keep the observation space's dtype.
"""

from __future__ import annotations

import numpy as np
import torch as th
import torch.nn as nn
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples, RolloutBufferSamples
from stable_baselines3.common.utils import get_parameters_by_name, polyak_update

from peers.checks import Check
from peers.sb3_policy_losses import from_buffer

__all__ = ["dqn_td_errors", "ppo_clip_loss", "ppo_clip_loss_normalized", "target_update"]


def _replay_data(
    observations: th.Tensor,
    actions: th.Tensor,
    rewards: th.Tensor,
    next_observations: th.Tensor,
    terminated: th.Tensor,
) -> ReplayBufferSamples:
    """The batch through SB3's ``ReplayBuffer``, read back in order (module docstring)."""
    obs = observations.detach().cpu().numpy()
    next_obs = next_observations.detach().cpu().numpy()
    action = actions.detach().cpu().numpy()
    reward = rewards.detach().cpu().numpy()
    done = terminated.detach().cpu().numpy()
    batch = obs.shape[0]
    observation_space = spaces.Box(-np.inf, np.inf, obs.shape[1:], obs.dtype)
    action_space = spaces.Discrete(int(action.max()) + 1)
    buffer = ReplayBuffer(batch, observation_space, action_space, device=observations.device)
    for i in range(batch):
        buffer.add(obs[i : i + 1], next_obs[i : i + 1], action[i : i + 1], reward[i : i + 1],
                   done[i : i + 1], [{}])  # fmt: skip
    return buffer._get_samples(np.arange(batch))


def dqn_td_errors(
    q_network: nn.Module,
    target_network: nn.Module,
    observations: th.Tensor,
    actions: th.Tensor,
    rewards: th.Tensor,
    next_observations: th.Tensor,
    terminated: th.Tensor,
    gamma: float,
) -> th.Tensor:
    q_net, q_net_target = q_network, target_network
    replay_data = _replay_data(observations, actions, rewards, next_observations, terminated)
    # DQN.train lines 201-217
    discounts = replay_data.discounts if replay_data.discounts is not None else gamma

    with th.no_grad():
        # Compute the next Q-values using the target network
        next_q_values = q_net_target(replay_data.next_observations)
        # Follow greedy policy: use the one with the highest value
        next_q_values, _ = next_q_values.max(dim=1)
        # Avoid potential broadcast issue
        next_q_values = next_q_values.reshape(-1, 1)
        # 1-step TD target
        target_q_values = replay_data.rewards + (1 - replay_data.dones) * discounts * next_q_values

    # Get current Q-values estimates
    current_q_values = q_net(replay_data.observations)

    # Retrieve the q-values for the actions from the replay buffer
    current_q_values = th.gather(current_q_values, dim=1, index=replay_data.actions.long())

    # line 220, loss = F.smooth_l1_loss(current_q_values, target_q_values), penalises these
    return (current_q_values - target_q_values).reshape(-1)


def target_update(online: nn.Module, target: nn.Module, tau: float) -> None:
    q_net, q_net_target = online, target
    # DQN._setup_model lines 153-154
    batch_norm_stats = get_parameters_by_name(q_net, ["running_"])
    batch_norm_stats_target = get_parameters_by_name(q_net_target, ["running_"])
    # DQN._on_step lines 183-185
    polyak_update(q_net.parameters(), q_net_target.parameters(), tau)
    # Copy running stats, see GH issue #996
    polyak_update(batch_norm_stats, batch_norm_stats_target, 1.0)


def _ppo_loss(
    policy: nn.Module,
    value_network: nn.Module,
    observations: th.Tensor,
    actions: th.Tensor,
    log_prob_old: th.Tensor,
    advantages: th.Tensor,
    returns: th.Tensor,
    clip_eps: float,
    vf_coef: float,
    ent_coef: float,
    normalize_advantage: bool,
) -> th.Tensor:
    discrete = not actions.dtype.is_floating_point

    def evaluate_actions(obs: th.Tensor, actions: th.Tensor) -> tuple:
        # ActorCriticPolicy.evaluate_actions, policies.py lines 737-741
        distribution = policy(obs)
        log_prob = distribution.log_prob(actions)
        values = value_network(obs)
        entropy = distribution.entropy()
        return values, log_prob, entropy

    rollout_data = RolloutBufferSamples(
        observations=observations.detach().clone(),
        actions=from_buffer(actions.reshape(actions.shape[0], -1)),  # [B, action_dim] float32
        old_values=from_buffer(th.zeros_like(returns)),  # not read: clip_range_vf is None
        old_log_prob=from_buffer(log_prob_old),
        advantages=from_buffer(advantages),
        returns=from_buffer(returns),
    )
    clip_range = clip_eps
    clip_range_vf = None
    # PPO.train lines 208-256
    actions = rollout_data.actions
    if discrete:
        # Convert discrete action from float to long
        actions = rollout_data.actions.long().flatten()

    values, log_prob, entropy = evaluate_actions(rollout_data.observations, actions)
    values = values.flatten()
    # Normalize advantage
    advantages = rollout_data.advantages
    # Normalization does not make sense if mini batchsize == 1, see GH issue #325
    if normalize_advantage and len(advantages) > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

    # ratio between old and new policy, should be one at the first iteration
    ratio = th.exp(log_prob - rollout_data.old_log_prob)

    # clipped surrogate loss
    policy_loss_1 = advantages * ratio
    policy_loss_2 = advantages * th.clamp(ratio, 1 - clip_range, 1 + clip_range)
    policy_loss = -th.min(policy_loss_1, policy_loss_2).mean()

    if clip_range_vf is None:
        # No clipping
        values_pred = values
    # Value loss using the TD(gae_lambda) target
    value_loss = F.mse_loss(rollout_data.returns, values_pred)

    # Entropy loss favor exploration
    if entropy is None:
        # Approximate entropy when no analytical form
        entropy_loss = -th.mean(-log_prob)
    else:
        entropy_loss = -th.mean(entropy)

    loss = policy_loss + ent_coef * entropy_loss + vf_coef * value_loss
    return loss


def ppo_clip_loss(
    policy: nn.Module,
    value_network: nn.Module,
    observations: th.Tensor,
    actions: th.Tensor,
    log_prob_old: th.Tensor,
    advantages: th.Tensor,
    returns: th.Tensor,
    clip_eps: float,
    vf_coef: float,
    ent_coef: float,
) -> th.Tensor:
    """``PPO.train``'s loss with ``normalize_advantage=False``, ``clip_range_vf=None``."""
    return _ppo_loss(
        policy,
        value_network,
        observations,
        actions,
        log_prob_old,
        advantages,
        returns,
        clip_eps,
        vf_coef,
        ent_coef,
        normalize_advantage=False,
    )


def ppo_clip_loss_normalized(
    policy: nn.Module,
    value_network: nn.Module,
    observations: th.Tensor,
    actions: th.Tensor,
    log_prob_old: th.Tensor,
    advantages: th.Tensor,
    returns: th.Tensor,
    clip_eps: float,
    vf_coef: float,
    ent_coef: float,
) -> th.Tensor:
    """``PPO.train``'s loss with its default ``normalize_advantage=True``."""
    return _ppo_loss(
        policy,
        value_network,
        observations,
        actions,
        log_prob_old,
        advantages,
        returns,
        clip_eps,
        vf_coef,
        ent_coef,
        normalize_advantage=True,
    )


CHECKS = [
    Check("dqn_td_errors", "peers.sb3_updates:dqn_td_errors"),
    Check(
        "target_update",
        "peers.sb3_updates:target_update",
        note="batch-norm statistics copied, num_batches_tracked kept: both accepted",
    ),
    Check("ppo_clip_loss", "peers.sb3_updates:ppo_clip_loss"),
    Check(
        "ppo_clip_loss",
        "peers.sb3_updates:ppo_clip_loss_normalized",
        frozenset(
            {
                "test_matches_definition",
                "test_ratio_from_log_probabilities_near_the_floor",
                "test_gradient_matches_reference",
                "test_ratio_one_gives_plain_policy_gradient",
                "test_clips_against_the_given_old_log_probabilities",
                "test_stored_inputs_carry_no_gradient",
                "test_terms_reach_only_their_network_and_nothing_is_modified",
            }
        ),
        "convention: normalises the advantages (normalize_advantage=True, skipped at B = 1)",
    ),
]
