"""The ``drlspec`` command line: verify, contracts, bench, train, evaluate, regress.

A user's mistake on the command line gets one line on stderr and exit code 2,
never a traceback; a failed property gets exit code 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from drlspec.contracts import CONTRACTS, implemented_contracts
from drlspec.usage import UsageError

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _add_limit_options(parser: argparse.ArgumentParser, whole_run: bool = False) -> None:
    """The sandbox's limits (reference/harness/sandbox.py), for verify and bench."""
    extra = "; the whole run may take 20 + 4 x --seconds + 3 x this" if whole_run else ""
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="S",
        help=f"seconds one call of the implementation may take before it counts as a hang "
        f"(default 10){extra}",
    )
    parser.add_argument(
        "--memory-limit",
        type=float,
        default=None,
        metavar="GIB",
        help="resident memory the implementation's process may use (default 4 GiB)",
    )


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
    verify.add_argument(
        "--quiet",
        action="store_true",
        help="only verdicts and causes: no examples, output or reproducers",
    )
    verify.add_argument(
        "--property",
        "-p",
        action="append",
        default=None,
        metavar="NAME",
        dest="properties",
        help="run only this property (name with or without test_, or a wildcard such as "
        "'*gradient*'); repeat for several",
    )
    verify.add_argument(
        "--list", action="store_true", help="list the contract's properties and exit"
    )
    _add_limit_options(verify)

    commands.add_parser(
        "contracts", help="list the contracts: signature, meaning, where the reference lives"
    )

    bench = commands.add_parser(
        "bench",
        help="time an implementation against the reference on the same inputs",
        description="Check that TARGET's output equals the reference's on CONTRACT's benchmark "
        "inputs, then time both, interleaved, after warm-up: median, interquartile range and "
        "the ratio TARGET / reference.",
    )
    bench.add_argument("contract", help="contract name (see `drlspec contracts`)")
    bench.add_argument("target", help="package.module:attr or path/file.py:attr")
    bench.add_argument(
        "--size", default=None, help="benchmark size (default: the contract's first)"
    )
    bench.add_argument("--backend", choices=("torch", "numpy"), default="torch")
    bench.add_argument(
        "--seconds", type=float, default=2.0, metavar="S", help="timing budget (default 2)"
    )
    _add_limit_options(bench, whole_run=True)

    train = commands.add_parser(
        "train",
        help="train an agent and write a run folder",
        description="Train ALGO on ENV_ID; writes config, metrics, checkpoints and a learning "
        "curve to the run folder.",
    )
    train.add_argument(
        "algorithm",
        nargs="?",
        metavar="ALGO",
        help="dqn, double_dqn, dueling_dqn, per_dqn, reinforce, actor_critic, trpo, ppo, "
        "ppo_penalty",
    )
    train.add_argument("--env", default=None, metavar="ENV_ID", help="gymnasium id (CartPole-v1)")
    train.add_argument("--steps", type=int, default=None, metavar="N", help="environment steps")
    train.add_argument("--seed", type=int, default=None, metavar="S")
    train.add_argument("--device", choices=("cpu", "cuda"), default=None)
    train.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field"
    )
    train.add_argument(
        "--run-dir",
        default=None,
        help="a new or empty folder (default runs/<algo>-<env>-<seed>-<time>, made unique)",
    )
    train.add_argument("--no-progress", action="store_true", help="no progress line")
    train.add_argument(
        "--resume",
        default=None,
        metavar="RUN_DIR",
        help="continue RUN_DIR from its last checkpoint (--steps may raise the total)",
    )

    evaluate = commands.add_parser(
        "evaluate",
        help="reload a run's checkpoint and report its mean return",
        description="Play K deterministic episodes with a run's checkpoint.",
    )
    evaluate.add_argument("run_dir", metavar="RUN_DIR")
    evaluate.add_argument("--episodes", type=int, default=10, metavar="K")
    evaluate.add_argument("--seed", type=int, default=None, metavar="S")
    evaluate.add_argument(
        "--checkpoint", choices=("last", "best"), default="last", help="which checkpoint"
    )

    regress = commands.add_parser(
        "regress",
        help="run the convergence regression table and judge it (IQM over seeds)",
        description="Train every selected case of reference/data/cases.toml on each seed and "
        "device, evaluate the final policies, and judge each (case, device) by the "
        "interquartile mean over seeds with a 95% bootstrap interval. Writes results.json "
        "and learning_curves.png to the output folder.",
    )
    regress.add_argument(
        "--select", default=None, metavar="EXPR", help="-k style: 'ppo and not Pendulum'"
    )
    regress.add_argument("--seeds", type=int, default=None, metavar="K", help="seeds per case")
    regress.add_argument("--device", choices=("cpu", "cuda", "all"), default="all")
    regress.add_argument(
        "--jobs", type=int, default=None, metavar="J", help="parallel runs (default: CPU count)"
    )
    regress.add_argument(
        "--tier", choices=("full", "smoke"), default="full", help="smoke: each case's smoke_seeds"
    )
    regress.add_argument("--table", default=None, metavar="PATH", help="case table (TOML)")
    regress.add_argument(
        "--output", default=None, metavar="DIR", help="default runs/regress-<time>"
    )
    regress.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="local: a process pool (default); ray: Ray tasks (pip install 'drlspec[ray]')",
    )
    regress.add_argument(
        "--address", default=None, help="Ray cluster address (default: a private local Ray)"
    )
    regress.add_argument(
        "--retries", type=int, default=2, metavar="N", help="Ray retries of a dead worker's run"
    )
    regress.add_argument(
        "--resume",
        default=None,
        metavar="RESULTS.json",
        help="continue an interrupted sweep: keep its finished runs, run the rest",
    )
    regress.add_argument(
        "--impl",
        action="append",
        default=[],
        metavar="ALGO=TARGET",
        help="run the table's ALGO cases with another implementation's train function "
        "(module:attr or file.py:attr; drlspec.external) and compare it with the reference; "
        "repeatable",
    )
    regress.add_argument(
        "--reference",
        default="stored",
        metavar="stored|rerun|RESULTS.json",
        help="with --impl: the reference's runs to compare with (default: the stored ones)",
    )
    return parser


