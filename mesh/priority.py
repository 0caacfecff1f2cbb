"""A process of the mesh that should give way: background work at a lower CPU priority.

``os.nice`` alone is not enough on Linux with autogroups (``/proc/sys/kernel/
sched_autogroup_enabled``, the default on desktops and many servers): the scheduler
first shares the CPU fairly between *sessions*, and only then by nice within one. run_all
starts every service in a session of its own, and qplan_service starts each what-if
worker in one too (so that its whole group can be killed), so a niced process there is
still weighed like the whole rest of the mesh. ``lower_priority`` therefore also lowers
the nice value of the process's autogroup (``/proc/self/autogroup``, sched(7)), which
is the process's own session: nothing else is in it but what it starts.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["lower_priority"]

AUTOGROUP = Path("/proc/self/autogroup")


def lower_priority(niceness: int) -> list[str]:
    """Lower this process's CPU priority by ``niceness``, and its autogroup's to the same
    (only when the process leads its own session, so as not to lower its parent's).
    Returns what could not be done, in words (empty when all was)."""
    failed = []
    try:
        os.nice(niceness)
    except OSError as exc:
        failed.append(f"nice: {exc}")
    if AUTOGROUP.exists() and os.getsid(0) == os.getpid():
        try:
            AUTOGROUP.write_text(f"{niceness}\n", encoding="ascii")
        except OSError as exc:
            failed.append(f"autogroup: {exc}")
    return failed
