"""Wrong dueling aggregations."""

import torch


def no_centering(value, advantages, mode):
    """``V + A``: the unidentifiable sum the seed warns about (建模不唯一性)."""
    return value + advantages


def centered_over_batch(value, advantages, mode):
    """``mean(0)`` instead of ``mean(1)``: centres each action over the batch."""
    if mode == "max":
        return value + advantages - advantages.max(dim=0, keepdim=True).values
    return value + advantages - advantages.mean(dim=0, keepdim=True)


def mode_ignored(value, advantages, mode):
    """Always mean-centres, whatever ``mode`` asks for."""
    return value + advantages - advantages.mean(dim=1, keepdim=True)


def global_mean(value, advantages, mode):
    """``advantages.mean()`` with no dim: one baseline for the whole batch."""
    if mode == "max":
        return value + advantages - advantages.max()
    return value + advantages - advantages.mean()


def value_broadcast_wrong(value, advantages, mode):
    """``value.squeeze()`` then ``+``: a [B] value broadcasts along actions, not states.

    Silently wrong when B == A; a shape error otherwise (unless B == 1).
    """
    baseline = (
        advantages.mean(dim=1, keepdim=True)
        if mode == "mean"
        else advantages.max(dim=1, keepdim=True).values
    )
    return value.squeeze() + advantages - baseline


def value_counted_twice_in_mean(value, advantages, mode):
    """Centres Q instead of A: ``V + A - mean(V + A)`` loses V entirely."""
    q_values = value + advantages
    if mode == "max":
        return q_values - q_values.max(dim=1, keepdim=True).values
    return q_values - q_values.mean(dim=1, keepdim=True)


_MAX = "max"


def mode_compared_by_identity(value, advantages, mode):
    """``if mode is MAX``: true for the interned literal, false for "max" read from a config.

    Every other mode string falls through to mean-centring.
    """
    if mode is _MAX:
        return value + advantages - advantages.max(dim=1, keepdim=True).values
    return value + advantages - advantages.mean(dim=1, keepdim=True)


def baseline_detached(value, advantages, mode):
    """Detaches the baseline (``.detach()`` "to stabilise"): right Q, wrong gradient.

    The advantages stream then learns ``dL/dA = w`` instead of the centred gradient.
    """
    if mode == "max":
        baseline = advantages.max(dim=1, keepdim=True).values
    else:
        baseline = advantages.mean(dim=1, keepdim=True)
    return value + advantages - baseline.detach()


def max_over_batch_in_max_mode(value, advantages, mode):
    """Right in mean mode; in max mode ``max(0)`` for ``max(1)``, broadcast back per action.

    ``amax(0, keepdim=True)`` is [1, A]: it subtracts each action's max over the batch.
    """
    if mode == "max":
        return value + advantages - advantages.amax(dim=0, keepdim=True)
    return value + advantages - advantages.mean(dim=1, keepdim=True)


def smooth_max_baseline(value, advantages, mode):
    """``logsumexp`` as the max: equal only when one action leads by much more than 1."""
    if mode == "max":
        return value + advantages - advantages.logsumexp(dim=1, keepdim=True)
    return value + advantages - advantages.mean(dim=1, keepdim=True)


def advantages_clipped(value, advantages, mode):
    """Clamps the advantage stream to [-100, 100] before centring (a stability hack)."""
    advantages = advantages.clamp(-100.0, 100.0)
    if mode == "max":
        return value + advantages - advantages.max(dim=1, keepdim=True).values
    return value + advantages - advantages.mean(dim=1, keepdim=True)


def mean_excludes_last_action(value, advantages, mode):
    """Averages ``A[:, :-1]`` (a no-op column left out): the mean is wrong in one column."""
    if mode == "max":
        return value + advantages - advantages.max(dim=1, keepdim=True).values
    kept = advantages[:, : max(advantages.shape[1] - 1, 1)]
    return value + advantages - kept.mean(dim=1, keepdim=True)


def last_row_not_centred(value, advantages, mode):
    """A loop over states with ``range(B - 1)``: the last state keeps ``V + A``."""
    q_values = value + advantages
    rows = []
    for i in range(advantages.shape[0]):
        row = q_values[i]
        if i < advantages.shape[0] - 1:
            row = row - (advantages[i].max() if mode == "max" else advantages[i].mean())
        rows.append(row)
    return torch.stack(rows)


def max_gathered_at_half_precision_argmax(value, advantages, mode):
    """The max gathered at the argmax of a float16 copy (an autocast region around argmax).

    float16 merges advantages less than 2**-11 apart: the baseline is then a near-tied
    runner-up. Q is off by the small gap; the gradient goes to the wrong action.
    """
    if mode == "mean":
        return value + advantages - advantages.mean(dim=1, keepdim=True)
    greedy = advantages.half().argmax(dim=1, keepdim=True)
    return value + advantages - advantages.gather(1, greedy)
