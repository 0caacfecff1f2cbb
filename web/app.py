"""The Tornado application: pages, the JSON API and the websocket.

JSON API (every bad request gets a 4xx with ``{"error": message}``):

- ``GET /api/plan?track=All&triage=2``   the view the plan page shows
  (503 while waiting for data, 404 unknown track, 400 bad triage)
- ``GET /api/plan.json``                  the whole plan document
- ``GET /api/health``                     every component's dashboard row
- ``GET /api/history?dataset=plan&limit=50``  the newest commits of a dataset
- ``GET /api/diff?from=SHA&to=SHA``       what changed between two plans
  (``&raw=1`` adds the raw sheets' unified diff)
- ``POST /api/whatif``  ``{"edits": [...], "track"?, "triage"?}``  a what-if
  plan, computed by qplan_service and committed nowhere: ``view`` (rows
  marked before -> after), ``diff``, ``changes``, ``plan``, and ``shared``
  (the version it starts from); 400 names a bad edit, 503 when the planner
  does not answer
- ``/ws``  the websocket (``?want=plan``, ``?want=health`` or both, the default)

Websocket messages, JSON text: server to client ``hello`` (``state``,
``waiting``), ``plan`` (``commit``, ``seq``, ``time``, ``chain``, ``plan``),
``health`` (``components``…) and ``error``; client to server ``ping``
(answered by ``pong``). Anything else gets an ``error`` message and the
connection stays open.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from asyncio import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tornado.web
import tornado.websocket

from mesh.errors import ProtocolError, RemoteError, RequestTimeout
from web.plandiff import diff_plans, item_marks
from web.safejson import browser_json as encode_json  # no NaN/Infinity to a browser
from web.views import DEFAULT_TRIAGE, ViewError, parse_triage, plan_view

if TYPE_CHECKING:
    from web.service import WebService

__all__ = ["make_app", "ApiError", "CONTENT_SECURITY_POLICY"]

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CHART_DIST = ROOT / "node_modules" / "chart.js" / "dist"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
MAX_BODY = 1024 * 1024  # bytes: a what-if request is a list of edits, never this big
# Bodies up to this are read and refused with a 413 JSON error; only beyond it does
# Tornado close the connection (a client can't be sent JSON without reading its body).
HARD_MAX_BODY = 16 * MAX_BODY
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_WS_MESSAGE = 64 * 1024  # bytes: clients only send pings
MAX_EDITS = 500
MAX_HISTORY = 500
MAX_RAW_DIFF = 512 * 1024  # characters of raw sheet diff sent to the browser
WS_PING_INTERVAL = 20  # seconds: finds browsers that vanished without closing
SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")  # as the store resolves them
DATASET = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class ApiError(tornado.web.HTTPError):
    """A request the API refuses: ``status`` and a message for the ``error`` field."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, reason=None)
        self.message = message


def security_headers(handler: tornado.web.RequestHandler) -> None:
    """The headers every response carries, static files included."""
    handler.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    handler.set_header("X-Content-Type-Options", "nosniff")
    handler.set_header("Referrer-Policy", "no-referrer")
    handler.set_header("X-Frame-Options", "DENY")


def access_refusal(handler: tornado.web.RequestHandler, service: WebService) -> ApiError | None:
    """Why this request may not be answered (wrong Host, foreign Origin, no sign-in), or None."""
    request = handler.request
    access = service.access
    if not access.host_allowed(request.headers.get("Host")):
        host = (request.headers.get("Host") or "")[:100]
        return ApiError(421, f"host {host!r} is not allowed here ([web] allowed_hosts)")
    if not access.signed_in(request.headers.get("Authorization")):
        return ApiError(401, "sign in: this web needs its password ([web] password)")
    state_changing = request.method not in SAFE_METHODS or isinstance(
        handler, tornado.websocket.WebSocketHandler
    )
    if state_changing and not access.origin_allowed(
        request.headers.get("Origin"), request.headers.get("Host")
    ):
        origin = (request.headers.get("Origin") or "")[:100]
        return ApiError(403, f"requests from origin {origin!r} are not allowed")
    return None


