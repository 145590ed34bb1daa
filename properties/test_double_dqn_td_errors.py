"""Properties of ``double_dqn_td_errors``: the online network selects a', the target evaluates.

``y = r + gamma * (1 - terminated) * Q_target(s', argmax_a' Q_theta(s', a'))``, built
without gradient. Ties in Q_theta(s', .) within 2**-23 relative may be broken either way.

Spec: Update contracts. Seed: :four: Double DQN (which reuses the DQN loss whose
formula makes the prediction with the target parameters: errata E1).

Inputs (properties/update_strategies.py): float64 tanh MLPs of random widths, online and
target with independent weights; B from 1 to 32 (B == A often); integer actions of shape
[B] (int64 or int32) at every column; terminated none, some or all, bool or 0/1 float; gamma
at 0, at 1 and inside. Tolerances (properties/td_error_checks.py): ``FLOAT32_RTOL`` of the
magnitudes each TD error combines, and of ``sum_i |c_i grad Q_theta(s_i, a_i)|`` for each
gradient element.
"""

from __future__ import annotations

import copy

import torch
from hypothesis import given
from hypothesis import strategies as st

from drlspec.properties.td_error_checks import (
    assert_gradient,
    assert_target_untouched,
    assert_td_errors,
    call,
    on_device,
)
from drlspec.properties.update_strategies import dqn_batches

CONTRACT = "double_dqn_td_errors"
DOUBLE = True


@given(inputs=dqn_batches())
def test_matches_definition(impl, device, inputs):
    """Each TD error is Q_theta(s, a) - y, one per sample, actions used as indices.

    y_i = r_i + gamma (1 - terminated_i) Q_target(s'_i, a*_i), a*_i = argmax_a Q_theta(s'_i, a);
    the shape is [B], never the [B, B] of a [B, 1] prediction minus a [B] target."""
    result = call(impl, on_device(inputs, device))
    assert_td_errors(result, inputs, DOUBLE, CONTRACT)


@given(inputs=dqn_batches(), seed=st.integers(0, 2**32 - 1))
def test_gradient_matches_reference(impl, device, inputs, seed):
    """The gradient w.r.t. the online parameters is that of the prediction only.

    d/d theta sum_i c_i delta_i = sum_i c_i grad Q_theta(s_i, a_i) for random c."""
    assert_gradient(impl, inputs, device, seed)


@given(inputs=dqn_batches())
def test_target_network_gets_no_gradient_and_is_unchanged(impl, device, inputs):
    """The target network gets no gradient, and neither network is modified.

    Backward through the TD errors leaves the target network's gradients None or zero."""
    assert_target_untouched(impl, inputs, device)


@given(inputs=dqn_batches())
def test_prediction_uses_online_parameters(impl, device, inputs):
    """At gamma = 0 the TD error is Q_theta(s, a) - r: the online network predicts.

    Whatever the target network; the seed's formula predicts with theta^- (errata E1)."""
    inputs = dict(inputs, gamma=0.0)
    result = call(impl, on_device(inputs, device))
    assert_td_errors(result, inputs, DOUBLE, "TD errors at gamma = 0")


@given(inputs=dqn_batches())
def test_terminated_transitions_do_not_bootstrap(impl, device, inputs):
    """Terminated transitions do not bootstrap: Q_theta(s, a) - r, even at gamma 1."""
    batch = inputs["actions"].shape[0]
    inputs = dict(inputs, terminated=torch.ones(batch, dtype=torch.bool), gamma=1.0)
    result = call(impl, on_device(inputs, device))
    assert_td_errors(result, inputs, DOUBLE, "TD errors of terminated transitions")


@given(inputs=dqn_batches())
def test_online_network_selects(impl, device, inputs):
    """The online network selects a', also where the target network prefers another.

    The target network is the online one with a per-action constant added to its output, so
    selecting with the target network picks the shifted favourite instead."""
    target = copy.deepcopy(inputs["q_network"])
    last = list(target.parameters())[-1]  # the output bias
    with torch.no_grad():
        last.add_(torch.linspace(0.0, 5.0, last.shape[0], dtype=last.dtype))
    inputs = dict(inputs, target_network=target)
    result = call(impl, on_device(inputs, device))
    assert_td_errors(result, inputs, DOUBLE, "TD errors when the target network's greedy differs")
