"""Wrong adaptive KL-penalty coefficients."""


def seed_rule(beta, kl, target_kl):
    """The seed's rule: doubles when ``kl > target/1.5`` (it should be ``> 1.5*target``), so
    beta grows whenever the KL is merely near its target."""
    if kl < target_kl / 1.5:
        return beta / 2
    if kl > target_kl / 1.5:
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


def upper_edge_at_one_point_six(beta, kl, target_kl):
    """Doubles only above ``1.6 * target`` (a misremembered constant): a KL between 1.5 and 1.6
    times the target is let through."""
    if kl < target_kl / 1.5:
        return beta / 2
    if kl > target_kl * 1.6:
        return beta * 2
    return beta


def lower_edge_at_target_over_one_point_four(beta, kl, target_kl):
    """Halves below ``target / 1.4`` instead of ``target / 1.5``: the band's lower edge is 7%
    too high."""
    if kl < target_kl / 1.4:
        return beta / 2
    if kl > target_kl * 1.5:
        return beta * 2
    return beta


def lower_edge_scaled_up(beta, kl, target_kl):
    """Writes the lower edge as ``target * 1.5`` (``*`` for ``/`` on one side): every KL below
    1.5 times the target halves beta, so beta never settles."""
    if kl < target_kl * 1.5:
        return beta / 2
    if kl > target_kl * 1.5:
        return beta * 2
    return beta


def absolute_slack_in_comparisons(beta, kl, target_kl):
    """Adds an absolute slack of 1e-6 to each comparison "against float noise": with a small
    target (1e-6 and below) the band no longer has the right edges."""
    if kl < target_kl / 1.5 - 1e-6:
        return beta / 2
    if kl > target_kl * 1.5 + 1e-6:
        return beta * 2
    return beta
