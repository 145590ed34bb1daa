"""Wrong dueling aggregations."""


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
