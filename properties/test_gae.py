"""Properties of ``gae``: generalized advantage estimation with termination and truncation apart.

``delta_t = r_t + gamma * (1 - terminated_t) * next_values_t - values_t`` and
``A_t = delta_t + gamma * lam * (1 - (terminated_t or truncated_t)) * A_{t+1}``,
``A_T = 0``: a truncated step bootstraps but cuts the trace.

Spec: Returns and advantages. Seed: :four: TRPO / 广义优势估计 GAE.

Tolerance: every comparison uses an elementwise bound derived in
properties/returns_strategies.py: ``8 (L_t + 2) (u S_t + 2**-126)``, ``u = 2**-24``,
``L_t`` the number of steps from ``t`` to its episode's end (or the last row)
and ``S_t = sum_k (gamma*lam)^(k-t) (|r_k| + |V_k| + gamma |V'_k|)`` along that
trace, which bounds the rounding error of a correct float32 implementation
summing in any order (sequential, blocked, parallel scan). Comparisons of two
outputs of the implementation add the bounds of both. The bound follows each
element's own magnitude, so inputs from 1e-6 to 1e6 (and columns of different
scales) are judged alike; the mistakes these properties look for are off by a
whole ``delta`` or a whole carried advantage.

Sizes: the properties with pure-Python oracles draw T <= 32 and N from 1 to
24, each column with its own episode-end pattern (properties/strategies.py,
``rollouts``); ``test_long_rollouts_match_recursion`` checks T from 1000 to
4096 and N up to 64 against a vectorised float64 recursion, with
``gamma * lam`` at or a hair below 1 in most examples.
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

CONTRACT = "gae"

ARGUMENTS = ("rewards", "values", "next_values", "terminated", "truncated", "gamma", "lam")
ARRAYS = ARGUMENTS[:5]


@st.composite
def gae_inputs(draw: st.DrawFn, steps: int | None = None, envs: int | None = None) -> dict:
    # Each flag has its own density per column; both at once is allowed (a time
    # limit hit on a terminal step).
    arrays = draw(
        rollouts(
            ("rewards", "values", "next_values"),
            ("terminated", "truncated"),
            steps=steps,
            envs=envs,
        )
    )
    return dict(arrays, gamma=draw(discounts), lam=draw(discounts))


def _columns(inputs: dict) -> tuple[list, ...]:
    """The arrays as nested float64 / bool lists, indexed ``[t][n]``."""
    return (
        inputs["rewards"].double().tolist(),
        inputs["values"].double().tolist(),
        inputs["next_values"].double().tolist(),
        inputs["terminated"].bool().tolist(),
        inputs["truncated"].bool().tolist(),
    )


def td_errors(inputs: dict) -> list[list[float]]:
    """``delta_t = r_t + gamma * V(s_{t+1}) - V(s_t)``, without the bootstrap where terminated."""
    r, v, next_v, term, _ = _columns(inputs)
    gamma = inputs["gamma"]
    return [
        [
            r[t][n] + (0.0 if term[t][n] else gamma * next_v[t][n]) - v[t][n]
            for n in range(len(r[0]))
        ]
        for t in range(len(r))
    ]


def oracle(inputs: dict) -> torch.Tensor:
    """The explicit double sum ``sum_{l=0}^{e-t} (gamma*lam)^l delta_{t+l}``, term by term."""
    _, _, _, term, trunc = _columns(inputs)
    delta = td_errors(inputs)
    decay = inputs["gamma"] * inputs["lam"]
    steps, envs = len(delta), len(delta[0])
    advantages = [[0.0] * envs for _ in range(steps)]
    for n in range(envs):
        for t in range(steps):
            total, weight = 0.0, 1.0
            for k in range(t, steps):
                total += weight * delta[k][n]
                if term[k][n] or trunc[k][n]:
                    break  # step k + 1 belongs to the next episode
                weight *= decay
            advantages[t][n] = total
    return torch.tensor(advantages, dtype=torch.float64)


def _continues(inputs: dict) -> torch.Tensor:
    """1 where the trace goes on to the next row, 0 at an episode end."""
    ends = inputs["terminated"].bool() | inputs["truncated"].bool()
    return (~ends).double()


def fast_oracle(inputs: dict) -> torch.Tensor:
    """The recursion ``A_t = delta_t + gamma*lam*(1 - end_t) A_{t+1}`` in float64, vectorised
    over the environments: for rollouts too long for the term-by-term double sum."""
    gamma = inputs["gamma"]
    alive = 1.0 - inputs["terminated"].double()
    deltas = (
        inputs["rewards"].double()
        + gamma * alive * inputs["next_values"].double()
        - inputs["values"].double()
    )
    return torch.from_numpy(backward_scan(deltas, gamma * inputs["lam"] * _continues(inputs)))


def tolerance(inputs: dict) -> torch.Tensor:
    """``8 (L_t + 2) (u S_t + 2**-126)``, ``S_t`` summing ``|r| + |V| + gamma |V'|`` along
    the trace (derived in properties/returns_strategies.py)."""
    gamma = inputs["gamma"]
    magnitudes = (
        inputs["rewards"].double().abs()
        + inputs["values"].double().abs()
        + gamma * inputs["next_values"].double().abs()
    )
    continues = _continues(inputs)
    return trace_tolerance(magnitudes, gamma * inputs["lam"] * continues, continues)


def _advantages(impl, inputs: dict, device: str) -> torch.Tensor:
    """The implementation's advantages as a float64 CPU tensor of the rewards' shape."""
    args = [inputs[name].to(device) if name in ARRAYS else inputs[name] for name in ARGUMENTS]
    out = as_cpu_tensor(impl(*args), "gae")
    if out.shape != inputs["rewards"].shape:
        raise AssertionError(
            f"gae: shape {list(out.shape)}, expected {list(inputs['rewards'].shape)}"
        )
    return out


@given(inputs=gae_inputs())
def test_matches_double_sum(impl, device, inputs):
    """Equals sum_l (gamma*lam)^l delta_{t+l} over the rest of the episode, summed term by term."""
    assert_close(
        _advantages(impl, inputs, device),
        oracle(inputs),
        what="advantage",
        tolerance=tolerance(inputs),
    )


@settings(max_examples=3, deadline=None)
@example(  # every end pattern, float32, no decay at all: a lost carry is a whole advantage
    recipe=LongRollout(4096, 64, "float32", 100.0, 0.0, shift=0, seed=1), gamma=1.0, lam=1.0
)
@example(  # a hair below 1; columns of scales from 1e-6 to 1e6; T not a power of two
    recipe=LongRollout(3001, 9, "float64", 1e6, 12.0, shift=3, seed=2),
    gamma=1.0 - 1e-7,
    lam=1.0 - 1e-3,
)
@given(
    recipe=long_rollouts(),
    gamma=discounts_for_long_rollouts(),
    lam=discounts_for_long_rollouts(),
)
def test_long_rollouts_match_recursion(impl, device, recipe, gamma, lam):
    """At T in the thousands and N up to 64 the advantages still follow the recursion exactly.

    Pins what short rollouts cannot: a kernel that works in blocks of time
    steps must carry the advantage across blocks, and the float32 rounding of
    a trace thousands of steps long must stay within its derived bound.
    """
    inputs = dict(
        recipe.build(("rewards", "values", "next_values"), ("terminated", "truncated")),
        gamma=gamma,
        lam=lam,
    )
    assert_close(
        _advantages(impl, inputs, device),
        fast_oracle(inputs),
        what=f"advantage of a {recipe.steps} x {recipe.envs} rollout",
        tolerance=tolerance(inputs),
    )


@given(inputs=gae_inputs())
def test_lam_zero_is_td_error(impl, device, inputs):
    """With lam = 0 the advantage is the TD error r + gamma*(1-terminated)*V' - V."""
    inputs = dict(inputs, lam=0.0)
    assert_close(
        _advantages(impl, inputs, device),
        torch.tensor(td_errors(inputs), dtype=torch.float64),
        what="advantage with lam = 0 (must be the TD error)",
        tolerance=tolerance(inputs),
    )


