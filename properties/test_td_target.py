"""Properties of ``td_target``: ``r + gamma * (1 - terminated) * V(s')``.

Spec: Returns and advantages. Seed: 1、DQN / 损失函数设计.

Tolerance: elementwise, ``24 (u (|r| + gamma |V'|) + 2**-126)`` with
``u = 2**-24``: the bound of properties/returns_strategies.py for a single
term (rounding the two inputs and gamma to float32, one multiply, one
multiply-add, and an absolute ``2**-126`` per operation for results that
underflow). It follows each row's own magnitude, so rewards and values from
1e-6 to 1e6 are judged alike and a dropped or doubled ``gamma V'`` shows at
every scale. Comparisons of two outputs of the implementation add both bounds.

Sizes: batches of 1 to 64 transitions drawn element by element, and
``test_large_batches_match_definition``: 1000 to 8192 transitions, rows of
different magnitudes, terminated on the first or the last row.
"""

from __future__ import annotations

import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from drlspec.properties.assertions import as_cpu_tensor, assert_close
from drlspec.properties.returns_strategies import LargeBatch, large_batches, one_step_tolerance
from drlspec.properties.strategies import discounts, flags, float_dtypes, log_uniform, real_tensors

CONTRACT = "td_target"

# From one transition (a kernel that only works batched) to a vector of 64
# (a bug confined to one row, or to rows past the first few, shows).
td_batch_sizes = st.integers(min_value=1, max_value=64)


@st.composite
def td_inputs(draw: st.DrawFn) -> dict:
    batch = draw(td_batch_sizes)
    dtype = draw(float_dtypes)
    # Magnitudes: the drawn values are in [-100, 100]; scaled by 1 or by 1e-8 .. 1e4.
    magnitude = draw(st.one_of(st.just(1.0), log_uniform(1e-8, 1e4)))
    return {
        "rewards": (draw(real_tensors((batch,), dtype)).double() * magnitude).to(dtype),
        "next_values": (draw(real_tensors((batch,), dtype)).double() * magnitude).to(dtype),
        "terminated": draw(flags((batch,))),
        "gamma": draw(discounts),
    }


def oracle(rewards, next_values, terminated, gamma) -> torch.Tensor:
    """The definition, one transition at a time, in float64."""
    targets = []
    for reward, next_value, done in zip(
        rewards.tolist(), next_values.tolist(), terminated.tolist(), strict=True
    ):
        targets.append(reward if done else reward + gamma * next_value)
    return torch.tensor(targets, dtype=torch.float64)


def fast_oracle(rewards, next_values, terminated, gamma) -> torch.Tensor:
    """The definition, vectorised, in float64: for batches of thousands."""
    bootstrapped = rewards.double() + gamma * next_values.double()
    return torch.where(terminated.bool(), rewards.double(), bootstrapped)


def tolerance(rewards, next_values, terminated, gamma) -> torch.Tensor:
    """``24 (u (|r| + gamma |V'|) + 2**-126)`` per transition."""
    return one_step_tolerance(rewards.double().abs() + gamma * next_values.double().abs())


def _call(impl, inputs: dict, device: str) -> torch.Tensor:
    """The implementation's targets as a float64 CPU tensor of the rewards' shape."""
    out = as_cpu_tensor(
        impl(
            inputs["rewards"].to(device),
            inputs["next_values"].to(device),
            inputs["terminated"].to(device),
            inputs["gamma"],
        ),
        "td_target",
    )
    if out.shape != inputs["rewards"].shape:
        raise AssertionError(
            f"td_target: shape {list(out.shape)}, expected {list(inputs['rewards'].shape)}"
        )
    return out


@given(inputs=td_inputs())
def test_matches_definition(impl, device, inputs):
    """Equals r + gamma * (1 - terminated) * V(s'), computed transition by transition."""
    assert_close(
        _call(impl, inputs, device),
        oracle(**inputs),
        what="td_target",
        tolerance=tolerance(**inputs),
    )


@settings(max_examples=3, deadline=None)
@example(recipe=LargeBatch(5000, "float32", 100.0, 0.0, 0.5, edges=True, seed=1), gamma=0.99)
@example(recipe=LargeBatch(1025, "float64", 1e6, 12.0, 0.01, edges=False, seed=2), gamma=1.0)
@given(recipe=large_batches(), gamma=discounts)
def test_large_batches_match_definition(impl, device, recipe, gamma):
    """Batches of thousands of transitions, rows of magnitudes 1e-6 to 1e6, match the definition.

    Pins what a batch of 64 cannot: a vectorised kernel whose main loop over
    full vectors, or whose handling past some batch size, differs from its
    small-batch path.
    """
    inputs = dict(recipe.build(), gamma=gamma)
    assert_close(
        _call(impl, inputs, device),
        fast_oracle(**inputs),
        what=f"td_target of a batch of {recipe.size}",
        tolerance=tolerance(**inputs),
    )


@given(inputs=td_inputs(), shift=st.floats(1.0, 100.0))
def test_terminated_never_bootstraps(impl, device, inputs, shift):
    """Where terminated, the target is the reward alone, whatever V(s') is."""
    terminated = inputs["terminated"].bool()
    moved = dict(inputs, next_values=inputs["next_values"] + shift * terminated)
    before = _call(impl, inputs, device)
    after = _call(impl, moved, device)
    assert_close(
        after[terminated],
        inputs["rewards"][terminated].double(),
        what="target at terminated steps (must equal the reward)",
        tolerance=one_step_tolerance(inputs["rewards"].double())[terminated],
    )
    assert_close(
        after,
        before,
        what="target after changing V(s') at terminated steps",
        tolerance=tolerance(**moved) + tolerance(**inputs),
    )


@given(inputs=td_inputs(), shift=st.floats(1.0, 100.0))
def test_nonterminal_bootstraps_with_gamma(impl, device, inputs, shift):
    """Where not terminated, raising V(s') by c raises the target by gamma * c."""
    alive = ~inputs["terminated"].bool()
    moved = dict(inputs, next_values=inputs["next_values"] + shift * alive)
    before = _call(impl, inputs, device)
    after = _call(impl, moved, device)
    assert_close(
        after - before,
        inputs["gamma"] * shift * alive.double(),
        what="change of the target when V(s') rises at non-terminal steps",
        # Adding ``shift`` to V' in its dtype rounds by u |V' + shift|: inside the bound of
        # ``moved``, which allows u per input.
        tolerance=tolerance(**moved) + tolerance(**inputs),
    )


@given(inputs=td_inputs())
def test_flag_dtypes_agree(impl, device, inputs):
    """Bool flags and 0/1 float flags mean the same thing."""
    as_bool = _call(impl, dict(inputs, terminated=inputs["terminated"].bool()), device)
    as_float = _call(impl, dict(inputs, terminated=inputs["terminated"].double()), device)
    assert_close(
        as_float,
        as_bool,
        what="float-flag vs bool-flag target",
        tolerance=2.0 * tolerance(**inputs),
    )
