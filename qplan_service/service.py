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

A ROUTER at ``[qplan_service] request_endpoint`` answers WHATIF and CANCEL (the
request and its answer: ``mesh.messages.WhatIfRequest``)::

    WHATIF  {"base": null or a conditioned SHA, "edits": [edit…], "id"?,
             "delta"?: true, "forecast"?: true | false | a track, "forecast_delta"?: true}
            -> {"base": {"conditioned": SHA, "plan": the plan commit made from it or null},
                "same": [the tracks whose view is the base's],
                "changes": [{"track", "id", "name", "before", "after"}…]}
               + one JSON body, written by the worker that computed it:
               {"plan": the plan with the edits applied (problems, lineage, status of the
                    base) or "delta": what it changes in the base's plan commit
                    (``planning.delta``),
                "forecast": the what-if's own forecast (formats.forecast), with
                    [qplan_service] whatif_forecast_runs runs (fewer on a big plan),
                    seeded by the base: every track, one, or null; with
                    forecast_delta what changed against the base's own}

``base`` null means the conditioned commit the service planned last. The
edits are those of ``planning.whatif``; nothing is committed. Bad
edits, an unknown base or a malformed request get ERR naming the problem.
The parsed model of recent bases is cached, and the waiting what-if worker is primed
with the base planned last (``qplan_service.workers``): it has planned and forecast it
already, so a what-if costs the views its edits change (``planning.replan``).
A delta is sent only against a plan commit of the built-in planner (with a
``filter_command`` the committed plan is not the one what-ifs start from).
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
from typing import Any

import zmq

from formats.conditioned import STREAMS
from formats.estimates import parse_sizes
from formats.plan import PLAN_FILE
from mesh.errors import ConfigError, ProtocolError, QPlanError, RemoteError
from mesh.messages import BadRequest, ErrorAnswer, ErrorCode, WhatIfRequest
from mesh.protocol import Message
from mesh.snapshot import Snapshot
from mesh.stage import Stage
from planning.draws import seed_from
from planning.planner import plan_to_json
from planning.whatif import EditError
from qplan_service.bases import (
    Base,
    PlanFailed,
    empty_plan,
    finish_plan,
    read_base,
    read_problems,
    summary,
    whatif_runs,
)
from qplan_service.budget import Budget, BudgetError, check_budget
from qplan_service.workers import Worker, WorkerFailed, Workers, kill

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
        self.budget = Budget(
            max_edits=config.integer(SECTION, "whatif_max_edits", minimum=1),
            max_people=config.integer(SECTION, "whatif_max_people", minimum=0),
            max_size=config.integer(SECTION, "whatif_max_size", minimum=1),
        )
        self.whatif_deadline = config.number(SECTION, "whatif_deadline", minimum=0.1)
        self.whatif_workers = config.integer(SECTION, "whatif_workers", minimum=1)
        self.whatif_queue = config.integer(SECTION, "whatif_queue", minimum=0)
        self._slots: asyncio.Semaphore | None = None
        self.workers = Workers()
        self._running: dict[str, asyncio.Task] = {}  # request id -> its what-if task
        self._waiting = 0  # what-ifs taken but not answered yet
        self.whatif_counts = {"answered": 0, "refused": 0, "cancelled": 0, "killed": 0}
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
        self.workers.replenish()  # the first what-if finds its worker started
        planner = shlex.join(self.filter_command) if self.filter_command else "built-in"
        self.log.info("what-ifs on %s; planner: %s", self.request_endpoint, planner)

    def heartbeat_detail(self) -> dict[str, Any]:
        """Which planner runs, the last plan made and the last planning error."""
        return {
            "planner": "filter" if self.filter_command else "built-in",
            "last_plan": self.last_plan,
            "last_error": self.last_error,
            "whatifs": {**self.whatif_counts, "running": self._waiting},
        }

    async def teardown(self) -> None:
        """Stop every what-if still running (its worker is killed)."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        await self.workers.close()
        await super().teardown()

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
            message=f"Plan conditioned@{sha[:12]}: {summary(plan)}",
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
            "summary": summary(plan),
        }
        self.log.info(
            "conditioned@%s -> plan@%s (seq %s%s): %s",
            sha[:12],
            str(base.plan_commit)[:12],
            reply.get("seq"),
            "" if reply.get("changed", True) else ", unchanged",
            summary(plan),
        )
        if base.model is not None:
            self.workers.want(sha, self.base_job(base))  # what-ifs on it start planned

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
        """Take requests until cancelled; each what-if runs as a task of its own.

        The ROUTER loop never waits for a what-if: ``CANCEL`` reaches a running
        one at once, and a what-if over the queue limit is refused at once.
        """
        self._slots = asyncio.Semaphore(self.whatif_workers)
        async for envelope, body in self.requests(self.router):
            try:
                _, request = Message.from_frames(body)
            except ProtocolError as exc:
                await self._refuse(f"malformed request: {exc}", ErrorCode.BAD_REQUEST).send(
                    self.router, envelope=envelope
                )
                continue
            if request.kind == "CANCEL":
                reply = self.cancel(request.header.get("id"))
                await reply.send(self.router, envelope=envelope)
                continue
            limit = self.whatif_workers + self.whatif_queue
            if request.kind == "WHATIF" and self._waiting >= limit:
                reply = self._refuse(
                    f"busy: {self._waiting} what-ifs running or waiting, the limit is"
                    f" {self.whatif_workers + self.whatif_queue} ([qplan_service]"
                    " whatif_workers + whatif_queue); try again shortly",
                    ErrorCode.BUSY,
                )
                await reply.send(self.router, envelope=envelope)
                continue
            request_id = request.header.get("id")
            key = request_id if isinstance(request_id, str) and request_id else None
            if key is not None and key in self._running:
                key = None  # a duplicate id cannot be cancelled by it
            self._waiting += 1
            task = asyncio.get_running_loop().create_task(self._answer_and_send(envelope, request))
            if key is not None:
                self._running[key] = task
                task.add_done_callback(lambda _t, key=key: self._running.pop(key, None))

    def cancel(self, request_id: Any) -> Message:
        """CANCEL ``{"id"}``: stop the what-if sent with that id (its worker is killed)."""
        task = self._running.get(request_id) if isinstance(request_id, str) else None
        if task is None:
            return Message("OK", {"cancelled": False})
        task.cancel()
        self.whatif_counts["cancelled"] += 1
        self.log.info("WHATIF %s cancelled by its client", str(request_id)[:40])
        return Message("OK", {"cancelled": True})

    async def _answer_and_send(self, envelope: list[bytes], request: Message) -> None:
        try:
            reply = await self.answer_request(request)
        except asyncio.CancelledError:
            return  # the client gave up: no one to answer
        finally:
            self._waiting -= 1
        await reply.send(self.router, envelope=envelope)
        self.counters.worked()

    async def answer(self, body: list[bytes]) -> Message:
        """The answer to one request's frames: OK with the what-if plan, or ERR."""
        try:
            _, request = Message.from_frames(body)
        except ProtocolError as exc:
            return self._refuse(f"malformed request: {exc}", ErrorCode.BAD_REQUEST)
        return await self.answer_request(request)

    async def answer_request(self, message: Message) -> Message:
        """The answer to one request: OK with the what-if plan, or ERR naming the problem."""
        try:
            if message.kind != WhatIfRequest.KIND:
                text = f"unknown request {message.kind!r}; this service answers WHATIF and CANCEL"
                return self._refuse(text, ErrorCode.UNKNOWN_VERB)
            answer = await self.whatif(WhatIfRequest.parse(message))
            self.whatif_counts["answered"] += 1
            return answer
        except BadRequest as exc:
            return self._refuse(str(exc), exc.code)
        except BudgetError as exc:
            return self._refuse(str(exc), ErrorCode.OVER_BUDGET)
        except WhatIfTimeout as exc:
            return self._refuse(str(exc), ErrorCode.DEADLINE)
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
        self.whatif_counts["refused"] += 1
        self.log.info("WHATIF refused (%s): %s", code, text)
        return ErrorAnswer(text, code).to_message()

    async def whatif(self, request: WhatIfRequest) -> Message:
        """The what-if answer for one request; raises EditError for a bad one."""
        base = await self.base(request.base)
        if base.model is None:
            raise EditError(f"base {base.conditioned[:12]} has no streams to plan (see problems)")
        edits = request.edits
        check_budget(base.model, edits, self.budget)  # before any work starts
        started = time.monotonic()
        if self._slots is None:  # serve() makes it; a what-if comes only through serve()
            self._slots = asyncio.Semaphore(self.whatif_workers)
        delta = request.delta and base.plan_commit is not None and not self.filter_command
        job = {
            "op": "whatif",
            "edits": edits,
            "delta": delta,
            "forecast": request.forecast,
            "forecast_delta": request.forecast_delta,
        }
        async with self._slots:
            answer = await self.run_worker(base, job)
        if answer.get("error") == "edit":
            raise EditError(str(answer.get("message")))
        made_from = {"conditioned": base.conditioned, "plan": base.plan_commit}
        changes = answer["changes"]
        reply: dict[str, Any] = {"base": made_from, "same": answer["same"], "changes": changes}
        body = answer["body"]  # "delta" or "plan", and "forecast": finished by the worker
        self.log.info(
            "WHATIF on conditioned@%s: %d edits, %d changes, %d views reused, %.0f ms",
            base.conditioned[:12],
            len(edits),
            len(changes),
            len(answer["same"]),
            (time.monotonic() - started) * 1000,
        )
        return Message("OK", reply, [body])

    def base_job(self, base: Base) -> dict[str, Any]:
        """What a worker needs to hold ``base``: its model and how to forecast it."""
        return {
            "raw": base.raw,
            "status": base.status,
            "model": base.model,
            "sizes": self.sizes,
            "estimates": base.estimates,
            "problems": base.problems,
            "runs": whatif_runs(self.whatif_runs, len(base.model.work)),
            "spread": self.spread,
            "seed": seed_from(base.conditioned),
        }

    async def run_worker(self, base: Base, job: dict[str, Any]) -> dict[str, Any]:
        """Compute one what-if in a worker process; killed at the deadline or on cancel."""
        worker: Worker | None = None
        try:
            async with asyncio.timeout(self.whatif_deadline):
                worker = await self.workers.take(base.conditioned, self.base_job(base))
                self.log.info("what-if given to worker pid %d", worker.pid)
                answer = await worker.ask(job)
        except TimeoutError:
            if worker is not None:
                kill(worker.process)
            self.whatif_counts["killed"] += 1
            self.workers.replenish()
            raise WhatIfTimeout(
                f"the what-if took more than {self.whatif_deadline:g} s and was stopped"
                " (limit [qplan_service] whatif_deadline)"
            ) from None
        except asyncio.CancelledError:  # the client gave up, or the service stops
            if worker is not None:
                kill(worker.process)
            self.workers.replenish()
            raise
        except WorkerFailed as exc:
            if worker is not None:
                kill(worker.process)
            self.workers.replenish()
            raise PlanFailed(str(exc)) from None
        self.workers.release(worker)
        return answer


class WhatIfTimeout(Exception):
    """A what-if past its deadline; its worker was killed."""
