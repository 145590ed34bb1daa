"""Properties of ``double_dqn_target``: the online network selects, the target network evaluates.

``r + gamma * (1 - terminated) * Q_target(s', argmax_a Q_online(s', a))``.
Where ``Q_online`` ties, any of the tied actions is a correct selection.

Spec: Value-based. Seed: :four: Double DQN.
"""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from properties.assertions import FLOAT32_RTOL, as_cpu_tensor, assert_close
from properties.strategies import (
    action_counts,
    batch_sizes,
    discounts,
    flags,
    float_dtypes,
    real_tensors,
)

CONTRACT = "double_dqn_target"


@st.composite
def double_inputs(draw: st.DrawFn, ties: bool = True) -> dict:
    batch, num_actions = draw(batch_sizes), draw(action_counts)
    dtype = draw(float_dtypes)
    online = draw(real_tensors((batch, num_actions), dtype))
    if ties and draw(st.booleans()):
        # Integer-valued online Q makes ties common: where selection is ambiguous.
        online = online.round().clamp(-2, 2)
    return {
        "rewards": draw(real_tensors((batch,), dtype)),
        "next_q_online": online,
        "next_q_target": draw(real_tensors((batch, num_actions), dtype)),
        "terminated": draw(flags((batch,))),
        "gamma": draw(discounts),
    }


def admissible_targets(rewards, next_q_online, next_q_target, terminated, gamma):
    """Per transition, the targets of every action that maximises Q_online (ties admit several)."""
    rows = []
    for reward, online, target, done in zip(
        rewards.tolist(),
        next_q_online.tolist(),
        next_q_target.tolist(),
        terminated.tolist(),
        strict=True,
    ):
        best = max(online)
        greedy = [a for a, q in enumerate(online) if q == best]
        rows.append([reward if done else reward + gamma * target[a] for a in greedy])
    return rows


def _scale(inputs: dict) -> float:
    return float(inputs["rewards"].abs().max() + inputs["next_q_target"].abs().max())


def _call(impl, inputs: dict, device: str):
    return impl(
        inputs["rewards"].to(device),
        inputs["next_q_online"].to(device),
        inputs["next_q_target"].to(device),
        inputs["terminated"].to(device),
        inputs["gamma"],
    )


def _assert_admissible(result, inputs: dict, what: str) -> None:
    result = as_cpu_tensor(result, what)
    batch = inputs["rewards"].shape[0]
    if result.shape != (batch,):
        raise AssertionError(f"{what}: shape {list(result.shape)}, expected [{batch}]")
    tolerance = FLOAT32_RTOL * max(_scale(inputs), 1.0)
    for row, allowed in enumerate(admissible_targets(**inputs)):
        value = result[row].item()
        if not any(abs(value - a) <= tolerance for a in allowed):
            raise AssertionError(
                f"{what}: element [{row}] is {value!r}, expected one of {allowed} "
                f"(Q_target at the action(s) maximising Q_online; tolerance {tolerance:.3g})"
            )


@given(inputs=double_inputs())
def test_matches_definition(impl, device, inputs):
    """Equals r + gamma * (1 - terminated) * Q_target(s', a*) with a* maximising Q_online."""
    _assert_admissible(_call(impl, inputs, device), inputs, "double_dqn_target")


@given(inputs=double_inputs(ties=False), data=st.data())
def test_online_network_selects(impl, device, inputs, data):
    """When the networks disagree far apart, the online network's choice is evaluated."""
    online, target = inputs["next_q_online"].clone(), inputs["next_q_target"].clone()
    batch, num_actions = online.shape
    chosen = torch.tensor(
        data.draw(st.lists(st.integers(0, num_actions - 1), min_size=batch, max_size=batch)),
        dtype=torch.long,
    )
    rows = torch.arange(batch)
    online[rows, chosen] = 1000.0  # the online network is sure of `chosen`
    target[rows, chosen] = -1000.0  # and the target network rates it worst
    inputs = dict(inputs, next_q_online=online, next_q_target=target)
    _assert_admissible(_call(impl, inputs, device), inputs, "target when the networks disagree")


@given(inputs=double_inputs(), factor=st.sampled_from([2.0, 4.0, 8.0, 1024.0]))
def test_online_values_only_select(impl, device, inputs, factor):
    """Scaling Q_online by a power of two changes nothing: it only picks the action.

    The scaling is exact in floating point, so every ordering and every tie of
    Q_online survives it, and so does the set of admissible targets.
    """
    scaled = dict(inputs, next_q_online=inputs["next_q_online"] * factor)
    _assert_admissible(_call(impl, scaled, device), inputs, "target after scaling Q_online")


@given(inputs=double_inputs())
def test_never_exceeds_dqn_target(impl, device, inputs):
    """Never above r + gamma * (1 - terminated) * max_a Q_target(s', a)."""
    result = as_cpu_tensor(_call(impl, inputs, device), "double_dqn_target")
    not_done = 1.0 - inputs["terminated"].double()
    dqn = (
        inputs["rewards"].double()
        + inputs["gamma"] * not_done * inputs["next_q_target"].double().max(dim=1).values
    )
    tolerance = FLOAT32_RTOL * max(_scale(inputs), 1.0)
    if result.shape != dqn.shape:
        raise AssertionError(
            f"double_dqn_target: shape {list(result.shape)}, expected {list(dqn.shape)}"
        )
    excess = result - dqn
    if bool((excess > tolerance).any()):
        row = int(excess.argmax())
        raise AssertionError(
            f"double_dqn_target: element [{row}] is {result[row].item()!r}, above the DQN "
            f"target {dqn[row].item()!r} built from the same next_q_target"
        )


@given(inputs=double_inputs())
def test_same_network_is_dqn(impl, device, inputs):
    """When online and target networks agree, the double target is the DQN target."""
    same = dict(inputs, next_q_online=inputs["next_q_target"])
    not_done = 1.0 - inputs["terminated"].double()
    dqn = (
        inputs["rewards"].double()
        + inputs["gamma"] * not_done * inputs["next_q_target"].double().max(dim=1).values
    )
    assert_close(
        _call(impl, same, device), dqn, what="target with identical networks", scale=_scale(inputs)
    )
