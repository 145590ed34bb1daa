"""The Ctrl-C guard: the first SIGINT is deferred to the loop's next consistent point.

Inside :class:`InterruptGuard` a first Ctrl-C only sets ``run.interrupt_requested``; the next
:meth:`drlspec.agents.run_folder.Run.tick` saves the checkpoint and the metrics, then raises
``KeyboardInterrupt`` (an evaluation under way stops at its next step). A second Ctrl-C
interrupts at once, except while a run file is being written (``run.writing``): then it too
waits for the write to finish, so that no Ctrl-C can leave a checkpoint or a metrics file
behind the other. Outside the main thread (where signal handlers cannot be installed) the
guard does nothing.

:func:`interrupt_hook` is the one place the tests reach in:
``DRLSPEC_TEST_INTERRUPT_AT=PHASE[:COUNT[:SKIP]]`` sends this process ``COUNT`` real SIGINTs
(default 1) when the run reaches ``PHASE`` (``training``: an episode ends, ``evaluation``,
``checkpoint``: a run file is being written, ``final_evaluation``) for the ``SKIP + 1``-th
time (default the first), so a test can press Ctrl-C at an exact moment of a real
``drlspec train`` process.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drlspec.agents.run_folder import Run

__all__ = ["PHASES", "InterruptGuard", "interrupt_hook"]

PHASES = ("training", "evaluation", "checkpoint", "final_evaluation")
_HOOK = os.environ.get("DRLSPEC_TEST_INTERRUPT_AT", "")


def interrupt_hook(phase: str) -> None:
    """Send the SIGINTs ``DRLSPEC_TEST_INTERRUPT_AT`` asks for at ``phase`` (once a process)."""
    global _HOOK
    if not _HOOK:
        return
    name, count, skip = [*_HOOK.split(":"), "", ""][:3]
    count, skip = count or "1", skip or "0"
    if name != phase:
        return
    if int(skip) > 0:
        _HOOK = f"{name}:{count}:{int(skip) - 1}"
        return
    _HOOK = ""
    for _ in range(int(count)):
        os.kill(os.getpid(), signal.SIGINT)


class InterruptGuard:
    """Context manager: installs the deferring SIGINT handler, restores the previous one."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.run.interrupt_requested and not self.run.writing:
            raise KeyboardInterrupt
        self.run.interrupt_requested = True

    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
