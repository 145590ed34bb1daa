"""Oracle, inputs and checks of ``trpo_step``.

The oracle rebuilds everything in float64 from a deep copy of the policy as given
(``pi_old``): the surrogate ``L(theta) = mean_i exp(log pi_theta(a_i|s_i) - log_prob_old_i) A_i``
and the mean ``KL(pi_old || pi_theta)`` as functions of the flat parameter vector (through
``torch.func.functional_call``), and on tiny policies (``P <= 36``) the explicit
``M = F + damping I``, ``F`` the Hessian of the mean KL at ``theta_old``
(``torch.autograd.functional.hessian``), ``x = M^-1 g`` by ``torch.linalg.solve`` and the KKT
step ``s = sqrt(2 max_kl / x^T M x) x``.

Tolerances (each derived, none tuned to pass):

- KL: an implementation's mean KL may differ from the oracle's by the rounding of the terms
  it combines, ``FLOAT32_RTOL (max_kl + m)`` with ``m`` the mean over states of the magnitude
  of those terms (categorical: ``sum_a p_old(a) (|log p_old(a)| + |log p_new(a)|)``; diagonal
  Gaussian: ``sum_k |log sigma_old| + |log sigma_new| + 1/2 + (sigma_old^2 + (mu_old -
  mu_new)^2) / (2 sigma_new^2)``).
- Surrogate: ``FLOAT32_RTOL mean_i (|rho_i A_i| + |A_i|)``.
- A returned parameter differs from the oracle's by at most ``eta = FLOAT32_RTOL (|theta_old| +
  |theta_new|)`` per element (float32 arithmetic inside is accepted).
- CG: ``cg_iters >= P`` iterations solve ``M x = g`` in exact arithmetic; an implementation
  may stop early once ``||g - M x|| <= 1e-5 ||g||`` (the reference's ``r.r <= 1e-10 g.g``) or
  ``<= 1e-5`` (the seed's absolute ``r.r < 1e-10``), and may round ``x`` to float32, so the
  accepted relative residual is ``RHO = 1e-5 max(1, ||g||) / ||g|| + 16 * 2^-24 kappa`` plus
  the rounding of ``g`` itself, ``FLOAT32_RTOL ||sum_i |grad (rho_i A_i)| / B|| / ||g||``
  (``kappa`` the condition number of ``M``). A CG *iterated* in float32 is not covered: it
  loses finite termination, and on 3 of 358 tiny examples (``kappa`` ~ 1e3, ``2P``
  iterations) its residual was up to 8 times this allowance. In the ``M``-norm the
  direction's error is then at most ``sqrt(kappa) RHO``, so the KKT step (normalised in the
  ``M``-norm) is off by at most ``2 sqrt(kappa) RHO sqrt(2 max_kl / lambda_min)`` in the
  2-norm.
- Acceptability of a candidate ``theta_i`` known only up to a perturbation of norm ``e``:
  the KL and the surrogate are widened by twice their first-order change ``||grad|| e`` on top
  of the rounding bands above. A candidate inside a band is *undecided*: taking it and
  skipping it are both accepted (this is also where the tie conventions ``KL <= max_kl`` /
  ``< max_kl`` and ``L > L_old`` / ``>= L_old`` differ).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from hypothesis import strategies as st
from torch import nn

from drlspec.properties.assertions import FLOAT32_RTOL, as_cpu_tensor
from drlspec.properties.update_strategies import (
    CategoricalMLP,
    GaussianMLP,
    mlp,
    policy_networks,
)

ARGUMENTS = (
    "policy",
    "observations",
    "actions",
    "log_prob_old",
    "advantages",
    "max_kl",
    "damping",
    "cg_iters",
    "backtrack",
    "max_backtracks",
)
TENSOR_INPUTS = ("observations", "actions", "log_prob_old", "advantages")

# The accepted relative CG residual before float32 rounding of x (module docstring).
CG_RESIDUAL = 1e-5
UNIT_ROUNDOFF_32 = 2.0**-24
TINY = 2.0**-1000

# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------

_MAX_KLS = st.one_of(
    st.sampled_from([0.01, 0.1]),
    st.floats(math.log(1e-4), math.log(0.1)).map(math.exp),
)
# Tiny policies: damping >= 0.1 (sb3-contrib's and Spinning Up's default) keeps
# kappa(F + damping I) at most ~100, where conjugate gradient run in float32 still solves the
# system within 2P iterations (at damping 0.01, kappa ~ 1e3, it did not in 3 of 358 examples:
# a correct float32 implementation must not be rejected for that). Elsewhere damping goes
# down to 1e-3, where the KL of the full KKT step overshoots max_kl most often (0.5 s^T F s =
# max_kl - 0.5 damping ||s||^2 plus third-order terms): that is where skipping the KL check
# shows.
_DAMPINGS = st.one_of(
    st.sampled_from([0.1, 1.0]),
    st.floats(math.log(0.1), math.log(1.0)).map(math.exp),
)
_SMALL_DAMPINGS = st.one_of(
    st.sampled_from([1e-3, 0.01]),
    st.floats(math.log(1e-3), math.log(1.0)).map(math.exp),
)
_BACKTRACKS = st.one_of(st.sampled_from([0.5, 0.8]), st.floats(0.1, 0.9))


@st.composite
def tiny_policies(draw: st.DrawFn) -> dict:
    """A float64 policy with at most 36 parameters (explicit Fisher matrices are cheap).

    ``obs_dim`` 1..3, one hidden layer of 1..4 tanh units; ``CategoricalMLP`` over 1..4
    actions or ``GaussianMLP`` with 1..2 action dimensions (log std in ``[-1, 0.5]``).
    """
    seed = draw(st.integers(0, 2**32 - 1), label="network seed")
    generator = torch.Generator().manual_seed(seed)
    obs_dim = draw(st.integers(1, 3), label="obs_dim")
    hidden = draw(st.integers(1, 4), label="hidden")
    continuous = draw(st.booleans(), label="continuous")
    if continuous:
        action_dim = draw(st.integers(1, 2), label="K")
        log_std = torch.rand(action_dim, generator=generator, dtype=torch.float64) * 1.5 - 1.0
        policy: nn.Module = GaussianMLP(mlp([obs_dim, hidden, action_dim], generator), log_std)
    else:
        action_dim = draw(st.integers(1, 4), label="A")
        policy = CategoricalMLP(mlp([obs_dim, hidden, action_dim], generator))
    action_dtype = draw(st.sampled_from([torch.int64, torch.int32]), label="action dtype")

    def draw_actions(batch: int, actions_generator: torch.Generator) -> torch.Tensor:
        if continuous:
            shape = (batch, action_dim)
            return torch.randn(shape, generator=actions_generator, dtype=torch.float64) * 1.5
        return torch.randint(action_dim, (batch,), generator=actions_generator).to(action_dtype)

    return {"policy": policy, "obs_dim": obs_dim, "draw_actions": draw_actions}


def parameter_count(policy: nn.Module) -> int:
    return sum(p.numel() for p in policy.parameters())


@st.composite
def trpo_inputs(draw: st.DrawFn, tiny: bool = False, zero_advantages: bool = False) -> dict:
    """Arguments of ``trpo_step``: a policy, a batch, and the hyperparameters.

    ``log_prob_old`` is the given policy's own log-probabilities of the actions. Advantages
    are standard normal (both signs; one sign when ``B = 1``), or all zero. ``max_kl`` is
    log-uniform in ``[1e-4, 0.1]`` (and 0.01), ``damping`` log-uniform in ``[0.1, 1]`` (and
    0.01, 0.1), ``backtrack`` 0.5, 0.8 or uniform in ``(0.1, 0.9)``, ``max_backtracks`` 1..15.
    ``cg_iters`` is 1..20 on the networks of ``policy_networks``, and ``P..2P`` on tiny ones
    (where the step must be the explicit ``M^-1 g``'s).
    """
    net = draw(tiny_policies() if tiny else policy_networks())
    policy = net["policy"]
    batch = draw(st.one_of(st.just(1), st.integers(1, 32)), label="B")
    seed = draw(st.integers(0, 2**32 - 1), label="batch seed")
    generator = torch.Generator().manual_seed(seed)
    observations = torch.randn((batch, net["obs_dim"]), generator=generator, dtype=torch.float64)
    actions = net["draw_actions"](batch, generator)
    if zero_advantages:
        advantages = torch.zeros(batch, dtype=torch.float64)
    else:
        advantages = torch.randn(batch, generator=generator, dtype=torch.float64)
    with torch.no_grad():
        log_prob_old = policy(observations).log_prob(actions).detach().clone()
    count = parameter_count(policy)
    if tiny:
        cg_iters = draw(st.integers(count, 2 * count), label="cg_iters")
    else:
        cg_iters = draw(st.one_of(st.just(10), st.integers(1, 20)), label="cg_iters")
    return {
        "policy": policy,
        "observations": observations,
        "actions": actions,
        "log_prob_old": log_prob_old,
        "advantages": advantages,
        "max_kl": draw(_MAX_KLS, label="max_kl"),
        "damping": draw(_DAMPINGS if tiny else _SMALL_DAMPINGS, label="damping"),
        "cg_iters": cg_iters,
        "backtrack": draw(_BACKTRACKS, label="backtrack"),
        "max_backtracks": draw(st.one_of(st.just(10), st.integers(1, 15)), label="max_backtracks"),
    }


# ---------------------------------------------------------------------------
# Calling the implementation
# ---------------------------------------------------------------------------


def on_device(inputs: dict, device: str) -> dict:
    """Private copies of the policy and the tensors, on ``device``."""
    out: dict[str, Any] = {}
    for name, value in inputs.items():
        if isinstance(value, nn.Module):
            out[name] = copy.deepcopy(value).to(device)
        elif isinstance(value, torch.Tensor):
            out[name] = value.clone().to(device)
        else:
            out[name] = value
    return out


def call(impl, given: dict) -> Any:
    return impl(*(given[name] for name in ARGUMENTS))


def flat_parameters(policy: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1).to("cpu", torch.float64) for p in policy.parameters()])


def run(impl, inputs: dict, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(result [P], the policy's parameters afterwards [P])``, float64 on the CPU.

    The result must be a tensor of shape ``[P]``."""
    given = on_device(inputs, device)
    result = call(impl, given)
    count = parameter_count(inputs["policy"])
    actual = as_cpu_tensor(result, "trpo_step's result")
    if actual.shape != (count,):
        raise AssertionError(
            f"trpo_step returned shape {list(actual.shape)}, expected [{count}] (the policy's "
            "parameters flattened in policy.parameters() order)"
        )
    return actual, flat_parameters(given["policy"])


# ---------------------------------------------------------------------------
# The oracle
# ---------------------------------------------------------------------------


def _kl_magnitude(
    old: torch.distributions.Distribution, new: torch.distributions.Distribution
) -> torch.Tensor:
    """``[B]`` magnitude of the terms whose sum is ``KL(old || new)`` (rounding scale)."""
    if isinstance(old, torch.distributions.Categorical):
        p = old.probs
        return (p * (old.logits.abs() + new.logits.abs())).sum(-1)
    if isinstance(old, torch.distributions.Independent) and isinstance(
        old.base_dist, torch.distributions.Normal
    ):
        o, n = old.base_dist, new.base_dist
        ratio = (o.scale**2 + (o.loc - n.loc) ** 2) / (2 * n.scale**2)
        return (o.scale.log().abs() + n.scale.log().abs() + 0.5 + ratio).sum(-1)
    raise TypeError(f"no KL magnitude for {type(old).__name__}")


class Oracle:
    """Float64 surrogate, mean KL and curvature of one example, as functions of theta."""

    def __init__(self, inputs: dict) -> None:
        self.policy = copy.deepcopy(inputs["policy"]).cpu()
        self.named = [(n, p.shape, p.numel()) for n, p in self.policy.named_parameters()]
        self.theta0 = flat_parameters(self.policy)
        self.observations = inputs["observations"].cpu()
        actions = inputs["actions"].cpu()
        self.actions = actions.long() if not actions.is_floating_point() else actions
        self.log_prob_old = inputs["log_prob_old"].cpu().double()
        self.advantages = inputs["advantages"].cpu().double()
        self.max_kl = float(inputs["max_kl"])
        self.damping = float(inputs["damping"])
        self.backtrack = float(inputs["backtrack"])
        self.max_backtracks = int(inputs["max_backtracks"])
        with torch.no_grad():
            self.old = self.policy(self.observations)
        self.old_surrogate = float(self.surrogate(self.theta0))

    def distribution(self, theta: torch.Tensor) -> torch.distributions.Distribution:
        params, offset = {}, 0
        for name, shape, count in self.named:
            params[name] = theta[offset : offset + count].view(shape)
            offset += count
        return torch.func.functional_call(self.policy, params, (self.observations,))

    def ratios(self, theta: torch.Tensor) -> torch.Tensor:
        log_probs = self.distribution(theta).log_prob(self.actions)
        return torch.exp(log_probs - self.log_prob_old)

    def surrogate(self, theta: torch.Tensor) -> torch.Tensor:
        return (self.ratios(theta) * self.advantages).mean()

    def mean_kl(self, theta: torch.Tensor) -> torch.Tensor:
        return torch.distributions.kl_divergence(self.old, self.distribution(theta)).mean()

    def kl_tolerance(self, theta: torch.Tensor) -> float:
        with torch.no_grad():
            magnitude = _kl_magnitude(self.old, self.distribution(theta)).mean()
        return FLOAT32_RTOL * (self.max_kl + float(magnitude)) + TINY

    def surrogate_tolerance(self, theta: torch.Tensor) -> float:
        with torch.no_grad():
            terms = (self.ratios(theta) * self.advantages).abs() + self.advantages.abs()
        return FLOAT32_RTOL * float(terms.mean()) + TINY

    def gradient(self, fn, theta: torch.Tensor) -> torch.Tensor:
        point = theta.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(fn(point), point, allow_unused=True)
        return torch.zeros_like(theta) if grad is None else grad

    def verdict(self, theta: torch.Tensor, uncertainty: float) -> tuple[str, str]:
        """Is ``theta`` acceptable: "yes", "no" or "undecided", and why (for messages).

        ``uncertainty`` bounds the 2-norm of the error in ``theta`` itself."""
        with torch.no_grad():
            kl = float(self.mean_kl(theta))
            value = float(self.surrogate(theta))
        kl_band = self.kl_tolerance(theta)
        value_band = self.surrogate_tolerance(theta)
        if uncertainty > 0:
            kl_band += 2 * float(self.gradient(self.mean_kl, theta).norm()) * uncertainty
            value_band += 2 * float(self.gradient(self.surrogate, theta).norm()) * uncertainty
        if not (math.isfinite(kl) and math.isfinite(value)):
            return "no", f"KL {kl!r}, surrogate {value!r}"
        why = (
            f"KL {kl:.6g} vs max_kl {self.max_kl:.6g} (band {kl_band:.3g}), surrogate "
            f"{value:.6g} vs old {self.old_surrogate:.6g} (band {value_band:.3g})"
        )
        if kl > self.max_kl + kl_band or value < self.old_surrogate - value_band:
            return "no", why
        if kl <= self.max_kl - kl_band and value > self.old_surrogate + value_band:
            return "yes", why
        return "undecided", why


class Curvature:
    """Explicit ``g``, ``M = F + damping I``, ``x = M^-1 g`` and the KKT step of a tiny policy."""

    def __init__(self, oracle: Oracle) -> None:
        theta0 = oracle.theta0
        self.g = oracle.gradient(oracle.surrogate, theta0)
        hessian = torch.autograd.functional.hessian(oracle.mean_kl, theta0)
        hessian = 0.5 * (hessian + hessian.T)
        eye = torch.eye(theta0.numel(), dtype=torch.float64)
        self.M = hessian + oracle.damping * eye
        eigenvalues = torch.linalg.eigvalsh(self.M)
        self.lambda_min = float(eigenvalues[0])
        self.kappa = float(eigenvalues[-1] / eigenvalues[0])
        self.norm = float(eigenvalues[-1])
        self.x = torch.linalg.solve(self.M, self.g)
        curvature = float(self.x @ self.M @ self.x)
        # g = 0 (one action, say): no direction, and the contract leaves the policy as it is.
        self.step = (
            math.sqrt(2 * oracle.max_kl / curvature) * self.x
            if curvature > 0
            else torch.zeros_like(self.x)
        )
        # Rounding of g: each per-sample term rho_i A_i contributes its gradient's magnitude.
        jacobian = torch.autograd.functional.jacobian(
            lambda t: oracle.ratios(t) * oracle.advantages, theta0
        )
        g_rounding = FLOAT32_RTOL * float(jacobian.abs().mean(0).norm())
        g_norm = float(self.g.norm())
        # CG may stop at ||r|| <= 1e-5 ||g|| (relative) or ||r|| <= 1e-5 (the seed's absolute
        # r.r < 1e-10): the larger of the two is accepted.
        stop = CG_RESIDUAL * max(g_norm, 1.0) + g_rounding
        self.residual = stop / max(g_norm, TINY) + 16 * UNIT_ROUNDOFF_32 * self.kappa
        # 2-norm error bound of the KKT step (module docstring).
        self.step_error = (
            2 * math.sqrt(self.kappa) * self.residual
            * math.sqrt(2 * oracle.max_kl / self.lambda_min)
        )  # fmt: skip


def assert_first_acceptable_kkt_step(result: torch.Tensor, after: torch.Tensor, inputs: dict):
    """The step is ``backtrack^j`` times a KKT step along ``M^-1 g``, ``j`` the first acceptable.

    ``result`` is the returned vector (already checked equal to ``after``)."""
    oracle = Oracle(inputs)
    curvature = Curvature(oracle)
    theta0 = oracle.theta0
    beta, count, max_kl = oracle.backtrack, oracle.max_backtracks, oracle.max_kl
    delta = result - theta0
    eta = FLOAT32_RTOL * (theta0.abs() + result.abs()) + TINY
    eta_norm = float(eta.norm())
    context = (
        f"(P = {theta0.numel()}, max_kl {max_kl!r}, damping {oracle.damping!r}, backtrack "
        f"{beta!r}, max_backtracks {count}, kappa(F + damping I) = {curvature.kappa:.3g})"
    )
    if not bool(curvature.g.abs().sum() > 0):
        moved = float(delta.abs().max())
        assert moved == 0.0, f"the surrogate's gradient is 0, yet the parameters moved by {moved}"
        return
    if bool((delta.abs() <= eta).all()):
        # Unchanged: no candidate along the oracle's KKT step may be clearly acceptable.
        for i in range(count):
            candidate = theta0 + beta**i * curvature.step
            uncertainty = beta**i * curvature.step_error
            verdict, why = oracle.verdict(candidate, uncertainty)
            if verdict == "yes":
                raise AssertionError(
                    f"trpo_step left the parameters unchanged, but candidate j = {i} "
                    f"(theta_old + backtrack^{i} s, s the KKT step along (F + damping I)^-1 g) "
                    f"is acceptable: {why} {context}"
                )
        return
    # The direction: delta is a positive multiple of some x with a small residual g - M x.
    m_delta = curvature.M @ delta
    g = curvature.g
    alpha = float(m_delta @ g) / float(m_delta @ m_delta)
    residual = float((g - alpha * m_delta).norm() / g.norm())
    allowed = curvature.residual + curvature.norm * eta_norm * abs(alpha) / float(g.norm())
    if not alpha > 0:
        raise AssertionError(
            "the step new - old is not an ascent direction of the surrogate: its best fit "
            f"to (F + damping I)^-1 g has coefficient {alpha:.3g} <= 0 (g . step = "
            f"{float(g @ delta):.3g}) {context}"
        )
    if not residual <= allowed:
        raise AssertionError(
            f"the step new - old is not along x = (F + damping I)^-1 g: the best multiple of "
            f"it leaves a relative residual ||g - (F + damping I) x|| / ||g|| = {residual:.3g}, "
            f"more than {allowed:.3g} (F: the Hessian of the mean KL(pi_old || pi) at theta_old) "
            f"{context}"
        )
    # The length: 0.5 delta^T M delta = backtrack^(2j) max_kl for an integer 0 <= j < count.
    quadratic = 0.5 * float(delta @ m_delta)
    tolerance = (
        4 * FLOAT32_RTOL * quadratic
        + float(m_delta.norm()) * eta_norm
        + curvature.norm * eta_norm**2
    )
    matches = [j for j in range(count) if abs(quadratic - beta ** (2 * j) * max_kl) <= tolerance]
    if not matches:
        ratio = quadratic / max_kl
        raise AssertionError(
            f"the step is not backtrack^j times the KKT step of its direction: 0.5 step^T "
            f"(F + damping I) step / max_kl = {ratio:.6g}, expected backtrack^(2j) for some "
            f"j < max_backtracks: {[beta ** (2 * j) for j in range(min(count, 4))]}... "
            f"(tolerance {tolerance / max_kl:.3g}) {context}"
        )
    j = matches[0]
    full_step = delta / beta**j
    for i in range(j + 1):
        candidate = theta0 + beta**i * full_step
        verdict, why = oracle.verdict(candidate, eta_norm * beta ** (i - j))
        if i < j and verdict == "yes":
            raise AssertionError(
                f"trpo_step took candidate j = {j} of the backtracking sequence, but the "
                f"earlier candidate {i} is acceptable ({why}): the first acceptable one must "
                f"be taken {context}"
            )
        if i == j and verdict == "no":
            raise AssertionError(
                f"trpo_step took candidate j = {j}, which is not acceptable: {why} {context}"
            )
