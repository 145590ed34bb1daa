"""Run an implementation where it cannot end, freeze or flood the verdict.

``drlspec verify`` runs a contract's properties in a child process and only
*reads* what the child reports, one message per property, over a pipe of its
own. Whatever the implementation does, the verdict is the parent's:

- ``sys.exit`` (or any exception) inside a call fails the property
  (:class:`~drlspec.harness.target.ImplementationRaised`);
- ``os._exit``, a segfault in a compiled kernel or any other death of the
  child fails the property that was running, with the exit status or signal;
- a call that does not return within ``Limits.call_seconds`` (the child
  stamps the start of every call into shared memory, and the parent reads
  it) is a hang: the child is killed, the property fails, and the properties
  not yet run are reported as not run;
- a child whose resident memory passes ``Limits.memory_bytes``, or whose
  output (the implementation's prints and logs, sent to a file rather than
  the user's terminal) passes ``Limits.output_bytes``, is killed and fails.

After a death or a kill the remaining properties run in a fresh child. The
children are forked from a fork server that has imported torch, hypothesis
and the harness once, so a child starts in milliseconds: isolation costs
about 0.1 s per contract (see tests/test_sandbox.py and the README).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import sys
import tempfile
import threading
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_CALL_SECONDS",
    "DEFAULT_MEMORY_BYTES",
    "DEFAULT_OUTPUT_BYTES",
    "DEFAULT_SHRINK_SECONDS",
    "Job",
    "Limits",
    "run_isolated",
    "run_properties",
]

DEFAULT_CALL_SECONDS = 10.0
DEFAULT_MEMORY_BYTES = 4 * 2**30
DEFAULT_OUTPUT_BYTES = 2**20
# Shrinking a failing example, over a whole contract: a wrong implementation is reported in
# seconds, with the simplest example found by then (hypothesis alone allows 300 s per property).
DEFAULT_SHRINK_SECONDS = 15.0
# The name of the result that reports a target whose import ended or crashed the process.
IMPORT = "import"
# How often the parent looks at the child while no message arrives.
POLL_SECONDS = 0.02
# What a failure report shows of the implementation's own output: its last lines, cut short.
OUTPUT_TAIL_LINES = 10
OUTPUT_LINE_CHARS = 200


@dataclass(frozen=True)
class Limits:
    """What one verification may spend before the implementation is stopped and failed."""

    call_seconds: float = DEFAULT_CALL_SECONDS  # one call of the implementation
    memory_bytes: int = DEFAULT_MEMORY_BYTES  # resident memory of the process running it
    output_bytes: int = DEFAULT_OUTPUT_BYTES  # what it prints to stdout and stderr

    def __post_init__(self) -> None:
        if not self.call_seconds > 0:
            raise ValueError(f"call_seconds must be positive, got {self.call_seconds!r}")
        if self.memory_bytes < 2**26:
            raise ValueError(f"memory_bytes must be at least 64 MiB, got {self.memory_bytes!r}")
        if self.output_bytes < 0:
            raise ValueError(f"output_bytes must be non-negative, got {self.output_bytes!r}")

    @property
    def property_seconds(self) -> float:
        """A backstop for a whole property (generation and shrinking), outside any call."""
        return max(900.0, 100.0 * self.call_seconds)


@dataclass(frozen=True)
class Job:
    """One contract's verification, as the child runs it."""

    contract: str
    spec: str
    backend: str
    plan: tuple[tuple[str, str], ...]  # (property, device), in order
    profile: str  # the hypothesis profile (dev or ci): the child cannot see a later setenv
    max_examples: int | None
    shrink: bool
    fail_fast: bool
    threads: int | None  # torch threads in the child (None: one)
    shrink_seconds: float = DEFAULT_SHRINK_SECONDS  # shrinking budget for the whole plan
    environment: dict[str, str] = field(default_factory=lambda: dict(os.environ))


# ---------------------------------------------------------------------------
# The child
# ---------------------------------------------------------------------------


def _enter_sandbox(output_path: str, environment: dict[str, str]) -> None:
    """Own process group, death with the fork server, stdout and stderr into ``output_path``.

    ``environment`` is the parent's now: the fork server's is that of the moment it started.
    """
    os.environ.clear()
    os.environ.update(environment)
    os.setpgrp()  # the parent kills the whole group: the target's own processes too
    with contextlib.suppress(Exception):
        # Linux: die with the fork server, which dies with the parent, so that a hung
        # child never outlives an interrupted verification.
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    try:
        descriptor = os.open(output_path, os.O_WRONLY | os.O_APPEND)
    except OSError:
        os._exit(1)  # the parent gave up (interrupted) before the child started
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.close(descriptor)


