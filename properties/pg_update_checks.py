"""Inputs, oracle and checks shared by ``reinforce_loss`` and ``actor_critic_losses``.

Inputs. A policy and a value network from :func:`policy_networks` (discrete ``Categorical``
or continuous ``Independent(Normal)``, float64 tanh MLPs of random widths); B in 1..32, with
B == 1 and B == A (or K) drawn often; actions drawn from a seeded generator (int64 or int32
indices ``[B]``, float ``[B, K]``); returns and rewards of both signs (returns at scales 0.1,
1 and 10); terminated none, some or all, bool or 0/1 float; gamma at 0, at 1 and inside.

Oracle. Everything is recomputed in float64 from the drawn networks, of which the
implementation only ever receives deep copies (:func:`on_device`), so nothing it does to them
can leak back: ``log pi(a_i|s_i)``, ``V(s_i)``, ``V(s'_i)``, and the per-sample gradients
``grad log pi(a_i|s_i)`` and ``grad V(s_i)`` sample by sample (``autograd.grad``, which
writes no ``.grad``). Copying the networks once more per check would double the cost of an
example, which is what shrinking a failure pays for hundreds of times.

Tolerances (an implementation may compute in float32 inside; FLOAT32_RTOL, assertions.py):

- a network output (logits, mean, value) computed in float32 errs relative to its forward
  magnitude ``e`` (``|W| |a| + |b|`` layer by layer, :class:`LayerMagnitudes`), not to itself;
- ``log pi(a_i|s_i)`` is a difference of terms of order ``|log pi(a_i|s_i)|`` and 1 per
  action dimension (the log-normaliser; ``log sigma`` and ``log(2 pi)/2``), plus what the
  outputs' errors move it by: its magnitude ``m_i`` is ``|log pi_i| + n + 2 max_j e_ij``
  (discrete, n = 1) or ``|log pi_i| + K + sum_k |z_ik| e_ik / sigma_k`` (continuous);
- a TD error ``delta_i = r_i + gamma (1 - d_i) V(s'_i) - V(s_i)`` combines magnitudes
  ``s_i = |r_i| + gamma (|V(s'_i)| + e(s'_i)) + |V(s_i)| + e(s_i)``;
- a loss ``(1/B) sum_i f_i`` is judged within ``FLOAT32_RTOL (1/B) sum_i M_i``, with ``M_i``
  the first-order error bound of ``f_i`` from the magnitudes above (``|G_i| m_i`` for
  REINFORCE, ``|delta_i| m_i + |log pi_i| s_i`` for the policy loss, ``2 |delta_i| s_i +
  FLOAT32_RTOL s_i**2`` for the value loss);
- a gradient element is judged within ``FLOAT32_RTOL (1/B) sum_i w_i G_i`` (``w_i`` the
  magnitude of the sample's weight, including the error the weight itself may carry;
  ``G_i >= |dX_i/dtheta|`` the magnitude backprop of ``X_i``, the log-probability or the
  value, combines: :class:`LayerMagnitudes`), so a bug confined to one sample shows at any
  batch size and cancellation, across samples or inside backprop, does not shrink the bound
  to nothing.

The value loss may carry the factor 1/2 (docs/contracts.md, Update contracts): a factor is
admissible when the value matches it, and the gradient must match an admissible factor.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch
from hypothesis import strategies as st
from torch import nn

from drlspec.properties.assertions import FLOAT32_RTOL, as_cpu_tensor, assert_close
from drlspec.properties.update_strategies import policy_networks

__all__ = [
    "ACTOR_CRITIC_ARGUMENTS",
    "REINFORCE_ARGUMENTS",
    "VALUE_FACTORS",
    "LayerMagnitudes",
    "actor_critic_batches",
    "assert_actor_critic_values",
    "assert_networks_untouched",
    "assert_no_gradient",
    "assert_policy_loss_gradient",
    "assert_reinforce_gradient",
    "assert_reinforce_value",
    "assert_value_loss_gradient",
    "backward",
    "call_actor_critic",
    "call_reinforce",
    "on_device",
    "reinforce_batches",
    "returns_with_graph",
]

REINFORCE_ARGUMENTS = ("policy", "observations", "actions", "returns")
ACTOR_CRITIC_ARGUMENTS = (
    "policy",
    "value_network",
    "observations",
    "actions",
    "rewards",
    "next_observations",
    "terminated",
    "gamma",
)
# The value loss is the mean of squares, or half of it (CleanRL, the seed's L(omega)).
VALUE_FACTORS = (1.0, 0.5)

_GAMMAS = st.one_of(st.sampled_from([0.0, 1.0, 0.99]), st.floats(0.0, 1.0))
_TINY = 2.0**-1000  # keeps a zero bound from rejecting an exactly right zero


def _batch_size(draw: st.DrawFn, action_dim: int) -> int:
    # B == A (or K) makes a [B, 1] - [B] broadcast shape-compatible with a wrong answer.
    return draw(
        st.one_of(st.just(1), st.just(action_dim), st.integers(1, 32)),
        label="B",
    )


@st.composite
def reinforce_batches(draw: st.DrawFn, continuous: bool | None = None) -> dict:
    """A policy and a batch ``(observations, actions, returns)`` for ``reinforce_loss``."""
    networks = draw(policy_networks(continuous))
    batch = _batch_size(draw, networks["action_dim"])
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**32 - 1), label="seed"))
    scale = draw(st.sampled_from([0.1, 1.0, 10.0]), label="returns scale")
    obs_shape = (batch, networks["obs_dim"])
    return {
        "policy": networks["policy"],
        "observations": torch.randn(obs_shape, generator=generator, dtype=torch.float64),
        "actions": networks["draw_actions"](batch, generator),
        "returns": scale * (2.0 * torch.rand(batch, generator=generator, dtype=torch.float64) - 1),
        "continuous": networks["continuous"],
        "value_network": networks["value_network"],
    }


@st.composite
def actor_critic_batches(draw: st.DrawFn, continuous: bool | None = None) -> dict:
    """A policy, a value network and a one-step batch for ``actor_critic_losses``."""
    networks = draw(policy_networks(continuous))
    batch = _batch_size(draw, networks["action_dim"])
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**32 - 1), label="seed"))
    obs_shape = (batch, networks["obs_dim"])
    rate = draw(st.sampled_from([0.0, 0.5, 1.0]), label="terminated rate")
    flag_dtype = draw(st.sampled_from([torch.bool, torch.float64]), label="terminated dtype")
    return {
        "policy": networks["policy"],
        "value_network": networks["value_network"],
        "observations": torch.randn(obs_shape, generator=generator, dtype=torch.float64),
        "actions": networks["draw_actions"](batch, generator),
        "rewards": 2.0 * torch.rand(batch, generator=generator, dtype=torch.float64) - 1.0,
        "next_observations": torch.randn(obs_shape, generator=generator, dtype=torch.float64),
        "terminated": (torch.rand(batch, generator=generator) < rate).to(flag_dtype),
        "gamma": draw(_GAMMAS, label="gamma"),
        "continuous": networks["continuous"],
    }


# ---------------------------------------------------------------------------
# Calling the implementation
# ---------------------------------------------------------------------------


def _private_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module`` sharing no tensor and no container with it.

    What ``copy.deepcopy`` gives for these modules, at a fraction of its cost (which would
    otherwise be half of every example): the module objects are copied, every dict attribute
    (parameters, buffers, submodules, hooks) is copied, parameters and buffers are cloned.
    """
    new = copy.copy(module)
    for key, value in vars(module).items():
        if isinstance(value, dict):
            setattr(new, key, type(value)(value) if type(value) is not dict else dict(value))
    for name, parameter in module._parameters.items():
        if parameter is not None:
            clone = parameter.detach().clone()
            new._parameters[name] = nn.Parameter(clone, parameter.requires_grad)
    for name, buffer in module._buffers.items():
        if buffer is not None:
            new._buffers[name] = buffer.clone()
    for name, child in module._modules.items():
        if child is not None:
            new._modules[name] = _private_copy(child)
    return new


