"""Every message of the mesh, one class each: its fields documented once, built and parsed here.

``mesh.protocol.Message`` is the frame layer (signature, kind, JSON header,
bodies); the classes here are what travels in it. Each has ``message()``
(build) and ``parse(message)`` (check every field, raise ``BadRequest``
naming the first wrong one). Client and server share the answer classes.

Requests to the snapshot service, and their answers::

    PUT     PutRequest   {"dataset", "files": [name…], "source", "message", "producer"}
                         + one body per file, in "files" order
            PutAnswer    {"dataset", "commit", "seq", "changed", "lineage"}
    GET     GetRequest   {"dataset", "commit": SHA or "latest"}
            Snapshot     {"dataset", "commit", "seq", "time", "source", "producer",
                          "message", "lineage", "chain", "files": [name…]} + bodies
    LATEST  LatestRequest {"dataset"} -> Snapshot without "files" and bodies
    LOG     LogRequest   {"dataset", "limit"} -> LogAnswer {"dataset", "commits": [entry…]}
    DIFF    DiffRequest  {"dataset", "from", "to"}
            DiffAnswer   {"dataset", "from", "to"} + one body, the unified diff (UTF-8)

To qplan_service: WHATIF ``WhatIfRequest`` {"base": conditioned SHA or null,
"edits": [edit…], "id"?, "delta"?, "forecast"?} and CANCEL ``CancelRequest`` {"id"}; a
WHATIF's answer is a header and one JSON body, ``WhatIfRequest``'s docstring says which.

Every ERR answer is ``ErrorAnswer`` {"error": text, "code": ErrorCode}.

Publications: ``Notify`` (topic = the dataset) {"dataset", "seq", "commit",
"lineage", "time"} after every commit; ``Beat`` (topic ``heartbeat``) a
component's counters, checked for type and range when parsed.

A SHA on the wire is 7 to 40 hex digits (``check_sha``); a prefix that names
more than one commit is an error wherever it is resolved.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

try:  # optional: a 20,000-item what-if's body is written and read 5-10 times faster
    import orjson
except ImportError:  # pragma: no cover - depends on what is installed
    orjson = None

from mesh.checks import (
    SHA_PATTERN,
    BadRequest,
    ErrorCode,
    check_sha,
    expect_kind,
    get_field,
    no_bodies,
)
from mesh.protocol import Message
from mesh.store_messages import (
    DEFAULT_LOG_LIMIT,
    MAX_LOG_LIMIT,
    DiffAnswer,
    DiffRequest,
    GetRequest,
    LatestRequest,
    LogAnswer,
    LogRequest,
    PutAnswer,
    PutRequest,
    Snapshot,
)

__all__ = [
    "ErrorCode",
    "BadRequest",
    "check_sha",
    "SHA_PATTERN",
    "MAX_LOG_LIMIT",
    "DEFAULT_LOG_LIMIT",
    "PutRequest",
    "PutAnswer",
    "GetRequest",
    "LatestRequest",
    "Snapshot",
    "LogRequest",
    "LogAnswer",
    "DiffRequest",
    "DiffAnswer",
    "WhatIfRequest",
    "CancelRequest",
    "encode_body",
    "whatif_answer",
    "ErrorAnswer",
    "Notify",
    "Beat",
]


# -- qplan_service ----------------------------------------------------------------------------


@dataclass
class WhatIfRequest:
    """WHATIF: the plan of the conditioned commit ``base`` (None: the latest) with ``edits``.

    ``id``, when given, lets a later CANCEL stop it. The answer (OK)::

        {"base": {"conditioned": SHA, "plan": the plan commit made from it, or null},
         "plan": the what-if plan (problems, lineage and status of the base)
           or, when ``delta`` was asked and the base has a plan commit of the built-in
           planner, "delta": the what-if plan as what it changes in that plan
           (``planning.delta``: unchanged views named, changed rows sent),
         "same": [the tracks whose view is the base plan's],
         "changes": [{"track", "id", "name", "before", "after"}…],
         "forecast": the what-if's own forecast (``formats.forecast``, with
           [qplan_service] whatif_forecast_runs runs, seeded by the base) of every track
           (``forecast`` true, the default), of one track (a track's name; All when the
           what-if has no such track), or null (false); with ``forecast_delta`` each
           track's forecast is what changed against the base's own what-if forecast
           (``planning.delta.forecast_delta``: {"changed", "gone"} for {"items"})}

    "delta" or "plan", and "forecast", travel in one body, a JSON object (big, so
    written and read with orjson, and written by the worker that computed it; the
    header keeps the rest): ``whatif_answer`` reads either kind of answer as one dict.

    ERR codes: over_budget, deadline, busy, bad_request (a bad edit, named).
    """

    KIND: ClassVar[str] = "WHATIF"
    base: str | None
    edits: list[Any]
    id: str | None = None
    delta: bool = False
    forecast: bool | str = True
    forecast_delta: bool = False

    def to_message(self) -> Message:
        header: dict[str, Any] = {"base": self.base, "edits": self.edits}
        if self.id is not None:
            header["id"] = self.id
        if self.delta:
            header["delta"] = True
        if self.forecast is not True:
            header["forecast"] = self.forecast
        if self.forecast_delta:
            header["forecast_delta"] = True
        return Message(self.KIND, header)

    @classmethod
    def parse(cls, message: Message) -> WhatIfRequest:
        expect_kind(message, cls.KIND)
        no_bodies(message)
        header = message.header
        base = header.get("base")
        if base is not None:
            base = check_sha(base, '"base" (a conditioned commit)')
        if "edits" not in header:
            raise BadRequest('the request has no "edits" (a list of edits)')
        edits = get_field(header, cls.KIND, "edits", list)
        delta = get_field(header, cls.KIND, "delta", bool, False)
        forecast = header.get("forecast", True)
        if not isinstance(forecast, bool | str):
            raise BadRequest(
                f"{cls.KIND} header field 'forecast' must be true, false or a track's name"
            )
        request_id = get_field(header, cls.KIND, "id", str, None)
        against = get_field(header, cls.KIND, "forecast_delta", bool, False)
        return cls(base, edits, request_id, delta, forecast, against)


def encode_body(value: Any) -> bytes:
    """A big JSON body (a delta answer's), compact; orjson when it can."""
    if orjson is not None:
        try:
            return orjson.dumps(value)
        except (orjson.JSONEncodeError, TypeError):
            pass  # e.g. a whole number beyond 64 bits: the standard encoder writes it
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def whatif_answer(message: Message) -> dict[str, Any]:
    """A WHATIF answer as one dict: its header, and the keys of its body when it has one."""
    answer = dict(message.header)
    if message.bodies:
        try:
            body = orjson.loads(message.bodies[0]) if orjson else json.loads(message.bodies[0])
        except ValueError as exc:
            raise BadRequest(f"the WHATIF answer's body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise BadRequest("the WHATIF answer's body is not a JSON object")
        answer.update(body)
    return answer


@dataclass
class CancelRequest:
    """CANCEL: stop the WHATIF sent with ``id`` (its worker is killed); OK {"cancelled"}."""

    KIND: ClassVar[str] = "CANCEL"
    id: str

    def to_message(self) -> Message:
        return Message(self.KIND, {"id": self.id})


# -- every service ----------------------------------------------------------------------------


@dataclass
class ErrorAnswer:
    """ERR: what went wrong, in a sentence, and its code."""

    error: str
    code: ErrorCode = ErrorCode.BAD_REQUEST

    def to_message(self) -> Message:
        return Message("ERR", {"error": self.error, "code": str(self.code)})

    @classmethod
    def parse(cls, message: Message) -> ErrorAnswer:
        code = str(message.header.get("code", ""))
        known = code if code in ErrorCode._value2member_map_ else ErrorCode.INTERNAL
        return cls(str(message.header.get("error", "unknown error")), ErrorCode(known))


@dataclass
class Notify:
    """NOTIFY (topic = ``dataset``): the dataset got commit ``commit``, its ``seq``-th."""

    KIND: ClassVar[str] = "NOTIFY"
    dataset: str
    seq: int
    commit: str
    lineage: dict[str, str] = field(default_factory=dict)
    time: str | None = None

    def to_message(self) -> Message:
        header = {
            "dataset": self.dataset,
            "seq": self.seq,
            "commit": self.commit,
            "lineage": self.lineage,
            "time": self.time,
        }
        return Message(self.KIND, header)

    @classmethod
    def parse(cls, message: Message, topic: str | None = None) -> Notify:
        expect_kind(message, cls.KIND)
        head = message.header
        seq = get_field(head, cls.KIND, "seq", int)
        if seq < 0:
            raise BadRequest(f"NOTIFY seq must not be negative, not {seq}")
        return cls(
            dataset=get_field(head, cls.KIND, "dataset", str, topic or ""),
            seq=seq,
            commit=check_sha(get_field(head, cls.KIND, "commit", str), "NOTIFY commit"),
            lineage=dict(get_field(head, cls.KIND, "lineage", dict, {})),
            time=get_field(head, cls.KIND, "time", str, None),
        )


STATES = ("up", "starting", "stopping", "failing")
_COUNTS = ("requests", "messages_in", "messages_out", "errors")
MAX_COUNT = 2**53  # beyond this a counter is not a counter
MAX_NAME = 64  # characters of a component name


def _time(head: Mapping[str, Any], key: str, required: bool = False) -> float | None:
    value = head.get(key)
    if value is None and not required:
        return None
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
    ):
        raise BadRequest(f"HEARTBEAT field {key!r} must be a time in seconds, not {value!r:.40}")
    return float(value)


@dataclass
class Beat:
    """HEARTBEAT (topic ``heartbeat``): one component's counters, once a second."""

    KIND: ClassVar[str] = "HEARTBEAT"
    component: str
    pid: int
    time: float
    started: float | None = None
    uptime: float | None = None
    requests: int = 0
    messages_in: int = 0
    messages_out: int = 0
    errors: int = 0
    last_sha: str | None = None
    last_work: float | None = None
    state: str = "up"
    detail: dict[str, Any] = field(default_factory=dict)

    def to_message(self) -> Message:
        return Message(self.KIND, self.header())

    def header(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "pid": self.pid,
            "time": self.time,
            "started": self.started,
            "uptime": self.uptime,
            "requests": self.requests,
            "messages_in": self.messages_in,
            "messages_out": self.messages_out,
            "errors": self.errors,
            "last_sha": self.last_sha,
            "last_work": self.last_work,
            "state": self.state,
            "detail": self.detail,
        }

    @classmethod
    def parse(cls, message: Message) -> Beat:
        """A beat whose every field has its type and a sane range; BadRequest naming the first."""
        expect_kind(message, cls.KIND)
        head = message.header
        name = get_field(head, cls.KIND, "component", str)
        if not name or len(name) > MAX_NAME or not name.isprintable():
            raise BadRequest(f"HEARTBEAT component {name[:40]!r} is not a component name")
        pid = get_field(head, cls.KIND, "pid", int)
        if not 1 <= pid < 2**22:
            raise BadRequest(f"HEARTBEAT pid {pid} is not a process id")
        counts = {}
        for key in _COUNTS:
            value = get_field(head, cls.KIND, key, int, 0)
            if not 0 <= value < MAX_COUNT:
                raise BadRequest(f"HEARTBEAT {key} {value} is not a count")
            counts[key] = value
        state = get_field(head, cls.KIND, "state", str, "up")
        if state not in STATES:
            raise BadRequest(f"HEARTBEAT state {state[:20]!r} is not one of {', '.join(STATES)}")
        last_sha = head.get("last_sha")
        return cls(
            component=name,
            pid=pid,
            time=_time(head, "time", required=True),
            started=_time(head, "started"),
            uptime=_time(head, "uptime"),
            last_sha=None if last_sha is None else check_sha(last_sha, "HEARTBEAT last_sha"),
            last_work=_time(head, "last_work"),
            state=state,
            detail=dict(get_field(head, cls.KIND, "detail", dict, {})),
            **counts,
        )
