"""Properties of ``ppo_clip_objective``: ``mean(min(rho*A, clip(rho, 1-eps, 1+eps)*A))``,
``rho = exp(log_prob_new - log_prob_old)``, to be maximised.

Spec: Policy losses and distributions. Seed: :five: PPO / PPO-Clip. Paper: Schulman et al.
(2017), eq. 7.

Inputs (properties/policy_strategies.py): batches of 1 to 300 (1024 to 4096 in
``test_large_batch``), every row its own values; old log-probabilities from the moderate
(``[-10, 2]``), deep (``-10^U`` down to the floor) and floor regimes (``[-1000, -709]`` in
float64, ``[-120, -88]`` in float32, where ``exp(log_prob)`` is subnormal or 0, so a ratio
formed as ``exp(new) / exp(old)`` is wrong or ``0/0``); log-ratios in ``[-3, 3]``; advantages of
both signs with magnitudes log-uniform in ``[1e-6, 1e3]`` and exact zeros; ``clip_eps`` from
``{0, 0.1, 0.2, 0.3}``, log-uniform in ``[1e-4, 0.99]``, ``1 - 10^-k`` and ``[0, 2]``
(``eps > 1`` makes the lower clip bound negative). ``test_gradient_a_hair_from_clip_boundaries``
puts every ratio at ``(1 ± eps)(1 ± delta)`` with ``delta`` log-uniform in ``[1e-7, 1e-2]``.

Tolerances, derived. Rounding a log-probability of magnitude ``L`` to float32 moves it by up to
``u L`` (``u = 2**-24``), so an implementation computing in float32 has the log-ratio off by
``u (|new| + |old|)`` and, through ``exp``, the ratio off by the same relative amount (1.2e-4 at
``L = 1000``: the ratio's own conditioning, not slack). Each term ``min(rho A, clip(rho) A)`` is
therefore within ``m_i (FLOAT32_RTOL + 4u(|new_i| + |old_i|))`` of its float64 value, with
``m_i = |A_i| max(rho_i, 1)`` (the clip bounds ``1 ± eps`` round relative to 1); the mean is
within the mean of those plus ``FLOAT32_RTOL max_i m_i`` for the summation. The gradient
``rho_i A_i / B`` is judged element by element with the same relative bound, so a bug confined
to one row shows however large the batch. Where a ratio is within ``4u(1 + |new| + |old|)`` of a
clip bound (relative to ``max(rho, 1)``) a float32 implementation may put it on either side,
and any value between the two one-sided derivatives (0 and ``rho A / B``; ``torch.minimum``
splits a tie) is accepted there.
"""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from drlspec.properties.assertions import FLOAT32_RTOL, as_cpu_tensor, assert_close
from drlspec.properties.policy_strategies import (
    U32,
    large_batches,
    log_prob_pairs,
    policy_batches,
    signed_values,
)
from drlspec.properties.strategies import float_dtypes, log_uniform, torch_generators

CONTRACT = "ppo_clip_objective"

clip_epsilons = st.one_of(
    st.sampled_from([0.0, 0.1, 0.2, 0.3]),
    log_uniform(1e-4, 0.99),
    st.integers(1, 7).map(lambda k: 1.0 - 10.0**-k),
    st.floats(0.0, 2.0),
)


@st.composite
def ppo_inputs(draw: st.DrawFn, batches=policy_batches, regime: str | None = None) -> dict:
    batch = draw(batches)
    dtype = draw(float_dtypes)
    new, old = draw(log_prob_pairs(batch, dtype, regime=regime))
    return {
        "log_prob_new": new,
        "log_prob_old": old,
        "advantages": draw(signed_values(batch, dtype)),
        "clip_eps": draw(clip_epsilons),
    }


def ratios(inputs: dict) -> torch.Tensor:
    """rho = exp(new - old) in float64 (the difference of two floats is exact or nearly)."""
    return torch.exp(inputs["log_prob_new"].double() - inputs["log_prob_old"].double())


def oracle_terms(inputs: dict) -> torch.Tensor:
    """min(rho A, clip(rho, 1-eps, 1+eps) A) per sample, vectorised in float64."""
    rho, advantages, eps = ratios(inputs), inputs["advantages"].double(), inputs["clip_eps"]
    return torch.minimum(rho * advantages, rho.clamp(1.0 - eps, 1.0 + eps) * advantages)


def oracle(inputs: dict) -> torch.Tensor:
    return oracle_terms(inputs).mean()


def surrogate(inputs: dict) -> torch.Tensor:
    """The unclipped surrogate mean(rho * A), in float64."""
    return (ratios(inputs) * inputs["advantages"].double()).mean()


def _conditioning(inputs: dict) -> torch.Tensor:
    """4u(|new| + |old|): relative error of a ratio formed from float32-rounded log-probs."""
    return 4 * U32 * (inputs["log_prob_new"].double().abs() + inputs["log_prob_old"].double().abs())


