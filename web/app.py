"""The Tornado application: pages, the JSON API and the websocket.

JSON API (every bad request gets a 4xx with ``{"error": message}``):

- ``GET /api/plan?track=All&triage=2``   the view the plan page shows
  (503 while waiting for data, 404 unknown track, 400 bad triage)
- ``GET /api/plan.json``                  the whole plan document
- ``GET /api/health``                     every component's dashboard row
- ``GET /api/history?dataset=plan&limit=50``  the newest commits of a dataset
- ``GET /api/diff?from=SHA&to=SHA``       what changed between two plans
  (``&raw=1`` adds the raw sheets' unified diff)
- ``POST /api/whatif``  ``{"edits": [...], "track"?, "triage"?, "plan"?}``  a
  what-if plan, computed by qplan_service and committed nowhere: ``view`` (the
  track's rows marked before -> after), ``diff``, ``changes``, ``shared`` (the
  version it starts from), and with ``"plan": true`` the whole what-if plan
  (every track: megabytes on a big sheet, so only when asked); 400 names a bad
  edit, 503 when the planner does not answer
- ``/api/scenarios``, ``/api/scenarios/NAME``, ``/api/export``  saved scenarios and
  CSV/Excel exports (``web.scenario_api``)
- ``/api/versions``, ``/api/baselines``, ``/api/compare``: see ``web.history_api``
- ``/ws``  the websocket (``?want=plan``, ``?want=health`` or both, the default)

Websocket messages, JSON text: server to client ``hello`` (``state``,
``waiting``), ``plan`` (a new version is there: ``commit``, ``seq``, ``time``,
``chain``, ``lineage``, ``forecast`` — the conditioned commit of the forecast
shown with it, or null; the page then fetches its view), ``health``
(``components``…) and ``error``; client to server ``ping`` (answered by
``pong``). Anything else gets an ``error`` message and the connection stays
open.

Handlers take the objects they read: ``plans`` (``web.plans.Plans``: the
current plan, plans by commit, what-ifs), ``board`` (the dashboard) and
``service`` (counters and the websocket hub).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from asyncio import Future
from pathlib import Path
from typing import Any, Protocol

import tornado.httputil
import tornado.web
import tornado.websocket

from mesh.errors import ProtocolError, RemoteError, RequestTimeout
from mesh.messages import BadRequest, ErrorCode, check_sha
from mesh.protocol import encode_json
from web.guard import CONTENT_SECURITY_POLICY, SECURITY_HEADERS, Guard, Refused, SecureStatic
from web.health import HealthBoard
from web.plandiff import diff_plans
from web.plans import Plans
from web.scenarios import Scenarios, marked_view
from web.views import DEFAULT_TRIAGE, ViewError, parse_triage, plan_view

__all__ = ["make_app", "ApiError", "CONTENT_SECURITY_POLICY"]

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CHART_DIST = ROOT / "node_modules" / "chart.js" / "dist"
MAX_BODY = 1024 * 1024  # bytes: a what-if request is a list of edits, never this big
MAX_UPLOAD = 16 * MAX_BODY  # bytes the server reads at all; between the two: a 413 answer
MAX_WS_MESSAGE = 64 * 1024  # bytes: clients only send pings
MAX_EDITS = 500
MISSING_CODES = frozenset({ErrorCode.UNKNOWN_COMMIT, ErrorCode.UNKNOWN_DATASET})  # a 404
MAX_HISTORY = 500
MAX_RAW_DIFF = 512 * 1024  # characters of raw sheet diff sent to the browser
WS_PING_INTERVAL = 20  # seconds: finds browsers that vanished without closing
DATASET = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class WebService(Protocol):
    """What the handlers need of the web service (``web.service``): counters, browsers."""

    counters: Any

    def worked(self) -> None: ...

    def connect(self, connection: Any, wants: frozenset[str]) -> None: ...

    def reply(self, connection: Any, data: bytes) -> None: ...

    def disconnect(self, connection: Any) -> None: ...


class ApiError(tornado.web.HTTPError):
    """A request the API refuses: ``status`` and a message for the ``error`` field."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, reason=None)
        self.message = message


