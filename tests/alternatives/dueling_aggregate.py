"""Correct dueling aggregations written differently from the reference."""


def numpy_keepdims(value, advantages, mode):
    """numpy with ``keepdims``."""
    if mode == "mean":
        return value + (advantages - advantages.mean(axis=1, keepdims=True))
    return value + (advantages - advantages.max(axis=1, keepdims=True))


def centred_then_added(value, advantages, mode):
    """Centre the advantages first, then add V (another association order)."""
    if mode == "mean":
        centred = advantages - advantages.sum(dim=1, keepdim=True) / advantages.shape[1]
    else:
        centred = advantages - advantages.amax(dim=1, keepdim=True)
    return centred + value