def value_tolerance(inputs: dict) -> torch.Tensor:
    """Bound on a float32 implementation's error in the mean (module docstring)."""
    magnitudes = inputs["advantages"].double().abs() * ratios(inputs).clamp(min=1.0)
    summation = FLOAT32_RTOL * magnitudes.max()
    return summation + (magnitudes * (FLOAT32_RTOL + _conditioning(inputs))).mean()


def _call(impl, inputs: dict, device: str, **overrides):
    args = dict(inputs, **overrides)
    return impl(
        args["log_prob_new"].to(device),
        args["log_prob_old"].to(device),
        args["advantages"].to(device),
        args["clip_eps"],
    )


def _assert_value(result, expected: torch.Tensor, inputs: dict, what: str) -> None:
    assert_close(result, expected, what=what, tolerance=value_tolerance(inputs))


@given(inputs=ppo_inputs())
def test_matches_definition(impl, device, inputs):
    """Equals mean(min(rho*A, clip(rho, 1-eps, 1+eps)*A)), also with log-probs near -1000."""
    _assert_value(_call(impl, inputs, device), oracle(inputs), inputs, "ppo_clip_objective")


@given(inputs=ppo_inputs(regime="floor"))
def test_ratio_from_log_probabilities_near_the_floor(impl, device, inputs):
    """Log-probs where exp underflows (float64 < -709, float32 < -88): rho = exp(new - old)
    is still exact, so the objective is finite and exact; exp(new)/exp(old) is 0/0 there."""
    _assert_value(
        _call(impl, inputs, device),
        oracle(inputs),
        inputs,
        "ppo_clip_objective with log-probabilities near the float floor",
    )


@st.composite
def inputs_inside_clip_range(draw: st.DrawFn) -> dict:
    """Every ratio in [1 - eps, 1 + eps]; eps = 0 puts every ratio at exactly 1."""
    inputs = draw(ppo_inputs())
    eps = draw(st.one_of(st.just(0.0), log_uniform(1e-4, 0.9), st.floats(0.0, 0.9)))
    generator = draw(torch_generators)
    batch = inputs["log_prob_old"].shape[0]
    position = torch.rand(batch, generator=generator, dtype=torch.float64)
    old = inputs["log_prob_old"]
    new = (old.double() + torch.log(1.0 - eps + 2.0 * eps * position)).to(old.dtype)
    return dict(inputs, log_prob_new=new, clip_eps=eps)


@given(inputs=inputs_inside_clip_range())
def test_equals_surrogate_inside_clip_range(impl, device, inputs):
    """While every ratio lies in [1-eps, 1+eps], the objective is the surrogate mean(rho*A)."""
    _assert_value(
        _call(impl, inputs, device),
        surrogate(inputs),
        inputs,
        "clipped objective with every ratio inside the clip range",
    )


@given(inputs=ppo_inputs())
def test_never_exceeds_surrogate(impl, device, inputs):
    """The clipped objective is a pessimistic bound: never above the surrogate mean(rho*A)."""
    value = as_cpu_tensor(_call(impl, inputs, device), "ppo_clip_objective").item()
    bound = surrogate(inputs).item()
    tolerance = value_tolerance(inputs).item()
    assert value <= bound + tolerance, (
        f"clipped objective {value!r} exceeds the unclipped surrogate {bound!r} by more than "
        f"the float32 tolerance {tolerance:.3g}: the min (pessimism) of PPO-Clip is missing"
    )


@given(inputs=ppo_inputs(), eps=st.one_of(st.floats(25.0, 1e6), log_uniform(25.0, 1e12)))
def test_huge_eps_recovers_surrogate(impl, device, inputs, eps):
    """With eps beyond every ratio (ratios here are at most e^3 < 21), nothing is clipped."""
    _assert_value(
        _call(impl, inputs, device, clip_eps=eps),
        surrogate(inputs),
        inputs,
        f"clipped objective with clip_eps={eps}",
    )


