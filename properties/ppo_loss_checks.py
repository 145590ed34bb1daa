"""Oracle, batches and checks of ``ppo_clip_loss`` (PPO-Clip's full minibatch loss).

.. math::
    L = -\\frac1B \\sum_i \\min(\\rho_i A_i, \\operatorname{clip}(\\rho_i, 1-\\epsilon,
    1+\\epsilon) A_i) + c_v k \\frac1B \\sum_i (V(s_i) - R_i)^2 - c_e \\frac1B \\sum_i H_i,
    \\qquad \\rho_i = \\exp(\\log\\pi(a_i|s_i) - \\log\\pi_\\text{old}(a_i|s_i))

with ``k = 1/2`` (CleanRL) or ``k = 1`` (the PPO paper's ``L^VF``, stable-baselines3), the same
``k`` for the value and its gradient.

Batches. ``log_prob_old`` is the current policy's log-probability minus ``log rho_i`` for a
ratio ``rho_i`` chosen per sample: inside ``[1-eps, 1+eps]``, above it, below it (when
``1 - eps > 0``) or exactly on a bound (value checks only: at a bound the min of two equal
values makes either one-sided gradient right). Gradient checks keep every ratio at least
``1e-3`` (relative) from a bound, beyond what float32 rounding can move it. Advantages are
positive, negative or exactly 0, magnitudes log-uniform in ``[e^-3, e^2]``; returns
``2 N(0, 1)``; ``clip_eps`` in ``{0, 0.1, 0.2, 10}`` or uniform in ``[0, 1]``; ``vf_coef`` and
``ent_coef`` at 0 and positive.

The oracle recomputes everything in float64 from the strategy's own networks (the
implementation only ever gets deep copies of them, ``on_device``, so nothing it does can leak
into the oracle), per sample: ``log pi(a_i|s_i)``, ``H_i``, ``V(s_i)`` and their
gradients (rows of the Jacobians). Tolerances (``u = 2**-24``, ``FLOAT32_RTOL`` of
properties/assertions.py):

- the value: ``FLOAT32_RTOL (mean_i m_i + max_i m_i) + mean_i |A_i| max(rho_i, 1) 4u(|log pi_i|
  + |log_prob_old_i|)`` with ``m_i = |A_i| max(rho_i, 1) + c_v (|V_i| + |R_i|)^2 + c_e |H_i|``:
  float32 arithmetic inside is accepted (the second part is the ratio's own conditioning when
  the log-probabilities are rounded to float32);
- a gradient element: ``FLOAT32_RTOL`` times the sum over samples of the magnitudes it
  combines, ``(1/B) sum_i (|rho_i A_i| |d log pi_i| + c_e |d H_i|)`` for the policy and
  ``(2 k c_v / B) sum_i (|V_i| + |R_i|) |d V_i|`` for the value network (plus the ratio's
  conditioning), so a bug confined to one sample shows at any batch size;
- both plus ``2**-126``, the smallest normal float32 (a float32 implementation flushes a term
  like ``vf_coef = 1e-199`` times a value to 0).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import torch
from hypothesis import strategies as st

from drlspec.properties.assertions import FLOAT32_RTOL, as_cpu_tensor
from drlspec.properties.update_strategies import policy_networks

ARGUMENTS = (
    "policy",
    "value_network",
    "observations",
    "actions",
    "log_prob_old",
    "advantages",
    "returns",
    "clip_eps",
    "vf_coef",
    "ent_coef",
)
STORED = ("log_prob_old", "advantages", "returns")
VALUE_FACTORS = (0.5, 1.0)
U32 = 2.0**-24
# The smallest normal float32: a float32 implementation flushes anything below it (a vf_coef
# of 1e-199 times a value term is 0 there).
TINY = 2.0**-126
MARGIN = 1e-3

CLIP_EPSILONS = st.one_of(st.sampled_from([0.0, 0.1, 0.2, 10.0]), st.floats(0.0, 1.0))
VF_COEFS = st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0.0, 2.0))
ENT_COEFS = st.one_of(st.sampled_from([0.0, 0.01, 0.5]), st.floats(0.0, 1.0))

# ---------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------

KINDS = ("inside", "above", "below", "at upper bound", "at lower bound")


def ratios_for(
    kinds: torch.Tensor, eps: float, generator: torch.Generator, boundaries: bool
) -> torch.Tensor:
    """One ratio per sample of the kind ``KINDS[kinds[i]]`` (module docstring).

    A kind that cannot exist at this ``eps`` falls back: no "below" or "at lower bound" when
    ``1 - eps <= 0``; with ``boundaries=False`` no "at", and no "inside" when ``eps < 10
    MARGIN`` (the whole range is within float32 reach of a bound)."""
    batch = kinds.shape[0]
    uniform = torch.rand(batch, generator=generator, dtype=torch.float64)
    spread = torch.rand(batch, generator=generator, dtype=torch.float64)
    kinds = kinds.clone()
    inside, above, below, at_upper, at_lower = range(len(KINDS))
    if not boundaries:
        kinds[kinds >= at_upper] = inside
        if eps < 10 * MARGIN:
            odd = torch.arange(batch) % 2 == 1
            kinds[(kinds == inside) & odd] = above
            kinds[(kinds == inside) & ~odd] = below
    low = 1.0 - eps
    if low <= 0.0:
        kinds[kinds == below] = inside
        kinds[kinds == at_lower] = at_upper
        # 2% to 92% of 1 + eps: from far below 1 to well inside the upper bound.
        inner = (1.0 + eps) * (0.02 + 0.9 * uniform)
    else:
        # At least 5% of the range (>= MARGIN where eps >= 10 MARGIN) from either bound.
        inner = low + 2.0 * eps * (0.05 + 0.9 * uniform)
    choices = torch.stack(
        [
            inner,
            (1.0 + eps) * torch.exp(0.01 + spread),
            max(low, 0.0) * torch.exp(-0.01 - 2.0 * spread),
            torch.full((batch,), 1.0 + eps, dtype=torch.float64),
            torch.full((batch,), low, dtype=torch.float64),
        ]
    )
    return choices.gather(0, kinds.long()[None])[0]


def current_log_probs(inputs: dict) -> torch.Tensor:
    """``log pi(a_i|s_i)`` of the given policy, float64, CPU, no graph."""
    # The strategy's own CPU networks (never handed to an implementation): no copy needed.
    with torch.no_grad():
        policy = inputs["policy"]
        return policy(inputs["observations"].cpu()).log_prob(inputs["actions"].cpu()).double()


def with_ratios(inputs: dict, rho: torch.Tensor) -> dict:
    """``inputs`` with ``log_prob_old`` set so that the current policy's ratios are ``rho``."""
    return dict(inputs, log_prob_old=current_log_probs(inputs) - torch.log(rho))


