"""What-if worker processes, kept started and primed with the base so a what-if sends only edits.

Each what-if runs in a worker process (``qplan_service.whatif_worker``, at nice +10), killed
at its deadline or when its client gives up. Starting Python and importing numpy and the
planner takes 0.1-0.15 s, and planning and forecasting a 20,000-item base about 1.5 s; so
one worker is kept waiting (the *spare*) and, once the service has planned a base, it is
*primed* with it in the background: it plans and forecasts the base once and keeps that.
A what-if on the base the spare holds takes it and sends only its edits; a what-if on
another base takes a worker that holds it, or primes one (the what-if waits for that).
A worker that answered goes back to waiting and serves the next what-if on its base; one
that was killed (deadline, cancel) or failed is replaced by a fresh start, primed again.
At most one worker waits: the one holding the base planned last, else the newest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import sys
from typing import Any

from qplan_service.whatif_worker import LENGTH, frame

__all__ = ["Workers", "Worker", "WORKER", "WorkerFailed", "kill"]

WORKER = "qplan_service.whatif_worker"

log = logging.getLogger(__name__)


class WorkerFailed(Exception):
    """A worker stopped or answered nonsense; its message says how."""


class Worker:
    """One worker process and the base it holds (``key``: a conditioned SHA)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.key: str | None = None
        self._primed: asyncio.Task | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def usable(self) -> bool:
        """Alive, and not failed to take its base."""
        if self.process.returncode is not None:
            return False
        primed = self._primed
        return primed is None or not primed.done() or primed.exception() is None

    def prime(self, key: str, job: dict[str, Any]) -> None:
        """Give the worker its base; it plans it in the background."""
        self.key = key
        message = {**job, "op": "base", "key": key}
        self._primed = asyncio.get_running_loop().create_task(self._call(message))
        self._primed.add_done_callback(_retrieve)

    async def ask(self, job: dict[str, Any]) -> dict[str, Any]:
        """One what-if: waits for the base first if it is still being planned."""
        if self._primed is not None:
            answer = await asyncio.shield(self._primed)
            if answer.get("ok") != "base":
                raise WorkerFailed(f"the worker could not take its base: {answer}")
        return await self._call(job)

    async def _call(self, message: dict[str, Any]) -> dict[str, Any]:
        stdin, stdout = self.process.stdin, self.process.stdout
        if stdin is None or stdout is None:
            raise WorkerFailed("the what-if worker has no pipes")
        try:
            stdin.write(frame(message))
            await stdin.drain()
            (size,) = LENGTH.unpack(await stdout.readexactly(LENGTH.size))
            answer = pickle.loads(await stdout.readexactly(size))  # noqa: S301 - our child
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            code = await self.process.wait()
            raise WorkerFailed(f"the what-if worker exited with code {code} ({exc})") from None
        if not isinstance(answer, dict):
            raise WorkerFailed(f"the what-if worker answered {type(answer).__name__}")
        if answer.get("error") == "internal":
            raise WorkerFailed(f"the what-if worker failed: {answer.get('message')}")
        return answer


def _retrieve(task: asyncio.Task) -> None:
    """Mark a priming's failure as seen (the what-if that waits for it reports it)."""
    if not task.cancelled():
        task.exception()


class Workers:
    """Starts, primes and keeps what-if workers (see the module docstring)."""

    def __init__(self) -> None:
        self._idle: list[Worker] = []  # at most one, in practice
        self._starting: asyncio.Task | None = None
        self._want: tuple[str, dict[str, Any]] | None = None  # the base planned last
        self._closed = False

    @staticmethod
    async def _start() -> Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            WORKER,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            start_new_session=True,  # its whole group is killed at the deadline
        )
        return Worker(process)

    def want(self, key: str, job: dict[str, Any]) -> None:
        """The base the waiting worker should hold (the one planned last): primed now."""
        self._want = (key, job)
        for worker in list(self._idle):
            if worker.key is not None and worker.key != key:
                self._idle.remove(worker)
                kill(worker.process)
        self.replenish()

    async def take(self, key: str, job: dict[str, Any]) -> Worker:
        """A worker holding base ``key`` (``job`` gives it the base when it has not)."""
        if self._starting is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._starting)
        self._prune()
        for worker in self._idle:
            if worker.key == key:
                self._idle.remove(worker)
                return worker
        fresh = [worker for worker in self._idle if worker.key is None]
        if fresh:
            worker = fresh[0]
            self._idle.remove(worker)
        else:
            worker = await self._start()
        worker.prime(key, job)
        return worker

    def release(self, worker: Worker) -> None:
        """A worker that answered: it waits for the next what-if, or stops if one waits."""
        wanted = self._want[0] if self._want else None
        if self._closed or not worker.usable:
            kill(worker.process)
        elif not self._idle and (wanted is None or worker.key == wanted):
            self._idle.append(worker)
        elif wanted is not None and worker.key == wanted:
            for other in self._idle:
                kill(other.process)
            self._idle = [worker]
        else:
            worker.process.stdin.close()  # it exits when its stdin ends
        self.replenish()

    def replenish(self) -> None:
        """Start (and prime) a waiting worker in the background unless one waits."""
        if self._closed or self._starting is not None:
            return
        self._prune()
        wanted = self._want
        if wanted is not None:
            for worker in self._idle:
                if worker.key is None:
                    worker.prime(*wanted)
                    return
            if any(worker.key == wanted[0] for worker in self._idle):
                return
        elif self._idle:
            return
        self._starting = asyncio.get_running_loop().create_task(self._make_spare())

    async def _make_spare(self) -> None:
        try:
            worker = await self._start()
        finally:
            self._starting = None
        if self._closed:
            kill(worker.process)
            await worker.process.wait()
            return
        if self._want is not None:
            worker.prime(*self._want)
        for other in self._idle:  # one waits: the newest, holding the base planned last
            kill(other.process)
        self._idle = [worker]

    def _prune(self) -> None:
        """Stop and forget waiting workers that died or could not take their base."""
        for worker in self._idle:
            if not worker.usable:
                kill(worker.process)
        self._idle = [worker for worker in self._idle if worker.usable]

    async def close(self) -> None:
        """Stop the waiting workers (running what-ifs are their callers' to stop)."""
        self._closed = True
        if self._starting is not None:
            with contextlib.suppress(Exception):
                await self._starting
        for worker in self._idle:
            kill(worker.process)
            await worker.process.wait()
        self._idle = []


def kill(process: asyncio.subprocess.Process) -> None:
    """SIGKILL a worker's whole process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
