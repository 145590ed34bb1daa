"""Wrong adaptive KL-penalty coefficients."""


def seed_rule(beta, kl, target_kl):
    """The seed's rule: doubles when ``kl > target/1.5`` (it should be ``> 1.5*target``), so
    beta grows whenever the KL is merely near its target."""
    if kl < target_kl / 1.5:
        return beta / 2
    if kl > target_kl / 1.5:
        return beta * 2
    return beta


def boundaries_inclusive(beta, kl, target_kl):
    """Uses ``<=``/``>=``: at exactly ``target/1.5`` or ``1.5*target`` beta changes."""
    if kl <= target_kl / 1.5:
        return beta / 2
    if kl >= target_kl * 1.5:
        return beta * 2
    return beta


def factor_one_and_a_half(beta, kl, target_kl):
    """Scales beta by the threshold factor 1.5 instead of 2."""
    if kl < target_kl / 1.5:
        return beta / 1.5
    if kl > target_kl * 1.5:
        return beta * 1.5
    return beta


def halves_and_doubles_swapped(beta, kl, target_kl):
    """Doubles the penalty when the policy barely moved and halves it when it moved too far."""
    if kl < target_kl / 1.5:
        return beta * 2
    if kl > target_kl * 1.5:
        return beta / 2
    return beta


def thresholds_factor_two(beta, kl, target_kl):
    """Uses a band ``[target/2, 2*target]`` instead of ``[target/1.5, 1.5*target]``."""
    if kl < target_kl / 2:
        return beta / 2
    if kl > target_kl * 2:
        return beta * 2
    return beta
