"""The Ctrl-C guard: the first SIGINT is deferred to the loop's next consistent point.

Inside :class:`InterruptGuard` a first Ctrl-C only sets ``run.interrupt_requested``; the next
:meth:`drlspec.agents.run_folder.Run.tick` saves the checkpoint and the metrics, then raises
``KeyboardInterrupt``. A second Ctrl-C interrupts at once. Outside the main thread (where
signal handlers cannot be installed) the guard does nothing.
"""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drlspec.agents.run_folder import Run

__all__ = ["InterruptGuard"]


class InterruptGuard:
    """Context manager: installs the deferring SIGINT handler, restores the previous one."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.run.interrupt_requested:
            raise KeyboardInterrupt
        self.run.interrupt_requested = True

    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
