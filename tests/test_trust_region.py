"""Tests of reference/trust_region.py beyond the contracts: helpers, entry checks, Fisher-vector
products of the policy heads, and one end-to-end TRPO policy update.

The contracts' meanings (HVP, CG, KKT step, line search) are pinned in
properties/test_<contract>.py; here are the reference's own promises (input
validation, the flat-parameter helpers) and the composition the seed's
``:four: TRPO / 主要代码`` performs in ``policy_learn``.
"""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from drlspec.distributions import categorical_kl, gaussian_kl
from drlspec.policies import CategoricalPolicy, GaussianPolicy
from drlspec.trust_region import (
    conjugate_gradient,
    fisher_vector_product,
    flat_grad,
    flat_params,
    hessian_vector_product,
    kkt_step,
    line_search,
    policy_fisher_vector_product,
    set_flat_params,
)

# ---------------------------------------------------------------------------
# Flat parameter vectors
# ---------------------------------------------------------------------------


def _module() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()


def test_flat_params_concatenates_in_parameter_order():
    module = _module()
    expected = torch.cat([p.detach().reshape(-1) for p in module.parameters()])
    flat = flat_params(module)
    assert torch.equal(flat, expected)
    assert not flat.requires_grad
    assert torch.equal(flat_params(list(module.parameters())), expected)


def test_set_flat_params_round_trip_and_in_place():
    module = _module()
    weight = module[0].weight
    new = torch.arange(flat_params(module).numel(), dtype=torch.float64)
    set_flat_params(module, new)
    assert torch.equal(flat_params(module), new)
    assert module[0].weight is weight  # the same Parameter, written in place
    assert torch.equal(module[0].weight.reshape(-1), new[: weight.numel()])


def test_flat_grad_fills_unused_parameters_with_zeros():
    used = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    unused = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    gradient = flat_grad((used**2).sum(), [used, unused])
    assert torch.equal(gradient, torch.tensor([2.0, 4.0, 0.0, 0.0, 0.0], dtype=torch.float64))
    constant = flat_grad(torch.tensor(3.0, dtype=torch.float64), [used, unused])
    assert torch.equal(constant, torch.zeros(5, dtype=torch.float64))


# ---------------------------------------------------------------------------
# Entry checks: TypeError / ValueError naming the argument
# ---------------------------------------------------------------------------


def _params():
    return [torch.ones(2, dtype=torch.float64, requires_grad=True)]


def _matvec(v):
    return 2.0 * v


_B = torch.ones(3, dtype=torch.float64)