def _implementations(specs: list[str]) -> dict[str, str]:
    """``--impl ALGO=TARGET`` options as algorithm -> target; every target loaded and checked."""
    from drlspec.agents import ALGORITHMS
    from drlspec.external import check_train_function
    from drlspec.harness.target import load_object
    from drlspec.usage import split_target

    implementations: dict[str, str] = {}
    for spec in specs:
        algorithm, sep, target = spec.partition("=")
        if not sep or not algorithm or not target:
            raise UsageError(f"--impl {spec!r}: expected ALGO=TARGET, e.g. ppo=mypkg.agents:train")
        if algorithm not in ALGORITHMS:
            raise UsageError(
                f"--impl {spec!r}: unknown algorithm {algorithm!r}; one of {', '.join(ALGORITHMS)}"
            )
        if algorithm in implementations:
            raise UsageError(f"--impl {algorithm} is given twice")
        module_part, attr, is_file = split_target(target)
        if is_file:  # the workers may start elsewhere: they get the absolute path
            target = f"{os.path.abspath(module_part)}:{attr}"
        try:
            check_train_function(load_object(target), target)
        except (TypeError, UsageError) as error:
            raise UsageError(f"--impl {algorithm}: {error}") from None
        implementations[algorithm] = target
    return implementations


def _regress(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from drlspec.harness import regress

    if args.seeds is not None and args.seeds < 1:
        raise UsageError(f"--seeds must be at least 1, got {args.seeds}")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    if args.retries < 0:
        raise UsageError(f"--retries must be at least 0, got {args.retries}")
    if args.address is not None and args.backend != "ray":
        raise UsageError("--address needs --backend ray")
    if args.resume is not None:
        if args.output is not None:
            raise UsageError("--resume continues in the results' folder; drop --output")
        if Path(args.resume).is_dir():
            raise UsageError(f"--resume {args.resume} is a folder; name its results.json")
        if not Path(args.resume).is_file():
            raise UsageError(f"--resume {args.resume}: no such file")
    if args.reference != "stored" and not args.impl:
        raise UsageError(
            "--reference needs --impl: it says what the implementation is compared with"
        )
    if args.reference not in ("stored", "rerun") and not Path(args.reference).is_file():
        raise UsageError(f"--reference {args.reference}: not 'stored', 'rerun' or a results file")
    if args.backend == "ray":
        from drlspec.harness.ray_backend import import_ray

        import_ray()  # a missing Ray is a usage error before any run starts
    implementations = _implementations(args.impl)
    table = Path(args.table) if args.table else regress.default_table()
    cases = regress.select_cases(regress.load_cases(table), args.select)
    if args.tier == "smoke":
        cases = [case for case in cases if case.smoke_seeds > 0]
        if not cases:
            raise UsageError("no selected case has smoke_seeds in the table")
    if implementations:
        cases = [case for case in cases if case.algorithm in implementations]
        if not cases:
            raise UsageError(
                f"no selected case is of {', '.join(implementations)}: nothing to run with --impl"
            )
    devices = ("cpu", "cuda") if args.device == "all" else (args.device,)
    output = Path(args.output or f"runs/regress-{time.strftime('%Y%m%d-%H%M%S')}")
    jobs = args.jobs or os.cpu_count() or 1
    reference = None
    if implementations and args.reference != "rerun":
        from drlspec.harness.compare import load_reference

        # A stale or missing reference is a usage error before anything is trained.
        reference = load_reference(cases, args.reference)
    options = {
        "devices": devices,
        "jobs": jobs,
        "seeds": args.seeds,
        "smoke": args.tier == "smoke",
        "backend": args.backend,
        "address": args.address,
        "retries": args.retries,
    }
    if implementations and args.reference == "rerun":
        from drlspec.harness.compare import load_reference

        base = Path(args.resume).parent if args.resume else output
        rerun = base / "reference"
        earlier = rerun / "results.json"
        print(f"running the reference first, into {rerun}", file=sys.stderr)
        first = regress.run_sweep(
            cases,
            output=rerun,
            resume=earlier if args.resume and earlier.is_file() else None,
            **{**options, "devices": ("cpu",)},
        )
        reference = load_reference(cases, first.results)
    sweep = regress.run_sweep(
        cases,
        output=output,
        resume=args.resume,
        implementations=implementations,
        **options,
    )
    if implementations:
        names = ", ".join(f"{a}={t}" for a, t in sorted(implementations.items()))
        print(f"{names} against the threshold:")
    print(regress.format_table(sweep.verdicts, sweep.aggregates))
    minutes, seconds = divmod(round(sweep.wall_seconds), 60)
    failed = [v for v in sweep.verdicts if not v["passed"]]
    skipped = [v for v in sweep.verdicts if v["status"] == "skipped"]
    judged = len(sweep.verdicts) - len(skipped)
    print(
        f"{judged - len(failed)} of {judged} (case, device) verdicts passed, {len(skipped)} "
        f"skipped; wall time {minutes} min {seconds} s; results {sweep.results}, "
        f"curves {sweep.plot}"
    )
    regressions = []
    if reference is not None:
        regressions = _compare_with_reference(sweep, cases, devices, reference, implementations)
    return EXIT_OK if not failed and not regressions else EXIT_FAILED


def _compare_with_reference(sweep, cases, devices, reference, implementations) -> list[dict]:
    """Print and store the comparison with the reference; the regressions found."""
    import json

    from drlspec.agents.files import atomic_write_text
    from drlspec.harness import compare

    document = json.loads(sweep.results.read_text())
    judged_devices = [d for d in devices if d not in document["skipped_devices"]]
    comparisons, aggregates = compare.compare_runs(
        cases, judged_devices, document["runs"], reference
    )
    labels = {a: t.rsplit("/", 1)[-1] for a, t in implementations.items()}
    label = ", ".join(sorted(set(labels.values())))
    plots = []
    curves = sweep.results.parent / "learning_curves.png"
    if compare.plot_learning_curves(cases, document["runs"], reference, curves, labels):
        plots.append(str(curves))
    for device in judged_devices:
        profile = sweep.results.parent / f"performance_profiles-{device}.png"
        if compare.plot_performance_profiles(
            cases, device, document["runs"], reference, profile, label
        ):
            plots.append(str(profile))
    document["comparison"] = {
        "reference": reference.source,
        "rule": "a (case, device) regresses when its verdict is worse: the 95% interval of the "
        "IQM difference lies below 0 and that of P(impl > ref) below 0.5",
        "cases": comparisons,
        "aggregates": aggregates,
        "plots": plots,
    }
    document["passed"] = document["passed"] and not any(c["regression"] for c in comparisons)
    atomic_write_text(sweep.results, json.dumps(document, indent=1) + "\n")
    print(compare.format_comparison(comparisons, aggregates, reference))
    regressions = [c for c in comparisons if c["regression"]]
    print(
        f"{len(comparisons) - len(regressions)} of {len(comparisons)} (case, device) "
        f"comparisons show no regression; plots {', '.join(plots)}"
    )
    return regressions


def _limits(args: argparse.Namespace):
    from drlspec.harness.sandbox import DEFAULT_CALL_SECONDS, DEFAULT_MEMORY_BYTES, Limits

    if args.time_limit is not None and not args.time_limit > 0:
        raise UsageError(f"--time-limit must be positive, got {args.time_limit:g}")
    if args.memory_limit is not None and not args.memory_limit >= 0.0625:
        raise UsageError(f"--memory-limit must be at least 0.0625 GiB, got {args.memory_limit:g}")
    return Limits(
        call_seconds=args.time_limit or DEFAULT_CALL_SECONDS,
        memory_bytes=int(args.memory_limit * 2**30) if args.memory_limit else DEFAULT_MEMORY_BYTES,
    )


def _verify_one(args: argparse.Namespace) -> int:
    from drlspec.usage import check_target, property_names, select_properties

    contract = CONTRACTS[args.contract]
    if args.list:
        for name, summary in property_names(contract):
            print(f"{name:<48}{summary}")
        return EXIT_OK
    # Mistakes the sources show are answered here, before torch and the sandbox load.
    if args.backend not in contract.backends:
        allowed = ", ".join(contract.backends)
        raise UsageError(
            f"contract {contract.name} supports backend {allowed}, not {args.backend!r}"
        )
    target = args.target or contract.reference
    check_target(contract, target)
    if args.properties is not None:
        select_properties(contract, args.properties)
    limits = _limits(args)

    from drlspec.harness.verify import findings, format_findings, verify

    def progress(outcome) -> None:
        verdict = "PASS" if outcome.passed else "FAIL"
        device = f" [{outcome.device}]" if args.device != "cpu" else ""
        print(f"{verdict}  {outcome.name}{device}  ({outcome.seconds:.2f}s)  {outcome.summary}")
        sys.stdout.flush()

    # The target is imported only in the sandbox: an import that ends the process fails it.
    print(f"verifying {target} against contract {args.contract} ({args.backend})")
    result = verify(
        args.contract,
        args.target,
        backend=args.backend,
        max_examples=args.max_examples,
        device=args.device,
        progress=progress,
        limits=limits,
        properties=args.properties,
    )
    found = findings(result.results)
    if found:
        print()
        print(format_findings(found, quiet=args.quiet))
        print()
    failed = sum(not r.passed for r in result.results)
    causes = f" ({len(found)} finding{'s' if len(found) != 1 else ''})" if found else ""
    print(
        f"{args.contract}: {len(result.results) - failed}/{len(result.results)} properties pass "
        f"in {result.seconds:.1f}s -> {'PASS' if result.passed else 'FAIL'}{causes}"
    )
    return EXIT_OK if result.passed else EXIT_FAILED


def _verify_all(args: argparse.Namespace) -> int:
    if args.properties is not None or args.list:
        raise UsageError("--property and --list need a contract")
    from drlspec.harness.verify import findings, format_findings, verify

    contracts = implemented_contracts()
    limits = _limits(args)
    print(f"verifying the reference against {len(contracts)} contracts")
    print(f"{'contract':<24}{'properties':>11}{'seconds':>9}  verdict")
    all_passed = True
    reports = []
    for contract in contracts:
        result = verify(
            contract.name,
            max_examples=args.max_examples,
            device=args.device,
            backend="torch",
            limits=limits,
        )
        passed = sum(r.passed for r in result.results)
        verdict = "PASS" if result.passed else "FAIL"
        print(
            f"{contract.name:<24}{f'{passed}/{len(result.results)}':>11}"
            f"{result.seconds:>9.1f}  {verdict}"
        )
        sys.stdout.flush()
        all_passed &= result.passed
        found = findings(result.results)
        if found:
            reports.append(f"\n{contract.name}:\n{format_findings(found, quiet=args.quiet)}")
    for report in reports:
        print(report)
    return EXIT_OK if all_passed else EXIT_FAILED


def _bench(args: argparse.Namespace) -> int:
    from drlspec.harness.bench import bench_isolated
    from drlspec.harness.sandbox import IsolatedFailure

    if not args.seconds > 0:
        raise UsageError(f"--seconds must be positive, got {args.seconds}")
    try:
        report = bench_isolated(
            args.contract,
            args.target,
            size=args.size,
            backend=args.backend,
            seconds=args.seconds,
            limits=_limits(args),
        )
    except AssertionError as error:
        print(f"FAIL  {args.target} differs from the reference: {error}")
        return EXIT_FAILED
    except IsolatedFailure as error:
        print(f"FAIL  {args.target}: {error}")
        return EXIT_FAILED
    checked = "results meet the contract" if report.workload else "output equals the reference's"
    print(f"{report.case}: {report.description} (float32, one thread); {checked}")
    print(f"{'':<10}{'median':>12}{'IQR':>12}{'samples':>9}{'calls/sample':>14}")
    for name, m in (("target", report.target), ("reference", report.reference)):
        print(
            f"{name:<10}{_seconds(m.median):>12}{_seconds(m.iqr):>12}{len(m.samples):>9}"
            f"{m.calls_per_sample:>14}"
        )
    print(
        f"ratio target / reference (medians): {report.target.median / report.reference.median:.3g}"
    )
    return EXIT_OK


def _seconds(value: float) -> str:
    for unit, factor in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if value >= factor:
            return f"{value / factor:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def _contracts() -> int:
    """One block per contract: name, status and call; its meaning; where its reference lives."""
    indent = " " * 37  # under the call, past the name (24) and the status (13) columns
    for contract in CONTRACTS.values():
        status = "implemented" if contract.implemented else "planned"
        print(f"{contract.name:<24}{status:<13}{contract.signature}")
        print(f"{indent}{contract.meaning}")
        print(f"{indent}reference: {contract.reference}")
    return EXIT_OK


def _train(args: argparse.Namespace) -> int:
    import contextlib
    import time

    from drlspec.agents import make_config, resume_config, train
    from drlspec.agents.config import ConfigError
    from drlspec.agents.guards import NonFiniteError
    from drlspec.agents.run_folder import RunInterrupted, new_run_folder

    try:
        if args.resume is not None:
            given = [args.env, args.seed, args.device, args.run_dir, *args.set]
            if any(option is not None for option in given):
                raise UsageError("--resume takes the run's own config; only --steps may change")
            algorithm, config = resume_config(args.resume, args.steps)
            if args.algorithm not in (None, algorithm):
                raise UsageError(f"{args.resume} is a {algorithm} run, not {args.algorithm}")
            folder: contextlib.AbstractContextManager = contextlib.nullcontext(args.resume)
        elif args.algorithm is None:
            raise UsageError("name an algorithm (ALGO) or --resume RUN_DIR")
        else:
            algorithm = args.algorithm
            config = make_config(
                algorithm,
                env_id=args.env,
                total_steps=args.steps,
                seed=args.seed,
                device=args.device,
                overrides=args.set,
            )
            # Only now, the config valid, does a folder appear: claimed for this run alone.
            stamp = time.strftime("%Y%m%d-%H%M%S")
            default = f"runs/{algorithm}-{config.env_id}-{config.seed}-{stamp}"
            folder = new_run_folder(args.run_dir, default)
        with folder as run_dir:
            verb = "resuming" if args.resume else "training"
            print(f"{verb} {algorithm} on {config.env_id} (seed {config.seed}) -> {run_dir}")
            try:
                summary = train(
                    algorithm,
                    config,
                    run_dir,
                    progress=not args.no_progress,
                    resume=args.resume is not None,
                )
            except RunInterrupted as interrupted:
                print(str(interrupted), file=sys.stderr)
                return EXIT_INTERRUPTED
            except NonFiniteError as error:
                print(f"drlspec train: error: {error}", file=sys.stderr)
                return EXIT_FAILED
    except ConfigError as error:
        raise UsageError(str(error)) from None
    print(
        f"{summary['steps']} steps in {summary['train_seconds']:.1f}s "
        f"({summary['steps_per_second']:.0f} steps/s); evaluation over "
        f"{summary['eval_episodes']} episodes: mean return {summary['eval_mean_return']:.1f} "
        f"+- {summary['eval_std_return']:.1f}"
    )
    return EXIT_OK


def _evaluate(args: argparse.Namespace) -> int:
    from drlspec.agents import evaluate_run
    from drlspec.agents.config import ConfigError, check_seed

    if args.episodes < 1:
        raise UsageError(f"--episodes must be at least 1, got {args.episodes}")
    try:
        if args.seed is not None:
            check_seed(args.seed, "--seed")
        returns = evaluate_run(args.run_dir, args.episodes, args.seed, f"{args.checkpoint}.pt")
    except ConfigError as error:
        raise UsageError(str(error)) from None
    mean = sum(returns) / len(returns)
    print(f"{args.run_dir}: mean return {mean:.1f} over {len(returns)} episodes")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "contracts":
            return _contracts()
        if args.command == "bench":
            return _bench(args)
        if args.command == "train":
            return _train(args)
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "regress":
            return _regress(args)
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
    except KeyboardInterrupt:
        print(f"drlspec {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    parser.error(f"unknown command {args.command!r}")
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