class BaseHandler(tornado.web.RequestHandler):
    """Every handler: the service it serves, access checks, headers that keep data inert."""

    def initialize(self, service: WebService) -> None:
        self.service = service

    def set_default_headers(self) -> None:
        security_headers(self)

    def prepare(self) -> None:
        refusal = access_refusal(self, self.service)
        if refusal is not None:
            if refusal.status_code == 401:
                self.set_header("WWW-Authenticate", 'Basic realm="QPlan", charset="UTF-8"')
            raise refusal
        if len(self.request.body or b"") > MAX_BODY:
            raise ApiError(413, f"the body is over {MAX_BODY} bytes")
        if self.request.method not in SAFE_METHODS:
            kind = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if kind != "application/json":
                raise ApiError(415, f"send Content-Type application/json, not {kind or 'none'!r}")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError):
            message = exc.message
        elif isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        else:
            message = self._reason
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(encode_json({"error": message, "status": status_code}))


class StaticFiles(tornado.web.StaticFileHandler):
    """Static files with the same access checks and security headers as every page."""

    def initialize(self, path: str, service: WebService, default_filename: str | None = None):
        super().initialize(path, default_filename)
        self.service = service

    def set_default_headers(self) -> None:
        security_headers(self)

    def prepare(self) -> None:
        refusal = access_refusal(self, self.service)
        if refusal is not None:
            if refusal.status_code == 401:
                self.set_header("WWW-Authenticate", 'Basic realm="QPlan", charset="UTF-8"')
            raise refusal

    write_error = BaseHandler.write_error


class PageHandler(BaseHandler):
    """One HTML page, a shell that its script fills from the API and the websocket."""

    def initialize(self, service: WebService, template: str, title: str) -> None:
        super().initialize(service)
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

    def current(self):
        """The plan in memory, or a 503 saying the web is still waiting for one."""
        current = self.service.current
        if current is None:
            raise ApiError(503, "waiting for data: no plan has been computed yet")
        return current

    def store_failed(self, exc: Exception) -> ApiError:
        """The API error for a failed request to a service."""
        if isinstance(exc, RemoteError):
            missing = "not_found" in exc.code or "unknown" in exc.code
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
            view = plan_view(current.plan, track, level)
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
        self.send(self.service.board.snapshot())


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
            commits = await self.service.store.log(dataset, limit)
        except (RemoteError, RequestTimeout, ProtocolError) as exc:
            raise self.store_failed(exc) from None
        self.send({"dataset": dataset, "commits": commits})


class DiffApi(ApiHandler):
    """``GET /api/diff?from=SHA&to=SHA[&raw=1]``: what changed between two plans."""

    async def get(self) -> None:
        old, new = self.get_argument("from", ""), self.get_argument("to", "")
        for name, value in (("from", old), ("to", new)):
            if not SHA.match(value):
                raise ApiError(400, f"{name}={value[:50]!r} is not a commit SHA (7-40 hex digits)")
        try:
            before = await self.service.plan_at(old)
            after = await self.service.plan_at(new)
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
        return await self.service.store.diff("raw", old, new)


def _edits(body: Any) -> list[dict[str, Any]]:
    """The edits of a what-if request body; raises ApiError for a malformed one."""
    if not isinstance(body, dict):
        raise ApiError(400, 'the body must be a JSON object like {"edits": [...]}')
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
    """``POST /api/whatif``: the plan with edits applied, marked against the shared plan.

    A browser that closes the request cancels the what-if: the CANCEL reaches
    qplan_service, which kills the worker computing it.
    """

    _whatif: asyncio.Future | None = None
    _closed = False

    def on_connection_close(self) -> None:
        self._closed = True
        if self._whatif is not None and not self._whatif.done():
            self._whatif.cancel()

    async def post(self) -> None:
        try:
            body = json.loads(self.request.body or b"null")
        except (ValueError, RecursionError) as exc:  # bad JSON or UTF-8, too deep, huge numbers
            raise ApiError(400, f"the body is not JSON: {exc}") from None
        edits = _edits(body)
        try:
            level = parse_triage(body.get("triage"))
        except ViewError as exc:
            raise ApiError(exc.status, str(exc)) from None
        current = self.current()
        base = current.lineage.get("conditioned")
        self._whatif = asyncio.ensure_future(self.service.whatif(base, edits))
        try:
            answer = await self._whatif
        except asyncio.CancelledError:
            if self.request.connection.stream is None or self._closed:
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
        shared = await self._shared_plan(answer.get("base"), current)
        track = body.get("track") if isinstance(body.get("track"), str) else "All"
        if track not in (plan.get("by_track") or {}):
            track = "All"
        try:
            view = plan_view(plan, track, level)
            marks = item_marks(shared, plan, track)
            diff = diff_plans(shared, plan)
        except (AttributeError, TypeError, ValueError) as exc:
            raise ApiError(503, f"the planner's what-if plan is malformed: {exc}") from None
        for row in view["work"]:
            row["mark"] = marks.get(str(row.get("id")))
        self.send(
            {
                "base": {"conditioned": (answer.get("base") or {}).get("conditioned", base)},
                "shared": current.version(),
                "edits": edits,
                "changes": answer.get("changes") or [],
                "diff": diff,
                "view": view,
                "plan": plan,
            }
        )

    async def _shared_plan(self, base: Any, current) -> dict[str, Any]:
        """The shared plan the what-if is marked against: the one its base produced."""
        made = base.get("plan") if isinstance(base, dict) else None
        if isinstance(made, dict):
            return made
        if isinstance(made, str) and made and made != current.commit:
            try:
                return (await self.service.plan_at(made)).plan
            except (RemoteError, RequestTimeout, ProtocolError, ValueError) as exc:
                log.info(
                    "what-if base plan@%s not found (%s); marking against the shown plan",
                    made[:12],
                    exc,
                )
        return current.plan