def _child_main(job: Job, connection: Any, clock: Any, output_path: str) -> None:
    """Load the target and run the plan, reporting each property over ``connection``."""
    _enter_sandbox(output_path, job.environment)

    import torch

    from drlspec.contracts import get_contract
    from drlspec.harness.target import Target, UsageError, load_object
    from drlspec.harness.verify import properties_of, run_property, verification_settings

    torch.set_num_threads(job.threads or 1)

    def on_call(started: bool) -> None:
        clock.value = time.monotonic() if started else 0.0

    connection.send(("loading",))
    try:
        contract = get_contract(job.contract)
        target = Target(contract, load_object(job.spec), job.spec, job.backend, on_call=on_call)
    except UsageError as error:
        connection.send(("usage", str(error)))
        _exit_child(0)
    except BaseException as error:  # SystemExit at import: a failure, not a usage error
        connection.send(("load-failed", f"{type(error).__name__}: {error}"))
        _exit_child(0)
    connection.send(("loaded",))
    # hypothesis fixes a test's settings when ``@given`` decorates it: the property
    # module is imported (for the first time, in this child) under the run's settings.
    with verification_settings(job.profile, job.max_examples, job.shrink):
        functions = dict(properties_of(contract))
        shrinking_left = job.shrink_seconds
        for name, device in job.plan:
            connection.send(("start", name, device))
            _limit_shrinking(shrinking_left)
            result = run_property(name, functions[name], target, device)
            if not result.passed:
                # A failing property's time is mostly shrinking: charge it to the budget.
                shrinking_left = max(0.0, shrinking_left - result.seconds)
            connection.send(("result", result))
            if job.fail_fast and not result.passed:
                break
    connection.send(("done",))
    _exit_child(0)


def _limit_shrinking(seconds: float) -> None:
    """Let hypothesis shrink for at most ``seconds`` (at least one) in the next property.

    Hypothesis reads this bound from its engine module when shrinking starts;
    it has no public setting for it. If a future version moves it, shrinking
    falls back to hypothesis's own bound and only the speed changes.
    """
    with contextlib.suppress(ImportError, AttributeError):
        from hypothesis.internal.conjecture import engine

        if hasattr(engine, "MAX_SHRINKING_SECONDS"):
            engine.MAX_SHRINKING_SECONDS = max(1.0, seconds)


def _exit_child(status: int) -> None:
    """Leave without running the target's atexit handlers or joining its threads."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(status)


# ---------------------------------------------------------------------------
# The parent
# ---------------------------------------------------------------------------

_PRELOAD = [
    "torch",
    "numpy",
    "hypothesis",
    "drlspec.harness.verify",
    "drlspec.properties.strategies",
    "drlspec.properties.assertions",
]


def _context() -> multiprocessing.context.BaseContext:
    """A fork server that has imported the heavy modules once (children start in ms)."""
    if sys.platform == "win32":  # pragma: no cover - no fork server there
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C in a terminal signals the whole foreground process group. The parent
        # reports the interrupt; the fork server (which would print a traceback if it is
        # still importing torch) and its children must not see it: an ignored signal stays
        # ignored across the server's exec, and the children inherit that.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            multiprocessing.forkserver.ensure_running()
        finally:
            signal.signal(signal.SIGINT, previous)
    return context


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Start a child without it re-running the user's ``__main__`` script.

    multiprocessing makes a fork server's child import the parent's main
    module (to find functions defined there), so a user's script that calls
    ``verify`` at top level, without an ``if __name__ == "__main__"`` guard,
    would run again in every child. The child runs only functions of this
    package, so it is given no main module to import.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def _resident_bytes(pid: int) -> int:
    """Resident memory of ``pid`` (0 where /proc cannot tell)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _limit_breach(pid: int, written: int, limits: Limits) -> str | None:
    """Why the child ``pid``, which has written ``written`` bytes, must be stopped, if it must."""
    resident = _resident_bytes(pid)
    if resident > limits.memory_bytes:
        return (
            f"the implementation used more than {limits.memory_bytes / 2**30:g} GiB of memory "
            f"({resident / 2**30:.1f} GiB resident; --memory-limit sets the limit)"
        )
    if written > limits.output_bytes:
        return (
            f"the implementation wrote more than {limits.output_bytes / 2**20:g} MiB to "
            f"stdout/stderr"
        )
    return None


