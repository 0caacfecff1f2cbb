"""Start and supervise every QPlan mesh service; Ctrl-C stops them all.

``run_all.py [--config PATH] [--set SECTION.KEY=VALUE ...] [--print-supervisord]``

Each package named in ``[run_all] services`` runs as ``python -m <package>
--config <config> [--set ...]`` from the project folder, in its own process
group, with PR_SET_PDEATHSIG so that it gets SIGTERM even if run_all is
SIGKILLed. Its output (stdout and stderr merged) is relayed line by line to
run_all's stdout, prefixed with the service name.

A service that exits is restarted after a back-off that starts at
``backoff_initial`` seconds and doubles up to ``backoff_max``; a service that
stayed up ``failure_window`` seconds starts over from ``backoff_initial``.
After ``give_up_after`` exits within ``failure_window`` seconds run_all stops
restarting it, prints a banner on stderr, and keeps the others running.

SIGINT or SIGTERM: SIGTERM to every process group, ``grace_period`` seconds to
exit, then SIGKILL to what is left (a second Ctrl-C skips the wait).

The heartbeat's ``detail`` (the web dashboard reads it)::

    {"children": {<name>: {"state": "starting" | "running" | "backoff" | "failed" | "stopped",
                           "pid": int | null, "restarts": int, "last_exit": int | null,
                           "next_start_in": float | null, "started_at": epoch | null}}}

``last_exit`` is the exit code, negative for a signal (-9: SIGKILL); ``pid``
and ``started_at`` belong to the process alive now; ``next_start_in`` is set
only in ``backoff``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import math
import os
import shlex
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.machinery import PathFinder
from pathlib import Path
from typing import Any, BinaryIO

from mesh.cli import base_parser, load_config, report
from mesh.config import Config
from mesh.errors import ConfigError, ProtocolError, QPlanError, RemoteError, RequestTimeout
from mesh.logs import logging_from_config
from mesh.service import Service

__all__ = [
    "RunAll",
    "Settings",
    "RestartPolicy",
    "LineSplitter",
    "read_settings",
    "where_lines",
    "service_command",
    "pull_command",
    "prefix",
    "give_up_banner",
    "supervisord_config",
    "main",
]

ROOT = Path(__file__).resolve().parent
PULL_RAW = ROOT / "pull_raw.py"
STARTUP_SECONDS = 1.0  # a child younger than this shows as "starting"
PULL_WAIT = 30.0  # seconds the snapshot service gets to answer before pull_if_empty gives up
DRAIN_SECONDS = 1.0  # seconds a dead child's pipe may still deliver output
REAP_SECONDS = 5.0  # seconds SIGKILLed children get to be reaped
MAX_LINE = 65536  # bytes: a longer line is relayed in pieces
TAIL_LINES = 8  # lines of a child's last output shown when run_all gives up on it
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
PULL_NAME = "pull_raw"


# -- settings -----------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """The ``[run_all]`` section, checked, plus the paths run_all reports."""

    services: list[str]
    grace_period: float
    backoff_initial: float
    backoff_max: float
    give_up_after: int
    failure_window: float
    pull_if_empty: str | None  # an absolute path or an http(s) URL
    log_dir: Path
    store: Path | None
    web_address: str | None


def _check_services(config: Config, names: list[str]) -> None:
    where = f"{config.file}: [run_all] services"
    if not names:
        raise ConfigError(f"{where}: empty; name at least one service package")
    for name in names:
        if not all(part.isidentifier() for part in name.split(".")):
            raise ConfigError(f"{where}: {name!r} is not a Python package name")
        if names.count(name) > 1:
            raise ConfigError(f"{where}: {name!r} is listed twice")
        # Children run from the project folder with the inherited PYTHONPATH.
        if PathFinder.find_spec(name.split(".")[0], [str(ROOT), *sys.path]) is None:
            raise ConfigError(f"{where}: no package {name!r} in {ROOT} or on PYTHONPATH")


def _pull_source(config: Config) -> str | None:
    text = config.text("run_all", "pull_if_empty")
    if not text:
        return None
    if text.startswith(("http://", "https://")):
        return text
    return str(config.path("run_all", "pull_if_empty"))


def read_settings(config: Config) -> Settings:
    """Read and check everything run_all needs, so errors come before any process starts."""
    services = config.names("run_all", "services")
    _check_services(config, services)
    initial = config.number("run_all", "backoff_initial", minimum=0.01)
    maximum = config.number("run_all", "backoff_max", minimum=0.01)
    if maximum < initial:
        raise ConfigError(
            f"{config.file}: [run_all] backoff_max: {maximum:g} is less than "
            f"backoff_initial ({initial:g})"
        )
    config.endpoint("mesh", "heartbeat_endpoint")
    config.number("mesh", "heartbeat_interval", minimum=0.05)
    has_store = config.raw("snapshot_service", "store") is not None
    web = None
    if "web" in services:
        web = f"http://{config.text('web', 'host')}:{config.port('web', 'port')}/"
    return Settings(
        services=services,
        grace_period=config.number("run_all", "grace_period", minimum=0),
        backoff_initial=initial,
        backoff_max=maximum,
        give_up_after=config.integer("run_all", "give_up_after", minimum=1),
        failure_window=config.number("run_all", "failure_window", minimum=0),
        pull_if_empty=_pull_source(config),
        log_dir=config.path("mesh", "log_dir"),
        store=config.path("snapshot_service", "store") if has_store else None,
        web_address=web,
    )


def where_lines(config_file: Path, settings: Settings) -> list[str]:
    """The lines run_all prints at start to tell the operator where things are."""
    lines = [
        f"QPlan mesh: starting {', '.join(settings.services)}",
        f"  config  {config_file}",
    ]
    if settings.store is not None:
        lines.append(f"  store   {settings.store}")
    lines.append(f"  logs    {settings.log_dir}")
    if settings.web_address:
        lines.append(f"  web     {settings.web_address}")
    return lines


def service_command(package: str, config_file: Path, overrides: Iterable[str]) -> list[str]:
    """The command line of one service."""
    return [sys.executable, "-m", package, "--config", str(config_file), *_set_args(overrides)]


def pull_command(config_file: Path, overrides: Iterable[str], source: str) -> list[str]:
    """The command line of the one-off pull of ``pull_if_empty``."""
    args = [sys.executable, str(PULL_RAW), "--config", str(config_file)]
    return [*args, *_set_args(overrides), source]


def _set_args(overrides: Iterable[str]) -> list[str]:
    return [arg for item in overrides for arg in ("--set", item)]


# -- restart policy and output relay: plain logic -----------------------------


class RestartPolicy:
    """When to restart a service that exited, and when to give up on it."""

    def __init__(self, initial: float, maximum: float, give_up_after: int, window: float) -> None:
        self.initial = initial
        self.maximum = maximum
        self.give_up_after = give_up_after
        self.window = window
        self.delay = initial
        self.failures: deque[float] = deque()

    def exited(self, now: float, uptime: float) -> float | None:
        """Note an exit after ``uptime`` s; the seconds to wait before a restart, None: give up."""
        if uptime >= self.window:
            # It ran well for a whole window: what failed before no longer counts.
            self.failures.clear()
            self.delay = self.initial
        self.failures.append(now)
        while self.failures[0] < now - self.window:
            self.failures.popleft()
        if len(self.failures) >= self.give_up_after:
            return None
        delay = self.delay
        self.delay = min(self.delay * 2, self.maximum)
        return delay


class LineSplitter:
    """Cuts a byte stream into lines; a line longer than ``MAX_LINE`` comes out in pieces."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._pending = b""

    def feed(self, data: bytes) -> list[bytes]:
        """The complete lines in what has arrived so far, without their line ends."""
        *lines, self._pending = (self._pending + data).split(b"\n")
        while len(self._pending) > self.max_line:
            lines.append(self._pending[: self.max_line])
            self._pending = self._pending[self.max_line :]
        return [piece for line in lines for piece in self._cut(line.removesuffix(b"\r"))]

    def _cut(self, line: bytes) -> list[bytes]:
        if len(line) <= self.max_line:
            return [line]
        return [line[i : i + self.max_line] for i in range(0, len(line), self.max_line)]

    def finish(self) -> list[bytes]:
        """What is left at the end of the stream (a last line without a line end)."""
        rest, self._pending = self._pending, b""
        return [rest.removesuffix(b"\r")] if rest else []


