"""Properties of ``ppo_clip_objective``: ``mean(min(rho*A, clip(rho, 1-eps, 1+eps)*A))``,
``rho = exp(log_prob_new - log_prob_old)``, to be maximised.

Spec: Policy losses and distributions. Seed: :five: PPO / PPO-Clip. Paper: Schulman et al.
(2017), eq. 7.

Inputs: old log-probabilities in ``[-10, 2]``, log-ratios in ``[-3, 3]`` (ratios from 0.05 to
20: far past any clip range a real update reaches), advantages in ``[-10, 10]``, and
``clip_eps`` from ``{0, 0.1, 0.2}`` or ``[0, 2]`` (``eps = 0`` and ``eps > 1``, where the
lower clip bound is negative, are allowed). The gradient property draws each ratio at least
5% away from the clip boundaries, where the clipped objective has a kink and either one-sided
derivative is a correct answer.

Tolerances: agreement at float32 accuracy relative to the largest ``|rho * A|`` (the
assertions module's ``FLOAT32_RTOL``): ``exp`` turns the rounding of ``new - old`` (about
``1e-6`` absolute in float32 at these magnitudes) into a relative error of the same size.
"""

from __future__ import annotations

import math

import torch
from hypothesis import given
from hypothesis import strategies as st

from properties.assertions import FLOAT32_RTOL, as_cpu_tensor, assert_close
from properties.strategies import batch_sizes, float_dtypes, real_tensors

CONTRACT = "ppo_clip_objective"

clip_epsilons = st.one_of(st.sampled_from([0.0, 0.1, 0.2]), st.floats(0.0, 2.0))


@st.composite
def ppo_inputs(draw: st.DrawFn, log_ratio_bound: float = 3.0) -> dict:
    batch = draw(batch_sizes)
    dtype = draw(float_dtypes)
    old = draw(real_tensors((batch,), dtype, bound=10.0)).clamp(max=2.0)
    log_ratio = draw(real_tensors((batch,), dtype, bound=log_ratio_bound))
    return {
        "log_prob_new": old + log_ratio,
        "log_prob_old": old,
        "advantages": draw(real_tensors((batch,), dtype, bound=10.0)),
        "clip_eps": draw(clip_epsilons),
    }


def _ratios(inputs: dict) -> list[float]:
    new, old = inputs["log_prob_new"].tolist(), inputs["log_prob_old"].tolist()
    return [math.exp(n - o) for n, o in zip(new, old, strict=True)]


def oracle(log_prob_new, log_prob_old, advantages, clip_eps) -> torch.Tensor:
    """The definition, one sample at a time, in float64."""
    ratios = _ratios({"log_prob_new": log_prob_new, "log_prob_old": log_prob_old})
    terms = []
    for rho, adv in zip(ratios, advantages.tolist(), strict=True):
        clipped = min(max(rho, 1.0 - clip_eps), 1.0 + clip_eps)
        terms.append(min(rho * adv, clipped * adv))
    return torch.tensor(sum(terms) / len(terms), dtype=torch.float64)


def surrogate(inputs: dict) -> torch.Tensor:
    """The unclipped surrogate mean(rho * A), in float64."""
    products = [r * a for r, a in zip(_ratios(inputs), inputs["advantages"].tolist(), strict=True)]
    return torch.tensor(sum(products) / len(products), dtype=torch.float64)


def _scale(inputs: dict) -> float:
    return max(
        abs(r * a) for r, a in zip(_ratios(inputs), inputs["advantages"].tolist(), strict=True)
    )


def _call(impl, inputs: dict, device: str, **overrides):
    args = dict(inputs, **overrides)
    return impl(
        args["log_prob_new"].to(device),
        args["log_prob_old"].to(device),
        args["advantages"].to(device),
        args["clip_eps"],
    )


@given(inputs=ppo_inputs())
def test_matches_definition(impl, device, inputs):
    """Equals mean(min(rho*A, clip(rho, 1-eps, 1+eps)*A)), computed sample by sample."""
    assert_close(
        _call(impl, inputs, device),
        oracle(**inputs),
        what="ppo_clip_objective",
        scale=_scale(inputs),
    )


