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
