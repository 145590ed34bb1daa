"""Tests of the reference's own promises in reference/distributions.py: entry checks, dtypes,
hand-computed values. The contracts' meanings are pinned by properties/test_categorical_kl.py
and properties/test_gaussian_kl.py.
"""

from __future__ import annotations

import math

import pytest
import torch

from drlspec.distributions import categorical_kl, gaussian_kl


def test_categorical_kl_by_hand():
    # p = (1/2, 1/2), q = (1/4, 3/4): KL = 1/2 log 2 + 1/2 log(2/3)
    logits_p = torch.zeros(1, 2, dtype=torch.float64)
    logits_q = torch.log(torch.tensor([[0.25, 0.75]], dtype=torch.float64))
    expected = 0.5 * math.log(2.0) + 0.5 * math.log(2.0 / 3.0)
    assert categorical_kl(logits_p, logits_q).item() == pytest.approx(expected, rel=1e-14)


def test_categorical_kl_single_action_is_zero():
    logits = torch.tensor([[3.0], [-7.0]], dtype=torch.float64)
    assert torch.equal(categorical_kl(logits, -logits), torch.zeros(2, dtype=torch.float64))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_categorical_kl_finite_where_softmax_underflows(dtype):
    """A gap of 2000 underflows exp in either precision; the KL is still exactly 2000ish."""
    logits_p = torch.tensor([[0.0, -2000.0]], dtype=dtype)
    logits_q = torch.tensor([[-2000.0, 0.0]], dtype=dtype)
    result = categorical_kl(logits_p, logits_q)
    assert result.dtype == dtype
    assert result.item() == pytest.approx(2000.0, rel=1e-6)


INF = math.inf


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_categorical_kl_masked_actions_by_hand(dtype):
    """-inf logits: 0 log 0 = 0 where p masks (whatever q says), +inf where only q masks."""
    logits_p = torch.tensor(
        [[0.0, 0.0, -INF], [0.0, -INF, 0.0], [0.0, 0.0, 0.0], [0.0, -INF, -INF], [0.0, -200, 0]],
        dtype=dtype,
    )
    logits_q = torch.tensor(
        [[0.0, 0.0, -INF], [0.0, 0.0, math.log(3.0)], [0.0, 0.0, -INF], [0.0, 0.0, -INF],
         [0.0, -INF, 0.0]],
        dtype=dtype,
    )  # fmt: skip
    result = categorical_kl(logits_p, logits_q)
    assert result.dtype == dtype
    # Row 1: p = (1/2, 0, 1/2), q = (1/5, 1/5, 3/5): 1/2 log(5/2) + 1/2 log(5/6).
    row_1 = 0.5 * math.log(2.5) + 0.5 * math.log(5.0 / 6.0)
    # Row 3: p = (1, 0, 0), q = (1/2, 1/2, 0): log 2 (the action masked in both adds 0).
    expected = [0.0, row_1, INF, math.log(2.0), INF]
    assert result.tolist() == pytest.approx(expected, rel=1e-6)
    # Row 4: p of action 1 underflows in float32 (e^-200) but is not 0: q masking it is +inf.
    assert result[2].item() == INF and result[4].item() == INF


def test_categorical_kl_masked_rows_have_finite_gradients():
    """Where the KL is finite, masks put no NaN in the gradient (TRPO differentiates it twice)."""
    logits_p = torch.tensor([[0.5, -INF, 0.2], [0.1, 0.3, -INF]], dtype=torch.float64)
    logits_q = torch.tensor([[0.1, -INF, 0.7], [0.4, 0.2, 0.0]], dtype=torch.float64)
    logits_p.requires_grad_(True)
    logits_q.requires_grad_(True)
    categorical_kl(logits_p, logits_q).sum().backward()
    assert torch.isfinite(logits_p.grad).all() and torch.isfinite(logits_q.grad).all()
    assert logits_p.grad[0, 1] == 0 and logits_q.grad[0, 1] == 0


@pytest.mark.parametrize("name", ["logits_p", "logits_q"])
def test_categorical_kl_row_with_every_action_masked_is_an_error(name):
    logits = {"logits_p": torch.zeros(3, 2), "logits_q": torch.zeros(3, 2)}
    logits[name][1] = -INF
    with pytest.raises(
        ValueError, match=rf"^{name} must leave at least one action unmasked.*row 1"
    ):
        categorical_kl(**logits)


def test_categorical_kl_unchanged_without_masks():
    """No -inf anywhere: the same bits as the formula the reference used before masks."""
    generator = torch.Generator().manual_seed(11)
    for dtype in (torch.float32, torch.float64):
        logits_p = 30 * torch.randn(64, 7, generator=generator, dtype=dtype)
        logits_q = 30 * torch.randn(64, 7, generator=generator, dtype=dtype)
        log_p, log_q = torch.log_softmax(logits_p, 1), torch.log_softmax(logits_q, 1)
        before = (log_p.exp() * (log_p - log_q)).sum(dim=1)
        assert torch.equal(categorical_kl(logits_p, logits_q), before)


def test_gaussian_kl_by_hand():
    # one dimension: N(0, 1) || N(1, 2): log 2 + (1 + 1) / 8 - 1/2
    result = gaussian_kl(*(torch.tensor([[v]], dtype=torch.float64) for v in (0.0, 1.0, 1.0, 2.0)))
    assert result.item() == pytest.approx(math.log(2.0) + 0.25 - 0.5, rel=1e-14)


def test_outputs_follow_the_first_argument_dtype():
    x32 = torch.zeros(2, 3, dtype=torch.float32)
    x64 = torch.zeros(2, 3, dtype=torch.float64)
    assert categorical_kl(x32, x64).dtype == torch.float32
    assert gaussian_kl(x32, x64 + 1, x64, x64 + 1).dtype == torch.float32


@pytest.mark.parametrize(
    ("arguments", "name", "error"),
    [
        ((torch.zeros(2, 3), torch.zeros(2, 4)), "logits_q", ValueError),
        ((torch.zeros(3), torch.zeros(3)), "logits_p", ValueError),
        ((torch.zeros(2, 0), torch.zeros(2, 0)), "logits_p", ValueError),
        ((torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3)), "logits_p", TypeError),
    ],
)
def test_categorical_kl_entry_checks(arguments, name, error):
    with pytest.raises(error, match=name):
        categorical_kl(*arguments)


@pytest.mark.parametrize(
    ("arguments", "name", "error"),
    [
        (
            (torch.zeros(2, 3), torch.ones(2, 3), torch.zeros(2, 3), torch.ones(3)),
            "std_q",
            ValueError,
        ),
        (
            (torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(2, 3)),
            "std_p",
            ValueError,
        ),
        (
            (torch.zeros(2, 3), torch.ones(2, 3), torch.zeros(2, 3), -torch.ones(2, 3)),
            "std_q",
            ValueError,
        ),
        ((torch.zeros(2, 3), torch.ones(2, 3), [0.0], torch.ones(2, 3)), "mean_q", TypeError),
    ],
)
def test_gaussian_kl_entry_checks(arguments, name, error):
    with pytest.raises(error, match=name):
        gaussian_kl(*arguments)