_ENTRY_CASES = [
    (lambda: hessian_vector_product(3.0, _params(), torch.ones(2)), TypeError, "scalar_fn"),
    (lambda: hessian_vector_product(lambda: 0, [], torch.ones(2)), ValueError, "params"),
    (
        lambda: hessian_vector_product(lambda: 0, torch.ones(2), torch.ones(2)),
        TypeError,
        "params",
    ),
    (lambda: hessian_vector_product(lambda: 0, _params(), torch.ones(3)), ValueError, "vector"),
    (
        lambda: hessian_vector_product(lambda: 0, [torch.ones(2, dtype=torch.long)], torch.ones(2)),
        TypeError,
        "params[0]",
    ),
    (
        lambda: fisher_vector_product(lambda: 0, _params(), torch.ones(2), -1.0),
        ValueError,
        "damping",
    ),
    (lambda: conjugate_gradient("H", _B, 3, 0.0), TypeError, "matvec"),
    (lambda: conjugate_gradient(_matvec, _B[None], 3, 0.0), ValueError, "b"),
    (lambda: conjugate_gradient(_matvec, _B, 0, 0.0), ValueError, "iters"),
    (lambda: conjugate_gradient(_matvec, _B, 2.0, 0.0), TypeError, "iters"),
    (lambda: conjugate_gradient(_matvec, _B, 3, -1e-10), ValueError, "residual_tol"),
    (lambda: conjugate_gradient(lambda v: -v, _B, 3, 0.0), ValueError, "matvec"),
    (lambda: conjugate_gradient(lambda v: v[:2], _B, 3, 0.0), ValueError, "matvec(p)"),
    (lambda: kkt_step(_B, _B[:2], 0.01), ValueError, "h_direction"),
    (lambda: kkt_step(_B, _B, 0.0), ValueError, "max_kl"),
    (lambda: kkt_step(_B, _B, float("nan")), ValueError, "max_kl"),
    (
        lambda: kkt_step(torch.zeros(3, dtype=torch.float64), _B, 0.01),
        ValueError,
        "direction . h_direction",
    ),
    (lambda: kkt_step(_B, -_B, 0.01), ValueError, "direction . h_direction"),
    (lambda: line_search(None, _matvec, _B, _B, 0.01, 0.5, 10), TypeError, "objective"),
    (lambda: line_search(_matvec, None, _B, _B, 0.01, 0.5, 10), TypeError, "kl"),
    (lambda: line_search(_matvec, _matvec, _B, _B[:2], 0.01, 0.5, 10), ValueError, "full_step"),
    (lambda: line_search(_matvec, _matvec, _B, _B, -0.01, 0.5, 10), ValueError, "max_kl"),
    (lambda: line_search(_matvec, _matvec, _B, _B, 0.01, 1.0, 10), ValueError, "backtrack"),
    (lambda: line_search(_matvec, _matvec, _B, _B, 0.01, 0.0, 10), ValueError, "backtrack"),
    (lambda: line_search(_matvec, _matvec, _B, _B, 0.01, 0.5, 0), ValueError, "max_backtracks"),
    (
        lambda: set_flat_params(_params(), torch.ones(5, dtype=torch.float64)),
        ValueError,
        "flat",
    ),
    (
        lambda: policy_fisher_vector_product(nn.Linear(2, 2), torch.ones(1, 2), torch.ones(6)),
        TypeError,
        "frozen_outputs",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "name"),
    _ENTRY_CASES,
    ids=[f"{i}-{name}" for i, (_, _, name) in enumerate(_ENTRY_CASES)],
)
def test_entry_checks_name_the_argument(call, error, name):
    with pytest.raises(error, match=re.escape(name)):
        call()


# ---------------------------------------------------------------------------
# The reference's own choices where the contract leaves room
# ---------------------------------------------------------------------------


def test_conjugate_gradient_zero_rhs_needs_no_product_even_with_zero_tolerance():
    calls = []

    def matvec(v):
        calls.append(v)
        return 2.0 * v

    x = conjugate_gradient(matvec, torch.zeros(4, dtype=torch.float64), 10, 0.0)
    assert torch.equal(x, torch.zeros(4, dtype=torch.float64))
    assert calls == []


def test_conjugate_gradient_stops_on_an_exact_solution_with_zero_tolerance():
    """H = 2 I: one iteration is exact; r = 0 then stops CG rather than dividing 0 / 0."""
    calls = []

    def matvec(v):
        calls.append(v)
        return 2.0 * v

    b = torch.tensor([1.0, -2.0, 4.0], dtype=torch.float64)
    x = conjugate_gradient(matvec, b, 10, 0.0)
    assert torch.equal(x, b / 2)
    assert len(calls) == 1


def test_hessian_vector_product_does_not_accumulate_grad():
    theta = torch.tensor([0.3, -1.2], dtype=torch.float64, requires_grad=True)
    hessian_vector_product(lambda: (theta**3).sum(), [theta], torch.ones(2, dtype=torch.float64))
    assert theta.grad is None


def test_fisher_vector_product_damping_is_added_visibly():
    theta = torch.tensor([0.3, -1.2], dtype=torch.float64, requires_grad=True)
    v = torch.tensor([1.0, 2.0], dtype=torch.float64)

    def fn():
        return (theta**4).sum()

    plain = hessian_vector_product(fn, [theta], v)
    assert torch.equal(fisher_vector_product(fn, [theta], v), plain)
    assert torch.allclose(fisher_vector_product(fn, [theta], v, 0.1), plain + 0.1 * v)


# ---------------------------------------------------------------------------
# Fisher-vector products of the policy heads against the Fisher matrix
# ---------------------------------------------------------------------------


