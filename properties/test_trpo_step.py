"""Properties of ``trpo_step``: one TRPO policy update, returned and left in the policy.

With ``pi_old`` the policy as given, ``L`` the importance-weighted surrogate and ``F`` the
Hessian of the mean ``KL(pi_old || pi)`` at ``theta_old``: ``x = (F + damping I)^-1 g`` by
conjugate gradient from 0, the KKT step ``s = sqrt(2 max_kl / x^T (F + damping I) x) x``, and
the first of ``theta_old + backtrack^j s`` (``j < max_backtracks``) whose mean KL is within
``max_kl`` and whose surrogate beats ``L(theta_old)``; else ``theta_old``.

Spec: Update contracts. Seed: :four: TRPO (主要代码, 线性搜索). Paper: Schulman et al. (2015),
appendix C.

Inputs (properties/trpo_step_checks.py): float64 categorical and diagonal-Gaussian MLP
policies of random widths (``policy_networks``; tiny ones with at most 36 parameters for
the step's direction and length), B from 1 to 32, ``log_prob_old`` the policy's own, standard
normal advantages (and all zero), ``max_kl`` log-uniform in ``[1e-4, 0.1]``, damping
log-uniform in ``[0.01, 1]``, backtrack 0.5, 0.8 or uniform in ``(0.1, 0.9)``,
``max_backtracks`` 1..15, ``cg_iters`` 1..20 (``P..2P`` on tiny policies). Tolerances: see
that module's docstring; both tie conventions of the line search are accepted.
"""

from __future__ import annotations

import torch
from hypothesis import given, settings

from drlspec.properties.assertions import FLOAT32_RTOL, assert_close
from drlspec.properties.trpo_step_checks import (
    TENSOR_INPUTS,
    Oracle,
    assert_first_acceptable_kkt_step,
    call,
    flat_parameters,
    on_device,
    run,
    trpo_inputs,
)

CONTRACT = "trpo_step"


@settings(max_examples=20)
@given(inputs=trpo_inputs())
def test_kl_within_bound(impl, device, inputs):
    """The mean KL(pi_old || pi_new) of the returned parameters is at most max_kl.

    Measured by the float64 oracle, within FLOAT32_RTOL (max_kl + the KL terms' magnitude);
    skipping the KL check after the line search, or measuring it against the wrong policy,
    accepts steps beyond the trust region."""
    result, _ = run(impl, inputs, device)
    oracle = Oracle(inputs)
    with torch.no_grad():
        kl = float(oracle.mean_kl(result))
    tolerance = oracle.kl_tolerance(result)
    assert kl <= oracle.max_kl + tolerance, (
        f"mean KL(pi_old || pi_new) = {kl!r} exceeds max_kl = {oracle.max_kl!r} (tolerance "
        f"{tolerance:.3g}); damping {oracle.damping!r}, backtrack {oracle.backtrack!r}, "
        f"max_backtracks {oracle.max_backtracks}"
    )


@settings(max_examples=20)
@given(inputs=trpo_inputs())
def test_surrogate_improves_or_unchanged(impl, device, inputs):
    """The surrogate at the returned parameters beats the old one, or nothing moved.

    L(theta) = mean_i exp(log pi_theta(a_i|s_i) - log_prob_old_i) A_i; within FLOAT32_RTOL
    mean_i (|rho_i A_i| + |A_i|), which also covers parameters left unchanged."""
    result, _ = run(impl, inputs, device)
    oracle = Oracle(inputs)
    with torch.no_grad():
        value = float(oracle.surrogate(result))
    tolerance = oracle.surrogate_tolerance(result)
    moved = float((result - oracle.theta0).abs().max())
    assert value > oracle.old_surrogate - tolerance, (
        f"the surrogate fell from {oracle.old_surrogate!r} to {value!r} (tolerance "
        f"{tolerance:.3g}) although the parameters moved (by up to {moved:.3g}): a step that "
        "does not improve must be refused"
    )


@settings(max_examples=15)
@given(inputs=trpo_inputs())
def test_returns_flat_parameters_left_in_policy(impl, device, inputs):
    """The result is a [P] vector equal to the policy's parameters afterwards.

    Flattened in policy.parameters() order, within FLOAT32_RTOL of their magnitude."""
    result, after = run(impl, inputs, device)
    assert_close(
        result,
        after,
        what="trpo_step's result vs the policy's parameters afterwards",
        tolerance=FLOAT32_RTOL * after.abs() + 2.0**-1000,
        axes=("p",),
    )


@settings(max_examples=25)
@given(inputs=trpo_inputs(tiny=True))
def test_step_is_first_acceptable_kkt_step(impl, device, inputs):
    """On tiny policies the step is backtrack^j times the KKT step along (F + damping I)^-1 g.

    F is the explicit Hessian of the mean KL at theta_old, j the first acceptable index of
    the backtracking sequence; an unchanged policy means no candidate is acceptable.
    Candidates too close to the KL or surrogate boundary to decide may go either way."""
    result, after = run(impl, inputs, device)
    assert_first_acceptable_kkt_step(result, after, inputs)


@settings(max_examples=10)
@given(inputs=trpo_inputs(zero_advantages=True))
def test_zero_advantages_leave_policy_unchanged(impl, device, inputs):
    """With all advantages zero the gradient is zero and the policy stays exactly as it was.

    Both the returned vector and the policy's parameters equal theta_old bit for bit."""
    result, after = run(impl, inputs, device)
    before = flat_parameters(inputs["policy"])
    for label, value in (("returned vector", result), ("policy's parameters", after)):
        if not torch.equal(value, before):
            moved = float((value - before).abs().max())
            raise AssertionError(
                f"with zero advantages the {label} moved by up to {moved:.3g}: g = 0 gives no step"
            )


@settings(max_examples=10)
@given(inputs=trpo_inputs())
def test_inputs_not_modified(impl, device, inputs):
    """Observations, actions, log_prob_old and advantages are not modified."""
    given_inputs = on_device(inputs, device)
    before = {name: given_inputs[name].detach().cpu().clone() for name in TENSOR_INPUTS}
    call(impl, given_inputs)
    for name in TENSOR_INPUTS:
        after = given_inputs[name].detach().cpu()
        assert after.dtype == before[name].dtype and torch.equal(after, before[name]), (
            f"trpo_step modified its argument {name}"
        )
