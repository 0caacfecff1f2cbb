"""Child processes: their own process group, output relayed, dying with run_all."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from supervision.policy import RestartPolicy
from supervision.relay import LineSplitter
from supervision.settings import DRAIN_SECONDS, PR_SET_PDEATHSIG, TAIL_LINES

__all__ = ["ChildProcess", "Child", "signal_group", "die_with_parent"]


def die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that makes the child get SIGTERM when run_all dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    # The signal follows the death of the forking thread: run_all forks from its
    # event-loop thread, which lives as long as run_all does.
    parent = os.getpid()
    sigterm = int(signal.SIGTERM)

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, sigterm)
        # run_all may have died between fork and prctl; no signal would ever come then.
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def signal_group(pid: int, sig: int) -> None:
    """Send ``sig`` to the process group led by ``pid``, if any of it is left."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


class ChildProcess(asyncio.SubprocessProtocol):
    """One started process: its exit and the end of its output, each known on its own.

    (``asyncio.subprocess.Process.wait`` would also wait for the output pipe to
    close, which a grandchild holding it open delays for ever.)
    """

    def __init__(self, on_lines: Callable[[list[bytes]], None]) -> None:
        loop = asyncio.get_running_loop()
        self.on_lines = on_lines
        self.splitter = LineSplitter()
        self.transport: asyncio.SubprocessTransport | None = None
        self.exited: asyncio.Future[int] = loop.create_future()
        self.drained: asyncio.Future[None] = loop.create_future()

    @property
    def pid(self) -> int:
        """The process id (also its process group id)."""
        return self.transport.get_pid()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport: it knows the pid and the exit code."""
        self.transport = transport

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        """Pass on every complete line."""
        lines = self.splitter.feed(data)
        if lines:
            self.on_lines(lines)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        """Pass on the last partial line; the output is over."""
        lines = self.splitter.finish()
        if lines:
            self.on_lines(lines)
        if not self.drained.done():
            self.drained.set_result(None)

    def process_exited(self) -> None:
        """Note the exit code (the pipe may stay open in a grandchild's hands)."""
        if not self.exited.done():
            self.exited.set_result(self.transport.get_returncode())

    async def close(self) -> None:
        """Let the output drain a moment, then release the pipe (the process has exited)."""
        await asyncio.wait([self.drained], timeout=DRAIN_SECONDS)
        self.transport.close()


@dataclass
class Child:
    """One supervised service: its command, its process and what the dashboard shows."""

    name: str
    argv: list[str]
    policy: RestartPolicy
    state: str = "stopped"
    process: ChildProcess | None = None
    launches: int = 0
    last_exit: int | None = None
    started_at: float | None = None  # epoch seconds
    started_mono: float = 0.0
    next_start_at: float | None = None  # monotonic seconds
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # cuts a back-off short
    restart_now: bool = False  # the exit was asked for: start again at once
    said_failing: bool = False  # the failing banner was printed for this bout

    @property
    def restarts(self) -> int:
        """How many times the service was started again after its first start."""
        return max(self.launches - 1, 0)

    def detail(self) -> dict[str, Any]:
        """This child's entry in the heartbeat detail."""
        wait = None
        if self.state in ("backoff", "failing") and self.next_start_at is not None:
            wait = round(max(self.next_start_at - time.monotonic(), 0.0), 3)
        return {
            "state": self.state,
            "pid": self.process.pid if self.process is not None else None,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "next_start_in": wait,
            "started_at": self.started_at,
        }
