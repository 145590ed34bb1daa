"""The ``drlspec`` command line: ``verify``, ``contracts``.

A user's mistake on the command line gets one line on stderr and exit code 2,
never a traceback; a failed property gets exit code 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from reference.contracts import CONTRACTS, implemented_contracts
from reference.harness.target import UsageError

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="drlspec", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    verify = commands.add_parser(
        "verify",
        help="run a contract's properties against an implementation",
        description="Verify TARGET against CONTRACT. With no arguments: every implemented "
        "contract against the reference.",
    )
    verify.add_argument("contract", nargs="?", help="contract name (see `drlspec contracts`)")
    verify.add_argument(
        "target", nargs="?", help="package.module:attr or path/file.py:attr (default: reference)"
    )
    verify.add_argument("--backend", choices=("torch", "numpy"), default="torch")
    verify.add_argument("--max-examples", type=int, default=None, metavar="N")
    verify.add_argument("--device", choices=("cpu", "cuda", "all"), default="cpu")
    verify.add_argument("--quiet", action="store_true", help="no reproducers, only verdicts")

    commands.add_parser("contracts", help="list the contracts and their signatures")
    return parser


def _print_failure(result) -> None:
    print(f"    what differed: {result.message}")
    if result.falsifying_example:
        print("    " + result.falsifying_example.replace("\n", "\n    "))
    if result.reproducer:
        print("    reproducer:")
        print("      " + result.reproducer.rstrip().replace("\n", "\n      "))


def _verify_one(args: argparse.Namespace) -> int:
    from reference.harness.verify import verify

    def progress(outcome) -> None:
        verdict = "PASS" if outcome.passed else "FAIL"
        device = f" [{outcome.device}]" if args.device != "cpu" else ""
        print(f"{verdict}  {outcome.name}{device}  ({outcome.seconds:.2f}s)  {outcome.summary}")
        if not outcome.passed and not args.quiet:
            _print_failure(outcome)
        sys.stdout.flush()

    from reference.harness.target import load_object

    target = args.target or CONTRACTS[args.contract].reference
    load_object(target)  # a target that does not import is a usage error, before any output
    print(f"verifying {target} against contract {args.contract} ({args.backend})")
    result = verify(
        args.contract,
        args.target,
        backend=args.backend,
        max_examples=args.max_examples,
        device=args.device,
        progress=progress,
    )
    failed = sum(not r.passed for r in result.results)
    print(
        f"{args.contract}: {len(result.results) - failed}/{len(result.results)} properties pass "
        f"in {result.seconds:.1f}s -> {'PASS' if result.passed else 'FAIL'}"
    )
    return EXIT_OK if result.passed else EXIT_FAILED


def _verify_all(args: argparse.Namespace) -> int:
    from reference.harness.verify import verify

    contracts = implemented_contracts()
    print(f"verifying the reference against {len(contracts)} contracts")
    print(f"{'contract':<24}{'properties':>11}{'seconds':>9}  verdict")
    all_passed = True
    failures = []
    for contract in contracts:
        result = verify(
            contract.name, max_examples=args.max_examples, device=args.device, backend="torch"
        )
        passed = sum(r.passed for r in result.results)
        verdict = "PASS" if result.passed else "FAIL"
        print(
            f"{contract.name:<24}{f'{passed}/{len(result.results)}':>11}"
            f"{result.seconds:>9.1f}  {verdict}"
        )
        sys.stdout.flush()
        all_passed &= result.passed
        failures += [(contract.name, r) for r in result.results if not r.passed]
    for name, outcome in failures:
        print(f"\nFAIL {name}.{outcome.name} [{outcome.device}]")
        _print_failure(outcome)
    return EXIT_OK if all_passed else EXIT_FAILED


def _contracts() -> int:
    for contract in CONTRACTS.values():
        status = "implemented" if contract.implemented else "planned"
        print(f"{contract.name:<24}{status:<13}{contract.signature}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "contracts":
            return _contracts()
        if args.command == "verify":
            if args.max_examples is not None and args.max_examples < 1:
                raise UsageError(f"--max-examples must be at least 1, got {args.max_examples}")
            if args.contract is None:
                return _verify_all(args)
            if args.contract not in CONTRACTS:
                raise UsageError(
                    f"unknown contract {args.contract!r}; see `drlspec contracts` for the names"
                )
            if not CONTRACTS[args.contract].implemented:
                raise UsageError(f"contract {args.contract} is not implemented yet")
            return _verify_one(args)
    except UsageError as error:
        print(f"drlspec {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    parser.error(f"unknown command {args.command!r}")
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
