"""What-if worker processes, one started ahead of time so that a what-if never waits for it.

Each what-if runs in a fresh process (``qplan_service.whatif_worker``), killed at its
deadline or when its client gives up. Starting Python and importing numpy and the planner
takes 0.1-0.15 s, more than planning the sample; so one worker is kept started and waiting
on its stdin (the *spare*, at the workers' lower priority, idle), and a what-if takes it.
A new spare is started only once that what-if is over, so that at most one idle worker
exists beside the running ones, and a spare that died is replaced by a fresh start.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys

__all__ = ["Workers", "WORKER", "kill"]

WORKER = "qplan_service.whatif_worker"


class Workers:
    """Starts what-if workers, keeping one spare (see the module docstring)."""

    def __init__(self) -> None:
        self._spare: asyncio.subprocess.Process | None = None
        self._starting: asyncio.Task | None = None
        self._closed = False

    @staticmethod
    async def _start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            WORKER,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its whole group is killed at the deadline
        )

    async def take(self) -> asyncio.subprocess.Process:
        """A worker for one what-if: the spare when there is a live one, else a new one."""
        if self._starting is not None:
            with contextlib.suppress(Exception):
                await self._starting
        spare, self._spare = self._spare, None
        if spare is not None and spare.returncode is None:
            return spare
        return await self._start()

    def replenish(self) -> None:
        """Start a spare in the background unless there is one (after each what-if)."""
        if self._closed or self._spare is not None or self._starting is not None:
            return
        self._starting = asyncio.get_running_loop().create_task(self._make_spare())

    async def _make_spare(self) -> None:
        try:
            process = await self._start()
        finally:
            self._starting = None
        if self._closed:
            kill(process)
            await process.wait()
        else:
            self._spare = process

    async def close(self) -> None:
        """Stop the spare (running what-ifs are their callers' to stop)."""
        self._closed = True
        if self._starting is not None:
            with contextlib.suppress(Exception):
                await self._starting
        if self._spare is not None:
            kill(self._spare)
            await self._spare.wait()
            self._spare = None


def kill(process: asyncio.subprocess.Process) -> None:
    """SIGKILL a worker's whole process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
