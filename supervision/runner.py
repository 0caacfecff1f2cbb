"""The supervisor: start every service, relay its output, restart it, stop them all."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO

from mesh.config import Config
from mesh.errors import ProtocolError, RemoteError, RequestTimeout
from mesh.service import Service
from supervision.children import Child, ChildProcess, die_with_parent, signal_group
from supervision.policy import RestartPolicy
from supervision.relay import failing_banner, prefix
from supervision.settings import (
    PULL_NAME,
    PULL_WAIT,
    REAP_SECONDS,
    ROOT,
    SOURCES,
    STARTUP_SECONDS,
    TAIL_LINES,
    Settings,
    pull_command,
    service_command,
    where_lines,
)

__all__ = ["RunAll", "request_restart", "control_paths"]

PID_FILE = "run_all.pid"  # in [mesh] log_dir: where `run_all.py restart` finds run_all
REQUEST_FILE = "run_all.restart"  # the services a restart request names, one a line


def control_paths(log_dir: Path) -> tuple[Path, Path]:
    """Where run_all keeps its pid and where restart requests wait for it."""
    return log_dir / PID_FILE, log_dir / REQUEST_FILE


def request_restart(settings: Settings, names: list[str]) -> str:
    """Ask the running run_all to restart ``names`` (or ``all``) now; what was done, in words.

    Raises OSError (with a message) when no run_all is running for this config.
    """
    unknown = [name for name in names if name != "all" and name not in settings.services]
    if unknown:
        known = ", ".join(settings.services)
        raise OSError(f"no service {unknown[0]!r} in [run_all] services ({known}, or all)")
    pid_file, requests = control_paths(settings.log_dir)
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        raise OSError(f"no run_all is running for this config ({pid_file} names none)") from None
    with open(requests, "a", encoding="utf-8") as handle:
        handle.write("".join(f"{name}\n" for name in names))
    os.kill(pid, signal.SIGUSR1)
    return f"asked run_all (pid {pid}) to restart {', '.join(names)}"


class RunAll(Service):
    """Starts every service, relays their output, restarts them, stops them all."""

    name = "run_all"

    def __init__(self, config: Config, settings: Settings, overrides: Iterable[str] = ()) -> None:
        super().__init__(config)
        self.settings = settings
        self.overrides = list(overrides)
        self.children = [
            Child(
                name,
                service_command(name, config.file, self.overrides),
                RestartPolicy(
                    settings.backoff_initial,
                    settings.backoff_max,
                    settings.give_up_after,
                    settings.failure_window,
                ),
            )
            for name in settings.services
        ]
        names = settings.services + ([PULL_NAME] if settings.pull_if_empty else [])
        self.width = max(len(name) for name in names)
        self.out: BinaryIO | None = sys.stdout.buffer
        self._preexec = die_with_parent()
        self._live: dict[int, ChildProcess] = {}
        self._hurry = asyncio.Event()

    # -- the Service hooks -------------------------------------------------------

    async def setup(self) -> None:
        """Say where things are, start every service, then the pull if one is due."""
        self.say(where_lines(self.config.file, self.settings))
        self._control_files()
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, self._restart_requested)
        for child in self.children:
            self.spawn(self.supervise(child), f"supervise.{child.name}")
        if self.settings.pull_if_empty:
            self.spawn(self.pull_if_empty(self.settings.pull_if_empty), "pull_if_empty")

    async def teardown(self) -> None:
        """SIGTERM every child, wait ``grace_period``, SIGKILL what is left, reap it all."""
        processes = list(self._live.values())
        for process in processes:
            signal_group(process.pid, signal.SIGTERM)
        if processes:
            everyone = asyncio.ensure_future(asyncio.wait([p.exited for p in processes]))
            hurry = asyncio.ensure_future(self._hurry.wait())
            await asyncio.wait(
                {everyone, hurry},
                timeout=self.settings.grace_period,
                return_when=asyncio.FIRST_COMPLETED,
            )
            everyone.cancel()
            hurry.cancel()
        for process in processes:
            if not process.exited.done():
                self.log.warning(
                    "pid %d did not stop within %gs; killing it",
                    process.pid,
                    self.settings.grace_period,
                )
            # Also reaches what a child left behind in its group (a grandchild).
            signal_group(process.pid, signal.SIGKILL)
        if processes:
            await asyncio.wait([p.exited for p in processes], timeout=REAP_SECONDS)
            await asyncio.gather(*(p.close() for p in processes))
        for child in self.children:
            child.state = "stopped"
            child.process = None
            child.started_at = None
        pid_file, _ = control_paths(self.settings.log_dir)
        with contextlib.suppress(OSError):
            if pid_file.read_text().strip() == str(os.getpid()):
                pid_file.unlink()
        self.say(["run_all: every service stopped"])

    def stop(self, code: int | None = None) -> None:
        """Ask run_all to stop; asked again while stopping, it skips the grace period."""
        if self.stopping:
            self._hurry.set()
        super().stop(code)

    def heartbeat_detail(self) -> dict[str, Any]:
        """Every child's state, for the dashboard."""
        return {"children": {child.name: child.detail() for child in self.children}}

    # -- output --------------------------------------------------------------------

    def say(self, lines: Iterable[str]) -> None:
        """Write run_all's own lines to stdout."""
        self.write(b"".join(line.encode() + b"\n" for line in lines))

    def write(self, data: bytes) -> None:
        """Write to stdout and flush; a stdout that is gone stops the relay, not run_all."""
        if self.out is None:
            return
        try:
            self.out.write(data)
            self.out.flush()
        except (ValueError, OSError) as exc:
            self.log.warning("stdout is gone (%s); children's output is no longer relayed", exc)
            self.out = None

    def relay(self, name: str, tail: deque[str]) -> Callable[[list[bytes]], None]:
        """Where a child's lines go: to stdout prefixed with ``name``, and into ``tail``."""
        head = prefix(name, self.width)

        def sink(lines: list[bytes]) -> None:
            self.write(b"".join(head + line + b"\n" for line in lines))
            tail.extend(line.decode("utf-8", "replace") for line in lines)

        return sink

    # -- children ------------------------------------------------------------------

    async def start_process(self, argv: list[str], name: str, tail: deque[str]) -> ChildProcess:
        """Start one child: own process group, output relayed, dies with run_all."""
        sink = self.relay(name, tail)
        _, process = await asyncio.get_running_loop().subprocess_exec(
            lambda: ChildProcess(sink),
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
            preexec_fn=self._preexec,
        )
        self._live[process.pid] = process
        return process

    async def finished(self, process: ChildProcess) -> int:
        """Wait for ``process`` to exit, clear away what it left in its group, drain its output."""
        # Shielded: cancelling this wait (run_all stopping) must not cancel the exit future.
        code = await asyncio.shield(process.exited)
        # A dead service's leftovers (a grandchild) must not outlive it.
        signal_group(process.pid, signal.SIGKILL)
        self._live.pop(process.pid, None)
        await process.close()
        return code

    def changed(self, child: Child, state: str) -> None:
        """Record a child's new state and tell the dashboard at once."""
        child.state = state
        self.counters.worked()
        if self.heartbeat is not None:
            self.heartbeat.beat_now()

    def _mark_running(self, child: Child, process: ChildProcess) -> None:
        if child.process is process and child.state == "starting":
            self.changed(child, "running")

    async def launch(self, child: Child) -> ChildProcess | None:
        """Start ``child`` once; None when it could not be started at all."""
        child.launches += 1
        child.next_start_at = None
        try:
            process = await self.start_process(child.argv, child.name, child.tail)
        except OSError as exc:
            self.log.error("%s: cannot start %s: %s", child.name, child.argv[0], exc)
            return None
        child.process = process
        child.started_at = time.time()
        child.started_mono = time.monotonic()
        self.log.info("%s started, pid %d (start %d)", child.name, process.pid, child.launches)
        self.changed(child, "starting")
        asyncio.get_running_loop().call_later(STARTUP_SECONDS, self._mark_running, child, process)
        return process

    async def supervise(self, child: Child) -> None:
        """Keep ``child`` running: restart it with back-off, for ever (slowly when failing)."""
        while True:
            process = await self.launch(child)
            code = None
            uptime = 0.0
            if process is not None:
                code = await self.finished(process)
                uptime = time.monotonic() - child.started_mono
            child.process = None
            child.started_at = None
            child.last_exit = code
            self.counters.errors += 1
            if child.restart_now:
                child.restart_now = False
                self.log.info("%s restarted on request", child.name)
                continue
            restart = child.policy.exited(time.monotonic(), uptime)
            if not restart.failing:
                child.said_failing = False
            if restart.failing:
                self.failing(child, restart.delay)
            else:
                self.log.warning(
                    "%s exited with code %s after %.1fs; restarting in %gs",
                    child.name,
                    code,
                    uptime,
                    restart.delay,
                )
            child.next_start_at = time.monotonic() + restart.delay
            self.changed(child, "failing" if restart.failing else "backoff")
            child.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(child.wake.wait(), restart.delay)

    def failing(self, child: Child, retry: float) -> None:
        """Say loudly that ``child`` keeps failing (the banner once, a log line each time)."""
        failures = len(child.policy.failures)
        log = self.settings.log_dir / f"{child.name}.log"
        self.log.error(
            "%s is FAILING: %d exits within %gs, last exit code %s; retrying every %gs; see %s",
            child.name,
            failures,
            self.settings.failure_window,
            child.last_exit,
            retry,
            log,
        )
        if not child.said_failing:  # once per bout of failures
            child.said_failing = True
            banner = failing_banner(
                child.name,
                failures,
                self.settings.failure_window,
                retry,
                child.last_exit,
                log,
                child.tail,
            )
            print(banner, end="", file=sys.stderr, flush=True)

    # -- restart on request --------------------------------------------------------

    def _control_files(self) -> None:
        """Write run_all's pid where ``run_all.py restart`` finds it."""
        pid_file, _ = control_paths(self.settings.log_dir)
        try:
            pid_file.parent.mkdir(parents=True, exist_ok=True)
            pid_file.write_text(f"{os.getpid()}\n")
        except OSError as exc:
            self.log.warning("cannot write %s (restart requests will not reach): %s", pid_file, exc)

    def _restart_requested(self) -> None:
        """SIGUSR1: restart the services named in the request file, their back-off reset."""
        _, requests = control_paths(self.settings.log_dir)
        try:
            names = requests.read_text().split()
            requests.unlink()
        except OSError as exc:
            self.log.warning("restart requested but %s cannot be read: %s", requests, exc)
            return
        for child in self.children:
            if child.name in names or "all" in names:
                self.restart(child)

    def restart(self, child: Child) -> None:
        """Reset ``child``'s back-off and start it again now (stopping it first if it runs)."""
        child.policy.reset()
        child.said_failing = False
        self.log.info("%s: restart requested (state %s)", child.name, child.state)
        if child.process is not None and not child.process.exited.done():
            child.restart_now = True
            signal_group(child.process.pid, signal.SIGTERM)
        else:
            child.wake.set()

    # -- pull_if_empty ---------------------------------------------------------------

    async def raw_commit(self) -> tuple[bool, str | None]:
        """Ask the store for its latest raw commit: (answered, commit or None)."""
        deadline = time.monotonic() + PULL_WAIT
        while True:
            try:
                latest = await self.snapshot.latest("raw")
            except RequestTimeout as exc:
                if time.monotonic() >= deadline:
                    self.log.warning("pull_if_empty: %s", exc)
                    return False, None
                continue
            except (RemoteError, ProtocolError) as exc:
                self.log.error("pull_if_empty: LATEST raw failed: %s", exc)
                return False, None
            return True, latest.commit

    async def pull_if_empty(self, source: str) -> None:
        """Pull ``source`` into the store once, when the store has no raw commit yet."""
        answered, commit = await self.raw_commit()
        if not answered:
            self.log.warning("pull_if_empty: no answer from the store; %s not pulled", source)
            return
        if commit:
            self.log.info("store has raw data (%s); %s not pulled", commit[:12], source)
            return
        if source != SOURCES and "://" not in source and not Path(source).exists():
            self.log.error("pull_if_empty: %s does not exist; nothing pulled", source)
            return
        self.log.info("store has no raw data; pulling %s", source)
        argv = pull_command(self.config.file, self.overrides, source)
        try:
            process = await self.start_process(argv, PULL_NAME, deque(maxlen=TAIL_LINES))
        except OSError as exc:
            self.log.error("pull_if_empty: cannot start pull_raw.py: %s", exc)
            return
        code = await self.finished(process)
        if code == 0:
            self.log.info("pulled %s into the store", source)
        else:
            self.counters.errors += 1
            self.log.error("pull_raw.py %s exited with code %d; nothing pulled", source, code)
