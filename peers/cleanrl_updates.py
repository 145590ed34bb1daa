"""CleanRL's DQN and PPO learning steps, transcribed as the update contracts.

CleanRL is a set of single-file scripts, not a package: these adapters transcribe the
lines of its training loops unchanged (CleanRL commit
``fe8d8a03c41a7ef5b523e2e354bd01c363e786bb``, 2026-04-20; ``cleanrl/dqn.py`` last changed
in ``004f8a086a892a2a180f4dd332b90d83a968aa7a``, ``cleanrl/ppo.py`` in
``e421c2e50b81febf639fced51a69e2602593d50d``) and
replace only the data plumbing (the replay sample, the rollout storage, the agent's
networks) by the contract's arguments:

* ``dqn_td_errors``: ``cleanrl/dqn.py`` lines 197-201. CleanRL's loss is
  ``F.mse_loss(td_target, old_val)``; the per-sample errors it squares are
  ``old_val - td_target`` in the contract's sign (prediction minus target). The sign
  does not change the loss; the contract pins it because PER and logging read it.
* ``target_update``: ``cleanrl/dqn.py`` lines 216-219, the loop over
  ``target_network.parameters()`` (``args.tau`` is 1.0 by default: a hard copy every
  ``target_network_frequency`` steps).
* ``ppo_clip_loss``: ``cleanrl/ppo.py`` lines 250-252 and 260-285 with ``norm_adv=False``
  and ``clip_vloss=False``, the settings that mean what the contract means (advantages
  used as given, no value clipping: the contract has no old values);
  ``ppo_clip_loss_norm_adv`` is the same with ``norm_adv=True``, CleanRL's default
  (line 57). The agent's ``get_action_and_value`` (lines 121-126) becomes the contract's
  policy and value network: ``probs = policy(x)`` replaces
  ``Categorical(logits=self.actor(x))`` and ``value_network(x)`` replaces
  ``self.critic(x)``. For continuous actions the loop is
  ``cleanrl/ppo_continuous_action.py`` (lines 134-141 and 265-297: the same loss lines;
  its actions are not cast with ``.long()``, and its ``probs.log_prob(action).sum(1)``
  over a ``Normal`` is the contract's ``Independent(Normal, 1).log_prob(action)``).

Plumbing, as CleanRL's loops produce the data:

* DQN's replay buffer (``cleanrl_utils/buffers.py``, a copy of stable-baselines3's:
  lines 305-316 and 397-414) returns actions ``[B, 1]`` in the action space's dtype
  (``Discrete``: int64), rewards and dones float32 ``[B, 1]``, and fresh tensors (no
  graph). ``dqn.py`` builds it with ``handle_timeout_termination=False`` and stores
  ``terminations`` as the dones (line 188), so ``dones`` is the contract's ``terminated``.
  Observations keep their dtype: the buffer stores them in the observation space's dtype,
  which is the networks' input dtype.
* PPO's storage (``ppo.py`` lines 171-176) is ``torch.zeros`` tensors filled under
  ``no_grad`` (lines 198-202, 218-231): no graph. Their dtype is torch's default dtype,
  the one CleanRL's networks have too; with the contract's float64 networks the storage
  analogue is the networks' dtype, so the adapters store detached copies without rounding.
* ``args.gamma``, ``args.tau``, ``args.clip_coef``, ``args.ent_coef``, ``args.vf_coef``
  are Python floats.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import NamedTuple

import torch
import torch.nn as nn

from peers.checks import EVERY_PROPERTY, Check

__all__ = ["dqn_td_errors", "ppo_clip_loss", "ppo_clip_loss_norm_adv", "target_update"]


class _ReplayBufferSamples(NamedTuple):
    """``cleanrl_utils.buffers.ReplayBufferSamples``, as ``rb.sample`` returns it."""

    observations: torch.Tensor
    actions: torch.Tensor
    next_observations: torch.Tensor
    dones: torch.Tensor
    rewards: torch.Tensor


def _replay_sample(
    observations: torch.Tensor,
    actions: torch.Tensor,
    rewards: torch.Tensor,
    next_observations: torch.Tensor,
    terminated: torch.Tensor,
) -> _ReplayBufferSamples:
    """The batch as ``ReplayBuffer._get_samples`` hands it to ``dqn.py`` (module docstring)."""

    def column(array: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return array.detach().clone().to(dtype).reshape(-1, 1)

    return _ReplayBufferSamples(
        observations=observations.detach().clone(),
        actions=column(actions, torch.int64),  # Discrete(n).dtype is int64
        next_observations=next_observations.detach().clone(),
        dones=column(terminated, torch.float32),
        rewards=column(rewards, torch.float32),
    )


def dqn_td_errors(
    q_network: nn.Module,
    target_network: nn.Module,
    observations: torch.Tensor,
    actions: torch.Tensor,
    rewards: torch.Tensor,
    next_observations: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    data = _replay_sample(observations, actions, rewards, next_observations, terminated)
    args = SimpleNamespace(gamma=gamma)
    # dqn.py lines 197-200
    with torch.no_grad():
        target_max, _ = target_network(data.next_observations).max(dim=1)
        td_target = data.rewards.flatten() + args.gamma * target_max * (1 - data.dones.flatten())
    old_val = q_network(data.observations).gather(1, data.actions).squeeze()
    # line 201, loss = F.mse_loss(td_target, old_val), squares these errors. At B = 1
    # .squeeze() makes old_val 0-d and td_target is [1]: the difference broadcasts to [1].
    return old_val - td_target


def target_update(online: nn.Module, target: nn.Module, tau: float) -> None:
    q_network, target_network = online, target
    args = SimpleNamespace(tau=tau)
    # dqn.py lines 216-219
    for target_network_param, q_network_param in zip(
        target_network.parameters(), q_network.parameters(), strict=False
    ):
        target_network_param.data.copy_(
            args.tau * q_network_param.data + (1.0 - args.tau) * target_network_param.data
        )


def _ppo_loss(
    policy: nn.Module,
    value_network: nn.Module,
    observations: torch.Tensor,
    actions: torch.Tensor,
    log_prob_old: torch.Tensor,
    advantages: torch.Tensor,
    returns: torch.Tensor,
    clip_eps: float,
    vf_coef: float,
    ent_coef: float,
    norm_adv: bool,
) -> torch.Tensor:
    args = SimpleNamespace(
        norm_adv=norm_adv,
        clip_coef=clip_eps,
        ent_coef=ent_coef,
        vf_coef=vf_coef,
    )
    discrete = not actions.dtype.is_floating_point

    def get_action_and_value(x: torch.Tensor, action: torch.Tensor) -> tuple:
        # ppo.py lines 121-126 (ppo_continuous_action.py lines 134-141)
        probs = policy(x)
        return action, probs.log_prob(action), probs.entropy(), value_network(x)

    # the rollout storage, already flattened (ppo.py lines 234-239); the minibatch is
    # the whole batch, mb_inds = every index
    b_obs = observations.detach().clone()
    b_actions = actions.detach().clone()
    b_logprobs = log_prob_old.detach().clone()
    b_advantages = advantages.detach().clone()
    b_returns = returns.detach().clone()
    mb_inds = torch.arange(b_obs.shape[0])

    # ppo.py line 250 (ppo_continuous_action.py line 265 has no .long())
    mb_actions = b_actions.long()[mb_inds] if discrete else b_actions[mb_inds]
    _, newlogprob, entropy, newvalue = get_action_and_value(b_obs[mb_inds], mb_actions)
    logratio = newlogprob - b_logprobs[mb_inds]
    ratio = logratio.exp()

    # lines 260-285
    mb_advantages = b_advantages[mb_inds]
    if args.norm_adv:
        mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)

    # Policy loss
    pg_loss1 = -mb_advantages * ratio
    pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - args.clip_coef, 1 + args.clip_coef)
    pg_loss = torch.max(pg_loss1, pg_loss2).mean()

    # Value loss: the else branch of line 271 (clip_vloss=False: the contract has no
    # b_values to clip around)
    newvalue = newvalue.view(-1)
    v_loss = 0.5 * ((newvalue - b_returns[mb_inds]) ** 2).mean()

    entropy_loss = entropy.mean()
    loss = pg_loss - args.ent_coef * entropy_loss + v_loss * args.vf_coef
    return loss


def ppo_clip_loss(
    policy: nn.Module,
    value_network: nn.Module,
    observations: torch.Tensor,
    actions: torch.Tensor,
    log_prob_old: torch.Tensor,
    advantages: torch.Tensor,
    returns: torch.Tensor,
    clip_eps: float,
    vf_coef: float,
    ent_coef: float,
) -> torch.Tensor:
    """``cleanrl/ppo.py``'s loss with ``norm_adv=False``, ``clip_vloss=False``."""
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
        norm_adv=False,
    )