def _floor_actions(policy: torch.nn.Module, observations: torch.Tensor, generator) -> torch.Tensor:
    """Continuous actions whose log-probability is uniform in ``[-1000, -750]``.

    ``exp`` of such a log-probability is 0 in float64 (below ``-745``): a ratio formed as a
    quotient of probabilities is ``0/0`` there, ``exp(log pi - log_prob_old)`` is exact."""
    with torch.no_grad():
        distribution = policy(observations)
        mean, std = distribution.mean, distribution.stddev
    batch, dims = mean.shape
    target = -750.0 - 250.0 * torch.rand(batch, generator=generator, dtype=torch.float64)
    constant = std.log().sum(dim=1) + 0.5 * dims * math.log(2 * math.pi)
    z = torch.sqrt(2.0 * (-target - constant))
    sign = torch.where(torch.rand(batch, generator=generator) < 0.5, -1.0, 1.0).double()
    actions = mean.clone()
    actions[:, 0] += sign * z * std[:, 0]
    return actions


@st.composite
def ppo_batches(
    draw: st.DrawFn,
    boundaries: bool = True,
    floor: bool = False,
    clip_eps: st.SearchStrategy[float] = CLIP_EPSILONS,
) -> dict:
    """A PPO minibatch for a drawn policy and value network (module docstring).

    ``boundaries=False`` keeps every ratio at least ``MARGIN`` (relative) from a clip bound;
    ``floor=True`` draws a continuous policy and actions whose log-probabilities lie in
    ``[-1000, -750]``."""
    networks = draw(policy_networks(continuous=True if floor else None))
    batch = draw(st.integers(1, 32), label="B")
    seed = draw(st.integers(0, 2**32 - 1), label="batch seed")
    generator = torch.Generator().manual_seed(seed)
    observations = torch.randn(
        (batch, networks["obs_dim"]), generator=generator, dtype=torch.float64
    )
    if floor:
        actions = _floor_actions(networks["policy"], observations, generator)
    else:
        actions = networks["draw_actions"](batch, generator)
    eps = draw(clip_eps, label="clip_eps")
    # One kind for the whole batch half of the time (every sample clipped, say).
    if draw(st.booleans(), label="one ratio kind"):
        kinds = torch.full((batch,), draw(st.integers(0, len(KINDS) - 1), label="kind"))
    else:
        kinds = torch.randint(len(KINDS), (batch,), generator=generator)
    signs = torch.randint(-1, 2, (batch,), generator=generator).double()
    magnitudes = torch.exp(5.0 * torch.rand(batch, generator=generator, dtype=torch.float64) - 3)
    inputs = {
        "policy": networks["policy"],
        "value_network": networks["value_network"],
        "observations": observations,
        "actions": actions,
        "advantages": signs * magnitudes,
        "returns": 2.0 * torch.randn(batch, generator=generator, dtype=torch.float64),
        "clip_eps": eps,
        "vf_coef": draw(VF_COEFS, label="vf_coef"),
        "ent_coef": draw(ENT_COEFS, label="ent_coef"),
    }
    return with_ratios(inputs, ratios_for(kinds, eps, generator, boundaries))