@st.composite
def inputs_inside_clip_range(draw: st.DrawFn) -> dict:
    """Every ratio in [1 - eps, 1 + eps]; eps = 0 puts every ratio at exactly 1."""
    inputs = draw(ppo_inputs())
    eps = draw(st.one_of(st.just(0.0), st.floats(0.0, 0.9)))
    batch = inputs["log_prob_old"].shape[0]
    positions = draw(st.lists(st.floats(0.0, 1.0), min_size=batch, max_size=batch))
    ratios = torch.tensor([1.0 - eps + 2.0 * eps * u for u in positions], dtype=torch.float64)
    old = inputs["log_prob_old"]
    new = (old.double() + torch.log(ratios)).to(old.dtype)
    return dict(inputs, log_prob_new=new, clip_eps=eps)


@given(inputs=inputs_inside_clip_range())
def test_equals_surrogate_inside_clip_range(impl, device, inputs):
    """While every ratio lies in [1-eps, 1+eps], the objective is the surrogate mean(rho*A)."""
    assert_close(
        _call(impl, inputs, device),
        surrogate(inputs),
        what="clipped objective with every ratio inside the clip range",
        scale=_scale(inputs),
    )


@given(inputs=ppo_inputs())
def test_never_exceeds_surrogate(impl, device, inputs):
    """The clipped objective is a pessimistic bound: never above the surrogate mean(rho*A)."""
    value = as_cpu_tensor(_call(impl, inputs, device), "ppo_clip_objective").item()
    bound = surrogate(inputs).item()
    tolerance = FLOAT32_RTOL * max(_scale(inputs), 1.0)
    assert value <= bound + tolerance, (
        f"clipped objective {value!r} exceeds the unclipped surrogate {bound!r} by more than "
        f"the float32 tolerance {tolerance:.3g}: the min (pessimism) of PPO-Clip is missing"
    )


@given(inputs=ppo_inputs(), eps=st.floats(25.0, 1e6))
def test_huge_eps_recovers_surrogate(impl, device, inputs, eps):
    """With eps beyond every ratio (ratios here are at most e^3 < 21), nothing is clipped."""
    assert_close(
        _call(impl, inputs, device, clip_eps=eps),
        surrogate(inputs),
        what=f"clipped objective with clip_eps={eps}",
        scale=_scale(inputs),
    )


@st.composite
def inputs_away_from_clip_boundary(draw: st.DrawFn) -> dict:
    """Ratios drawn region by region (below, inside, above the clip range), 5% clear of its ends."""
    inputs = draw(ppo_inputs())
    eps = draw(st.one_of(st.sampled_from([0.0, 0.2]), st.floats(0.0, 1.5)))
    regions = ["below", "inside", "above"]
    if eps >= 0.95:  # (1-eps) * 0.95 would leave no room below
        regions.remove("below")
    if eps == 0.0:  # the inside is the single boundary point rho = 1
        regions.remove("inside")
    ratios = []
    for _ in range(inputs["log_prob_old"].shape[0]):
        region = draw(st.sampled_from(regions))
        if region == "below":
            ratios.append((1.0 - eps) * draw(st.floats(0.05, 0.95)))
        elif region == "inside":
            low = max(1.0 - eps, 0.0)  # ratios are positive, whatever eps is
            ratios.append(low + (1.0 + eps - low) * draw(st.floats(0.05, 0.95)))
        else:
            ratios.append((1.0 + eps) * draw(st.floats(1.05, 3.0)))
    old = inputs["log_prob_old"]
    new = (old.double() + torch.log(torch.tensor(ratios, dtype=torch.float64))).to(old.dtype)
    return dict(inputs, log_prob_new=new, clip_eps=eps)


@given(inputs=inputs_away_from_clip_boundary())
def test_gradient_zero_exactly_where_clip_binds(impl, device, inputs):
    """d/d log_prob_new is 0 where the clip binds (A>0, rho>1+eps; A<0, rho<1-eps), else rho*A/B."""
    log_prob_new = inputs["log_prob_new"].detach().to(device).requires_grad_(True)
    _call(impl, inputs, device, log_prob_new=log_prob_new).backward()
    assert log_prob_new.grad is not None, "the objective carries no gradient to log_prob_new"
    eps, batch = inputs["clip_eps"], len(_ratios(inputs))
    expected = []
    for rho, adv in zip(_ratios(inputs), inputs["advantages"].tolist(), strict=True):
        binds = (adv > 0 and rho > 1.0 + eps) or (adv < 0 and rho < 1.0 - eps)
        expected.append(0.0 if binds else rho * adv / batch)
    assert_close(
        log_prob_new.grad,
        torch.tensor(expected, dtype=torch.float64),
        what="gradient w.r.t. log_prob_new (0 where the clip binds, rho*A/B elsewhere)",
        scale=_scale(inputs) / batch,
    )


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
        scale=_scale(inputs),
    )
