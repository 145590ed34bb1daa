"""Properties of ``discounted_returns``: ``G_t = r_t + gamma * (1 - done_t) * G_{t+1}``.

``G_T = 0``: nothing is bootstrapped past the last row.

Spec: Returns and advantages. Seed: 2、策略梯度 / REINFORCE (``G = self.gamma * G + reward``).

Tolerance: every comparison uses an elementwise bound derived in
properties/returns_strategies.py: ``8 (L_t + 2) (u S_t + 2**-126)``, ``u = 2**-24``,
``L_t`` the number of steps from ``t`` to its episode's end (or the last row)
and ``S_t = sum_k gamma^(k-t) |r_k|`` along that trace. It bounds the rounding
error of a correct float32 implementation summing in any order (sequential,
blocked with a carry, parallel scan), follows each element's own magnitude
(rewards from 1e-6 to 1e6, columns of different scales), and leaves a wrong
formula, off by a whole reward or a whole carried return, visible.
Comparisons of two outputs of the implementation add the bounds of both.

Sizes: the properties with pure-Python oracles draw T <= 32 and N from 1 to
24, each column with its own episode-end pattern;
``test_long_rollouts_match_recursion`` checks T from 1000 to 4096 and N up to
64 against a vectorised float64 recursion, with gamma at or a hair below 1 in most examples.
"""

from __future__ import annotations

import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from drlspec.properties.assertions import as_cpu_tensor, assert_close
from drlspec.properties.returns_strategies import (
    LongRollout,
    backward_scan,
    discounts_for_long_rollouts,
    long_rollouts,
    trace_tolerance,
)
from drlspec.properties.strategies import discounts, rollouts

CONTRACT = "discounted_returns"


@st.composite
def returns_inputs(draw: st.DrawFn, steps: int | None = None, envs: int | None = None) -> dict:
    arrays = draw(rollouts(("rewards",), ("dones",), steps=steps, envs=envs))
    return dict(arrays, gamma=draw(discounts))


def oracle(rewards, dones, gamma) -> torch.Tensor:
    """``sum_{k=t}^{e} gamma^(k-t) r_k`` ``e``: the episode's last step in the batch."""
    r = rewards.double().tolist()
    done = dones.bool().tolist()
    steps, envs = len(r), len(r[0])
    returns = [[0.0] * envs for _ in range(steps)]
    for n in range(envs):
        for t in range(steps):
            total, weight = 0.0, 1.0
            for k in range(t, steps):
                total += weight * r[k][n]
                if done[k][n]:
                    break
                weight *= gamma
            returns[t][n] = total
    return torch.tensor(returns, dtype=torch.float64)


def fast_oracle(rewards, dones, gamma) -> torch.Tensor:
    """The recursion ``G_t = r_t + gamma (1 - done_t) G_{t+1}`` in float64, vectorised over the
    environments: for rollouts too long for the term-by-term sum."""
    return torch.from_numpy(backward_scan(rewards, gamma * (1.0 - dones.double())))


def tolerance(rewards, dones, gamma) -> torch.Tensor:
    """``8 (L_t + 2) (u S_t + 2**-126)`` with ``S_t = sum_k gamma^(k-t) |r_k|`` along the trace
    (derived in properties/returns_strategies.py)."""
    continues = 1.0 - dones.double()
    return trace_tolerance(rewards, gamma * continues, continues)


def _returns(impl, inputs: dict, device: str) -> torch.Tensor:
    """The implementation's returns as a float64 CPU tensor of the rewards' shape."""
    out = as_cpu_tensor(
        impl(inputs["rewards"].to(device), inputs["dones"].to(device), inputs["gamma"]),
        "discounted_returns",
    )
    if out.shape != inputs["rewards"].shape:
        raise AssertionError(
            f"discounted_returns: shape {list(out.shape)}, expected {list(inputs['rewards'].shape)}"
        )
    return out


