"""drlspec's contracts inside your own test suite.

Like scikit-learn's ``check_estimator`` and gymnasium's ``check_env``::

    from drlspec.testing import check_contract

    def test_my_gae_meets_the_contract():
        check_contract("gae", my_lib.advantages.gae, backend="numpy")

``check_contract`` runs the contract's properties exactly as ``drlspec
verify`` does (in the sandbox: private copies of the inputs, a time limit per
call; see docs/contracts.md, "Conventions"), returns quietly when every
property passes, and otherwise raises ``AssertionError`` carrying the same
report: the failing properties, the shrunk example and a reproducer.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

__all__ = ["check_contract"]


def target_spec(implementation: Any) -> str:
    """``module:qualname`` (or ``file.py:qualname``): how the sandbox imports ``implementation``.

    The implementation runs in a child process, which imports it by name: a
    function or class defined at the top level of a module qualifies; a
    lambda, a nested function or a ``functools.partial`` does not.
    """
    if isinstance(implementation, str):
        return implementation
    module_name = getattr(implementation, "__module__", None)
    qualname = getattr(implementation, "__qualname__", None)
    if not module_name or not qualname or "<" in qualname:
        raise TypeError(
            f"check_contract needs a function or class defined at the top level of a module "
            f"(the sandbox imports it by name), or a 'module:attr' string; got {implementation!r}"
        )
    if module_name == "__main__":
        # A script's own function: the sandbox imports the script's file under another name.
        path = getattr(sys.modules.get("__main__"), "__file__", None)
        if not path:
            raise TypeError(f"cannot locate the file of {qualname} to import it in the sandbox")
        return f"{Path(path).resolve()}:{qualname}"
    return f"{module_name}:{qualname}"


def check_contract(
    contract: str,
    implementation: Any,
    *,
    backend: str = "torch",
    device: str | None = "cpu",
    max_examples: int | None = None,
    time_limit: float | None = None,
) -> None:
    """Check ``implementation`` against ``contract``; on failure ``AssertionError`` with the report.

    ``implementation`` is a top-level function or class, or a
    ``"module:attr"`` / ``"path/file.py:attr"`` string. ``backend`` is the
    array type it takes (``"torch"`` or ``"numpy"``), ``device`` is ``"cpu"``,
    ``"cuda"`` or ``"all"`` (``None``: cpu, plus cuda when present),
    ``max_examples`` overrides the hypothesis profile's budget per property
    and ``time_limit`` the seconds one call may take (default 10). A name or
    option that is wrong raises ``ValueError``.
    """
    from drlspec.harness.sandbox import DEFAULT_CALL_SECONDS, Limits
    from drlspec.harness.target import UsageError
    from drlspec.harness.verify import format_report, verify

    if max_examples is not None and (not isinstance(max_examples, int) or max_examples < 1):
        raise ValueError(f"max_examples must be a positive int, got {max_examples!r}")
    if time_limit is not None and not time_limit > 0:
        raise ValueError(f"time_limit must be positive, got {time_limit!r}")
    spec = target_spec(implementation)
    try:
        result = verify(
            contract,
            spec,
            backend=backend,
            device=device,
            max_examples=max_examples,
            limits=Limits(call_seconds=time_limit or DEFAULT_CALL_SECONDS),
        )
    except UsageError as error:
        raise ValueError(str(error)) from None
    if not result.passed:
        raise AssertionError(format_report(result))