# ---------------------------------------------------------------------------
# Calling the implementation
# ---------------------------------------------------------------------------


def on_device(inputs: dict, device: str, stored_leaves: bool = False) -> dict:
    """Private copies of the networks and tensors, on ``device``.

    ``stored_leaves``: ``log_prob_old``, ``advantages`` and ``returns`` become leaves that
    require gradient (how a caller who stored them without ``no_grad`` hands them over)."""
    out: dict[str, Any] = {}
    for name, value in inputs.items():
        if isinstance(value, torch.nn.Module):
            out[name] = copy.deepcopy(value).to(device)
        elif isinstance(value, torch.Tensor):
            out[name] = value.to(device)
            if stored_leaves and name in STORED:
                out[name] = out[name].detach().clone().requires_grad_(True)
        else:
            out[name] = value
    return out


def call(impl, inputs: dict) -> Any:
    return impl(*(inputs[name] for name in ARGUMENTS))


def loss_tensor(result: Any, what: str) -> torch.Tensor:
    """The result as it came (with graph), checked to be a 0-d tensor."""
    if not isinstance(result, torch.Tensor):
        raise AssertionError(f"{what}: expected a 0-d tensor, got {type(result).__name__}")
    if result.ndim != 0:
        raise AssertionError(
            f"{what}: shape {list(result.shape)}, expected a scalar (0-d tensor; the loss is a "
            "mean over the batch, not per sample)"
        )
    return result


# ---------------------------------------------------------------------------
# Oracle
# ---------------------------------------------------------------------------


