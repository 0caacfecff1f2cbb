"""Real processes, free ports and a config.ini per run: what tests and benchmarks share.

``tests/`` and ``bench/`` both start services as real processes on random
ports; this is the one copy of that plumbing (bench never imports tests).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mesh.client import Client
from mesh.config import Config
from mesh.keys import TOOLS, Keys
from mesh.snapshot import SnapshotClient

__all__ = [
    "ROOT",
    "PYTHON",
    "free_port",
    "wait_for",
    "write_config",
    "Proc",
    "service_args",
    "store_client",
    "planner_client",
    "tools_curve",
    "serve_as",
    "api_call",
]

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (never the same twice)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str = "condition",
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception as exc:  # noqa: BLE001 - the predicate may fail until ready
            last_exc = exc
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what}"
        + (f" (last error: {last_exc!r})" if last_exc else "")
    )


def write_config(folder: Path, extra: dict[str, dict[str, str]] | None = None) -> Path:
    """Write a config.ini for one test: random ports, store and logs inside ``folder``."""
    sections: dict[str, dict[str, str]] = {
        "mesh": {
            "log_dir": str(folder / "logs"),
            "log_level": "INFO",
            "heartbeat_endpoint": f"tcp://127.0.0.1:{free_port()}",
            "heartbeat_interval": "0.5",
            "request_timeout": "2.0",
            "request_retries": "1",
            "resync_interval": "2.0",
            "key_dir": str(folder / "keys"),
        },
        "snapshot_service": {
            "store": str(folder / "store"),
            "request_endpoint": f"tcp://127.0.0.1:{free_port()}",
            "publish_endpoint": f"tcp://127.0.0.1:{free_port()}",
            "datasets": "raw, conditioned, plan, forecast, scenarios, baselines",
            "max_payload": "8MiB",
            "durable": "yes",
        },
        "condition_service": {
            "skills": "Apps, Native, Web, QA, UX",
            "skill_aliases": "Server=Apps, iOS=Native, Android=Native, Frontend=Web",
            "track_aliases": "",
        },
        "qplan_service": {
            "request_endpoint": f"tcp://127.0.0.1:{free_port()}",
            "filter_command": "",
            "filter_timeout": "5",
        },
        "forecast_service": {"runs": "300", "spread": "1.0"},
        "web": {"host": "127.0.0.1", "port": str(free_port())},
        "run_all": {
            "services": "snapshot_service, condition_service, qplan_service, forecast_service, web",
            "grace_period": "3",
            "backoff_initial": "0.5",
            "backoff_max": "4",
            "give_up_after": "4",
            "failure_window": "30",
        },
    }
    for section, values in (extra or {}).items():
        sections.setdefault(section, {}).update(values)
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {value}" for key, value in values.items()]
        lines.append("")
    path = folder / "config.ini"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


class Proc:
    """A real child process whose output goes to a file; stopped and reaped in teardown."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            args,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        """Everything the process printed so far."""
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            self.popen.send_signal(sig)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait, then SIGKILL the whole process group; returns the exit code."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        code = self.popen.wait(5)
        self._log.close()
        return code


def service_args(package: str, config: Path, *more: str) -> list[str]:
    """The command line that starts ``package`` as a service."""
    return [PYTHON, "-m", package, "--config", str(config), *more]


def store_client(config: Path, **options):
    """A blocking client of the snapshot service that ``config`` names, as a mesh component.

    Tests and benchmarks make every store client here, so that they reach the store
    exactly as the mesh's own components do.
    """
    cfg, curve = _as_tools(config, "snapshot_service")
    return SnapshotClient(
        cfg.endpoint("snapshot_service", "request_endpoint"), **{"curve": curve, **options}
    )


def planner_client(config: Path, **options):
    """A blocking client of qplan_service's WHATIF endpoint that ``config`` names."""
    cfg, curve = _as_tools(config, "qplan_service")
    return Client(cfg.endpoint("qplan_service", "request_endpoint"), **{"curve": curve, **options})


def tools_curve(config: Path, server: str):
    """The ``tools`` key's way into ``server`` (a ``ClientCurve``; None in plain text)."""
    return _as_tools(config, server)[1]


def serve_as(config: Path, server: str, socket) -> None:
    """Make ``socket`` stand in for ``server`` (its CURVE server key), e.g. a test's own
    heartbeat SUB in the web's place. Nothing checks the clients: tests only."""
    keys = Keys.of(Config(config), server)
    if keys is not None:
        keys.serve(socket)


def _as_tools(config: Path, server: str):
    cfg = Config(config)
    keys = Keys.of(cfg, TOOLS)
    return cfg, None if keys is None else keys.client(server)


def api_call(
    base: str,
    path: str,
    body: Any = None,
    *,
    method: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 15.0,
) -> tuple[int, Any]:
    """(status, JSON) of one request to the web at ``base``; (0, None) when nothing answers.

    ``body`` is sent as JSON (bytes as they are), by POST unless ``method`` says otherwise;
    a request with a body, or a DELETE, says ``Content-Type: application/json``.
    """
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    method = method or ("POST" if data is not None else "GET")
    sent = {"Content-Type": "application/json"} if data is not None or method == "DELETE" else {}
    sent.update(headers or {})
    # The test's own web on http://127.0.0.1: never a file: or other scheme.
    request = urllib.request.Request(base + path, data=data, method=method, headers=sent)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())
    except (urllib.error.URLError, ConnectionError):
        return 0, None