def prefix(name: str, width: int) -> bytes:
    """The aligned prefix of a relayed line: ``snapshot_service  | ``."""
    return f"{name:<{width}} | ".encode()


def _collapse(lines: Iterable[str]) -> list[str]:
    # A service that dies the same way each time would fill the banner with one line.
    runs: list[list] = []
    for line in lines:
        if runs and runs[-1][0] == line:
            runs[-1][1] += 1
        else:
            runs.append([line, 1])
    return [line if count == 1 else f"{line}  (x{count})" for line, count in runs]


def give_up_banner(
    name: str, failures: int, window: float, last_exit: int | None, log: Path, tail: Iterable[str]
) -> str:
    """The multi-line notice printed on stderr when run_all stops restarting ``name``."""
    rule = "!" * 72
    where = str(log) if log.exists() else f"{log} (not written: it died before logging)"
    lines = [
        rule,
        f"run_all: GAVE UP on {name}: it failed {failures} times within {window:g} s "
        f"(last exit code {last_exit}).",
        f"run_all: {name} will NOT be restarted; the other services keep running.",
        f"run_all: its log: {where}",
    ]
    tail = _collapse(tail)
    if tail:
        lines.append("run_all: its last output:")
        lines += [f"    {line}" for line in tail]
    lines += ["run_all: fix the cause, then restart run_all.", rule]
    return "\n".join(lines) + "\n"


