"""Properties of ``discounted_returns``: ``G_t = r_t + gamma * (1 - done_t) * G_{t+1}``.

``G_T = 0``: nothing is bootstrapped past the last row.

Spec: Returns and advantages. Seed: 2、策略梯度 / REINFORCE (``G = self.gamma * G + reward``).

Tolerance: every comparison uses ``assert_close`` at FLOAT32_RTOL with
``scale`` = the largest sum of ``|r|`` over one column. A float32 return is a
chain of at most T <= 32 multiply-adds whose partial sums never exceed that
sum, so its rounding error is below ``2 T u scale`` (~64 u), inside the
tolerance of ~170 u; a wrong formula is off by a whole reward.
"""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from properties.assertions import as_cpu_tensor, assert_close
from properties.strategies import discounts, rollouts

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


def _scale(rewards: torch.Tensor) -> float:
    """Largest sum of |r| over a column: bounds every partial sum of a return."""
    return float(rewards.double().abs().sum(dim=0).max())


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
        scale=_scale(inputs["rewards"]),
    )


@given(inputs=returns_inputs())
def test_satisfies_recursion(impl, device, inputs):
    """G_t - gamma*(1-done_t)*G_{t+1} is the reward r_t, and the last row's return is its reward."""
    returns = _returns(impl, inputs, device)
    continues = 1.0 - inputs["dones"].double()
    following = torch.cat([returns[1:], torch.zeros_like(returns[:1])])  # G_T = 0
    assert_close(
        returns - inputs["gamma"] * continues * following,
        inputs["rewards"].double(),
        what="G_t - gamma * (1 - done_t) * G_{t+1} (must be r_t)",
        scale=_scale(inputs["rewards"]),
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
        scale=_scale(before["rewards"]) + _scale(after["rewards"]),
    )


@given(inputs=returns_inputs(), data=st.data(), factor=st.floats(-4.0, 4.0))
def test_linear_in_rewards(impl, device, inputs, data, factor):
    """G(r1 + c * r2) = G(r1) + c * G(r2) for the same dones and gamma."""
    steps, envs = inputs["rewards"].shape
    dtype = inputs["rewards"].dtype
    other = data.draw(
        rollouts(("rewards",), (), steps=steps, envs=envs, dtype=dtype), label="second rewards"
    )["rewards"]
    combined = (inputs["rewards"].double() + factor * other.double()).to(dtype)
    separate = _returns(impl, inputs, device) + factor * _returns(
        impl, dict(inputs, rewards=other), device
    )
    assert_close(
        _returns(impl, dict(inputs, rewards=combined), device),
        separate,
        what=f"G(r1 + {factor!r} * r2) vs G(r1) + {factor!r} * G(r2)",
        scale=_scale(inputs["rewards"]) + abs(factor) * _scale(other),
    )


@given(inputs=returns_inputs())
def test_gamma_zero_gives_rewards(impl, device, inputs):
    """With gamma = 0 every return is its own reward."""
    inputs = dict(inputs, gamma=0.0)
    assert_close(
        _returns(impl, inputs, device),
        inputs["rewards"].double(),
        what="returns with gamma = 0 (must be the rewards)",
        scale=_scale(inputs["rewards"]),
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
        scale=_scale(inputs["rewards"]),
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
        scale=_scale(inputs["rewards"]),
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
    assert_close(
        _returns(impl, dict(inputs, rewards=rewards, dones=dones), device)[:, others],
        _returns(impl, inputs, device)[:, others],
        what=f"returns of the other environments after replacing environment {env}",
        scale=_scale(inputs["rewards"]) + _scale(rewards),
    )


@given(inputs=returns_inputs())
def test_flag_dtypes_agree(impl, device, inputs):
    """Bool dones and 0/1 float dones mean the same thing."""
    as_bool = _returns(impl, dict(inputs, dones=inputs["dones"].bool()), device)
    as_float = _returns(impl, dict(inputs, dones=inputs["dones"].to(torch.float64)), device)
    assert_close(
        as_float, as_bool, what="float-dones vs bool-dones returns", scale=_scale(inputs["rewards"])
    )