@given(inputs=gae_inputs())
def test_lam_one_is_bootstrapped_return_minus_values(impl, device, inputs):
    """With lam = 1, no truncation and V' = V of the next row, A_t = G_t + bootstrap - V(s_t).

    ``G_t = sum_{k=t}^{e} gamma^(k-t) r_k`` runs to the episode's last step ``e``
    in the batch; the bootstrap is ``gamma^(e-t+1) * next_values_e`` when the
    episode is still running at the last row and 0 when it terminated.
    """
    steps, envs = inputs["rewards"].shape
    gamma = inputs["gamma"]
    terminated = inputs["terminated"]
    # A consistent critic: V(s_{t+1}) inside an episode is the next row's value.
    next_values = inputs["next_values"].clone()
    alive = ~terminated.bool()[:-1]
    next_values[:-1][alive] = inputs["values"][1:][alive]
    inputs = dict(
        inputs, next_values=next_values, truncated=torch.zeros_like(inputs["truncated"]), lam=1.0
    )
    r, v, next_v, term, _ = _columns(inputs)
    expected = [[0.0] * envs for _ in range(steps)]
    for n in range(envs):
        for t in range(steps):
            total, weight = 0.0, 1.0
            for k in range(t, steps):
                total += weight * r[k][n]
                weight *= gamma
                if term[k][n]:
                    break
                if k == steps - 1:
                    total += weight * next_v[k][n]
            expected[t][n] = total - v[t][n]
    assert_close(
        _advantages(impl, inputs, device),
        torch.tensor(expected, dtype=torch.float64),
        what="advantage with lam = 1 (must be the bootstrapped return minus V)",
        tolerance=tolerance(inputs),
    )