def expected_gradient(inputs: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(gradient, ambiguous, tolerance) of the objective w.r.t. log_prob_new, per sample.

    The gradient is rho*A/B where the clip does not bind and 0 where it does (A > 0 and
    rho > 1+eps, or A < 0 and rho < 1-eps); ``ambiguous`` marks ratios within float32 reach of
    a clip bound, where anything between the two one-sided derivatives is accepted."""
    rho, advantages, eps = ratios(inputs), inputs["advantages"].double(), inputs["clip_eps"]
    batch = rho.shape[0]
    binds = ((advantages > 0) & (rho > 1.0 + eps)) | ((advantages < 0) & (rho < 1.0 - eps))
    free = rho * advantages / batch
    reach = (U32 * 4 + _conditioning(inputs)) * rho.clamp(min=1.0)
    near = lambda bound: (rho - bound).abs() <= reach  # noqa: E731
    ambiguous = near(1.0 + eps) | near(1.0 - eps)
    tolerance = free.abs() * (FLOAT32_RTOL + _conditioning(inputs))
    return torch.where(binds, 0.0, free), ambiguous, tolerance


def _assert_gradient(grad: torch.Tensor | None, inputs: dict) -> None:
    assert grad is not None, "the objective carries no gradient to log_prob_new"
    actual = as_cpu_tensor(grad, "gradient")
    expected, ambiguous, tolerance = expected_gradient(inputs)
    rho, advantages = ratios(inputs), inputs["advantages"].double()
    free = rho * advantages / rho.shape[0]
    low, high = torch.minimum(free, torch.zeros_like(free)), torch.maximum(free, 0 * free)
    # Near a bound: any value between the one-sided derivatives 0 and rho*A/B.
    clamped = torch.where(ambiguous, actual.clamp(min=low, max=high), expected)
    wrong = (actual - clamped).abs() > tolerance
    if actual.shape != expected.shape or not torch.isfinite(actual).all() or wrong.any():
        assert actual.shape == expected.shape, f"gradient has shape {list(actual.shape)}"
        index = int(torch.where(torch.isfinite(actual), wrong, True).int().argmax())
        raise AssertionError(
            f"gradient w.r.t. log_prob_new[b={index}] is {actual[index].item()!r}, expected "
            f"{expected[index].item()!r} (rho={rho[index].item()!r}, A="
            f"{advantages[index].item()!r}, eps={inputs['clip_eps']!r}; 0 where the clip binds, "
            f"rho*A/B elsewhere; tolerance {tolerance[index].item():.3g})"
        )


def _gradient(impl, inputs: dict, device: str) -> torch.Tensor | None:
    log_prob_new = inputs["log_prob_new"].detach().to(device).requires_grad_(True)
    _call(impl, inputs, device, log_prob_new=log_prob_new).backward()
    return log_prob_new.grad


@given(inputs=ppo_inputs())
def test_gradient_zero_exactly_where_clip_binds(impl, device, inputs):
    """d/d log_prob_new is 0 where the clip binds (A>0, rho>1+eps; A<0, rho<1-eps), else rho*A/B,
    row by row, at every magnitude of the log-probabilities."""
    _assert_gradient(_gradient(impl, inputs, device), inputs)


@st.composite
def inputs_a_hair_from_clip_boundaries(draw: st.DrawFn) -> dict:
    """Each ratio at (1 ± eps)(1 ± delta), delta log-uniform in [1e-7, 1e-2], per row."""
    inputs = draw(ppo_inputs(regime=draw(st.sampled_from(["moderate", "moderate", "mixed"]))))
    eps = draw(
        st.one_of(
            st.sampled_from([0.1, 0.2, 0.3]),
            log_uniform(1e-4, 0.99),
            st.integers(1, 7).map(lambda k: 1.0 - 10.0**-k),
        )
    )
    generator = draw(torch_generators)
    batch = inputs["log_prob_old"].shape[0]
    upper = torch.rand(batch, generator=generator) < 0.5
    bound = torch.where(upper, 1.0 + eps, 1.0 - eps).to(torch.float64)
    delta = 10.0 ** (-7.0 + 5.0 * torch.rand(batch, generator=generator, dtype=torch.float64))
    outside = torch.where(torch.rand(batch, generator=generator) < 0.5, 1.0, -1.0)
    rho = bound * (1.0 + outside * delta)
    old = inputs["log_prob_old"]
    new = (old.double() + torch.log(rho)).to(old.dtype)
    return dict(inputs, log_prob_new=new, clip_eps=eps)


@given(inputs=inputs_a_hair_from_clip_boundaries())
def test_gradient_a_hair_from_clip_boundaries(impl, device, inputs):
    """Ratios within a relative 1e-7..1e-2 of 1 ± eps: the value is exact and the gradient is
    0 exactly on the binding side of each bound (a clip at the wrong place, e.g. on the
    log-ratio at ±eps, moves the kink by eps²/2 and is caught)."""
    _assert_value(
        _call(impl, inputs, device), oracle(inputs), inputs, "objective a hair from 1 ± eps"
    )
    _assert_gradient(_gradient(impl, inputs, device), inputs)


@given(inputs=ppo_inputs(batches=large_batches))
@settings(max_examples=4)
def test_large_batch(impl, device, inputs):
    """B from 1024 to 4096: value and per-row gradient still exact (blocked or chunked means,
    a short last block, a bug past row 32 or in the last row are caught)."""
    _assert_value(_call(impl, inputs, device), oracle(inputs), inputs, "objective, large batch")
    _assert_gradient(_gradient(impl, inputs, device), inputs)


@given(inputs=ppo_inputs(), copies=st.integers(2, 4))
def test_mean_not_sum(impl, device, inputs, copies):
    """Repeating the whole batch leaves the objective unchanged."""
    once = as_cpu_tensor(_call(impl, inputs, device), "ppo_clip_objective")
    repeated = {
        key: value.repeat(copies) if isinstance(value, torch.Tensor) else value
        for key, value in inputs.items()
    }
    assert_close(
        _call(impl, repeated, device),
        once,
        what="objective of the repeated batch",
        tolerance=2 * value_tolerance(inputs),
    )
