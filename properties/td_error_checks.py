"""Oracle and checks shared by ``dqn_td_errors`` and ``double_dqn_td_errors``.

The oracle recomputes ``Q_theta(s, a) - y`` in float64 from the very networks the
implementation received (deep copies, so nothing it does to them can leak back), the
gradient of ``sum_i c_i delta_i`` w.r.t. ``theta`` as ``sum_i c_i grad Q_theta(s_i, a_i)``
one sample at a time, and the per-element tolerances:

- a TD error combines ``Q_theta(s_i, a_i)``, ``r_i`` and ``gamma Q_target(s'_i, .)``: it is
  judged within ``FLOAT32_RTOL (|Q_theta(s_i, a_i)| + |r_i| + gamma max_a |Q_target(s'_i, a)|)``
  (an implementation may do that arithmetic in float32);
- a network output is a sum of terms of order ``e = |W| |a| + |b|`` layer by layer (its
  forward magnitude, :class:`drlspec.properties.pg_update_checks.LayerMagnitudes`), which
  float32 arithmetic errs relative to, also where the terms cancel: the scale of a TD error
  adds ``e`` of ``Q_theta(s_i, a_i)`` and ``gamma max_a e`` of ``Q_target(s'_i, .)``;
- a gradient element is judged within ``FLOAT32_RTOL sum_i |c_i| G_i``, ``G_i`` the magnitude
  backprop of ``d Q_theta(s_i, a_i)/d theta`` through ``|W|`` with ``tanh'`` bounded by 1
  (a weight behind a saturated tanh has a tiny gradient with an O(u) absolute error), so a
  bug confined to one sample shows at any batch size and cancellation does not shrink the
  bound to nothing.

Double DQN's selection: an action whose ``Q_theta(s', .)`` is within ``2**-23`` relative of
the row's maximum may be selected (the tie rule of ``double_dqn_target``).
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from drlspec.properties.assertions import FLOAT32_RTOL, as_cpu_tensor, assert_close
from drlspec.properties.pg_update_checks import LayerMagnitudes
from drlspec.properties.value_strategies import admissible_actions

ARGUMENTS = (
    "q_network",
    "target_network",
    "observations",
    "actions",
    "rewards",
    "next_observations",
    "terminated",
    "gamma",
)


def on_device(inputs: dict, device: str) -> dict:
    """Private copies of the networks and tensors, on ``device``."""
    out: dict[str, Any] = {}
    for name, value in inputs.items():
        if isinstance(value, torch.nn.Module):
            out[name] = copy.deepcopy(value).to(device)
        elif isinstance(value, torch.Tensor):
            out[name] = value.to(device)
        else:
            out[name] = value
    return out


def call(impl, inputs: dict) -> Any:
    return impl(*(inputs[name] for name in ARGUMENTS))


def candidates(inputs: dict, double: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``[B, A]`` TD error of every next action, which may be selected, and ``[B]`` tolerances."""
    with torch.no_grad():
        q = copy.deepcopy(inputs["q_network"]).cpu()
        target = copy.deepcopy(inputs["target_network"]).cpu()
        observations = inputs["observations"].cpu()
        next_observations = inputs["next_observations"].cpu()
        actions = inputs["actions"].cpu().long()
        rows = torch.arange(actions.shape[0])
        prediction = q(observations).double()[rows, actions]
        next_target = target(next_observations).double()
        rewards = inputs["rewards"].cpu().double()
        alive = 1.0 - inputs["terminated"].cpu().double()
        gamma = inputs["gamma"]
        targets = rewards[:, None] + gamma * alive[:, None] * next_target
        errors = prediction[:, None] - targets
        if double:
            admissible = admissible_actions(q(next_observations).double())
        else:
            best = next_target.max(dim=1, keepdim=True).values
            admissible = next_target == best
        q_error = _forward_magnitude(q, observations)[rows, actions]
        target_error = _forward_magnitude(target, next_observations).max(dim=1).values
        scale = (
            prediction.abs()
            + q_error
            + rewards.abs()
            + gamma * (next_target.abs().max(dim=1).values + target_error)
        )
    return errors, admissible, FLOAT32_RTOL * scale + 2.0**-1000


def _forward_magnitude(network: torch.nn.Module, observations: torch.Tensor) -> torch.Tensor:
    """``[B, A]`` forward magnitude of a plain MLP's outputs; zeros for another network."""
    if not isinstance(network, torch.nn.Sequential):
        return torch.zeros(())
    return LayerMagnitudes(network, observations.double(), "").output