def _functional(policy: nn.Module, flat: torch.Tensor) -> dict[str, torch.Tensor]:
    """Parameter dict for ``torch.func.functional_call`` from a flat vector (no module copy)."""
    named = list(policy.named_parameters())
    pieces = flat.split([p.numel() for _, p in named])
    return {name: piece.view_as(p) for (name, p), piece in zip(named, pieces, strict=True)}


def _categorical_fisher(policy: CategoricalPolicy, observations: torch.Tensor) -> torch.Tensor:
    r"""``F = mean_s J_s^T (diag p_s - p_s p_s^T) J_s``, ``J_s = d logits_s / d theta``.

    The Fisher information of a softmax in its logits, pulled back through
    the network's Jacobian: a derivation independent of the KL's Hessian.
    """
    theta = flat_params(policy)

    def logits(flat):
        return torch.func.functional_call(policy, _functional(policy, flat), (observations,))

    jacobian = torch.autograd.functional.jacobian(logits, theta)  # [B, A, D]
    probabilities = torch.softmax(logits(theta), dim=1)
    fisher_logits = (
        torch.diag_embed(probabilities) - probabilities[:, :, None] * probabilities[:, None, :]
    )
    return torch.einsum("bad,bae,bef->df", jacobian, fisher_logits, jacobian) / len(observations)


def _gaussian_fisher(policy: GaussianPolicy, observations: torch.Tensor) -> torch.Tensor:
    r"""``F = mean_s J_mu^T diag(1/sigma^2) J_mu + 2 J_l^T J_l`` (``l = log sigma``).

    The Fisher information of ``N(mu, sigma^2)`` is ``1/sigma^2`` in ``mu``
    and ``2`` in ``log sigma``, with no cross term.
    """
    theta = flat_params(policy)

    def outputs(flat):
        mean, std = torch.func.functional_call(policy, _functional(policy, flat), (observations,))
        return mean, std.log()

    mean_jacobian, log_std_jacobian = torch.autograd.functional.jacobian(outputs, theta)
    _, std = policy(observations)
    inverse_variance = std.detach() ** -2
    mean_part = torch.einsum("bkd,bk,bke->de", mean_jacobian, inverse_variance, mean_jacobian)
    log_std_part = 2 * torch.einsum("bkd,bke->de", log_std_jacobian, log_std_jacobian)
    return (mean_part + log_std_part) / len(observations)


def _policy(kind: str, seed: int) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(seed)
    if kind == "categorical":
        policy = CategoricalPolicy(4, 3, hidden_sizes=(8,), activation=nn.Tanh).double()
    else:
        policy = GaussianPolicy(
            4, 2, hidden_sizes=(8,), log_std_init=-0.3, activation=nn.Tanh
        ).double()
    observations = torch.randn(32, 4, dtype=torch.float64)
    return policy, observations


@pytest.mark.parametrize("kind", ["categorical", "gaussian"])
@pytest.mark.parametrize("seed", [0, 1])
def test_policy_fisher_vector_product_matches_fisher_matrix(kind, seed):
    policy, observations = _policy(kind, seed)
    fisher = (_categorical_fisher if kind == "categorical" else _gaussian_fisher)(
        policy, observations
    )
    generator = torch.Generator().manual_seed(seed)
    for damping in (0.0, 0.1):
        v = torch.randn(fisher.shape[0], generator=generator, dtype=torch.float64)
        result = policy_fisher_vector_product(policy, observations, v, damping)
        expected = fisher @ v + damping * v
        # float64 throughout; 1e-10 of the terms' size is rounding, not approximation.
        tolerance = 1e-10 * float((fisher.abs() @ v.abs()).max() + damping * v.abs().max())
        assert (result - expected).abs().max() <= tolerance


# ---------------------------------------------------------------------------
# One TRPO policy update, end to end
# ---------------------------------------------------------------------------


def _trpo_data(kind: str, seed: int):
    policy, observations = _policy(kind, seed)
    generator = torch.Generator().manual_seed(100 + seed)
    actions = policy.sample(observations, generator=generator)
    advantages = torch.randn(len(observations), generator=generator, dtype=torch.float64)
    advantages = (advantages - advantages.mean()) / advantages.std()
    return policy, observations, actions, advantages


