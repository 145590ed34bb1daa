"""The verification harness: load an implementation, run a contract's properties on it, report."""

from drlspec.harness.target import ImplementationRaised, Target, load_object
from drlspec.harness.verify import ContractResult, PropertyResult, verify
from drlspec.usage import UsageError

__all__ = [
    "ContractResult",
    "ImplementationRaised",
    "PropertyResult",
    "Target",
    "UsageError",
    "load_object",
    "verify",
]