def assert_td_errors(result: Any, inputs: dict, double: bool, what: str) -> torch.Tensor:
    """Each element is the TD error of an admissible next action, within its tolerance."""
    errors, admissible, tolerance = candidates(inputs, double)
    batch = errors.shape[0]
    actual = as_cpu_tensor(result, what)
    if actual.shape != (batch,):
        raise AssertionError(
            f"{what}: shape {list(actual.shape)}, expected [{batch}] (one TD error per sample; "
            "[B, B] is a [B, 1] prediction broadcast against a [B] target)"
        )
    close = (actual[:, None] - errors).abs() <= tolerance[:, None]
    wrong = ~(close & admissible).any(dim=1)
    if bool(wrong.any()):
        row = int(wrong.nonzero()[0])
        allowed = errors[row][admissible[row]].tolist()
        raise AssertionError(
            f"{what}: element [b={row}] is {actual[row].item()!r}, expected "
            f"{allowed[:4]} (Q_theta(s, a) - y; tolerance {tolerance[row].item():.3g}; "
            f"action {int(inputs['actions'][row])}, terminated "
            f"{bool(inputs['terminated'][row])}, gamma {inputs['gamma']!r})"
        )
    return actual


def expected_gradient(inputs: dict, weights: torch.Tensor) -> tuple[list, list]:
    """``sum_i c_i grad Q_theta(s_i, a_i)`` per parameter, and its per-element tolerance."""
    q = copy.deepcopy(inputs["q_network"]).cpu()
    parameters = list(q.parameters())
    observations = inputs["observations"].cpu()
    actions = inputs["actions"].cpu().long()
    total = [torch.zeros_like(p, dtype=torch.float64) for p in parameters]
    magnitude = [torch.zeros_like(p, dtype=torch.float64) for p in parameters]
    for i in range(actions.shape[0]):
        value = q(observations[i : i + 1])[0, actions[i]]
        grads = torch.autograd.grad(value, parameters, allow_unused=True)
        for k, grad in enumerate(grads):
            if grad is not None:
                total[k] += float(weights[i]) * grad.double()
                magnitude[k] += abs(float(weights[i])) * grad.double().abs()
    if isinstance(q, torch.nn.Sequential):
        # Magnitude backprop: bounds each |grad| and carries the error of saturated units.
        with torch.no_grad():
            outputs = q(observations)
            onehot = torch.zeros_like(outputs, dtype=torch.float64)
            onehot[torch.arange(actions.shape[0]), actions] = 1.0
            backprop = LayerMagnitudes(q, observations.double(), "").backward(onehot)
            names = [name for name, _ in q.named_parameters()]
            for k, name in enumerate(names):
                per_sample = backprop[name]
                scale = weights.abs().reshape(-1, *[1] * (per_sample.ndim - 1))
                bound = (scale * per_sample).sum(0)
                magnitude[k] = torch.maximum(magnitude[k], bound)
    return total, [FLOAT32_RTOL * m + 2.0**-1000 for m in magnitude]


def assert_gradient(impl, inputs: dict, device: str, seed: int) -> None:
    """d/d theta of sum_i c_i delta_i is sum_i c_i grad Q_theta(s_i, a_i), random c."""
    given = on_device(inputs, device)
    generator = torch.Generator().manual_seed(seed)
    batch = inputs["actions"].shape[0]
    weights = torch.randn(batch, generator=generator, dtype=torch.float64)
    result = call(impl, given)
    if not isinstance(result, torch.Tensor) or not result.requires_grad:
        raise AssertionError(
            "the TD errors carry no gradient to the online network's parameters: the loss "
            "could not train theta (a prediction made with the target network, or under "
            "no_grad?)"
        )
    (result.double() * weights.to(result.device)).sum().backward()
    expected, tolerances = expected_gradient(inputs, weights)
    names = [name for name, _ in given["q_network"].named_parameters()]
    for name, parameter, want, tolerance in zip(
        names, given["q_network"].parameters(), expected, tolerances, strict=True
    ):
        got = parameter.grad
        if got is None:
            got = torch.zeros_like(parameter)
        assert_close(
            got,
            want,
            what=f"gradient of sum_i c_i delta_i w.r.t. q_network.{name}",
            tolerance=tolerance,
        )


def _state(module: torch.nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def assert_target_untouched(impl, inputs: dict, device: str) -> None:
    """Backward through the TD errors gives the target network no gradient; nothing modified."""
    given = on_device(inputs, device)
    before_target = _state(given["target_network"])
    before_online = _state(given["q_network"])
    result = call(impl, given)
    if isinstance(result, torch.Tensor) and result.requires_grad:
        (result.double() ** 2).sum().backward()
    for name, parameter in given["target_network"].named_parameters():
        if parameter.grad is not None:
            leaked = parameter.grad.detach().abs().max().item()
            assert leaked == 0.0, (
                f"target_network.{name} received a gradient (largest {leaked:.3g}): the "
                "target y was built with gradient (no torch.no_grad()/detach()), so an optimiser "
                "over all parameters would move the target network"
            )
    for label, before, module in (
        ("target_network", before_target, given["target_network"]),
        ("q_network", before_online, given["q_network"]),
    ):
        after = _state(module)
        for key, value in before.items():
            if not torch.equal(after[key], value):
                raise AssertionError(f"computing the TD errors modified {label}.{key}")


def clear_gradients(inputs: dict) -> None:
    for key in ("q_network", "target_network"):
        inputs[key].zero_grad(set_to_none=True)
