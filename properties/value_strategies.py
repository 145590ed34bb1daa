"""Inputs, tie rule and tolerances shared by the value-based contracts.

``dqn_target``, ``double_dqn_target`` and ``dueling_aggregate`` all take
``[B, A]`` tables of action values and decide something by a max over the
action axis. Their properties draw:

* shapes: ``A`` from 1 to 64 (Atari's 18 and 64 often), ``B`` small (1-32),
  equal to ``A`` (so that a max or an argmax over the wrong axis is not
  saved by a shape error), or large (256-4096);
* magnitudes on a log scale from 1e-30 to 1e6, independently for rewards,
  values and advantages, and per row spread over up to six decades, so that
  a row whose entries are a million times smaller than its neighbours' is
  still judged at its own scale;
* the greedy action of row ``i`` either random or ``(i + k) mod A``, so that
  once ``B >= A`` every action column is somebody's greedy action;
* near-ties: a runner-up action at a relative gap from 1e-5 to 1e-2 below
  the greedy one (distinct at float32 and at float64, so it must be told
  apart), exact ties, and gaps below float32 resolution (1e-12 to 1e-8);
* small integer values (ties everywhere, readable reproducers).

Entries come from a seeded ``torch.Generator`` that hypothesis draws, as in
:func:`drlspec.properties.strategies.rollouts`: drawing thousands of entries one by
one would cost seconds per property.

Tie rule (float32). An implementation may compute in float32. Rounding is
monotone, so it never reorders two values, but it merges two values less
than one float32 spacing apart, and its argmax may then take either. The
spacing of float32 numbers near ``m`` is at most ``2**-23 * |m|``; so the
admissible actions of a row are those within ``2**-23 * |max|`` (plus the
smallest float32 subnormal, for a maximum at 0) of the row's maximum. A gap
larger than that survives rounding to float32, and must be resolved exactly.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from drlspec.properties.assertions import FLOAT32_RTOL
from drlspec.properties.strategies import FLAG_DTYPES, float_dtypes, log_uniform, torch_generators

__all__ = [
    "FLOAT32_SPACING",
    "TINY",
    "admissible_actions",
    "draw_common",
    "flag_tensor",
    "greedy_table",
    "magnitudes",
    "q_shape",
    "row_scales",
    "signed_uniform",
    "target_tolerance",
]

# Relative spacing of float32 numbers: at most 2**-23 of the magnitude.
FLOAT32_SPACING = 2.0**-23
# float32's smallest subnormal: an admissible tie at a maximum of exactly 0.
FLOAT32_SUBNORMAL = 2.0**-149
# float32's smallest normal number. Below it float32 keeps absolute, not relative, precision:
# a quantity under TINY (gamma = 1e-300, a product of tiny values) is rounded with an error
# of at most TINY, also where subnormals are flushed to zero (GPU fast-math, numba fastmath).
TINY = 2.0**-126

action_counts = st.one_of(
    st.integers(min_value=1, max_value=18),
    st.integers(min_value=19, max_value=64),
    st.sampled_from([18, 64]),
)

# From 1e-30 (float32 keeps full relative precision down to 1e-38, and rows spread six
# decades below the drawn magnitude) to 1e6 (returns of long undiscounted episodes).
magnitudes = st.one_of(
    st.just(1.0),
    st.sampled_from([1e-30, 1e6]),
    log_uniform(1e-30, 1e6),
)


_SHAPE_KINDS = st.sampled_from(["small", "square", "large"])
_SMALL_BATCHES = st.integers(min_value=1, max_value=32)
_LARGE_BATCHES = st.integers(min_value=256, max_value=4096)
_STRUCTURES = st.sampled_from(["near_tie", "near_tie", "integers", "random"])
_GAP_REGIMES = st.sampled_from(["resolvable", "exact", "sub_float32", "mixed"])
_END_RATES = st.sampled_from([0.0, 0.125, 0.5, 1.0])
_FLAG_DTYPES = st.sampled_from(FLAG_DTYPES)
# Strategies are built once, here: building them inside every draw cost more than the
# properties themselves.


def q_shape(draw: st.DrawFn) -> tuple[int, int]:
    """``(B, A)``: B small, B == A, or B large (up to 4096); A from 1 to 64."""
    num_actions = draw(action_counts)
    kind = draw(_SHAPE_KINDS)
    if kind == "small":
        batch = draw(_SMALL_BATCHES)
    elif kind == "square":
        batch = num_actions
    else:
        batch = draw(_LARGE_BATCHES)
    return batch, num_actions


def row_scales(draw: st.DrawFn, batch: int, generator: torch.Generator) -> torch.Tensor:
    """``[B, 1]`` positive float64 magnitudes: one drawn magnitude, spread per row."""
    magnitude = draw(magnitudes)
    # Spread over 0 (half the time), 3 or 6 decades below the drawn magnitude.
    decades = (0.0, 0.0, 3.0, 6.0)[int(torch.randint(4, (), generator=generator))]
    spread = torch.rand(batch, 1, generator=generator, dtype=torch.float64)
    return magnitude * 10.0 ** (-decades * spread)


def signed_uniform(generator: torch.Generator, shape: tuple[int, ...]) -> torch.Tensor:
    """Uniform on ``[-1, 1]``, float64."""
    return 2.0 * torch.rand(shape, generator=generator, dtype=torch.float64) - 1.0


def greedy_table(
    draw: st.DrawFn,
    batch: int,
    num_actions: int,
    dtype: torch.dtype,
    generator: torch.Generator,
    structure: str | None = None,
) -> dict:
    """A ``[B, A]`` table of action values in ``dtype`` with a known greedy action per row.

    ``structure``:

    * ``"near_tie"``: row ``i`` has its maximum ``m_i`` at ``greedy[i]`` and a
      runner-up ``runner_up[i]`` at ``m_i - g_i |m_i|``; the others lie below by
      10% to 100% of the row scale. The gaps ``g_i`` are resolvable (1e-5 to
      1e-2), zero, below float32 resolution (1e-12 to 1e-8), or a per-row mix;
    * ``"integers"``: small integers times the row scale (ties everywhere);
    * ``"random"``: uniform in ``[-scale, scale]``.

    Returns ``values``, and for ``"near_tie"`` also ``greedy`` and ``runner_up``
    (``[B]`` long; ``runner_up == greedy`` where ``A == 1``).
    """
    if structure is None:
        structure = draw(_STRUCTURES)
    scale = row_scales(draw, batch, generator)
    shape = (batch, num_actions)
    if structure == "integers":
        values = (signed_uniform(generator, shape) * 2.5).round() * scale
        return {"values": values.to(dtype)}
    values = signed_uniform(generator, shape) * scale
    if structure == "random":
        return {"values": values.to(dtype)}
    rows = torch.arange(batch)
    if bool(torch.rand((), generator=generator) < 0.5):
        # Row i's greedy action is (i + k) mod A: with B >= A every column is some row's.
        greedy = (rows + int(torch.randint(num_actions, (), generator=generator))) % num_actions
    else:
        greedy = torch.randint(num_actions, (batch,), generator=generator)
    margin = 0.1 + 0.9 * torch.rand(batch, generator=generator, dtype=torch.float64)
    top = values.max(dim=1).values + margin * scale[:, 0]
    values[rows, greedy] = top
    offset = torch.randint(max(num_actions - 1, 1), (batch,), generator=generator)
    runner_up = (greedy + 1 + offset) % num_actions if num_actions > 1 else greedy.clone()
    if num_actions > 1:
        gaps = _relative_gaps(draw(_GAP_REGIMES), batch, generator)
        values[rows, runner_up] = top - gaps * top.abs()
    return {"values": values.to(dtype), "greedy": greedy, "runner_up": runner_up}


def _relative_gaps(regime: str, batch: int, generator: torch.Generator) -> torch.Tensor:
    """``[B]`` relative gaps between the greedy action and the runner-up."""
    uniform = torch.rand(batch, generator=generator, dtype=torch.float64)
    resolvable = 10.0 ** (-5.0 + 3.0 * uniform)  # 1e-5 .. 1e-2
    if regime == "resolvable":
        return resolvable
    if regime == "exact":
        return torch.zeros(batch, dtype=torch.float64)
    below = 10.0 ** (-12.0 + 4.0 * uniform)  # 1e-12 .. 1e-8: merged by float32 rounding
    if regime == "sub_float32":
        return below
    choice = torch.randint(3, (batch,), generator=generator)
    return torch.where(choice == 0, resolvable, torch.where(choice == 1, 0.0, below))


def admissible_actions(values: torch.Tensor) -> torch.Tensor:
    """``[B, A]`` bool: the actions a float32 or float64 argmax of ``values`` may return.

    Those within ``2**-23 * |max|`` of the row's maximum (the tie rule of the module
    docstring): exact ties, and gaps that rounding to float32 may merge.
    """
    q = values.detach().to("cpu", torch.float64)
    top = q.max(dim=1, keepdim=True).values
    return top - q <= FLOAT32_SPACING * top.abs() + FLOAT32_SUBNORMAL


def flag_tensor(draw: st.DrawFn, batch: int, generator: torch.Generator) -> torch.Tensor:
    """``[B]`` episode-end flags: bool or 0/1 float, ends never, rarely, often or always."""
    rate = draw(_END_RATES)
    flag_dtype = draw(_FLAG_DTYPES)
    return (torch.rand(batch, generator=generator, dtype=torch.float64) < rate).to(flag_dtype)


def draw_common(draw: st.DrawFn) -> tuple[int, int, torch.dtype, torch.Generator]:
    """Shape, dtype and the entries' generator of one example."""
    batch, num_actions = q_shape(draw)
    return batch, num_actions, draw(float_dtypes), draw(torch_generators)


def target_tolerance(rewards, next_q, terminated, gamma) -> torch.Tensor:
    """``[B]`` absolute bound on a float32-accurate ``r + gamma (1 - done) Q(s', a)``.

    A float32 evaluation rounds r, Q and gamma, one product and one sum: a few
    ``u = 2**-24`` relative to ``|r| + gamma |Q|``, with ``|Q| <= max_a |Q(s', a)|``
    whichever action is evaluated. ``FLOAT32_RTOL`` (about 170 u) covers that.
    Below float32's normal range rounding is absolute: gamma under ``TINY`` moves
    ``gamma Q`` by at most ``TINY |Q|``, and r, Q, the product and the sum by at most
    ``TINY`` each; hence ``TINY * (4 + max_a |Q|)``.
    """
    alive = 1.0 - terminated.double()
    q_max = next_q.double().abs().max(dim=1).values
    magnitude = rewards.double().abs() + gamma * alive * q_max
    return FLOAT32_RTOL * magnitude + TINY * (4.0 + q_max)