def _kill(process: Any) -> None:
    if process.pid is None:  # never started
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(process.pid, signal.SIGKILL)
    process.join(timeout=5)


def _death(exitcode: int | None) -> str:
    """The one-line cause of a child that ended before reporting."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"the implementation crashed the process ({name})"
    return (
        f"the implementation ended the process (exit status {exitcode}: os._exit, or "
        f"sys.exit outside a call)"
    )


@dataclass
class _Child:
    """One child process and what it has said so far."""

    process: Any
    connection: Any
    clock: Any
    output: Any  # the file the child's stdout and stderr go to
    loaded: bool = False
    current: tuple[str, str] | None = None
    current_since: float = 0.0
    output_mark: int = 0
    messages: list[tuple] = field(default_factory=list)

    def output_since_mark(self) -> str:
        """The last lines the implementation printed since the property started."""
        self.output.seek(max(self.output_mark, self.output_size() - 64 * 1024))
        lines = self.output.read().decode("utf-8", errors="replace").splitlines()
        shown = [
            line if len(line) <= OUTPUT_LINE_CHARS else line[:OUTPUT_LINE_CHARS] + " [...]"
            for line in lines[-OUTPUT_TAIL_LINES:]
        ]
        if len(lines) > OUTPUT_TAIL_LINES:
            shown.insert(0, "[...]")
        return "\n".join(shown)

    def output_size(self) -> int:
        return os.fstat(self.output.fileno()).st_size


@contextlib.contextmanager
def _started(job: Job) -> Iterator[_Child]:
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    clock = context.RawValue("d", 0.0)
    with tempfile.NamedTemporaryFile(prefix="drlspec-output-", delete=False) as output:
        path = output.name
    process = context.Process(
        target=_child_main, args=(job, sender, clock, path), name="drlspec-verify", daemon=True
    )
    with open(path, "rb") as reader:
        try:
            with _main_module_hidden():
                process.start()
            sender.close()
            yield _Child(process, receiver, clock, reader)
        finally:
            _kill(process)
            receiver.close()
            with contextlib.suppress(OSError):
                os.unlink(path)


class _Verdict(Exception):
    """The child was stopped: ``cause`` is what the property in progress failed with."""

    def __init__(self, cause: str, *, hang: bool = False) -> None:
        super().__init__(cause)
        self.cause = cause
        self.hang = hang


def _watch(child: _Child, limits: Limits) -> tuple | None:
    """The child's next message; raises :class:`_Verdict` if it must be stopped instead."""
    while True:
        if child.connection.poll(POLL_SECONDS):
            try:
                message = child.connection.recv()
            except (EOFError, OSError):
                child.process.join(timeout=5)
                raise _Verdict(_death(child.process.exitcode)) from None
            except Exception as error:  # not a message the harness sent
                raise _Verdict(
                    f"the implementation corrupted the harness's channel ({type(error).__name__})"
                ) from None
            if not (isinstance(message, tuple) and message and isinstance(message[0], str)):
                raise _Verdict("the implementation corrupted the harness's channel")
            return message
        now = time.monotonic()
        started = child.clock.value
        if started and now - started > limits.call_seconds:
            raise _Verdict(
                f"the implementation did not return within {limits.call_seconds:g} s "
                f"(a hang, or far too slow; --time-limit sets the limit)",
                hang=True,
            )
        if child.current is not None and now - child.current_since > limits.property_seconds:
            raise _Verdict(
                f"the property did not finish within {limits.property_seconds:g} s", hang=True
            )
        breach = _limit_breach(child.process.pid, child.output_size(), limits)
        if breach is not None:
            raise _Verdict(breach)
        if not child.process.is_alive() and not child.connection.poll(0):
            raise _Verdict(_death(child.process.exitcode))


