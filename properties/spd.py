"""Symmetric positive definite test matrices for the trust-region properties (CG, KKT step).

Never identities only: the spectrum is spread over ``[1, condition]`` with
both ends present, so the condition number is exactly the one drawn, and an
eigenbasis from a seeded QR makes every entry of ``H`` non-trivial. Kept out
of properties/strategies.py only to stay clear of concurrent edits there; it
can move into it.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

__all__ = ["condition_numbers", "spd_matrix"]


def spd_matrix(
    size: int,
    condition: float,
    seed: int,
    *,
    distinct: int | None = None,
    scale: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(H, eigenvalues, eigenvectors)`` in float64, ``H = Q diag(eigenvalues) Q^T``.

    Eigenvalues lie in ``scale * [1, condition]``, log-uniform inside, with both
    ends present when ``size >= 2``; ``distinct`` limits them to that many
    distinct values (repeated eigenvalues, where CG finishes early).
    """
    generator = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(size, size, generator=generator, dtype=torch.float64))
    levels = distinct if distinct is not None else size
    log_values = torch.rand(levels, generator=generator, dtype=torch.float64)
    log_values[0] = 0.0
    if levels >= 2:
        log_values[1] = 1.0
    values = torch.tensor(condition, dtype=torch.float64) ** log_values
    if distinct is not None:
        picks = torch.randint(levels, (size,), generator=generator)
        picks[: min(levels, size)] = torch.arange(min(levels, size))
        values = values[picks]
    eigenvalues = scale * values
    matrix = (basis * eigenvalues) @ basis.T
    return (matrix + matrix.T) / 2, eigenvalues, basis


condition_numbers = st.one_of(
    st.sampled_from([1.0, 10.0, 100.0]),
    st.floats(min_value=1.0, max_value=1000.0),
)
"""Condition numbers of generated SPD matrices: exactly 1 (a multiple of I) included."""