@dataclass
class Oracle:
    """Per-sample float64 quantities of one batch, and (optionally) their Jacobian rows."""

    log_probs: torch.Tensor
    log_prob_old: torch.Tensor
    entropies: torch.Tensor
    values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    eps: float
    vf_coef: float
    ent_coef: float
    # Jacobian rows [B, *shape] per parameter, by name (None unless asked for).
    d_log_probs: dict[str, torch.Tensor] | None = None
    d_entropies: dict[str, torch.Tensor] | None = None
    d_values: dict[str, torch.Tensor] | None = None

    @property
    def batch(self) -> int:
        return self.log_probs.shape[0]

    @property
    def rho(self) -> torch.Tensor:
        return torch.exp(self.log_probs - self.log_prob_old)

    def policy_terms(self, advantages: torch.Tensor | None = None, rho=None, pick=torch.minimum):
        a = self.advantages if advantages is None else advantages
        rho = self.rho if rho is None else rho
        return pick(rho * a, rho.clamp(1.0 - self.eps, 1.0 + self.eps) * a)

    def value_term(self, k: float) -> torch.Tensor:
        return k * (self.values - self.returns).pow(2).mean()

    def loss(self, k: float) -> torch.Tensor:
        return (
            -self.policy_terms().mean()
            + self.vf_coef * self.value_term(k)
            - self.ent_coef * self.entropies.mean()
        )

    def conditioning(self) -> torch.Tensor:
        """``4u(|log pi| + |log_prob_old|)``: the ratio's relative error from float32 log-probs."""
        return 4 * U32 * (self.log_probs.abs() + self.log_prob_old.abs())

    def loss_tolerance(self) -> float:
        policy = self.advantages.abs() * self.rho.clamp(min=1.0)
        value = self.vf_coef * (self.values.abs() + self.returns.abs()).pow(2)
        entropy = self.ent_coef * self.entropies.abs()
        m = policy + value + entropy
        bound = FLOAT32_RTOL * (m.mean() + m.max()) + (policy * self.conditioning()).mean()
        return float(bound) + TINY

    def binds(self) -> torch.Tensor:
        """Where the clip binds (the policy term's gradient is 0): ``A > 0, rho > 1 + eps`` or
        ``A < 0, rho < 1 - eps``."""
        a, rho = self.advantages, self.rho
        return ((a > 0) & (rho > 1.0 + self.eps)) | ((a < 0) & (rho < 1.0 - self.eps))

    def policy_gradient(self) -> tuple[dict, dict]:
        """``dL/d theta`` per policy parameter, and its per-element tolerance."""
        assert self.d_log_probs is not None and self.d_entropies is not None
        weights = torch.where(self.binds(), 0.0, self.rho * self.advantages) / self.batch
        magnitude = (self.rho * self.advantages).abs() / self.batch
        slack = magnitude * (FLOAT32_RTOL + self.conditioning())
        ent = self.ent_coef / self.batch
        expected, tolerance = {}, {}
        for name, rows in self.d_log_probs.items():
            h_rows = self.d_entropies[name]
            shape = (-1,) + (1,) * (rows.ndim - 1)
            expected[name] = -(weights.view(shape) * rows).sum(0) - ent * h_rows.sum(0)
            tolerance[name] = (
                (slack.view(shape) * rows.abs()).sum(0)
                + FLOAT32_RTOL * ent * h_rows.abs().sum(0)
                + TINY
            )
        return expected, tolerance

    def value_gradient(self, k: float) -> tuple[dict, dict]:
        """``dL/d phi`` per value-network parameter for the factor ``k``, and its tolerance."""
        assert self.d_values is not None
        scale = 2.0 * k * self.vf_coef / self.batch
        residual = scale * (self.values - self.returns)
        magnitude = FLOAT32_RTOL * scale * (self.values.abs() + self.returns.abs())
        expected, tolerance = {}, {}
        for name, rows in self.d_values.items():
            shape = (-1,) + (1,) * (rows.ndim - 1)
            expected[name] = (residual.view(shape) * rows).sum(0)
            tolerance[name] = (magnitude.view(shape) * rows.abs()).sum(0) + TINY
        return expected, tolerance


def _jacobian_rows(outputs: torch.Tensor, module: torch.nn.Module) -> list[dict]:
    """Per-sample gradients of each of ``outputs`` ``[n, B]``, by parameter name."""
    named = list(module.named_parameters())
    params = [p for _, p in named]
    flat = outputs.reshape(-1)
    basis = torch.eye(flat.shape[0], dtype=flat.dtype)
    grads = torch.autograd.grad(flat, params, basis, is_grads_batched=True, allow_unused=True)
    n, batch = outputs.shape
    rows: list[dict] = [{} for _ in range(n)]
    for (name, param), grad in zip(named, grads, strict=True):
        if grad is None:
            grad = torch.zeros((n * batch, *param.shape), dtype=torch.float64)
        grad = grad.double().reshape(n, batch, *param.shape)
        for j in range(n):
            rows[j][name] = grad[j]
    return rows


