"""Wrong target-network updates."""

import torch


def tau_swapped(online, target, tau):
    """``target <- (1 - tau) online + tau target``: with SB3's tau = 0.005 the target jumps
    almost onto the online network every step; at tau = 1 it never moves at all."""
    with torch.no_grad():
        for t, o in zip(target.parameters(), online.parameters(), strict=True):
            t.copy_((1.0 - tau) * o + tau * t)
        for t, o in zip(target.buffers(), online.buffers(), strict=True):
            t.copy_(o if not t.is_floating_point() else (1.0 - tau) * o + tau * t)


def aliases_storage(online, target, tau):
    """``target_param.data = param.data`` at a hard copy (and a lerp into a shared tensor
    otherwise): afterwards every optimiser step on the online network moves the target too."""
    with torch.no_grad():
        pairs = list(zip(target.parameters(), online.parameters(), strict=True))
        pairs += list(zip(target.buffers(), online.buffers(), strict=True))
        for t, o in pairs:
            if tau == 1.0:
                t.data = o.data
            else:
                t.lerp_(o, tau) if t.is_floating_point() else t.copy_(o)
                o.data = t.data


def parameters_only(online, target, tau):
    """Averages the parameters and forgets the buffers (batch-norm statistics stay stale)."""
    with torch.no_grad():
        for t, o in zip(target.parameters(), online.parameters(), strict=True):
            t.lerp_(o, tau)


def averages_into_online(online, target, tau):
    """Writes the average into both networks: the online network is pulled back towards
    the target."""
    with torch.no_grad():
        pairs = list(zip(target.parameters(), online.parameters(), strict=True))
        pairs += list(zip(target.buffers(), online.buffers(), strict=True))
        for t, o in pairs:
            if t.is_floating_point():
                t.lerp_(o, tau)
                o.copy_(t)
            else:
                t.copy_(o)


def hard_copy_through_float32(online, target, tau):
    """Copies through a float32 round trip: a hard copy of float64 weights is not exact."""
    with torch.no_grad():
        pairs = list(zip(target.parameters(), online.parameters(), strict=True))
        pairs += list(zip(target.buffers(), online.buffers(), strict=True))
        for t, o in pairs:
            if t.is_floating_point():
                t.copy_((tau * o.float() + (1.0 - tau) * t.float()).to(t.dtype))
            else:
                t.copy_(o)