def run_properties(
    job: Job,
    limits: Limits,
    on_result: Callable[[Any], None],
    summaries: dict[str, str],
) -> None:
    """Run ``job.plan`` in child processes; call ``on_result`` with each ``PropertyResult``.

    Raises :class:`~drlspec.harness.target.UsageError` when the target
    cannot be loaded for a reason that is the user's (not importable, wrong
    kind of object). Everything the implementation does is a result.
    """
    from drlspec.harness.target import UsageError
    from drlspec.harness.verify import PropertyResult

    remaining = list(job.plan)
    summaries = {**summaries, IMPORT: "the implementation's module imports and the target loads"}

    def fail(
        name: str,
        device: str,
        cause: str,
        seconds: float = 0.0,
        output: str = "",
        root: str | None = None,
    ) -> None:
        on_result(
            PropertyResult(
                name,
                summaries.get(name, ""),
                device,
                passed=False,
                seconds=seconds,
                message=cause,
                output=output,
                cause=root or cause,  # "not run" belongs to the finding that stopped it
            )
        )

    while remaining:
        with _started(Job(**{**job.__dict__, "plan": tuple(remaining)})) as child:
            try:
                while True:
                    message = _watch(child, limits)
                    kind = message[0]
                    if kind == "loaded":
                        child.loaded = True
                    elif kind == "usage":
                        raise UsageError(message[1])
                    elif kind == "load-failed":
                        fail(IMPORT, "cpu", f"importing the implementation raised {message[1]}")
                        return
                    elif kind == "start":
                        child.current = (message[1], message[2])
                        child.current_since = time.monotonic()
                        child.output_mark = child.output_size()
                    elif kind == "result":
                        result = message[1]
                        if not result.passed:
                            result.output = child.output_since_mark()
                        remaining.pop(0)
                        child.current = None
                        on_result(result)
                        if job.fail_fast and not result.passed:
                            return
                    elif kind == "done":
                        # Every planned property reports, or counts as failed: a verdict
                        # is never PASS by omission.
                        for name, device in remaining:
                            fail(name, device, "not run: the sandbox stopped before it")
                        return
            except _Verdict as verdict:
                if not child.loaded:
                    fail(IMPORT, "cpu", f"while importing the implementation, {verdict.cause}")
                    return
                name, device = child.current or remaining[0]
                seconds = time.monotonic() - child.current_since if child.current else 0.0
                fail(name, device, verdict.cause, seconds, child.output_since_mark())
                remaining.pop(0)
                if job.fail_fast:
                    return
                if verdict.hang:
                    for name, device in remaining:
                        fail(
                            name,
                            device,
                            f"not run: an earlier property stopped ({verdict.cause})",
                            root=verdict.cause,
                        )
                    return


def _call_main(
    function: Callable[..., Any], args: tuple, environment: dict, connection: Any, path: str
) -> None:
    _enter_sandbox(path, environment)
    try:
        outcome = ("ok", function(*args))
    except BaseException as error:  # everything is the caller's to judge
        outcome = ("error", error)
    try:
        connection.send(outcome)
    except Exception as error:  # an unpicklable exception: send its text
        connection.send(("error", RuntimeError(f"{type(outcome[1]).__name__}: {error}")))
    _exit_child(0)


class IsolatedFailure(Exception):
    """An isolated call ended its process, hung, or blew a limit; the message is the cause."""


def run_isolated(
    function: Callable[..., Any], args: tuple, *, seconds: float, limits: Limits
) -> Any:
    """``function(*args)`` in a child process, returned or re-raised here.

    ``function`` must be importable by name (it is pickled). Raises
    :class:`IsolatedFailure` if the child dies, takes longer than ``seconds``
    or passes ``limits``' memory or output bound.
    """
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    with tempfile.NamedTemporaryFile(prefix="drlspec-output-", delete=False) as output:
        path = output.name
    process = context.Process(
        target=_call_main, args=(function, args, dict(os.environ), sender, path), daemon=True
    )
    try:
        with _main_module_hidden():
            process.start()
        sender.close()
        started = time.monotonic()
        while not receiver.poll(POLL_SECONDS):
            if time.monotonic() - started > seconds:
                raise IsolatedFailure(f"the implementation did not finish within {seconds:g} s")
            breach = _limit_breach(process.pid, os.path.getsize(path), limits)
            if breach is not None:
                raise IsolatedFailure(breach)
            if not process.is_alive() and not receiver.poll(0):
                process.join(timeout=5)
                raise IsolatedFailure(_death(process.exitcode))
        try:
            status, value = receiver.recv()
        except (EOFError, OSError):
            process.join(timeout=5)
            raise IsolatedFailure(_death(process.exitcode)) from None
    finally:
        _kill(process)
        receiver.close()
        with contextlib.suppress(OSError):
            os.unlink(path)
    if status == "error":
        raise value
    return value