class BaseHandler(tornado.web.RequestHandler):
    """Every handler: the guard first (``web.guard``), and headers that keep data inert."""

    def initialize(
        self, service: WebService, plans: Plans, board: HealthBoard, guard: Guard
    ) -> None:
        self.service = service
        self.plans = plans
        self.board = board
        self.guard = guard

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error, a page's too, as ``{"error", "status"}`` JSON."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError):
            message = exc.message
        elif isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        else:
            message = tornado.httputil.responses.get(status_code, "error")
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(encode_json({"error": message, "status": status_code}))

    def prepare(self) -> None:
        """Turn away what the guard refuses, and a body over ``MAX_BODY`` (413)."""
        try:
            self.guard.check(self.request)
        except Refused as exc:
            for name, value in exc.headers.items():
                self.set_header(name, value)
            raise ApiError(exc.status, exc.message) from None
        if len(self.request.body or b"") > MAX_BODY:
            size = len(self.request.body)
            raise ApiError(413, f"the body is {size} bytes; the limit is {MAX_BODY}")


class PageHandler(BaseHandler):
    """One HTML page, a shell that its script fills from the API and the websocket."""

    def initialize(self, template: str, title: str, **objects: Any) -> None:
        super().initialize(**objects)
        self.template = template
        self.title = title

    def get(self) -> None:
        self.render(self.template, title=self.title, page=self.template.split(".")[0])


