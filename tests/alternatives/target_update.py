"""Correct target-network updates written differently from the reference."""

import torch


def state_dict_arithmetic(online, target, tau):
    """Builds a new state dict (two products, not lerp) and loads it (values copied)."""
    source, current = online.state_dict(), target.state_dict()
    new = {}
    for name, t in current.items():
        o = source[name]
        new[name] = (
            o.clone() if tau == 1.0 or not t.is_floating_point() else tau * o + (1 - tau) * t
        )
    target.load_state_dict(new)
    return target


def foreach_in_float32(online, target, tau):
    """``torch._foreach`` style arithmetic in float32 for soft updates, exact copy at tau = 1."""
    with torch.no_grad():
        pairs = list(zip(target.parameters(), online.parameters(), strict=True))
        pairs += list(zip(target.buffers(), online.buffers(), strict=True))
        for t, o in pairs:
            if tau == 1.0 or not t.is_floating_point():
                t.copy_(o)
            else:
                t.mul_(1.0 - tau).add_(o.float().to(t.dtype), alpha=tau)


def stable_baselines3_buffers_copied(online, target, tau):
    """Polyak on the parameters, batch-norm statistics copied (stable-baselines3's DQN calls
    ``polyak_update`` with ``tau = 1.0`` on them): the other accepted buffer convention."""
    with torch.no_grad():
        for t, o in zip(target.parameters(), online.parameters(), strict=True):
            t.mul_(1.0 - tau).add_(o, alpha=tau)
        for t, o in zip(target.buffers(), online.buffers(), strict=True):
            t.copy_(o)