@given(inputs=returns_inputs())
def test_matches_definition(impl, device, inputs):
    """Equals the discounted sum of rewards up to the episode's end, summed term by term."""
    assert_close(
        _returns(impl, inputs, device),
        oracle(**inputs),
        what="discounted return",
        tolerance=tolerance(**inputs),
    )


@settings(max_examples=3, deadline=None)
@example(  # every end pattern, float32, gamma = 1: a lost carry is a whole return
    recipe=LongRollout(4096, 64, "float32", 100.0, 0.0, shift=0, seed=1), gamma=1.0
)
@example(  # a hair below 1; columns of scales from 1e-6 to 1e6; T not a power of two
    recipe=LongRollout(3001, 9, "float64", 1e6, 12.0, shift=3, seed=2), gamma=1.0 - 1e-7
)
@given(recipe=long_rollouts(), gamma=discounts_for_long_rollouts())
def test_long_rollouts_match_recursion(impl, device, recipe, gamma):
    """At T in the thousands and N up to 64 the returns still follow the recursion exactly.

    Pins what short rollouts cannot: a kernel that works in blocks of time
    steps must carry the return across blocks, and the float32 rounding of a
    return summed over thousands of steps must stay within its derived bound.
    """
    inputs = dict(recipe.build(("rewards",), ("dones",)), gamma=gamma)
    assert_close(
        _returns(impl, inputs, device),
        fast_oracle(**inputs),
        what=f"return of a {recipe.steps} x {recipe.envs} rollout",
        tolerance=tolerance(**inputs),
    )


@given(inputs=returns_inputs())
def test_satisfies_recursion(impl, device, inputs):
    """G_t - gamma*(1-done_t)*G_{t+1} is the reward r_t, and the last row's return is its reward."""
    returns = _returns(impl, inputs, device)
    continues = 1.0 - inputs["dones"].double()
    following = torch.cat([returns[1:], torch.zeros_like(returns[:1])])  # G_T = 0
    bound = tolerance(**inputs)
    following_bound = torch.cat([bound[1:], torch.zeros_like(bound[:1])])
    assert_close(
        returns - inputs["gamma"] * continues * following,
        inputs["rewards"].double(),
        what="G_t - gamma * (1 - done_t) * G_{t+1} (must be r_t)",
        # The errors of G_t and of gamma * G_{t+1}; the float64 arithmetic here adds ~1e-16.
        tolerance=bound + inputs["gamma"] * continues * following_bound,
    )


@given(inputs=returns_inputs(), data=st.data())
def test_nothing_flows_back_across_done(impl, device, inputs, data):
    """Rewriting the steps after a done in one column leaves its returns up to the done alone."""
    steps, envs = inputs["rewards"].shape
    end = data.draw(st.integers(0, steps - 1), label="done at step")
    env = data.draw(st.integers(0, envs - 1), label="in environment")
    dones = inputs["dones"].clone()
    dones[end, env] = 1
    before = dict(inputs, dones=dones)
    tail = data.draw(returns_inputs(steps, envs), label="new tail")
    rewards = before["rewards"].clone()
    rewards[end + 1 :, env] = tail["rewards"][end + 1 :, env].to(rewards.dtype)
    new_dones = dones.clone()
    new_dones[end + 1 :, env] = tail["dones"][end + 1 :, env].to(dones.dtype)
    after = dict(before, rewards=rewards, dones=new_dones)
    assert_close(
        _returns(impl, after, device)[: end + 1, env],
        _returns(impl, before, device)[: end + 1, env],
        what=f"returns up to the done at step {end} of environment {env}, later steps changed",
        tolerance=(tolerance(**before) + tolerance(**after))[: end + 1, env],
    )


