"""Fast kernels beside the readable reference, each verified against the same properties.

The reference (reference/returns.py, reference/replay.py) stays the readable
statement of each contract. Where a readable version cannot be fast, the fast
one lives here, compiled with numba (the optional extra ``drlspec[fast]``),
and ``tests/test_fast_kernels.py`` runs ``drlspec verify`` on it: a fast
kernel that does not pass its contract's properties does not ship.
"""

__all__ = ["FAST_KERNELS"]

# contract -> the fast kernel's "module:attr" (verified by tests/test_fast_kernels.py).
FAST_KERNELS = {
    "discounted_returns": "drlspec.fast.returns:discounted_returns",
    "gae": "drlspec.fast.gae:gae",
    "sum_tree": "drlspec.fast.sum_tree:SumTree",
}
