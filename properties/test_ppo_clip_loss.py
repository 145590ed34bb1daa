"""Properties of ``ppo_clip_loss``: PPO-Clip's minibatch loss from a policy and a value network.

``L = -mean_i min(rho_i A_i, clip(rho_i, 1-eps, 1+eps) A_i) + vf_coef k mean_i (V(s_i) - R_i)^2
- ent_coef mean_i H(pi(.|s_i))``, ``rho = exp(log pi(a|s) - log_prob_old)``, ``k = 1/2``
(CleanRL) or ``k = 1`` (PPO paper, stable-baselines3), one ``k`` for value and gradient;
``log_prob_old``, advantages and returns are constants, advantages used as given.

Spec: Update contracts. Seed: :five: PPO / PPO-Clip (主要代码). Paper: Schulman et al. (2017),
eq. 9.

Inputs and tolerances: properties/ppo_loss_checks.py (discrete and continuous float64 policies
of random widths, B from 1 to 32, ratios inside, on and outside the clip range, advantages of
both signs and 0, clip_eps in {0, 0.1, 0.2, 10} and uniform, coefficients 0 and positive;
``FLOAT32_RTOL`` of the magnitudes each value or gradient element combines).
"""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from drlspec.properties.ppo_loss_checks import (
    STORED,
    assert_gradients,
    assert_loss,
    assert_unmodified,
    backward,
    call,
    current_log_probs,
    on_device,
    oracle,
    ppo_batches,
    ratios_for,
    state,
    with_ratios,
)

CONTRACT = "ppo_clip_loss"

# Ratios at 1 must be strictly inside the clip range (eps > 0, away from rounding).
_POSITIVE_EPSILONS = st.one_of(st.sampled_from([0.1, 0.2, 10.0]), st.floats(0.01, 1.0))


def _loss_and_gradients(impl, inputs: dict, device: str, what: str, hint: str = "") -> None:
    """Value, then both networks' gradients, against the oracle."""
    given_inputs = on_device(inputs, device)
    result = call(impl, given_inputs)
    o = oracle(inputs, gradients=True)
    factors = assert_loss(result, inputs, what, o)
    backward(result, what)
    assert_gradients(given_inputs, o, factors, what, hint)


@given(inputs=ppo_batches())
def test_matches_definition(impl, device, inputs):
    """The loss is -mean min(rho A, clip(rho) A) + vf_coef k mean (V - R)^2 - ent_coef mean H.

    k = 1/2 or 1; ratios inside, exactly on and outside [1 - eps, 1 + eps], advantages of both
    signs and 0, clip_eps 0 to 10; advantages used as given (not normalised)."""
    assert_loss(call(impl, on_device(inputs, device)), inputs, CONTRACT)


@given(inputs=ppo_batches(floor=True))
def test_ratio_from_log_probabilities_near_the_floor(impl, device, inputs):
    """With log pi(a|s) in [-1000, -750] the loss is still exact: rho = exp(log pi - old).

    exp(log pi) / exp(log_prob_old) is 0/0 there (continuous actions far in the tails)."""
    what = "ppo_clip_loss with log-probabilities below log(smallest float64)"
    assert_loss(call(impl, on_device(inputs, device)), inputs, what)


@given(inputs=ppo_batches(boundaries=False))
def test_gradient_matches_reference(impl, device, inputs):
    """The gradients w.r.t. the policy and the value network are those of the definition.

    Policy: -(1/B) sum_i [clip binds ? 0 : rho_i A_i] grad log pi_i - ent_coef grad mean H;
    value network: vf_coef 2k (1/B) sum_i (V_i - R_i) grad V_i (the k of the value). Ratios
    at least 1e-3 from a clip bound, where the one-sided gradients differ."""
    _loss_and_gradients(impl, inputs, device, "ppo_clip_loss")


@given(inputs=ppo_batches(boundaries=False, clip_eps=_POSITIVE_EPSILONS))
def test_ratio_one_gives_plain_policy_gradient(impl, device, inputs):
    """At ratio 1 the policy gradient is the plain estimator -(1/B) sum_i A_i grad log pi_i.

    log_prob_old is the current policy's own log-probability, vf_coef = ent_coef = 0: the loss
    is -mean A, and the value network gets no gradient."""
    inputs = dict(inputs, log_prob_old=current_log_probs(inputs), vf_coef=0.0, ent_coef=0.0)
    _loss_and_gradients(impl, inputs, device, "ppo_clip_loss at ratio 1 (vf_coef = ent_coef = 0)")


@st.composite
def clipped_batches(draw: st.DrawFn) -> dict:
    """Every ratio past the bound its advantage pushes towards: every sample clipped."""
    eps = draw(st.one_of(st.sampled_from([0.0, 0.1, 0.2]), st.floats(0.0, 0.9)), label="eps")
    inputs = draw(ppo_batches(boundaries=False))
    batch = inputs["advantages"].shape[0]
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**32 - 1), label="seed"))
    positive = torch.rand(batch, generator=generator) < 0.5
    magnitude = inputs["advantages"].abs() + 0.1
    advantages = torch.where(positive, magnitude, -magnitude)
    kinds = torch.where(positive, 1, 2)  # KINDS: 1 "above", 2 "below"
    rho = ratios_for(kinds, eps, generator, boundaries=False)
    inputs = dict(inputs, advantages=advantages, clip_eps=eps, vf_coef=0.0, ent_coef=0.0)
    return with_ratios(inputs, rho)