class ApiHandler(BaseHandler):
    """JSON in, JSON out; errors are ``{"error": message}`` with a 4xx or 503."""

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")

    def send(self, value: Any) -> None:
        """Finish with ``value`` as compact JSON."""
        self.finish(encode_json(value))

    def json_body(self, example: str) -> dict[str, Any]:
        """The request's body as a JSON object; a 400 naming what is wrong, like ``example``."""
        try:
            body = json.loads(self.request.body or b"null")
        except (ValueError, RecursionError) as exc:  # bad JSON or UTF-8, too deep, huge numbers
            raise ApiError(400, f"the body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ApiError(400, f"the body must be a JSON object like {example}")
        return body

    def current(self):
        """The plan in memory, or a 503 saying the web is still waiting for one."""
        current = self.plans.current
        if current is None:
            raise ApiError(503, "waiting for data: no plan has been computed yet")
        return current

    def store_failed(self, exc: Exception) -> ApiError:
        """The API error for a failed request to a service."""
        if isinstance(exc, RemoteError):
            missing = exc.code in MISSING_CODES
            return ApiError(404 if missing else 400, str(exc))
        if isinstance(exc, RequestTimeout):
            return ApiError(503, str(exc))
        return ApiError(503, f"bad answer from a service: {exc}")


class PlanApi(ApiHandler):
    """``GET /api/plan?track=&triage=``: the plan page's view."""

    def get(self) -> None:
        current = self.current()
        track = self.get_argument("track", "All")
        try:
            level = parse_triage(self.get_argument("triage", None))
            if level == DEFAULT_TRIAGE and track in current.views:
                self.finish(current.views[track])  # made once per plan (web.service.prepare)
                return
            view = plan_view(current.plan, track, level, current.forecast)
        except ViewError as exc:
            raise ApiError(exc.status, str(exc)) from None
        self.send({**current.version(), **view})


class WholePlanApi(ApiHandler):
    """``GET /api/plan.json``: the plan document as the store holds it."""

    def get(self) -> None:
        current = self.current()
        self.set_header("ETag", f'"{current.commit}"')
        self.set_header("X-QPlan-Commit", current.commit)
        self.finish(current.document)


class HealthApi(ApiHandler):
    """``GET /api/health``: every component's dashboard row."""

    def get(self) -> None:
        self.send(self.board.snapshot())


class HistoryApi(ApiHandler):
    """``GET /api/history?dataset=plan&limit=50``: the newest commits of a dataset."""

    async def get(self) -> None:
        dataset = self.get_argument("dataset", "plan")
        if not DATASET.match(dataset):
            raise ApiError(400, f"dataset {dataset[:40]!r} is not a dataset name")
        limit_text = self.get_argument("limit", "50")
        try:
            limit = int(limit_text)
        except ValueError:
            raise ApiError(400, f"limit {limit_text[:20]!r} is not a whole number") from None
        if not 1 <= limit <= MAX_HISTORY:
            raise ApiError(400, f"limit must be from 1 to {MAX_HISTORY}")
        try:
            commits = await self.plans.store.log(dataset, limit)
        except (RemoteError, RequestTimeout, ProtocolError) as exc:
            raise self.store_failed(exc) from None
        self.send({"dataset": dataset, "commits": commits})


class DiffApi(ApiHandler):
    """``GET /api/diff?from=SHA&to=SHA[&raw=1]``: what changed between two plans."""

    async def get(self) -> None:
        old, new = self.get_argument("from", ""), self.get_argument("to", "")
        for name, value in (("from", old), ("to", new)):
            try:
                check_sha(value, name)
            except BadRequest as exc:
                raise ApiError(400, str(exc)) from None
        try:
            before = await self.plans.at(old)
            after = await self.plans.at(new)
            raw = ""
            if self.get_argument("raw", "") in ("1", "yes", "true"):
                raw = await self._raw_diff(before.lineage.get("raw"), after.lineage.get("raw"))
        except (RemoteError, RequestTimeout, ProtocolError) as exc:
            raise self.store_failed(exc) from None
        except ValueError as exc:
            raise ApiError(400, f"that commit does not hold a readable plan: {exc}") from None
        try:
            diff = diff_plans(before.plan, after.plan)
        except (AttributeError, TypeError, KeyError) as exc:  # a plan of another shape
            why = f"{type(exc).__name__}: {exc}"
            raise ApiError(400, f"that commit does not hold a readable plan ({why})") from None
        self.send(
            {
                "from": before.version(),
                "to": after.version(),
                "diff": diff,
                "raw_diff": raw[:MAX_RAW_DIFF],
                "raw_diff_truncated": len(raw) > MAX_RAW_DIFF,
            }
        )

    async def _raw_diff(self, old: str | None, new: str | None) -> str:
        """The unified diff of the raw sheets behind two plans ("" when either is unknown)."""
        if not old or not new or old == new:
            return ""
        return await self.plans.store.diff("raw", old, new)


def _edits(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The edits of a what-if request body; raises ApiError for a malformed one."""
    edits = body.get("edits")
    if not isinstance(edits, list):
        raise ApiError(400, '"edits" must be a list of edits')
    if len(edits) > MAX_EDITS:
        raise ApiError(400, f"at most {MAX_EDITS} edits at a time")
    for number, edit in enumerate(edits, start=1):
        if not isinstance(edit, dict) or not isinstance(edit.get("op"), str):
            raise ApiError(400, f'edit {number} must be an object with an "op"')
    return edits


class WhatIfApi(ApiHandler):
    """``POST /api/whatif``: the plan with edits applied, marked against the shared plan:
    the asked track's view, and the whole plan only when the body says ``"plan": true``.

    A browser that closes the request cancels the what-if: CANCEL reaches qplan_service,
    which kills the worker computing it.
    """

    _whatif: asyncio.Future | None = None
    _closed = False

    def on_connection_close(self) -> None:
        self._closed = True
        if self._whatif is not None and not self._whatif.done():
            self._whatif.cancel()

    async def post(self) -> None:
        body = self.json_body('{"edits": [...]}')
        edits = _edits(body)
        try:
            level = parse_triage(body.get("triage"))
        except ViewError as exc:
            raise ApiError(exc.status, str(exc)) from None
        current = self.current()
        base = current.lineage.get("conditioned")
        track = body.get("track") if isinstance(body.get("track"), str) else "All"
        try:
            self.service.worked()
            self._whatif = asyncio.ensure_future(self.plans.whatif(base, edits, track))
            answer = await self._whatif
        except asyncio.CancelledError:
            if self._closed:
                return  # the browser went away; qplan_service was told to stop
            raise
        except RemoteError as exc:
            raise ApiError(400, f"the what-if was refused: {exc}") from None
        except RequestTimeout as exc:
            raise ApiError(503, f"the planner is not answering: {exc}") from None
        except ProtocolError as exc:
            raise ApiError(503, f"bad answer from the planner: {exc}") from None
        plan = answer.get("plan")
        if not isinstance(plan, dict):
            raise ApiError(503, "the planner's answer has no plan")
        shared = await self.plans.marked_against(answer.get("base"), current)
        if track not in (plan.get("by_track") or {}):
            track = "All"
        try:
            view, diff = marked_view(shared, plan, answer.get("forecast"), track, level)
        except (AttributeError, TypeError, ValueError) as exc:
            raise ApiError(503, f"the planner's what-if plan is malformed: {exc}") from None
        self.send(
            {
                "base": {"conditioned": (answer.get("base") or {}).get("conditioned", base)},
                "shared": current.version(),
                "edits": edits,
                "changes": answer.get("changes") or [],
                "diff": diff,
                "view": view,
                **({"plan": plan} if body.get("plan") is True else {}),
            }
        )


class NotFound(ApiHandler):
    """Every unknown path: a JSON 404."""

    def prepare(self) -> None:
        super().prepare()
        raise ApiError(404, f"no such page or API: {self.request.path[:100]}")


class Socket(tornado.websocket.WebSocketHandler):
    """``/ws``: new plan versions and health to the browser, ``ping``/``pong`` back."""

    def initialize(self, service: WebService, guard: Guard, **_: Any) -> None:
        self.service = service
        self.guard = guard

    def prepare(self) -> None:
        """The guard's Host and sign-in checks, before the upgrade."""
        try:
            self.guard.check(self.request)
        except Refused as exc:
            exc.answer(self)

    def check_origin(self, origin: str) -> bool:
        """Only the page's own origin (an allowed host, this port) may open the socket."""
        return self.guard.origin_ok(origin, self.request)

    def open(self) -> None:
        # Notices are small and sent one after another (hello then the plan, a plan then its
        # forecast): Nagle's algorithm would hold the second until the browser's delayed ACK.
        self.set_nodelay(True)
        wanted = {w.strip() for w in self.get_argument("want", "plan,health").split(",")}
        wants = frozenset(wanted & {"plan", "health"}) or frozenset({"plan", "health"})
        self.service.connect(self, wants)

    def on_message(self, message: str | bytes) -> None:
        reply = answer_client(message)
        self.service.reply(self, encode_json(reply))

    def on_close(self) -> None:
        self.service.disconnect(self)

    def send(self, message: bytes) -> Future | None:
        """Start writing one JSON text message; a future that is done once it is flushed."""
        return self.write_message(message)


def answer_client(message: str | bytes) -> dict[str, Any]:
    """The answer to one message from a browser: a pong, or an error naming the problem."""
    if isinstance(message, bytes):
        return {"type": "error", "error": "binary messages are not understood; send JSON text"}
    try:
        data = json.loads(message, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        return {"type": "error", "error": f"not JSON: {exc.msg}"}
    except (ValueError, RecursionError) as exc:  # a 5,000-digit number, "[" * 5000
        return {"type": "error", "error": f"JSON this server cannot read: {exc}"}
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return {"type": "error", "error": 'expected an object like {"type": "ping"}'}
    if data["type"] == "ping":
        return {"type": "pong", "id": data.get("id")}
    return {"type": "error", "error": f"unknown message type {data['type'][:40]!r}"}


def _not_json(name: str) -> Any:
    """NaN and Infinity are not JSON: refuse them rather than echo them to a browser."""
    raise ValueError(f"{name} is not a JSON number")


def _log_request(service: WebService):
    """Tornado's log_function: count every request, and keep access logs quiet."""

    def log_request(handler: tornado.web.RequestHandler) -> None:
        service.counters.requests += 1
        status = handler.get_status()
        level = logging.DEBUG if status < 400 else logging.INFO if status < 500 else logging.WARNING
        if status == 503:  # waiting for data or a peer: expected while the mesh starts
            level = logging.INFO
        log.log(level, "%d %s %s", status, handler.request.method, handler.request.uri)

    return log_request


def make_app(
    service: WebService, plans: Plans, board: HealthBoard, guard: Guard
) -> tornado.web.Application:
    """The application for ``service``: its handlers, templates and static files."""
    # Imported here: the scenario and export handlers are ApiHandlers of this module.
    from web.history_api import history_handlers  # its handlers build on this module's
    from web.scenario_api import routes as scenario_routes

    ctx = {"service": service, "plans": plans, "board": board, "guard": guard}
    scenarios = Scenarios(plans)  # one for its API and for compares of scenario:NAME
    pages = [
        (r"/", "plan.html", "Quarter plan"),
        (r"/history", "history.html", "Plan history"),
        (r"/dashboard", "dashboard.html", "Components"),
    ]
    handlers: list = [
        (path, PageHandler, {**ctx, "template": template, "title": title})
        for path, template, title in pages
    ]
    handlers += [
        (r"/api/plan", PlanApi, ctx),
        (r"/api/plan\.json", WholePlanApi, ctx),
        (r"/api/health", HealthApi, ctx),
        (r"/api/history", HistoryApi, ctx),
        (r"/api/diff", DiffApi, ctx),
        (r"/api/whatif", WhatIfApi, ctx),
        *scenario_routes(ctx, scenarios),
        *history_handlers(ctx, scenarios),  # versions, baselines, compare
        (r"/ws", Socket, ctx),
        (r"/vendor/(chart\.umd\.js)", SecureStatic, {"path": str(CHART_DIST), "guard": guard}),
    ]
    return tornado.web.Application(
        handlers,
        template_path=str(HERE / "templates"),
        static_path=str(HERE / "static"),
        static_handler_class=SecureStatic,
        static_handler_args={"guard": guard},
        default_handler_class=NotFound,
        default_handler_args=ctx,
        log_function=_log_request(service),
        websocket_max_message_size=MAX_WS_MESSAGE,
        websocket_ping_interval=WS_PING_INTERVAL,
        compress_response=False,
        xsrf_cookies=False,
    )