def _trpo_update(policy, observations, actions, advantages, max_kl, damping=0.01):
    """The seed's ``policy_learn``, from the reference kernels.

    Candidates are evaluated with ``torch.func.functional_call`` on a flat
    vector: no copy of the policy per trial (the seed deep-copies the actor
    for each of its 15), and the policy itself is written once, at the end.
    Returns the surrogate and the KL as functions of a flat vector, and the
    full KKT step, for the checks.
    """
    theta_old = flat_params(policy)
    old_outputs = policy.frozen_outputs(observations)
    old_log_probs = policy.log_prob(observations, actions).detach()

    def surrogate(flat):
        ratio = torch.exp(_log_prob_at(policy, flat, observations, actions) - old_log_probs)
        return (ratio * advantages).mean()

    def mean_kl(flat):
        with torch.no_grad():
            outputs = torch.func.functional_call(policy, _functional(policy, flat), (observations,))
        return _kl(policy, old_outputs, outputs).mean()

    objective = torch.exp(policy.log_prob(observations, actions) - old_log_probs) * advantages
    gradient = flat_grad(objective.mean(), policy)

    def fvp(v):
        return policy_fisher_vector_product(policy, observations, v, damping)

    # A residual tolerance relative to the gradient's size: scale-free.
    direction = conjugate_gradient(fvp, gradient, 10, 1e-10 * float(gradient @ gradient))
    full_step = kkt_step(direction, fvp(direction), max_kl)
    new_theta = line_search(surrogate, mean_kl, theta_old, full_step, max_kl, 0.5, 10)
    assert torch.equal(flat_params(policy), theta_old), "the line search moved the policy"
    set_flat_params(policy, new_theta)
    return surrogate, mean_kl, theta_old, full_step


def _log_prob_at(policy, flat, observations, actions):
    params = _functional(policy, flat)
    with torch.no_grad():
        outputs = torch.func.functional_call(policy, params, (observations,))
    if isinstance(policy, CategoricalPolicy):
        return torch.log_softmax(outputs, dim=1).gather(1, actions[:, None]).squeeze(1)
    mean, std = outputs
    return torch.distributions.Normal(mean, std).log_prob(actions).sum(dim=1)


def _kl(policy, old_outputs, outputs):
    if isinstance(policy, CategoricalPolicy):
        return categorical_kl(old_outputs, outputs)
    return gaussian_kl(old_outputs[0], old_outputs[1], outputs[0], outputs[1])


@pytest.mark.parametrize("kind", ["categorical", "gaussian"])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("max_kl", [0.01, 0.05])
def test_trpo_update_respects_trust_region_and_improves(kind, seed, max_kl):
    policy, observations, actions, advantages = _trpo_data(kind, seed)
    surrogate, mean_kl, theta_old, full_step = _trpo_update(
        policy, observations, actions, advantages, max_kl
    )
    theta_new = flat_params(policy)

    measured_kl = float(mean_kl(theta_new))
    assert measured_kl <= max_kl
    # At theta_old the ratio is 1, so the surrogate is mean(advantages) = 0.
    assert float(surrogate(theta_new)) >= float(surrogate(theta_old))
    # Not vacuous: on this data the update moves, and improves strictly.
    assert not torch.equal(theta_new, theta_old)
    assert float(surrogate(theta_new)) > float(surrogate(theta_old))
    # The quadratic model is the KL's second-order Taylor term: along the step,
    # KL(theta + t s) / (0.5 t^2 s^T F s) -> 1 as t -> 0. At t = 1e-2 the
    # third-order remainder is about t times the ratio's deviation at t = 1
    # (at most ~1 on this data), so within 5%.
    t = 1e-2
    model = 0.5 * t**2 * float(full_step @ _fisher_at(kind, seed, full_step))
    ratio = float(mean_kl(theta_old + t * full_step)) / model
    assert 0.95 <= ratio <= 1.05, ratio


def _fisher_at(kind: str, seed: int, vector: torch.Tensor) -> torch.Tensor:
    """``F v`` (no damping) at the policy's parameters before the update."""
    policy, observations, _, _ = _trpo_data(kind, seed)
    return policy_fisher_vector_product(policy, observations, vector)