@given(inputs=returns_inputs(), data=st.data(), factor=st.floats(-4.0, 4.0))
def test_linear_in_rewards(impl, device, inputs, data, factor):
    """G(r1 + c * r2) = G(r1) + c * G(r2) for the same dones and gamma."""
    steps, envs = inputs["rewards"].shape
    dtype = inputs["rewards"].dtype
    other = data.draw(
        rollouts(("rewards",), (), steps=steps, envs=envs, dtype=dtype), label="second rewards"
    )["rewards"]
    combined = dict(
        inputs, rewards=(inputs["rewards"].double() + factor * other.double()).to(dtype)
    )
    separate = _returns(impl, inputs, device) + factor * _returns(
        impl, dict(inputs, rewards=other), device
    )
    assert_close(
        _returns(impl, combined, device),
        separate,
        what=f"G(r1 + {factor!r} * r2) vs G(r1) + {factor!r} * G(r2)",
        # Rounding r1 + c*r2 to the dtype (u per reward) is inside the bound of ``combined``.
        tolerance=tolerance(**combined)
        + tolerance(**inputs)
        + abs(factor) * tolerance(**dict(inputs, rewards=other)),
    )


@given(inputs=returns_inputs())
def test_gamma_zero_gives_rewards(impl, device, inputs):
    """With gamma = 0 every return is its own reward."""
    inputs = dict(inputs, gamma=0.0)
    assert_close(
        _returns(impl, inputs, device),
        inputs["rewards"].double(),
        what="returns with gamma = 0 (must be the rewards)",
        tolerance=tolerance(**inputs),
    )


@given(inputs=returns_inputs())
def test_gamma_one_without_dones_sums_the_rest(impl, device, inputs):
    """With gamma = 1 and no done, G_t is the plain sum of the rewards from t to the last row."""
    inputs = dict(inputs, gamma=1.0, dones=torch.zeros_like(inputs["dones"]))
    suffix_sums = inputs["rewards"].double().flip(0).cumsum(0).flip(0)
    assert_close(
        _returns(impl, inputs, device),
        suffix_sums,
        what="returns with gamma = 1 and no done (must be the reward sums to the end)",
        tolerance=tolerance(**inputs),
    )


@given(inputs=returns_inputs(), data=st.data())
def test_columns_permute(impl, device, inputs, data):
    """Permuting the environments permutes the returns the same way."""
    envs = inputs["rewards"].shape[1]
    order = data.draw(st.permutations(range(envs)), label="column order")
    permuted = dict(inputs, rewards=inputs["rewards"][:, order], dones=inputs["dones"][:, order])
    assert_close(
        _returns(impl, permuted, device),
        _returns(impl, inputs, device)[:, order],
        what=f"returns of the environments reordered as {order}",
        tolerance=2.0 * tolerance(**inputs)[:, order],
    )


@given(inputs=returns_inputs(), data=st.data())
def test_columns_independent(impl, device, inputs, data):
    """Replacing one environment's rewards and dones changes no other environment's returns."""
    steps, envs = inputs["rewards"].shape
    env = data.draw(st.integers(0, envs - 1), label="replaced environment")
    fresh = data.draw(returns_inputs(steps, envs), label="replacement")
    rewards, dones = inputs["rewards"].clone(), inputs["dones"].clone()
    rewards[:, env] = fresh["rewards"][:, env].to(rewards.dtype)
    dones[:, env] = fresh["dones"][:, env].to(dones.dtype)
    others = [n for n in range(envs) if n != env]
    replaced = dict(inputs, rewards=rewards, dones=dones)
    assert_close(
        _returns(impl, replaced, device)[:, others],
        _returns(impl, inputs, device)[:, others],
        what=f"returns of the other environments after replacing environment {env}",
        tolerance=(tolerance(**inputs) + tolerance(**replaced))[:, others],
    )


@given(inputs=returns_inputs())
def test_flag_dtypes_agree(impl, device, inputs):
    """Bool dones and 0/1 float dones mean the same thing."""
    as_bool = _returns(impl, dict(inputs, dones=inputs["dones"].bool()), device)
    as_float = _returns(impl, dict(inputs, dones=inputs["dones"].to(torch.float64)), device)
    assert_close(
        as_float,
        as_bool,
        what="float-dones vs bool-dones returns",
        tolerance=2.0 * tolerance(**inputs),
    )
