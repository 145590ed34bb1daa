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

__all__ = ["StructuredSPD", "condition_numbers", "spd_matrix"]


def _spectrum(
    size: int,
    condition: float,
    distinct: int | None,
    scale: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """Eigenvalues in ``scale * [1, condition]``, log-uniform, both ends present when ``size >= 2``.

    ``distinct`` limits them to that many distinct values (repeated
    eigenvalues, where CG finishes early).
    """
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
    return scale * values


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
    eigenvalues = _spectrum(size, condition, distinct, scale, generator)
    matrix = (basis * eigenvalues) @ basis.T
    return (matrix + matrix.T) / 2, eigenvalues, basis


condition_numbers = st.one_of(
    st.sampled_from([1.0, 10.0, 100.0]),
    st.floats(min_value=1.0, max_value=1000.0),
)
"""Condition numbers of generated SPD matrices: exactly 1 (a multiple of I) included."""


class StructuredSPD:
    """``H = Q diag(eigenvalues) Q^T`` at large ``D`` without a ``D x D`` matrix.

    ``Q = P_1 P_2 ... P_k`` is a product of ``k`` Householder reflections
    ``P_j = I - 2 u_j u_j^T`` with dense random unit ``u_j``: exactly
    orthogonal, so the eigenvalues (and the condition number) are exactly the
    ones drawn, while every entry of ``H`` is non-zero. ``H v``, ``H^-1 v`` and
    ``v^T H v`` cost ``O(k D)``: a few milliseconds at ``D = 4096`` where a
    dense product would need a 128 MiB matrix. Eigenvalues as in
    :func:`spd_matrix` (log-uniform in ``scale * [1, condition]``, both ends
    present, optionally only ``distinct`` distinct values).

    Products work on ``[..., D]`` batches and in the dtype of the argument
    (float32 arguments get float32 arithmetic, like :class:`Matvec`).
    """

    def __init__(
        self,
        size: int,
        condition: float,
        seed: int,
        *,
        distinct: int | None = None,
        scale: float = 1.0,
        reflections: int = 3,
    ) -> None:
        self.size, self.condition, self.seed = size, condition, seed
        self.distinct, self.scale, self.reflections = distinct, scale, reflections
        generator = torch.Generator().manual_seed(seed)
        householder = torch.randn(reflections, size, generator=generator, dtype=torch.float64)
        self._householder = householder / householder.norm(dim=1, keepdim=True)
        self.eigenvalues = _spectrum(size, condition, distinct, scale, generator)

    def __repr__(self) -> str:
        return (
            f"StructuredSPD({self.size}, {self.condition!r}, {self.seed}, "
            f"distinct={self.distinct!r}, scale={self.scale!r}, reflections={self.reflections})"
        )

    def _reflect(self, vector: torch.Tensor, order: range) -> torch.Tensor:
        householder = self._householder.to(vector.device, vector.dtype)
        for j in order:
            u = householder[j]
            vector = vector - 2.0 * (vector @ u)[..., None] * u
        return vector

    def _q(self, vector: torch.Tensor) -> torch.Tensor:
        """``Q v = P_1 (P_2 (... P_k v))``."""
        return self._reflect(vector, range(self.reflections - 1, -1, -1))

    def _q_transpose(self, vector: torch.Tensor) -> torch.Tensor:
        """``Q^T v = P_k (... (P_1 v))`` (each ``P_j`` is symmetric)."""
        return self._reflect(vector, range(self.reflections))

    def matvec(self, vector: torch.Tensor) -> torch.Tensor:
        """``H v`` in the dtype of ``v``."""
        eigenvalues = self.eigenvalues.to(vector.device, vector.dtype)
        return self._q(eigenvalues * self._q_transpose(vector))

    def solve(self, vector: torch.Tensor) -> torch.Tensor:
        """``H^-1 v`` (float64 arguments give the float64 oracle)."""
        eigenvalues = self.eigenvalues.to(vector.device, vector.dtype)
        return self._q(self._q_transpose(vector) / eigenvalues)

    def quadratic(self, vector: torch.Tensor) -> torch.Tensor:
        """``v^T H v`` as ``sum(eigenvalues * (Q^T v)^2)``: no cancellation, exact to rounding."""
        eigenvalues = self.eigenvalues.to(vector.device, vector.dtype)
        return (eigenvalues * self._q_transpose(vector) ** 2).sum(dim=-1)