@given(inputs=clipped_batches())
def test_clips_against_the_given_old_log_probabilities(impl, device, inputs):
    """The ratio uses the given log_prob_old: a policy moved past the clip range is clipped.

    Every ratio is beyond 1 + eps with A > 0 or below 1 - eps with A < 0: the loss is
    -(1/B) sum_i clip(rho_i) A_i and the policy gradient 0 (vf_coef = ent_coef = 0). Old
    log-probabilities recomputed from the current policy make every ratio 1 instead."""
    _loss_and_gradients(
        impl,
        inputs,
        device,
        "ppo_clip_loss with every sample clipped",
        " (a nonzero gradient where every sample is clipped: are the old log-probabilities "
        "recomputed from the current policy, so every ratio is 1 and nothing is clipped?)",
    )


@given(inputs=ppo_batches())
def test_stored_inputs_carry_no_gradient(impl, device, inputs):
    """log_prob_old, advantages and returns are constants: no gradient reaches them.

    Passed as leaves that require gradient, their .grad stays None or zero after backward."""
    given_inputs = on_device(inputs, device, stored_leaves=True)
    result = call(impl, given_inputs)
    assert_loss(result, inputs, "ppo_clip_loss with stored inputs that require grad")
    backward(result, CONTRACT)
    why = {
        "log_prob_old": "log_prob_old not detached: the ratio's gradient also flows into the "
        "old policy's log-probabilities (the first epoch's ratio gradient cancels when they "
        "come from the same graph)",
        "advantages": "advantages not detached: whatever computed them (a critic) is trained "
        "by the policy loss",
        "returns": "returns not detached: the value regression target carries gradient",
    }
    for name in STORED:
        grad = given_inputs[name].grad
        if grad is not None and bool((grad != 0).any()):
            raise AssertionError(
                f"{name} received a gradient (largest {grad.abs().max().item():.3g}): {why[name]}"
                " (the contract takes it as a constant: code that relies on its caller's "
                "no_grad, as CleanRL's ppo.py does, must detach it)"
            )


@st.composite
def entropy_batches(draw: st.DrawFn) -> dict:
    inputs = draw(ppo_batches(boundaries=False))
    ent_coef = draw(st.one_of(st.sampled_from([0.01, 0.5]), st.floats(0.01, 1.0)), label="c_e")
    zeros = torch.zeros_like(inputs["advantages"])
    return dict(inputs, advantages=zeros, vf_coef=0.0, ent_coef=ent_coef)


@given(inputs=entropy_batches())
def test_entropy_term_raises_entropy(impl, device, inputs):
    """The entropy bonus raises entropy: a small gradient step on the loss increases mean H.

    With A = 0 and vf_coef = 0 the policy gradient is -ent_coef grad mean H (the loss subtracts
    the bonus), so its step changes mean H at rate ent_coef |grad mean H|^2 > 0."""
    given_inputs = on_device(inputs, device)
    result = call(impl, given_inputs)
    o = oracle(inputs, gradients=True)
    what = "ppo_clip_loss with A = 0, vf_coef = 0"
    factors = assert_loss(result, inputs, what, o)
    backward(result, what)
    grads = {n: p.grad for n, p in given_inputs["policy"].named_parameters()}
    # First-order change of mean H along -grad L: -sum grad L . grad mean H (must be > 0).
    rise = 0.0
    size = 0.0
    for name, rows in o.d_entropies.items():
        d_mean_h = rows.mean(0)
        size += float(d_mean_h.pow(2).sum())
        if grads[name] is not None:
            rise -= float((grads[name].detach().cpu().double() * d_mean_h).sum())
    if size > 1e-12 and rise <= 0.0:
        raise AssertionError(
            f"{what}: a gradient step on the loss changes the mean entropy at rate {rise:.4g} "
            f"(expected +ent_coef |grad mean H|^2 = {o.ent_coef * size:.4g} > 0): the entropy "
            "bonus has the wrong sign (the loss must subtract ent_coef * mean H) or is missing"
        )
    assert_gradients(given_inputs, o, factors, what)


@given(inputs=ppo_batches(boundaries=False), which=st.sampled_from(["policy", "value"]))
def test_terms_reach_only_their_network_and_nothing_is_modified(impl, device, inputs, which):
    """Each term reaches only its network, and neither network is modified.

    vf_coef = 0: the value network's gradients stay None or zero (the policy terms give it
    none); A = 0 and ent_coef = 0 (only the value term left): the policy's stay None or zero.
    Computing the loss and backward change no parameter or buffer of either network."""
    if which == "policy":
        inputs = dict(inputs, vf_coef=0.0)
        network, what = "value_network", "the policy terms (vf_coef = 0)"
    else:
        zeros = torch.zeros_like(inputs["advantages"])
        inputs = dict(inputs, advantages=zeros, ent_coef=0.0)
        network, what = "policy", "the value term (A = 0, ent_coef = 0)"
    given_inputs = on_device(inputs, device)
    before = {key: state(given_inputs[key]) for key in ("policy", "value_network")}
    result = call(impl, given_inputs)
    assert_loss(result, inputs, f"ppo_clip_loss with only {what}")
    backward(result, CONTRACT)
    for key, saved in before.items():
        assert_unmodified(saved, given_inputs[key], key)
    for name, parameter in given_inputs[network].named_parameters():
        if parameter.grad is not None and bool((parameter.grad != 0).any()):
            raise AssertionError(
                f"{network}.{name} received a gradient from {what} (largest "
                f"{parameter.grad.abs().max().item():.3g}): each term must reach only its own "
                "network (a shared graph, an undetached value inside the advantage?)"
            )
