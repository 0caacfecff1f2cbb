"""When to restart a service that exited: back-off, and never giving up for good.

A service that exits is restarted after a back-off that starts at ``initial`` seconds
and doubles up to ``maximum``; one that stayed up a whole ``window`` starts over from
``initial``. After ``give_up_after`` exits within ``window`` seconds it is *failing*:
run_all stops hammering it but keeps restarting it every ``maximum`` seconds, for as
long as it takes (a disk that fills and frees, a peer that comes back), and says so
loudly. ``reset`` (``run_all.py restart NAME``) forgets its failures at once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["RestartPolicy", "Restart"]


@dataclass(frozen=True)
class Restart:
    """What to do after an exit: wait ``delay`` seconds; ``failing`` when it keeps failing."""

    delay: float
    failing: bool


class RestartPolicy:
    """When to restart a service that exited, and whether it is failing."""

    def __init__(self, initial: float, maximum: float, give_up_after: int, window: float) -> None:
        self.initial = initial
        self.maximum = maximum
        self.give_up_after = give_up_after
        self.window = window
        self.delay = initial
        self.failures: deque[float] = deque()

    def exited(self, now: float, uptime: float) -> Restart:
        """Note an exit after ``uptime`` s; when to restart it, and whether it is failing."""
        if uptime >= self.window:
            # It ran well for a whole window: what failed before no longer counts.
            self.reset()
        self.failures.append(now)
        while self.failures[0] < now - self.window:
            self.failures.popleft()
        if len(self.failures) >= self.give_up_after:
            self.delay = self.maximum
            return Restart(self.maximum, True)
        delay = self.delay
        self.delay = min(self.delay * 2, self.maximum)
        return Restart(delay, False)

    def reset(self) -> None:
        """Forget the failures: the next restart comes after ``initial`` seconds again."""
        self.failures.clear()
        self.delay = self.initial