@given(inputs=gae_inputs(), data=st.data())
def test_episode_end_is_one_step(impl, device, inputs, data):
    """At an episode end and at the last row A is that step's TD error: truncation bootstraps."""
    steps = inputs["rewards"].shape[0]
    step = data.draw(st.integers(0, steps - 1), label="episode end at step")
    kind = data.draw(st.sampled_from(["terminated", "truncated"]), label="ended by")
    flags = inputs[kind].clone()
    flags[step] = 1  # in every environment
    inputs = dict(inputs, **{kind: flags})
    ends = inputs["terminated"].bool() | inputs["truncated"].bool()
    ends[-1] = True
    advantages = _advantages(impl, inputs, device)
    delta = torch.tensor(td_errors(inputs), dtype=torch.float64)
    assert_close(
        advantages[ends],
        delta[ends],
        what="advantage at episode ends and the last row (must be r - V when terminated, "
        "r + gamma * V' - V when truncated)",
        tolerance=tolerance(inputs)[ends],
    )


@given(inputs=gae_inputs(), shift=st.floats(1.0, 100.0))
def test_terminated_ignores_next_value(impl, device, inputs, shift):
    """Changing next_values where terminated changes no advantage at all."""
    terminated = inputs["terminated"].bool()
    moved = dict(inputs, next_values=inputs["next_values"] + shift * terminated)
    assert_close(
        _advantages(impl, moved, device),
        _advantages(impl, inputs, device),
        what="advantages after changing V' at terminated steps",
        tolerance=tolerance(moved) + tolerance(inputs),
    )


@given(inputs=gae_inputs(), data=st.data())
def test_nothing_flows_back_across_episode_end(impl, device, inputs, data):
    """Rewriting a column after an episode end changes none of its advantages up to that end."""
    steps, envs = inputs["rewards"].shape
    end = data.draw(st.integers(0, steps - 1), label="episode end at step")
    env = data.draw(st.integers(0, envs - 1), label="in environment")
    kind = data.draw(st.sampled_from(["terminated", "truncated"]), label="ended by")
    flags = inputs[kind].clone()
    flags[end, env] = 1
    before = dict(inputs, **{kind: flags})
    tail = data.draw(gae_inputs(steps, envs), label="new tail")
    after = dict(before)
    for name in ARRAYS:
        changed = before[name].clone()
        changed[end + 1 :, env] = tail[name][end + 1 :, env].to(changed.dtype)
        after[name] = changed
    assert_close(
        _advantages(impl, after, device)[: end + 1, env],
        _advantages(impl, before, device)[: end + 1, env],
        what=f"advantages up to the {kind} step {end} of environment {env}, later steps changed",
        tolerance=(tolerance(before) + tolerance(after))[: end + 1, env],
    )


