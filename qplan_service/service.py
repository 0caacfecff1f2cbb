"""The qplan_service stage: every ``conditioned`` commit becomes a ``plan`` commit; what-ifs.

For each conditioned snapshot (``mesh.stage.Stage`` decides which, catching
up by itself) it parses ``streams.txt``, plans it with the built-in planner
or the operator's ``[qplan_service] filter_command``, adds ``problems`` (from
``problems.jsonl``), ``lineage`` and ``status`` (from ``status.json``), and
PUTs dataset ``plan`` (file ``plan.json``, one key a line) with
``Source: conditioned@<sha>``. Without streams it commits an empty plan that
still carries the problems. When the filter fails (exit code, timeout,
output that is not a plan) nothing is committed, so the last good plan
stays; the error is logged, counted and shown in the heartbeat.

A ROUTER at ``[qplan_service] request_endpoint`` answers WHATIF::

    WHATIF  {"base": null or a conditioned SHA, "edits": [edit…]}
            -> {"base": {"conditioned": SHA, "plan": the plan commit made from it or null},
                "plan": the plan with the edits applied (problems, lineage, status of the base),
                "changes": [{"track", "id", "name", "before", "after"}…],
                "forecast": the what-if's own forecast (formats.forecast), with
                    [qplan_service] whatif_forecast_runs runs (fewer on a big plan),
                    seeded by the base}

``base`` null means the conditioned commit the service planned last. The
edits are those of ``planning.whatif``; nothing is committed. Bad
edits, an unknown base or a malformed request get ERR naming the problem.
The parsed model and built-in plan of recent bases are cached, so a what-if
on the current base costs one plan computation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import zmq

from formats.conditioned import ESTIMATES, PROBLEMS, STATUS, STREAMS, load_estimates
from formats.estimates import parse_sizes
from formats.plan import PLAN_FILE
from formats.streams import TRIAGE_LEVELS, Model, StreamsError, parse_streams
from mesh.errors import ConfigError, ProtocolError, QPlanError, RemoteError
from mesh.messages import BadRequest, ErrorAnswer, ErrorCode, WhatIfRequest
from mesh.protocol import Message
from mesh.snapshot import Snapshot
from mesh.stage import Stage
from planning.montecarlo import forecast, seed_from
from planning.planner import ALL, compute_plan, plan_to_json
from planning.whatif import EditError, apply_edits, compare_plans

__all__ = [
    "QplanService",
    "Base",
    "read_base",
    "read_problems",
    "finish_plan",
    "empty_plan",
    "PlanFailed",
]

SECTION = "qplan_service"
BASE_CACHE = 4  # recent conditioned commits kept parsed for what-ifs
PLAN_LOG_SEARCH = 50  # plan commits searched for the one made from an older base


class PlanFailed(Exception):
    """The planner (built-in or filter) gave no usable plan for this input."""


@dataclass
class Base:
    """One conditioned commit, parsed: what a plan and a what-if start from."""

    conditioned: str
    raw: str | None
    model: Model | None  # None: the commit has no streams
    problems: list[dict[str, Any]]
    status: dict[str, Any]
    plan_commit: str | None = None
    estimates: dict[str, Any] | None = None  # conditioned/estimates.json, for forecasts
    _plan: dict[str, Any] | None = field(default=None, repr=False)

    def plan(self) -> dict[str, Any]:
        """The built-in plan of this base, with problems, lineage and status (made once)."""
        if self._plan is None:
            self._plan = finish_plan(
                compute_plan(self.model) if self.model is not None else empty_plan(), self
            )
        return self._plan


def read_problems(data: bytes) -> list[dict[str, Any]]:
    """The records of problems.jsonl; a line that is not one becomes a problem itself."""
    problems = []
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            problem = json.loads(line)
        except ValueError:
            problem = None
        if not isinstance(problem, dict):
            problem = _problem(f"{PROBLEMS} line {number} is not a JSON object")
        problems.append(problem)
    return problems


def read_base(snapshot: Snapshot) -> Base:
    """Parse a conditioned snapshot; raises PlanFailed for streams that do not parse."""
    problems = read_problems(snapshot.files.get(PROBLEMS, b""))
    try:
        status = json.loads(snapshot.files.get(STATUS, b"{}"))
    except ValueError:
        status = None
    if not isinstance(status, dict):
        problems.append(_problem(f"{STATUS} is not a JSON object"))
        status = {}
    model = None
    if STREAMS in snapshot.files:
        try:
            model = parse_streams(snapshot.text(STREAMS))
        except (StreamsError, UnicodeDecodeError) as exc:
            raise PlanFailed(f"{STREAMS} of conditioned@{snapshot.commit}: {exc}") from None
    return Base(
        conditioned=snapshot.commit or "",
        raw=snapshot.lineage.get("raw"),
        model=model,
        problems=problems,
        status={"stale": bool(status.get("stale")), "streams_from": status.get("streams_from")},
        estimates=load_estimates(snapshot.files.get(ESTIMATES)),
    )


def _problem(message: str) -> dict[str, Any]:
    """A problem record for conditioned data the planner could not read."""
    return {
        "severity": "error",
        "sheet": "",
        "row": None,
        "column": "",
        "value": "",
        "message": message,
    }


def empty_plan() -> dict[str, Any]:
    """The plan of a commit without streams: nothing planned, problems to show."""
    return {
        "params": None,
        "skills": [],
        "triages": [int(t) if t.is_integer() else t for t in TRIAGE_LEVELS],
        "tracks": [],
        "by_track": {},
    }


def finish_plan(plan: dict[str, Any], base: Base) -> dict[str, Any]:
    """``plan`` with the base's problems, lineage and status added (a new dict).

    Each item also carries the problems of its row (``problems``, when it has any) and
    ``unsized: true`` when the sheet did not size it yet: nothing that changes what an item
    means is only in the list at the bottom.
    """
    mark_items(plan, base.problems, base.estimates)
    return {
        **plan,
        "problems": base.problems,
        "lineage": {"conditioned": base.conditioned, "raw": base.raw},
        "status": base.status,
    }


WHATIF_FORECAST_BUDGET = 200_000  # runs x items a what-if's forecast may cost (~25 ms)
MIN_WHATIF_RUNS = 20


def whatif_runs(wanted: int, items: int) -> int:
    """The runs of a what-if's own forecast: ``wanted``, fewer on a big plan (at least 20)."""
    if items <= 0:
        return wanted
    return max(min(wanted, WHATIF_FORECAST_BUDGET // items), min(wanted, MIN_WHATIF_RUNS))


def mark_items(
    plan: dict[str, Any], problems: list[dict[str, Any]], estimates: dict[str, Any] | None
) -> None:
    """Put each item's own problems and its unsized flag on it, in every track's view."""
    by_item: dict[str, list[dict[str, Any]]] = {}
    for problem in problems:
        item = problem.get("item")
        if isinstance(item, str):
            by_item.setdefault(item, []).append(problem)
    written = (estimates or {}).get("items") or {}
    unsized = {key for key, value in written.items() if (value or {}).get("unsized")}
    if not by_item and not unsized:
        return
    for view in (plan.get("by_track") or {}).values():
        for item in view.get("work") or []:
            found = by_item.get(item.get("id"))
            if found:
                item["problems"] = found
            if item.get("id") in unsized:
                item["unsized"] = True


def _summary(plan: dict[str, Any]) -> str:
    """``120 work items in 6 tracks, 40 not finishing`` (of track All)."""
    work = plan.get("by_track", {}).get(ALL, {}).get("work", [])
    tracks = max(len(plan.get("tracks", [])) - 1, 0)
    dnf = sum(1 for item in work if isinstance(item, dict) and item.get("end") is None)
    return f"{len(work)} work items in {tracks} tracks, {dnf} not finishing"


class QplanService(Stage):
    """Plans every conditioned commit and answers what-if requests."""

    name = "qplan_service"
    upstream = "conditioned"
    output = "plan"

    def __init__(self, config) -> None:
        super().__init__(config)
        command = config.text(SECTION, "filter_command")
        try:
            self.filter_command = shlex.split(command)
        except ValueError as exc:
            raise ConfigError(f"{config.file}: [{SECTION}] filter_command: {exc}") from None
        self.filter_timeout = config.number(SECTION, "filter_timeout", minimum=0.1)
        self.request_endpoint = config.endpoint(SECTION, "request_endpoint")
        self.whatif_runs = config.integer(SECTION, "whatif_forecast_runs", minimum=1)
        try:
            self.sizes = parse_sizes(config.text("condition_service", "sizes"))
        except ValueError as exc:
            raise ConfigError(f"{config.file}: [condition_service] sizes: {exc}") from None
        self.spread = config.number("forecast_service", "spread", minimum=0.0)
        self.bases: OrderedDict[str, Base] = OrderedDict()
        self.current: str | None = None  # the conditioned commit planned last
        self.last_error: str | None = None
        self.last_plan: dict[str, Any] = {}

    # -- the follow loop ---------------------------------------------------------------

    async def setup(self) -> None:
        """Bind the what-if socket, then follow the conditioned dataset."""
        self.router = self.bound(zmq.ROUTER, SECTION, "request_endpoint")
        await super().setup()
        self.spawn(self.serve(), "serve")
        planner = shlex.join(self.filter_command) if self.filter_command else "built-in"
        self.log.info("what-ifs on %s; planner: %s", self.request_endpoint, planner)

    def heartbeat_detail(self) -> dict[str, Any]:
        """Which planner runs, the last plan made and the last planning error."""
        return {
            "planner": "filter" if self.filter_command else "built-in",
            "last_plan": self.last_plan,
            "last_error": self.last_error,
        }

    async def process(self, snapshot: Snapshot) -> None:
        """Plan one conditioned snapshot and commit the plan, or keep the last one on failure."""
        sha = snapshot.commit or ""
        started = time.monotonic()
        try:
            base = read_base(snapshot)
            if self.filter_command and base.model is not None:
                plan = finish_plan(await self.run_filter(snapshot.files[STREAMS], sha), base)
            else:
                plan = base.plan()
        except PlanFailed as exc:
            self.counters.errors += 1
            self.last_error = str(exc)
            self.log.error("conditioned@%s: no plan, the last good one stays: %s", sha[:12], exc)
            return
        reply = await self.snapshot.put(
            self.output,
            {PLAN_FILE: plan_to_json(plan, pretty=True)},
            source=f"{self.upstream}@{sha}",
            message=f"Plan conditioned@{sha[:12]}: {_summary(plan)}",
            producer=self.name,
        )
        self.counters.messages_out += 1
        base.plan_commit = reply.get("commit")
        self.remember(base)
        self.current = sha
        self.last_error = None
        self.last_plan = {
            "conditioned": sha,
            "plan": base.plan_commit,
            "seconds": round(time.monotonic() - started, 3),
            "summary": _summary(plan),
        }
        self.log.info(
            "conditioned@%s -> plan@%s (seq %s%s): %s",
            sha[:12],
            str(base.plan_commit)[:12],
            reply.get("seq"),
            "" if reply.get("changed", True) else ", unchanged",
            _summary(plan),
        )

    async def run_filter(self, streams: bytes, sha: str) -> dict[str, Any]:
        """Plan with the external filter; raises PlanFailed when it gives no plan."""
        what = f"filter {shlex.join(self.filter_command)!r}"
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.filter_command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # so a timeout kills whatever the filter started too
            )
        except OSError as exc:
            raise PlanFailed(f"{what} could not start: {exc}") from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(streams), self.filter_timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise PlanFailed(f"{what} took more than {self.filter_timeout:g} s; killed") from None
        except asyncio.CancelledError:  # the service stops: the filter must not outlive it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            raise
        if proc.returncode != 0:
            said = err.decode("utf-8", "replace").strip().splitlines()
            detail = f": {said[-1][:300]}" if said else ""
            raise PlanFailed(f"{what} exited with code {proc.returncode}{detail}")
        try:
            plan = json.loads(out)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PlanFailed(f"{what} printed no JSON ({exc})") from None
        if not isinstance(plan, dict) or not isinstance(plan.get("by_track"), dict):
            raise PlanFailed(f'{what} printed JSON that is not a plan (no "by_track" object)')
        self.log.debug("conditioned@%s planned by %s", sha[:12], what)
        return plan

    # -- bases for what-ifs ------------------------------------------------------------

    def remember(self, base: Base) -> None:
        """Keep ``base`` parsed for what-ifs; forget the least recently used beyond a few."""
        self.bases[base.conditioned] = base
        self.bases.move_to_end(base.conditioned)
        while len(self.bases) > BASE_CACHE:
            self.bases.popitem(last=False)

    async def base(self, wanted: str | None) -> Base:
        """The parsed conditioned commit ``wanted`` (None: the one planned last)."""
        sha = wanted or self.current or self.last_input
        if sha is None:
            latest = await self.snapshot.latest(self.upstream)
            if latest.commit is None:
                raise EditError("there is no conditioned data yet to plan a what-if on")
            sha = latest.commit
        for known, base in reversed(self.bases.items()):
            if known.startswith(sha):
                self.bases.move_to_end(known)
                return base
        try:
            snapshot = await self.snapshot.get(self.upstream, sha)
        except RemoteError as exc:
            raise EditError(f"unknown base {sha!r}: {exc}") from None
        try:
            base = read_base(snapshot)
        except PlanFailed as exc:
            raise EditError(f"base {sha[:12]} cannot be planned: {exc}") from None
        base.plan_commit = await self._plan_commit_of(base.conditioned)
        self.remember(base)
        return base

    async def _plan_commit_of(self, conditioned: str) -> str | None:
        """The plan commit made from ``conditioned``, if it is among the recent ones."""
        source = f"{self.upstream}@{conditioned}"
        for entry in await self.snapshot.log(self.output, limit=PLAN_LOG_SEARCH):
            if entry.get("source") == source:
                return entry.get("commit")
        return None

    # -- what-if requests ----------------------------------------------------------------

    async def serve(self) -> None:
        """Answer WHATIF requests until cancelled, one at a time."""
        async for envelope, body in self.requests(self.router):
            reply = await self.answer(body)
            await reply.send(self.router, envelope=envelope)
            self.counters.worked()

    async def answer(self, body: list[bytes]) -> Message:
        """The answer to one request: OK with the what-if plan, or ERR naming the problem."""
        try:
            _, message = Message.from_frames(body)
            if message.kind != WhatIfRequest.KIND:
                text = f"unknown request {message.kind!r}; this service answers WHATIF"
                return self._refuse(text, ErrorCode.UNKNOWN_VERB)
            return Message("OK", await self.whatif(WhatIfRequest.parse(message)))
        except BadRequest as exc:
            return self._refuse(str(exc), exc.code)
        except ProtocolError as exc:
            return self._refuse(f"malformed request: {exc}", ErrorCode.BAD_REQUEST)
        except EditError as exc:
            return self._refuse(str(exc), ErrorCode.BAD_REQUEST)
        except QPlanError as exc:
            return self._refuse(f"the store did not answer: {exc}", ErrorCode.UNAVAILABLE)
        except Exception as exc:
            self.log.exception("internal error answering a what-if")
            text = f"internal error: {type(exc).__name__}: {exc}"
            return self._refuse(text, ErrorCode.INTERNAL)

    def _refuse(self, text: str, code: ErrorCode) -> Message:
        self.counters.errors += 1
        self.log.info("WHATIF refused (%s): %s", code, text)
        return ErrorAnswer(text, code).to_message()

    async def whatif(self, request: WhatIfRequest) -> dict[str, Any]:
        """The what-if answer for one request; raises EditError for a bad one."""
        base = await self.base(request.base)
        if base.model is None:
            raise EditError(f"base {base.conditioned[:12]} has no streams to plan (see problems)")
        started = time.monotonic()
        model = apply_edits(base.model, request.edits, self.sizes)
        plan = finish_plan(compute_plan(model), base)
        runs = whatif_runs(self.whatif_runs, len(model.work))
        predicted = forecast(model, base.estimates, runs, self.spread, seed_from(base.conditioned))
        changes = compare_plans(base.plan(), plan)
        self.log.info(
            "WHATIF on conditioned@%s: %d edits, %d changes, %.0f ms",
            base.conditioned[:12],
            len(request.edits),
            len(changes),
            (time.monotonic() - started) * 1000,
        )
        return {
            "base": {"conditioned": base.conditioned, "plan": base.plan_commit},
            "plan": plan,
            "changes": changes,
            "forecast": {**predicted, "lineage": {"conditioned": base.conditioned}},
        }
