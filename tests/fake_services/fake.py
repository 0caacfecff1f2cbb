"""What the fake services share: where their pids go, and sleeping until told to stop."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

__all__ = ["record_pid", "sleep_forever"]

SLEEP_STEP = 0.1  # seconds


def _pid_file(name: str) -> Path:
    config = Path(sys.argv[sys.argv.index("--config") + 1])
    folder = config.parent / "pids"
    folder.mkdir(exist_ok=True)
    return folder / f"{name}.pids"


def record_pid(name: str, pid: int | None = None) -> None:
    """Append a pid (this process's by default) to the pid file of ``name``."""
    with open(_pid_file(name), "a", encoding="utf-8") as fh:
        fh.write(f"{pid or os.getpid()}\n")


def sleep_forever() -> None:
    """Sleep until a signal handler ends the process."""
    while True:
        time.sleep(SLEEP_STEP)