def oracle(inputs: dict, gradients: bool = False) -> Oracle:
    """Float64 per-sample quantities from the strategy's networks (CPU).

    The implementation only ever sees deep copies of these (``on_device``), so nothing it
    does to its networks can reach the oracle; ``autograd.grad`` leaves ``.grad`` alone."""
    policy = inputs["policy"]
    value_network = inputs["value_network"]
    observations = inputs["observations"].detach().cpu()
    actions = inputs["actions"].detach().cpu()
    with torch.set_grad_enabled(gradients):
        distribution = policy(observations)
        log_probs = distribution.log_prob(actions)
        entropies = distribution.entropy()
        values = value_network(observations)
    result = Oracle(
        log_probs=log_probs.detach().double(),
        log_prob_old=inputs["log_prob_old"].detach().cpu().double(),
        entropies=entropies.detach().double(),
        values=values.detach().double(),
        advantages=inputs["advantages"].detach().cpu().double(),
        returns=inputs["returns"].detach().cpu().double(),
        eps=float(inputs["clip_eps"]),
        vf_coef=float(inputs["vf_coef"]),
        ent_coef=float(inputs["ent_coef"]),
    )
    if gradients:
        result.d_log_probs, result.d_entropies = _jacobian_rows(
            torch.stack([log_probs, entropies]), policy
        )
        (result.d_values,) = _jacobian_rows(values[None], value_network)
    return result


# ---------------------------------------------------------------------------
# Assertions
# ---------------------------------------------------------------------------


def _known_bugs(o: Oracle, k: float) -> dict[str, float]:
    """What well-known wrong losses give on this batch (to name the bug in a failure)."""
    value = o.vf_coef * o.value_term(k)
    entropy = o.ent_coef * o.entropies.mean()
    policy = -o.policy_terms().mean()
    ones = torch.ones_like(o.rho)
    bugs = {
        "log_prob_old recomputed from the current policy (every ratio 1, nothing clipped)": (
            -o.policy_terms(rho=ones).mean() + value - entropy
        ),
        "the entropy bonus with the wrong sign (+ent_coef * mean H)": policy + value + entropy,
        "max instead of min in the clipped surrogate": (
            -o.policy_terms(pick=torch.maximum).mean() + value - entropy
        ),
        "the advantage clipped instead of the ratio": (
            -torch.minimum(o.rho * o.advantages, o.rho * o.advantages.clamp(1 - o.eps, 1 + o.eps))
            .mean()
            .item()
            + value
            - entropy
        ),
        "the value term without vf_coef": policy + o.value_term(k) - entropy,
        "value predictions [B, 1] broadcast against returns [B] (a [B, B] squared error)": (
            policy
            + o.vf_coef * k * (o.values[:, None] - o.returns[None, :]).pow(2).mean()
            - entropy
        ),
        "the ratio inverted (exp(log_prob_old - log pi))": (
            -o.policy_terms(rho=1.0 / o.rho).mean() + value - entropy
        ),
    }
    if o.batch > 1:
        a = o.advantages
        normalised = (a - a.mean()) / (a.std() + 1e-8)
        bugs["advantages normalised inside the loss (the contract uses them as given)"] = (
            -o.policy_terms(advantages=normalised).mean() + value - entropy
        )
    return {name: float(v) for name, v in bugs.items()}


def _expected(o: Oracle) -> str:
    half, full = float(o.loss(0.5)), float(o.loss(1.0))
    if half == full:
        return f"{half!r}"
    return f"{half!r} (value term with the factor 1/2) or {full!r} (without)"


def matching_factors(actual: float, o: Oracle) -> list[float]:
    tolerance = o.loss_tolerance()
    return [k for k in VALUE_FACTORS if abs(actual - float(o.loss(k))) <= tolerance]


def assert_loss(result: Any, inputs: dict, what: str, o: Oracle | None = None) -> list[float]:
    """The loss matches the definition for ``k = 1/2`` or ``k = 1``; returns the ``k`` matched."""
    o = oracle(inputs) if o is None else o
    actual = as_cpu_tensor(loss_tensor(result, what), what).item()
    if not math.isfinite(actual):
        causes = []
        if float(torch.minimum(o.log_probs, o.log_prob_old).min()) < -745.0:
            causes.append(
                f"log-probabilities down to {float(o.log_probs.min()):.4g}, where exp underflows "
                "to 0: a ratio formed as exp(log pi) / exp(log_prob_old) is 0/0; use "
                "exp(log pi - log_prob_old)"
            )
        if o.batch == 1:
            causes.append(
                "B = 1: advantages normalised inside the loss divide by the std of one value "
                "(nan); the contract uses them as given"
            )
        raise AssertionError(
            f"{what}: {actual!r} is not finite, expected {_expected(o)}"
            + (f" ({'; '.join(causes)})" if causes else "")
        )
    factors = matching_factors(actual, o)
    if factors:
        return factors
    tolerance = o.loss_tolerance()
    hints = []
    for k in VALUE_FACTORS:
        for bug, value in _known_bugs(o, k).items():
            if abs(actual - value) <= tolerance and abs(value - float(o.loss(k))) > tolerance:
                hints.append(bug)
    hint = f"; it is what {' / '.join(dict.fromkeys(hints))} gives" if hints else ""
    raise AssertionError(
        f"{what}: {actual!r}, expected {_expected(o)}; tolerance {tolerance:.3g}{hint}. Terms: "
        "policy "
        f"-mean min(rho A, clip(rho) A) = {float(-o.policy_terms().mean())!r}, value mean "
        f"(V - R)^2 = {float(o.value_term(1.0))!r}, entropy mean H = "
        f"{float(o.entropies.mean())!r}; B = {o.batch}, clip_eps = {o.eps!r}, vf_coef = "
        f"{o.vf_coef!r}, ent_coef = {o.ent_coef!r}, ratios {_summary(o.rho)}"
    )


