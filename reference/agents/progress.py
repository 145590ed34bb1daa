"""The progress display: one line on stderr, redrawn at most twice a second."""

from __future__ import annotations

import sys
import time
from collections.abc import Collection

import numpy as np

__all__ = ["ProgressDisplay"]


class ProgressDisplay:
    """A bar, the steps per second since this process started and the recent mean return."""

    def __init__(self, algorithm: str, total_steps: int, enabled: bool = True) -> None:
        self.algorithm = algorithm
        self.total_steps = total_steps
        self.enabled = enabled
        self._last_display = 0.0
        self._start_time = time.perf_counter()

    def show(
        self, step: int, start_step: int, recent_returns: Collection[float], final: bool = False
    ) -> None:
        """Redraw (the ``final`` one always, and ends the line); ``start_step``: where this
        process began, so that a resumed run's rate counts only its own steps."""
        if not self.enabled:
            return
        now = time.perf_counter()
        if not final and now - self._last_display < 0.5:
            return
        self._last_display = now
        elapsed = max(now - self._start_time, 1e-9)
        rate = (step - start_step) / elapsed
        total = self.total_steps
        recent = f"{np.mean(recent_returns):8.1f}" if recent_returns else "     n/a"
        width = 24
        filled = int(width * min(step, total) / max(total, 1))
        bar = "#" * filled + "." * (width - filled)
        sys.stderr.write(
            f"\r{self.algorithm} [{bar}] {step}/{total} steps  {rate:7.0f} steps/s  "
            f"recent return {recent}"
        )
        if final:
            sys.stderr.write("\n")
        sys.stderr.flush()