def on_device(inputs: dict, device: str) -> dict:
    """Private copies of the networks and tensors, on ``device``."""
    out: dict[str, Any] = {}
    for name, value in inputs.items():
        if isinstance(value, nn.Module):
            out[name] = _private_copy(value).to(device)
        elif isinstance(value, torch.Tensor):
            out[name] = value.to(device)
        else:
            out[name] = value
    return out


def _scalar(value: Any, what: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise AssertionError(f"{what}: expected a scalar tensor, got {type(value).__name__}")
    if value.shape != ():
        raise AssertionError(
            f"{what}: shape {list(value.shape)}, expected a scalar (0-d tensor); a [B, B] "
            "broadcast reduced to a scalar would hide here, a [1] or [B] result is refused"
        )
    return value


def call_reinforce(impl, inputs: dict) -> torch.Tensor:
    """The implementation's loss, checked to be a 0-d tensor."""
    return _scalar(impl(*(inputs[name] for name in REINFORCE_ARGUMENTS)), "reinforce_loss")


def call_actor_critic(impl, inputs: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """``(policy_loss, value_loss)`` from the implementation, each checked to be 0-d."""
    result = impl(*(inputs[name] for name in ACTOR_CRITIC_ARGUMENTS))
    if not isinstance(result, Sequence) or len(result) != 2:
        raise AssertionError(
            f"actor_critic_losses returned {type(result).__name__}, not the pair "
            "(policy_loss, value_loss)"
        )
    return _scalar(result[0], "policy_loss"), _scalar(result[1], "value_loss")


def backward(loss: torch.Tensor, what: str, cause: str) -> None:
    """``loss.backward()``, failing with ``cause`` if the loss carries no graph."""
    if not loss.requires_grad:
        raise AssertionError(f"{what} carries no gradient: {cause}")
    loss.backward()


# ---------------------------------------------------------------------------
# Oracle
# ---------------------------------------------------------------------------


def _per_sample_gradients(
    outputs: torch.Tensor, parameters: list[torch.Tensor]
) -> list[torch.Tensor]:
    """``[B, *p.shape]`` gradients of each ``outputs[i]`` w.r.t. each parameter."""
    rows: list[list[torch.Tensor]] = [[] for _ in parameters]
    for i in range(outputs.shape[0]):
        grads = torch.autograd.grad(outputs[i], parameters, retain_graph=True, allow_unused=True)
        for k, (grad, parameter) in enumerate(zip(grads, parameters, strict=True)):
            rows[k].append(torch.zeros_like(parameter) if grad is None else grad.double())
    return [torch.stack(row) for row in rows]


class LayerMagnitudes:
    """Forward and backward magnitudes of a tanh MLP, for per-sample gradient error bounds.

    Float32 arithmetic errs relative to the magnitudes it combines, not to its result: a
    pre-activation ``z = W a + b`` that cancels to near 0 still carries an error of order
    ``u (|W| |a| + |b|)``, and ``tanh' = 1 - tanh**2`` of a saturated unit cancels far below
    its O(u) absolute error. So the forward magnitude of a layer's input is ``|a| + |W| a^ +
    |b|`` (recursively, ``a^`` the previous one; ``|tanh'| <= 1``), a magnitude arriving
    at a layer's output is backpropagated through ``|W|`` with ``tanh'`` bounded by 1, and a
    weight's gradient magnitude is ``input magnitude x output magnitude``.
    """

    def __init__(self, body: nn.Sequential, observations: torch.Tensor, prefix: str) -> None:
        self.layers: list[tuple[str, nn.Linear, torch.Tensor]] = []
        h, magnitude = observations, observations.abs()
        with torch.no_grad():
            for index, layer in enumerate(body):
                if isinstance(layer, nn.Linear):
                    self.layers.append((f"{prefix}{index}", layer, magnitude))
                    magnitude = magnitude @ layer.weight.abs().T + layer.bias.abs()
                    h = layer(h)
                    self.output = magnitude
                    magnitude = h.abs() + magnitude
                else:
                    h = layer(h)

    def backward(self, output_magnitude: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-sample ``[B, *p.shape]`` gradient magnitudes by parameter name."""
        out: dict[str, torch.Tensor] = {}
        m = output_magnitude
        for name, linear, a in reversed(self.layers):
            out[f"{name}.weight"] = m[:, :, None] * a[:, None, :]
            out[f"{name}.bias"] = m
            m = m @ linear.weight.detach().abs()
        return out


def _policy_gradient_magnitudes(
    policy: nn.Module, observations: torch.Tensor, actions: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Per-sample magnitudes of ``grad log pi(a_i|s_i)`` for the drawn policy heads.

    With ``e`` the forward magnitude of the head's output (:class:`LayerMagnitudes`), the
    magnitudes at the output are ``onehot(a) + p (1 + 2 e)`` for the logits (``d log pi / d
    logits = onehot - p``; p moves by ``p`` times the logits' error), ``(|z| + 1 + e /
    sigma) / sigma`` for the mean (``d/d mu = z / sigma``; mu's error moves z by ``e /
    sigma``), and ``z**2 + 1 + 2|z| (1 + e / sigma)`` for ``log sigma`` (``z**2 - 1``).
    Another module gets no entry (its own ``|g|`` is used).
    """
    body = getattr(policy, "body", None)
    if not isinstance(body, nn.Sequential):
        return {}
    magnitudes = LayerMagnitudes(body, observations, "body.")
    e = magnitudes.output
    with torch.no_grad():
        distribution = policy(observations)
        if isinstance(distribution, torch.distributions.Categorical):
            p = distribution.probs.double()
            onehot = torch.nn.functional.one_hot(actions.long(), p.shape[1]).double()
            return magnitudes.backward(onehot + p * (1.0 + 2.0 * e))
        normal = distribution.base_dist
        sigma = normal.scale.double()
        z = ((actions - normal.loc) / normal.scale).double().abs()
        out = magnitudes.backward((z + 1.0 + e / sigma) / sigma)
        out["log_std"] = z**2 + 1.0 + 2.0 * z * (1.0 + e / sigma)
        return out


def _gradient_pairs(
    module: nn.Module, outputs: torch.Tensor, magnitudes: dict[str, torch.Tensor]
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per-sample gradients of ``outputs`` and their magnitudes (at least ``|g|``)."""
    names = [name for name, _ in module.named_parameters()]
    grads = _per_sample_gradients(outputs, list(module.parameters()))
    bounds = []
    for name, grad in zip(names, grads, strict=True):
        magnitude = magnitudes.get(name)
        bounds.append(grad.abs() if magnitude is None else torch.maximum(grad.abs(), magnitude))
    return grads, bounds


def _log_probs(
    inputs: dict, gradients: bool = False
) -> tuple[torch.Tensor, torch.Tensor, list[str], tuple[list, list]]:
    """``log pi(a_i|s_i)`` ``[B]``, its magnitude ``m_i``, and per-sample gradients."""
    policy = inputs["policy"]
    names = [name for name, _ in policy.named_parameters()]
    actions = inputs["actions"].cpu()
    observations = inputs["observations"].cpu()
    with torch.set_grad_enabled(gradients):
        log_probs = policy(observations).log_prob(actions)
    per_sample: tuple[list, list] = ([], [])
    if gradients:
        magnitudes = _policy_gradient_magnitudes(policy, observations, actions)
        per_sample = _gradient_pairs(policy, log_probs, magnitudes)
    log_probs = log_probs.detach().double()
    magnitude = _log_prob_magnitude(policy, observations, actions, log_probs)
    return log_probs, magnitude, names, per_sample


def _log_prob_magnitude(
    policy: nn.Module, observations: torch.Tensor, actions: torch.Tensor, log_probs: torch.Tensor
) -> torch.Tensor:
    """``m_i``: the magnitudes ``log pi(a_i|s_i)`` is computed from (module docstring).

    ``|log pi| + n`` (n = 1 or K: the log-normaliser, ``log sigma`` and ``log(2 pi)/2`` per
    dimension), plus what the head's forward error ``e`` (:class:`LayerMagnitudes`) moves it
    by: ``2 max_j e_j`` through ``logit_a - logsumexp``, ``sum_k |z_k| e_k / sigma_k``
    through ``z**2 / 2``.
    """
    dims = actions.shape[1] if actions.ndim == 2 else 1
    magnitude = log_probs.abs() + dims
    body = getattr(policy, "body", None)
    if not isinstance(body, nn.Sequential):
        return magnitude
    e = LayerMagnitudes(body, observations, "body.").output
    with torch.no_grad():
        distribution = policy(observations)
        if isinstance(distribution, torch.distributions.Categorical):
            return magnitude + 2.0 * e.max(dim=1).values
        normal = distribution.base_dist
        z = ((actions - normal.loc) / normal.scale).double().abs()
        return magnitude + (z * e / normal.scale.double()).sum(dim=1)


def _value_magnitude(value_network: nn.Module, observations: torch.Tensor) -> torch.Tensor:
    """``|V(s)|`` plus the forward magnitude of its output (:class:`LayerMagnitudes`)."""
    with torch.no_grad():
        values = value_network(observations).double().abs()
    body = getattr(value_network, "body", None)
    if not isinstance(body, nn.Sequential):
        return values
    return values + LayerMagnitudes(body, observations, "body.").output[:, 0]


def _value_terms(inputs: dict, gradients: bool = False) -> dict[str, Any]:
    """``V(s)``, ``V(s')``, ``y``, ``delta = y - V(s)``, ``s_i`` and ``grad V(s_i)``."""
    value_network = inputs["value_network"]
    observations = inputs["observations"].cpu()
    with torch.set_grad_enabled(gradients):
        values = value_network(observations)
    per_sample: tuple[list, list] = ([], [])
    if gradients:
        body = getattr(value_network, "body", None)
        magnitudes = {}
        if isinstance(body, nn.Sequential):
            ones = torch.ones(values.shape[0], 1, dtype=torch.float64)
            magnitudes = LayerMagnitudes(body, observations, "body.").backward(ones)
        per_sample = _gradient_pairs(value_network, values, magnitudes)
    values = values.detach().double()
    with torch.no_grad():
        next_values = value_network(inputs["next_observations"].cpu()).double()
    rewards = inputs["rewards"].cpu().double()
    alive = 1.0 - inputs["terminated"].cpu().double()
    gamma = inputs["gamma"]
    targets = rewards + gamma * alive * next_values
    return {
        "values": values,
        "next_values": next_values,
        "targets": targets,
        "deltas": targets - values,
        "scale": rewards.abs()
        + gamma * _value_magnitude(value_network, inputs["next_observations"].cpu())
        + _value_magnitude(value_network, observations),
        "names": [name for name, _ in value_network.named_parameters()],
        "gradients": per_sample,
    }


def _weighted(
    gradients: tuple[list[torch.Tensor], list[torch.Tensor]],
    weights: torch.Tensor,
    magnitudes: torch.Tensor,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """``sum_i w_i g_i`` per parameter and its bound ``FLOAT32_RTOL sum_i M_i |g|_i``."""
    totals, bounds = [], []
    for grad, grad_magnitude in zip(*gradients, strict=True):
        shape = (-1,) + (1,) * (grad.ndim - 1)
        totals.append((weights.reshape(shape) * grad).sum(0))
        bound = (magnitudes.reshape(shape) * grad_magnitude).sum(0)
        bounds.append(FLOAT32_RTOL * bound + _TINY)
    return totals, bounds


def _compare_gradients(
    module: nn.Module,
    names: list[str],
    expected: list[torch.Tensor],
    bounds: list[torch.Tensor],
    what: str,
) -> None:
    got_names = [name for name, _ in module.named_parameters()]
    if got_names != names:
        raise AssertionError(f"{what}: the network's parameters changed names: {got_names}")
    for name, parameter, want, bound in zip(
        names, module.parameters(), expected, bounds, strict=True
    ):
        got = parameter.grad if parameter.grad is not None else torch.zeros_like(parameter)
        assert_close(got, want, what=f"{what} w.r.t. {name}", tolerance=bound)


def assert_no_gradient(module: nn.Module, label: str, cause: str) -> None:
    """Every parameter of ``module`` has gradient ``None`` or exactly zero."""
    for name, parameter in module.named_parameters():
        if parameter.grad is not None:
            leaked = parameter.grad.detach().abs().max().item()
            if leaked != 0.0:
                raise AssertionError(
                    f"{label}.{name} received a gradient (largest {leaked:.3g}): {cause}"
                )


# ---------------------------------------------------------------------------
# reinforce_loss
# ---------------------------------------------------------------------------


def assert_reinforce_value(result: torch.Tensor, inputs: dict, what: str) -> None:
    """``result`` is ``-(1/B) sum_i log pi(a_i|s_i) G_i`` within its bound."""
    log_probs, magnitude, _, _ = _log_probs(inputs)
    returns = inputs["returns"].detach().cpu().double()
    expected = -(log_probs * returns).mean()
    bound = FLOAT32_RTOL * (magnitude * returns.abs()).mean() + _TINY
    batch = returns.shape[0]
    got = as_cpu_tensor(result, what)
    if not bool((got - expected).abs() <= bound):
        total = -(log_probs * returns).sum()
        hint = (
            " (that is the sum over the batch: the loss is the mean)"
            if batch > 1 and bool((got - total).abs() <= batch * bound)
            else ""
        )
        raise AssertionError(
            f"{what} is {got.item()!r}, expected {expected.item()!r} = -(1/B) sum_i "
            f"log pi(a_i|s_i) G_i with B = {batch} (tolerance {bound.item():.3g}){hint}"
        )


def assert_reinforce_gradient(impl, inputs: dict, device: str) -> None:
    """The gradient w.r.t. the policy is ``-(1/B) sum_i G_i grad log pi(a_i|s_i)``."""
    given = on_device(inputs, device)
    loss = call_reinforce(impl, given)
    backward(
        loss,
        "reinforce_loss",
        "the loss cannot train the policy (log pi computed under no_grad, or detached?)",
    )
    _, _, names, gradients = _log_probs(inputs, gradients=True)
    returns = inputs["returns"].detach().cpu().double()
    batch = returns.shape[0]
    expected, bounds = _weighted(gradients, -returns / batch, returns.abs() / batch)
    _compare_gradients(
        given["policy"],
        names,
        expected,
        bounds,
        "gradient of reinforce_loss (expected -(1/B) sum_i G_i grad log pi(a_i|s_i))",
    )


def returns_with_graph(inputs: dict, device: str) -> tuple[dict, torch.Tensor, nn.Module]:
    """``inputs`` whose returns are ``G - b(s) + b(s).detach()``, ``G`` a leaf, ``b`` a network.

    The values are those of ``G`` to rounding; the graph reaches the leaf ``G`` and the
    baseline network's parameters, as a return computed by a critic with gradient would.
    """
    given = on_device(inputs, device)
    leaf = inputs["returns"].detach().clone().to(device).requires_grad_(True)
    baseline = _private_copy(inputs["value_network"]).to(device)
    b = baseline(given["observations"])
    given["returns"] = leaf - b + b.detach()
    return given, leaf, baseline


# ---------------------------------------------------------------------------
# actor_critic_losses
# ---------------------------------------------------------------------------


def _admissible_factors(value_loss: torch.Tensor, terms: dict) -> tuple[list[float], str]:
    """The factors ``c`` for which ``value_loss == c mean_i delta_i**2`` within its bound."""
    deltas, scale = terms["deltas"], terms["scale"]
    squares = (deltas**2).mean()
    bound = FLOAT32_RTOL * (2.0 * deltas.abs() * scale + FLOAT32_RTOL * scale**2).mean() + _TINY
    got = as_cpu_tensor(value_loss, "value_loss")
    factors = [c for c in VALUE_FACTORS if bool((got - c * squares).abs() <= c * bound)]
    message = (
        f"value_loss is {got.item()!r}, expected (1/B) sum_i (V(s_i) - y_i)**2 = "
        f"{squares.item()!r} or half of it (tolerance {bound.item():.3g}); "
        f"y_i = r_i + gamma (1 - terminated_i) V(s'_i)"
    )
    return factors, message


def assert_actor_critic_values(
    result: tuple[torch.Tensor, torch.Tensor], inputs: dict, what: str
) -> None:
    """Both losses match their definitions (the value loss with factor 1 or 1/2)."""
    policy_loss, value_loss = result
    log_probs, magnitude, _, _ = _log_probs(inputs)
    terms = _value_terms(inputs)
    deltas, scale = terms["deltas"], terms["scale"]
    expected = -(log_probs * deltas).mean()
    bound = (
        FLOAT32_RTOL * (magnitude * deltas.abs() + log_probs.abs() * scale).mean()
        + FLOAT32_RTOL**2 * (magnitude * scale).mean()
        + _TINY
    )
    got = as_cpu_tensor(policy_loss, "policy_loss")
    if not bool((got - expected).abs() <= bound):
        raise AssertionError(
            f"{what}: policy_loss is {got.item()!r}, expected {expected.item()!r} = -(1/B) "
            f"sum_i log pi(a_i|s_i) delta_i, delta_i = r_i + gamma (1 - terminated_i) V(s'_i) "
            f"- V(s_i) (tolerance {bound.item():.3g}; gamma {inputs['gamma']!r}, "
            f"B = {deltas.shape[0]})"
        )
    factors, message = _admissible_factors(value_loss, terms)
    if not factors:
        raise AssertionError(f"{what}: {message} (gamma {inputs['gamma']!r})")


def assert_policy_loss_gradient(impl, inputs: dict, device: str) -> None:
    """The policy loss's gradient is ``-(1/B) sum_i delta_i grad log pi``; V gets none."""
    given = on_device(inputs, device)
    policy_loss, _ = call_actor_critic(impl, given)
    backward(
        policy_loss,
        "policy_loss",
        "the actor cannot learn (log pi computed under no_grad, or detached?)",
    )
    assert_no_gradient(
        given["value_network"],
        "value_network",
        "the policy loss trains the critic (the advantage delta was not detached)",
    )
    _, _, names, gradients = _log_probs(inputs, gradients=True)
    terms = _value_terms(inputs)
    deltas, scale = terms["deltas"], terms["scale"]
    batch = deltas.shape[0]
    expected, bounds = _weighted(gradients, -deltas / batch, (deltas.abs() + scale) / batch)
    _compare_gradients(
        given["policy"],
        names,
        expected,
        bounds,
        "gradient of policy_loss (expected -(1/B) sum_i delta_i grad log pi(a_i|s_i))",
    )


def assert_value_loss_gradient(impl, inputs: dict, device: str) -> None:
    """The value loss's gradient is semi-gradient TD's; the policy gets none."""
    given = on_device(inputs, device)
    _, value_loss = call_actor_critic(impl, given)
    terms = _value_terms(inputs, gradients=True)
    factors, message = _admissible_factors(value_loss, terms)
    if not factors:
        raise AssertionError(message)
    backward(
        value_loss,
        "value_loss",
        "the critic cannot learn (V(s) computed under no_grad, or detached?)",
    )
    assert_no_gradient(
        given["policy"],
        "policy",
        "the value loss trains the actor (it must reach the value network only)",
    )
    deltas, scale = terms["deltas"], terms["scale"]
    batch = deltas.shape[0]
    failures = []
    for factor in factors:
        # d/dphi c mean (V - y)^2 = (2c/B) sum_i (V(s_i) - y_i) grad V(s_i), y fixed.
        weights = -2.0 * factor * deltas / batch
        magnitudes = 2.0 * factor * (deltas.abs() + scale) / batch
        expected, bounds = _weighted(terms["gradients"], weights, magnitudes)
        try:
            _compare_gradients(
                given["value_network"],
                terms["names"],
                expected,
                bounds,
                f"gradient of value_loss (factor {factor:g}; expected semi-gradient TD "
                f"(2c/B) sum_i (V(s_i) - y_i) grad V(s_i), no gradient through y = r + "
                f"gamma (1 - terminated) V(s'))",
            )
            return
        except AssertionError as error:
            failures.append(str(error))
    raise AssertionError(failures[0])


# ---------------------------------------------------------------------------
# Both
# ---------------------------------------------------------------------------


def _state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def assert_networks_untouched(
    call: Callable[[dict], Any], inputs: dict, device: str, labels: Sequence[str]
) -> None:
    """The call writes no ``.grad`` and, with a backward after it, modifies no network."""
    given = on_device(inputs, device)
    before = {label: _state(given[label]) for label in labels}
    result = call(given)
    for label in labels:
        for name, parameter in given[label].named_parameters():
            if parameter.grad is not None:
                raise AssertionError(
                    f"the call itself wrote {label}.{name}.grad: it ran backward, and the "
                    "caller's own backward would count that gradient twice"
                )
    losses = result if isinstance(result, tuple) else (result,)
    total = sum(loss.double() for loss in losses if loss.requires_grad)
    if isinstance(total, torch.Tensor):
        total.backward()
    for label in labels:
        after = _state(given[label])
        for key, value in before[label].items():
            if not torch.equal(after[key], value):
                raise AssertionError(f"the call modified {label}.{key}")