def _summary(values: torch.Tensor) -> str:
    shown = ", ".join(f"{v:.4g}" for v in values[:6].tolist())
    return f"[{shown}{', ...' if values.numel() > 6 else ''}]"


def _grads(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {
        name: (
            torch.zeros(p.shape, dtype=torch.float64)
            if p.grad is None
            else p.grad.detach().to("cpu", torch.float64)
        )
        for name, p in module.named_parameters()
    }


def _first_mismatch(got: dict, expected: dict, tolerance: dict) -> str | None:
    """``None`` if every element is within its tolerance, else a description of the first miss."""
    for name, want in expected.items():
        error = (got[name] - want).abs()
        bad = error > tolerance[name]
        if bool(bad.any()):
            index = tuple(int(i) for i in bad.nonzero()[0])
            return (
                f"{name}{list(index)} is {got[name][index].item()!r}, expected "
                f"{want[index].item()!r} (tolerance {tolerance[name][index].item():.3g})"
            )
    return None


def backward(result: Any, what: str) -> None:
    loss = loss_tensor(result, what)
    if loss.requires_grad:
        loss.backward()


def assert_gradients(
    given: dict, o: Oracle, factors: list[float], what: str, policy_hint: str = ""
) -> None:
    """After ``backward`` through the loss, both networks' gradients match the oracle's.

    ``factors``: the value term's ``k`` the loss matched (one ``k`` for value and gradient)."""
    got_policy = _grads(given["policy"])
    expected, tolerance = o.policy_gradient()
    miss = _first_mismatch(got_policy, expected, tolerance)
    if miss is not None:
        binds = int(o.binds().sum())
        raise AssertionError(
            f"{what}: gradient w.r.t. policy.{miss}; expected -(1/B) sum_i [clip binds ? 0 : "
            f"rho_i A_i] grad log pi(a_i|s_i) - ent_coef grad mean H ({binds} of {o.batch} "
            f"samples clipped; clip_eps = {o.eps!r}, ent_coef = {o.ent_coef!r}, ratios "
            f"{_summary(o.rho)}){policy_hint}"
        )
    got_value = _grads(given["value_network"])
    misses = {}
    for k in VALUE_FACTORS:
        expected, tolerance = o.value_gradient(k)
        misses[k] = _first_mismatch(got_value, expected, tolerance)
    if any(misses[k] is None for k in factors):
        return
    other = [k for k in VALUE_FACTORS if misses[k] is None]
    why = (
        f" (that is the gradient for k = {other[0]}, but the loss's value used k = "
        f"{factors[0]}: one factor for value and gradient)"
        if other
        else ""
    )
    if o.vf_coef == 0.0:
        why += " (vf_coef = 0: the value network must get no gradient from the policy terms)"
    raise AssertionError(
        f"{what}: gradient w.r.t. value_network.{misses[factors[0]]}; expected "
        f"vf_coef 2k (1/B) sum_i (V(s_i) - R_i) grad V(s_i) with k = {factors[0]}, vf_coef = "
        f"{o.vf_coef!r}{why}"
    )


def state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def assert_unmodified(before: dict, module: torch.nn.Module, label: str) -> None:
    after = state(module)
    for key, value in before.items():
        if not torch.equal(after[key], value):
            raise AssertionError(f"computing the loss (and backward) modified {label}.{key}")