def ppo_clip_loss_norm_adv(
    policy: nn.Module,
    value_network: nn.Module,
    observations: torch.Tensor,
    actions: torch.Tensor,
    log_prob_old: torch.Tensor,
    advantages: torch.Tensor,
    returns: torch.Tensor,
    clip_eps: float,
    vf_coef: float,
    ent_coef: float,
) -> torch.Tensor:
    """``cleanrl/ppo.py``'s loss with its default ``norm_adv=True`` (``clip_vloss=False``)."""
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
        norm_adv=True,
    )


CHECKS = [
    Check("dqn_td_errors", "peers.cleanrl_updates:dqn_td_errors"),
    Check(
        "target_update",
        "peers.cleanrl_updates:target_update",
        frozenset(
            {
                "test_matches_definition",
                "test_hard_copy_is_exact",
                "test_repeated_updates_converge_geometrically",
            }
        ),
        "parameters only: batch-norm statistics never reach the target (dqn.py's MLP has none)",
    ),
    Check("ppo_clip_loss", "peers.cleanrl_updates:ppo_clip_loss"),
    Check(
        "ppo_clip_loss",
        "peers.cleanrl_updates:ppo_clip_loss_norm_adv",
        EVERY_PROPERTY,
        "convention: normalises the advantages (norm_adv=True); nan at B = 1 (std of one sample)",
    ),
]
