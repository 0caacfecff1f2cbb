"""The component dashboard's logic: status rules and per-minute rates, without sockets.

Every component beats once a second (``mesh.heartbeat``); run_all's beat
carries the state of each child it supervises. ``component_status`` decides
what the dashboard shows for one component (the rules are fixed):

- ``missing``: no heartbeat for ``missing_after`` seconds, its last word was
  "stopping", or run_all reports the child exited (backoff, failing, stopped);
- ``restarting``: run_all spawned a replacement after a restart (state
  starting, or running with a pid that has not beaten yet);
- ``idle``: it beats but did no work within ``idle_after`` seconds;
- ``up``: otherwise.

pull_raw only beats while ``pull_raw --watch`` runs; without a watcher it is
``idle`` (with the time of the last raw commit), never missing.

``HealthBoard`` keeps the last heartbeat of each component and a minute of
counter samples, and turns them into the rows the dashboard draws.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "COMPONENTS",
    "PIPELINE",
    "Status",
    "component_status",
    "HealthBoard",
    "per_minute",
]

# The components the dashboard always lists, in pipeline order, then the supervisor.
PIPELINE = ("pull_raw", "snapshot_service", "condition_service", "qplan_service", "web")
# Stages that run beside one of the pipeline's (same input, same consumer): drawn below it.
BESIDE = {"forecast_service": "qplan_service"}
COMPONENTS = (*PIPELINE, *BESIDE, "run_all")
OPTIONAL = frozenset({"pull_raw"})  # beats only while a watcher runs
RATE_WINDOW = 60.0  # seconds of counter history behind "per minute"
EXITED = {"backoff", "failing", "stopped"}


@dataclass(frozen=True)
class Status:
    """What the dashboard shows for one component: a status word and a short reason."""

    status: str
    detail: str = ""


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def _exited(child: dict[str, Any]) -> Status:
    """The status of a child that run_all reports as not running."""
    state = child.get("state")
    if state == "backoff":
        wait = child.get("next_start_in")
        when = f"restart in {_seconds(float(wait))}" if isinstance(wait, int | float) else ""
        return Status("missing", when or "waiting to restart")
    if state == "failing":
        wait = child.get("next_start_in")
        when = f"; next try in {_seconds(float(wait))}" if isinstance(wait, int | float) else ""
        return Status("failing", f"FAILING: exits over and over, retried slowly{when}")
    return Status("missing", "stopped")


PLAIN_TEXT = "PLAIN TEXT: [mesh] curve = no (tests only)"


def component_status(
    name: str,
    beat: dict[str, Any] | None,
    beat_age: float | None,
    child: dict[str, Any] | None,
    now: float,
    missing_after: float = 3.0,
    idle_after: float = 60.0,
    last_raw_time: str | None = None,
) -> Status:
    """The dashboard status of ``name`` (see the module docstring for the rules).

    ``beat`` is its last heartbeat header and ``beat_age`` how long ago it
    arrived (both None if it never beat); ``child`` is run_all's entry for it,
    None when run_all does not supervise it or run_all itself is missing.
    """
    fresh = beat is not None and beat_age is not None and beat_age < missing_after
    if child is not None:
        state = child.get("state")
        if state in EXITED:
            return _exited(child)
        restarts = child.get("restarts")
        restarted = isinstance(restarts, int) and restarts > 0
        new_pid = beat is None or child.get("pid") != beat.get("pid")
        if restarted and (state == "starting" or (state == "running" and new_pid)):
            return Status("restarting", f"restart {child.get('restarts')}, pid {child.get('pid')}")
        if state == "starting" and not fresh:
            return Status("missing", "starting")
    if name in OPTIONAL and not fresh:
        since = f"last raw commit {last_raw_time}" if last_raw_time else "no watcher running"
        return Status("idle", since)
    if beat is None or beat_age is None:
        return Status("missing", "never seen")
    if not fresh:
        return Status("missing", f"no heartbeat for {_seconds(beat_age)}")
    if beat.get("state") == "stopping":
        return Status("missing", "stopping")
    last_work = beat.get("last_work")
    detail = beat.get("detail")
    plain = PLAIN_TEXT if isinstance(detail, dict) and detail.get("plain_text") is True else ""
    if not isinstance(last_work, int | float) or now - last_work >= idle_after:
        said = "no work yet" if last_work is None else "no recent work"
        return Status("idle", f"{plain}; {said}" if plain else said)
    return Status("up", plain)


def per_minute(samples: deque, now: float, key: str) -> int:
    """How much counter ``key`` grew within the last minute (samples of one process only)."""
    if not samples:
        return 0
    last = samples[-1]
    started = last.get("started")
    if isinstance(started, int | float) and now - started <= RATE_WINDOW:
        return max(0, int(last[key]))  # counters start at 0 when the process starts
    first = last
    for sample in samples:
        if sample["pid"] == last["pid"] and now - sample["at"] <= RATE_WINDOW:
            first = sample
            break
    return max(0, int(last[key]) - int(first[key]))


@dataclass
class _Seen:
    """The last heartbeat of one component and a minute of its counters."""

    beat: dict[str, Any]
    at: float
    samples: deque = field(default_factory=deque)


class HealthBoard:
    """Collects heartbeats and answers the dashboard's rows."""

    def __init__(self, missing_after: float = 3.0, idle_after: float = 60.0) -> None:
        self.missing_after = missing_after
        self.idle_after = idle_after
        self.seen: dict[str, _Seen] = {}
        self.last_raw_time: str | None = None

    def record(self, beat: dict[str, Any], at: float | None = None) -> bool:
        """Take one heartbeat header; False (and nothing kept) when it names no component."""
        name = beat.get("component")
        if not isinstance(name, str) or not name or len(name) > 64:
            return False
        at = time.time() if at is None else at
        seen = self.seen.get(name)
        if seen is None:
            seen = self.seen[name] = _Seen(beat, at)
        seen.beat, seen.at = beat, at
        sample = {"at": at, "pid": beat.get("pid"), "started": beat.get("started")}
        for key in ("messages_in", "messages_out", "requests"):
            value = beat.get(key)
            sample[key] = value if isinstance(value, int) and not isinstance(value, bool) else 0
        seen.samples.append(sample)
        while seen.samples and at - seen.samples[0]["at"] > RATE_WINDOW + 5:
            seen.samples.popleft()
        return True

    def children(self, now: float) -> dict[str, dict[str, Any]]:
        """run_all's view of its children, or {} when run_all is not beating."""
        seen = self.seen.get("run_all")
        if seen is None or now - seen.at >= self.missing_after:
            return {}
        if seen.beat.get("state") == "stopping":
            return {}
        detail = seen.beat.get("detail")
        kids = detail.get("children") if isinstance(detail, dict) else None
        return (
            {k: v for k, v in kids.items() if isinstance(v, dict)} if isinstance(kids, dict) else {}
        )

    def row(self, name: str, now: float, children: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """The dashboard row of one component."""
        seen = self.seen.get(name)
        beat = seen.beat if seen else None
        age = now - seen.at if seen else None
        child = children.get(name)
        status = component_status(
            name,
            beat,
            age,
            child,
            now,
            self.missing_after,
            self.idle_after,
            self.last_raw_time,
        )
        samples = seen.samples if seen else deque()
        return {
            "component": name,
            "status": status.status,
            "detail": status.detail,
            "age": None if age is None else round(age, 2),
            "pid": beat.get("pid") if beat else None,
            "uptime": beat.get("uptime") if beat else None,
            "in_per_min": per_minute(samples, now, "messages_in"),
            "out_per_min": per_minute(samples, now, "messages_out"),
            "requests_per_min": per_minute(samples, now, "requests"),
            "messages_in": beat.get("messages_in") if beat else None,
            "messages_out": beat.get("messages_out") if beat else None,
            "requests": beat.get("requests") if beat else None,
            "errors": beat.get("errors") if beat else None,
            "last_sha": beat.get("last_sha") if beat else None,
            "last_work": beat.get("last_work") if beat else None,
            "restarts": child.get("restarts") if child else None,
            "child_state": child.get("state") if child else None,
            "supervised": child is not None,
        }

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """Every component's row: the fixed ones first, then any others that beat."""
        now = time.time() if now is None else now
        children = self.children(now)
        names = list(COMPONENTS)
        names += sorted(n for n in set(self.seen) | set(children) if n not in COMPONENTS)
        return {
            "time": now,
            "missing_after": self.missing_after,
            "idle_after": self.idle_after,
            "components": [self.row(name, now, children) for name in names],
            "pipeline": list(PIPELINE),
            "beside": dict(BESIDE),
        }