@given(inputs=gae_inputs(), data=st.data(), factor=st.floats(-4.0, 4.0))
def test_linear_in_rewards(impl, device, inputs, data, factor):
    """A(r1 + c * r2; V, V') = A(r1; V, V') + c * A(r2; 0, 0) for the same flags, gamma and lam."""
    steps, envs = inputs["rewards"].shape
    dtype = inputs["rewards"].dtype
    other = data.draw(
        rollouts(("rewards",), (), steps=steps, envs=envs, dtype=dtype), label="second rewards"
    )["rewards"]
    zeros = torch.zeros_like(other)
    combined = dict(
        inputs, rewards=(inputs["rewards"].double() + factor * other.double()).to(dtype)
    )
    rewards_only = dict(inputs, rewards=other, values=zeros, next_values=zeros)
    separate = _advantages(impl, inputs, device) + factor * _advantages(impl, rewards_only, device)
    assert_close(
        _advantages(impl, combined, device),
        separate,
        what=f"A(r1 + {factor!r} * r2) vs A(r1) + {factor!r} * A(r2; V = V' = 0)",
        # Rounding r1 + c*r2 to the dtype errs by u |r1 + c r2| per step, inside the bound
        # of ``combined`` (which already allows u per input for rounding to float32).
        tolerance=tolerance(combined) + tolerance(inputs) + abs(factor) * tolerance(rewards_only),
    )


@given(inputs=gae_inputs(), data=st.data())
def test_columns_permute(impl, device, inputs, data):
    """Permuting the environments permutes the advantages the same way."""
    envs = inputs["rewards"].shape[1]
    order = data.draw(st.permutations(range(envs)), label="column order")
    permuted = dict(inputs, **{name: inputs[name][:, order] for name in ARRAYS})
    assert_close(
        _advantages(impl, permuted, device),
        _advantages(impl, inputs, device)[:, order],
        what=f"advantages of the environments reordered as {order}",
        tolerance=2.0 * tolerance(inputs)[:, order],
    )


@given(inputs=gae_inputs(), data=st.data())
def test_columns_independent(impl, device, inputs, data):
    """Replacing one environment's inputs changes no other environment's advantages."""
    steps, envs = inputs["rewards"].shape
    env = data.draw(st.integers(0, envs - 1), label="replaced environment")
    fresh = data.draw(gae_inputs(steps, envs), label="replacement")
    replaced = dict(inputs)
    for name in ARRAYS:
        column = inputs[name].clone()
        column[:, env] = fresh[name][:, env].to(column.dtype)
        replaced[name] = column
    others = [n for n in range(envs) if n != env]
    assert_close(
        _advantages(impl, replaced, device)[:, others],
        _advantages(impl, inputs, device)[:, others],
        what=f"advantages of the other environments after replacing environment {env}",
        tolerance=(tolerance(inputs) + tolerance(replaced))[:, others],
    )


@given(inputs=gae_inputs())
def test_flag_dtypes_agree(impl, device, inputs):
    """Bool flags and 0/1 float flags mean the same thing."""
    as_bool = dict(
        inputs, terminated=inputs["terminated"].bool(), truncated=inputs["truncated"].bool()
    )
    as_float = dict(
        inputs,
        terminated=inputs["terminated"].to(torch.float64),
        truncated=inputs["truncated"].to(torch.float32),
    )
    assert_close(
        _advantages(impl, as_float, device),
        _advantages(impl, as_bool, device),
        what="float-flag vs bool-flag advantages",
        tolerance=2.0 * tolerance(inputs),
    )