class NotFound(ApiHandler):
    """Every unknown path: a JSON 404."""

    def prepare(self) -> None:
        super().prepare()
        raise ApiError(404, f"no such page or API: {self.request.path[:100]}")


class Socket(tornado.websocket.WebSocketHandler):
    """``/ws``: live plans and health to the browser, ``ping``/``pong`` back."""

    def initialize(self, service: WebService) -> None:
        self.service = service

    def set_default_headers(self) -> None:
        security_headers(self)

    async def get(self, *args: Any, **kwargs: Any) -> None:
        """Refuse a foreign Host or Origin, or no sign-in, before the handshake."""
        refusal = access_refusal(self, self.service)
        if refusal is not None:
            self.set_status(refusal.status_code)
            if refusal.status_code == 401:
                self.set_header("WWW-Authenticate", 'Basic realm="QPlan", charset="UTF-8"')
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish(encode_json({"error": refusal.message, "status": refusal.status_code}))
            return
        await super().get(*args, **kwargs)

    def check_origin(self, origin: str) -> bool:
        return self.service.access.origin_allowed(origin, self.request.headers.get("Host"))

    def open(self) -> None:
        wanted = {w.strip() for w in self.get_argument("want", "plan,health").split(",")}
        wants = frozenset(wanted & {"plan", "health"}) or frozenset({"plan", "health"})
        self.service.connect(self, wants)

    def on_message(self, message: str | bytes) -> None:
        reply = answer_client(message)
        self.service.reply(self, encode_json(reply))

    def on_close(self) -> None:
        self.service.disconnect(self)

    def send_frame(self, frame: bytes) -> Future | None:
        """Write one complete websocket frame; a future that is done once it is flushed.

        The hub frames each message once for every client (``web.hub.text_frame``)
        and the same bytes go to each connection's stream: nothing is encoded
        or copied per client. No extension (compression) is ever negotiated
        here, so a plain frame is what the client expects.
        """
        connection = self.ws_connection
        stream = getattr(connection, "stream", None)
        if connection is None or connection.is_closing() or stream is None:
            raise tornado.websocket.WebSocketClosedError()
        return stream.write(frame)


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
    """NaN, Infinity and -Infinity are not JSON: refuse them."""
    raise ValueError(f"{name} is not JSON")


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


def make_app(service: WebService) -> tornado.web.Application:
    """The application for ``service``: its handlers, templates and static files."""
    ctx = {"service": service}
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
        (r"/ws", Socket, ctx),
        (r"/vendor/(chart\.umd\.js)", StaticFiles, {**ctx, "path": str(CHART_DIST)}),
    ]
    return tornado.web.Application(
        handlers,
        template_path=str(HERE / "templates"),
        static_path=str(HERE / "static"),
        static_handler_class=StaticFiles,
        static_handler_args=dict(ctx),  # Tornado adds "path" to this dict
        default_handler_class=NotFound,
        default_handler_args=ctx,
        log_function=_log_request(service),
        websocket_max_message_size=MAX_WS_MESSAGE,
        websocket_ping_interval=WS_PING_INTERVAL,
        compress_response=False,
        xsrf_cookies=False,
    )