# -- supervisord ----------------------------------------------------------------


def _ini(value: str) -> str:
    # supervisord expands %(name)s in values; a literal % must be doubled.
    return value.replace("%", "%%")


def supervisord_config(config: Config, settings: Settings, overrides: Iterable[str]) -> str:
    """A supervisord configuration that runs the same services the same way."""
    overrides = list(overrides)
    out = [
        f"; supervisord equivalent of `run_all.py --config {config.file}`.",
        "; [run_all] pull_if_empty has no equivalent here: run pull_raw.py once by hand.",
        "",
    ]
    for name in settings.services:
        command = shlex.join(service_command(name, config.file, overrides))
        out += [
            f"[program:{name}]",
            f"command={_ini(command)}",
            f"directory={_ini(str(ROOT))}",
            "autostart=true",
            "autorestart=true",
            f"startsecs={math.ceil(STARTUP_SECONDS)}",
            f"startretries={settings.give_up_after}",
            "stopsignal=TERM",
            f"stopwaitsecs={math.ceil(settings.grace_period)}",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={_ini(str(settings.log_dir / f'{name}.stdout.log'))}",
            'environment=PYTHONUNBUFFERED="1"',
            "",
        ]
    out += ["[group:qplan]", f"programs={','.join(settings.services)}", ""]
    return "\n".join(out)


# -- processes --------------------------------------------------------------------


def _die_with_parent() -> Callable[[], None] | None:
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

    @property
    def restarts(self) -> int:
        """How many times the service was started again after its first start."""
        return max(self.launches - 1, 0)

    def detail(self) -> dict[str, Any]:
        """This child's entry in the heartbeat detail."""
        wait = None
        if self.state == "backoff" and self.next_start_at is not None:
            wait = round(max(self.next_start_at - time.monotonic(), 0.0), 3)
        return {
            "state": self.state,
            "pid": self.process.pid if self.process is not None else None,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "next_start_in": wait,
            "started_at": self.started_at,
        }


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
        self._preexec = _die_with_parent()
        self._live: dict[int, ChildProcess] = {}
        self._hurry = asyncio.Event()

    # -- the Service hooks -------------------------------------------------------

    async def setup(self) -> None:
        """Say where things are, start every service, then the pull if one is due."""
        self.say(where_lines(self.config.file, self.settings))
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
            if child.state != "failed":
                child.state = "stopped"
            child.process = None
            child.started_at = None
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
        """Keep ``child`` running: restart it with back-off until it fails too often."""
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
            delay = child.policy.exited(time.monotonic(), uptime)
            if delay is None:
                self.give_up(child)
                return
            self.log.warning(
                "%s exited with code %s after %.1fs; restarting in %gs",
                child.name,
                code,
                uptime,
                delay,
            )
            child.next_start_at = time.monotonic() + delay
            self.changed(child, "backoff")
            await asyncio.sleep(delay)

    def give_up(self, child: Child) -> None:
        """Stop restarting ``child`` and say so loudly."""
        failures = len(child.policy.failures)
        log = self.settings.log_dir / f"{child.name}.log"
        self.log.error(
            "giving up on %s: %d failures within %gs, last exit code %s; see %s",
            child.name,
            failures,
            self.settings.failure_window,
            child.last_exit,
            log,
        )
        banner = give_up_banner(
            child.name, failures, self.settings.failure_window, child.last_exit, log, child.tail
        )
        print(banner, end="", file=sys.stderr, flush=True)
        self.changed(child, "failed")

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
        if "://" not in source and not Path(source).exists():
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


# -- command line -------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    """The command line of run_all.py."""
    result = base_parser(
        "run_all", "Start and supervise every QPlan mesh service; Ctrl-C stops them all."
    )
    result.add_argument(
        "--print-supervisord",
        action="store_true",
        help="print an equivalent supervisord configuration and exit",
    )
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the supervisor (or print its supervisord equivalent); returns the exit code."""
    args = parser().parse_args(argv)
    try:
        config = load_config(args)
        settings = read_settings(config)
        if args.print_supervisord:
            print(supervisord_config(config, settings, args.set), end="", flush=True)
            return 0
        logging_from_config(RunAll.name, config)
        return asyncio.run(RunAll(config, settings, args.set).run())
    except QPlanError as exc:
        return report("run_all", exc)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
