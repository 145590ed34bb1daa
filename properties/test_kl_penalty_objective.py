"""Properties of ``kl_penalty_objective``: ``mean(rho*A - beta*kl)``,
``rho = exp(log_prob_new - log_prob_old)``, to be maximised.

Spec: Policy losses and distributions. Seed: :five: PPO / PPO-Penalty. Paper: Schulman et al.
(2017), eq. 8.

Inputs: old log-probabilities in ``[-10, 2]``, log-ratios in ``[-3, 3]``, advantages in
``[-10, 10]``, per-sample KL values in ``[-1, 10]`` (per-sample KL *estimates* such as
``log_prob_old - log_prob_new`` can be negative; the contract uses ``kl`` as given) and
``beta`` in ``{0} ∪ [0, 10]``. Tolerances: float32 accuracy relative to the largest term
``|rho*A| + beta*|kl|``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from properties.assertions import as_cpu_tensor, assert_close
from properties.strategies import batch_sizes, float_dtypes, real_tensors

CONTRACT = "kl_penalty_objective"

betas = st.one_of(st.just(0.0), st.floats(0.0, 10.0))


@st.composite
def penalty_inputs(draw: st.DrawFn) -> dict:
    batch = draw(batch_sizes)
    dtype = draw(float_dtypes)
    old = draw(real_tensors((batch,), dtype, bound=10.0)).clamp(max=2.0)
    log_ratio = draw(real_tensors((batch,), dtype, bound=3.0))
    width = 32 if dtype == torch.float32 else 64
    kl = draw(
        hnp.arrays(
            np.float32 if width == 32 else np.float64,
            (batch,),
            elements=st.floats(-1.0, 10.0, width=width, allow_subnormal=False),
        )
    )
    return {
        "log_prob_new": old + log_ratio,
        "log_prob_old": old,
        "advantages": draw(real_tensors((batch,), dtype, bound=10.0)),
        "kl": torch.from_numpy(kl),
        "beta": draw(betas),
    }


def _ratios(inputs: dict) -> list[float]:
    new, old = inputs["log_prob_new"].tolist(), inputs["log_prob_old"].tolist()
    return [math.exp(n - o) for n, o in zip(new, old, strict=True)]


def oracle(inputs: dict) -> torch.Tensor:
    """The definition, one sample at a time, in float64."""
    terms = [
        rho * adv - inputs["beta"] * kl
        for rho, adv, kl in zip(
            _ratios(inputs), inputs["advantages"].tolist(), inputs["kl"].tolist(), strict=True
        )
    ]
    return torch.tensor(sum(terms) / len(terms), dtype=torch.float64)


def _scale(inputs: dict, beta: float | None = None) -> float:
    beta = inputs["beta"] if beta is None else beta
    surrogate = max(
        abs(r * a) for r, a in zip(_ratios(inputs), inputs["advantages"].tolist(), strict=True)
    )
    return surrogate + beta * float(inputs["kl"].abs().max())


def _call(impl, inputs: dict, device: str, **overrides):
    args = dict(inputs, **overrides)
    return impl(
        args["log_prob_new"].to(device),
        args["log_prob_old"].to(device),
        args["advantages"].to(device),
        args["kl"].to(device),
        args["beta"],
    )


@given(inputs=penalty_inputs())
def test_matches_definition(impl, device, inputs):
    """Equals mean(rho*A - beta*kl), computed sample by sample."""
    assert_close(
        _call(impl, inputs, device),
        oracle(inputs),
        what="kl_penalty_objective",
        scale=_scale(inputs),
    )


@given(inputs=penalty_inputs())
def test_beta_zero_is_the_surrogate(impl, device, inputs):
    """With beta = 0 the objective is the plain surrogate mean(rho*A), whatever kl is."""
    assert_close(
        _call(impl, inputs, device, beta=0.0),
        oracle(dict(inputs, beta=0.0)),
        what="objective with beta = 0",
        scale=_scale(inputs, beta=0.0),
    )


@given(inputs=penalty_inputs(), other_beta=betas)
def test_linear_in_beta_with_slope_minus_mean_kl(impl, device, inputs, other_beta):
    """f(beta2) - f(beta1) = -(beta2 - beta1) * mean(kl): the penalty grows linearly in beta."""
    first = as_cpu_tensor(_call(impl, inputs, device), "objective")
    second = as_cpu_tensor(_call(impl, inputs, device, beta=other_beta), "objective")
    mean_kl = float(inputs["kl"].double().mean())
    assert_close(
        second - first,
        torch.tensor(-(other_beta - inputs["beta"]) * mean_kl, dtype=torch.float64),
        what=f"change of the objective from beta={inputs['beta']} to beta={other_beta}",
        scale=max(_scale(inputs), _scale(inputs, beta=other_beta)),
    )


@given(inputs=penalty_inputs())
def test_gradient_wrt_log_prob_new_is_rho_a_over_b(impl, device, inputs):
    """d/d log_prob_new = rho*A/B: the ratio is exp(new - old), never clipped."""
    log_prob_new = inputs["log_prob_new"].detach().to(device).requires_grad_(True)
    _call(impl, inputs, device, log_prob_new=log_prob_new).backward()
    assert log_prob_new.grad is not None, "the objective carries no gradient to log_prob_new"
    batch = len(_ratios(inputs))
    expected = [
        r * a / batch for r, a in zip(_ratios(inputs), inputs["advantages"].tolist(), strict=True)
    ]
    assert_close(
        log_prob_new.grad,
        torch.tensor(expected, dtype=torch.float64),
        what="gradient w.r.t. log_prob_new",
        scale=_scale(inputs) / batch,
    )


@given(inputs=penalty_inputs())
def test_gradient_wrt_kl_is_minus_beta_over_b(impl, device, inputs):
    """d/d kl = -beta/B: the penalty reaches the policy through kl (kl must not be detached)."""
    kl = inputs["kl"].detach().to(device).requires_grad_(True)
    objective = _call(impl, inputs, device, kl=kl)
    if inputs["beta"] == 0.0 and not objective.requires_grad:
        return  # beta = 0: an implementation may skip the penalty term altogether
    assert objective.requires_grad, "the objective carries no gradient to kl (kl was detached)"
    objective.backward()
    batch = inputs["kl"].shape[0]
    grad = kl.grad if kl.grad is not None else torch.zeros_like(kl)
    assert_close(
        grad,
        torch.full((batch,), -inputs["beta"] / batch, dtype=torch.float64),
        what="gradient w.r.t. kl",
        scale=max(inputs["beta"], 1.0) / batch,
    )
