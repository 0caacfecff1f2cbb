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
"edits": [edit…]}; its answer is a plain header (``base``, ``plan``,
``changes``, ``forecast``: see ``qplan_service``).

Every ERR answer is ``ErrorAnswer`` {"error": text, "code": ErrorCode}.

Publications: ``Notify`` (topic = the dataset) {"dataset", "seq", "commit",
"lineage", "time"} after every commit; ``Beat`` (topic ``heartbeat``) a
component's counters, checked for type and range when parsed.

A SHA on the wire is 7 to 40 hex digits (``check_sha``); a prefix that names
more than one commit is an error wherever it is resolved.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from mesh.errors import ProtocolError
from mesh.protocol import Message

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
    "ErrorAnswer",
    "Notify",
    "Beat",
]

SHA_PATTERN = re.compile(r"^[0-9a-fA-F]{7,40}$")
DEFAULT_LOG_LIMIT = 50
MAX_LOG_LIMIT = 10_000


class ErrorCode(StrEnum):
    """The ``code`` of every ERR answer in the mesh."""

    BAD_REQUEST = "bad_request"  # frames, header fields, names, limits
    UNKNOWN_VERB = "unknown_verb"  # a kind the service does not answer
    UNKNOWN_DATASET = "unknown_dataset"  # not one of [snapshot_service] datasets
    UNKNOWN_COMMIT = "unknown_commit"  # no such commit (or a prefix of several)
    TOO_LARGE = "too_large"  # a PUT over [snapshot_service] max_payload
    NO_SPACE = "no_space"  # the store's disk is full
    LOCKED = "locked"  # a git command holds the branch lock
    UNAVAILABLE = "unavailable"  # a service this one needs did not answer
    OVER_BUDGET = "over_budget"  # a what-if over its budget, refused before work
    DEADLINE = "deadline"  # a what-if stopped at its deadline
    BUSY = "busy"  # every what-if worker is taken and the queue is full
    CONFIG = "config"  # the service's own configuration is wrong
    INTERNAL = "internal"  # a bug: logged with its traceback


class BadRequest(ProtocolError):
    """A message whose fields do not follow its class; ``code`` is the ERR code to answer."""

    def __init__(self, text: str, code: ErrorCode = ErrorCode.BAD_REQUEST) -> None:
        super().__init__(text)
        self.code = code


def check_sha(value: Any, what: str = "commit") -> str:
    """``value`` as a lower-case SHA of 7 to 40 hex digits; BadRequest naming ``what`` if not."""
    if not isinstance(value, str) or not SHA_PATTERN.match(value):
        shown = repr(value)[:50]
        raise BadRequest(f"{what} {shown} is not a commit SHA (7 to 40 hex digits)")
    return value.lower()


_TYPE_NAMES = {str: "a string", int: "a whole number", list: "a list", dict: "an object"}


def _get(header: Mapping[str, Any], kind: str, key: str, typ: type, default: Any = ...) -> Any:
    """One header field of type ``typ`` (a bool is not an int); required unless a default."""
    if key not in header or (default is not ... and header[key] is None):
        if default is ...:
            raise BadRequest(f"{kind} needs the header field {key!r}")
        return default
    value = header[key]
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        wanted = _TYPE_NAMES.get(typ, typ.__name__)
        got = "null" if value is None else _TYPE_NAMES.get(type(value), type(value).__name__)
        raise BadRequest(f"{kind} header field {key!r} must be {wanted}, not {got}")
    return value


def _expect(message: Message, kind: str) -> None:
    if message.kind != kind:
        raise BadRequest(f"expected {kind}, got {message.kind}")


def _no_bodies(message: Message) -> None:
    if message.bodies:
        raise BadRequest(f"{message.kind} takes no bodies, got {len(message.bodies)}")


# -- the snapshot service -------------------------------------------------------------------


@dataclass
class PutRequest:
    """PUT: make ``files`` the new content of ``dataset`` (one commit, unless nothing changed)."""

    KIND: ClassVar[str] = "PUT"
    dataset: str
    files: dict[str, bytes]
    source: str = ""  # "<dataset>@<sha>" for derived data, the workbook's path or URL for raw
    message: str = ""  # the commit message's subject
    producer: str = ""  # the component that made the files

    def to_message(self) -> Message:
        names = sorted(self.files)
        header = {
            "dataset": self.dataset,
            "files": names,
            "source": self.source,
            "message": self.message,
            "producer": self.producer,
        }
        return Message(self.KIND, header, [self.files[name] for name in names])

    @classmethod
    def build(cls, dataset: str, files: Mapping[str, bytes | str], **fields: str) -> PutRequest:
        """A PUT of text or bytes (text is encoded as UTF-8)."""
        data = {n: v.encode("utf-8") if isinstance(v, str) else bytes(v) for n, v in files.items()}
        return cls(dataset, data, **fields)

    @classmethod
    def parse(cls, message: Message) -> PutRequest:
        _expect(message, cls.KIND)
        head = message.header
        names = _get(head, cls.KIND, "files", list)
        if not all(isinstance(name, str) for name in names):
            raise BadRequest("PUT header field 'files' must be a list of strings")
        if len(names) != len(message.bodies):
            raise BadRequest(
                f"PUT names {len(names)} files but carries {len(message.bodies)} bodies"
            )
        if len(set(names)) != len(names):
            raise BadRequest("PUT header field 'files' names a file twice")
        return cls(
            _get(head, cls.KIND, "dataset", str),
            dict(zip(names, message.bodies, strict=True)),
            _get(head, cls.KIND, "source", str, ""),
            _get(head, cls.KIND, "message", str, ""),
            _get(head, cls.KIND, "producer", str, ""),
        )


@dataclass
class PutAnswer:
    """What a PUT did: the dataset's commit after it, and whether it made a new one."""

    dataset: str
    commit: str | None
    seq: int
    changed: bool
    lineage: dict[str, str] = field(default_factory=dict)

    def to_message(self) -> Message:
        return Message("OK", self.header())

    def header(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "commit": self.commit,
            "seq": self.seq,
            "changed": self.changed,
            "lineage": self.lineage,
        }

    @classmethod
    def parse(cls, message: Message) -> PutAnswer:
        head = message.header
        return cls(
            _get(head, "PUT answer", "dataset", str),
            _get(head, "PUT answer", "commit", str, None),
            _get(head, "PUT answer", "seq", int, 0),
            bool(head.get("changed")),
            dict(_get(head, "PUT answer", "lineage", dict, {})),
        )


@dataclass
class GetRequest:
    """GET: the files of ``dataset`` as of ``commit`` (None: the latest)."""

    KIND: ClassVar[str] = "GET"
    dataset: str
    commit: str | None = None

    def to_message(self) -> Message:
        return Message(self.KIND, {"dataset": self.dataset, "commit": self.commit or "latest"})

    @classmethod
    def parse(cls, message: Message) -> GetRequest:
        _expect(message, cls.KIND)
        _no_bodies(message)
        commit = _get(message.header, cls.KIND, "commit", str, "latest")
        commit = None if commit == "latest" else check_sha(commit)
        return cls(_get(message.header, cls.KIND, "dataset", str), commit)


@dataclass
class LatestRequest:
    """LATEST: the newest commit of ``dataset``, without its files."""

    KIND: ClassVar[str] = "LATEST"
    dataset: str

    def to_message(self) -> Message:
        return Message(self.KIND, {"dataset": self.dataset})

    @classmethod
    def parse(cls, message: Message) -> LatestRequest:
        _expect(message, cls.KIND)
        _no_bodies(message)
        return cls(_get(message.header, cls.KIND, "dataset", str))


@dataclass
class Snapshot:
    """One dataset as of one commit: the GET and LATEST answer, on both sides of the wire.

    ``commit`` None means the dataset has no content yet. ``lineage`` maps each upstream
    dataset to its commit (and ``"origin"`` to the workbook's path or URL); ``chain`` lists
    the commit itself, then each upstream commit as ``{"dataset", "commit", "time",
    "source"}``.
    """

    dataset: str
    commit: str | None
    seq: int = 0
    time: str | None = None
    source: str = ""
    producer: str = ""
    message: str = ""
    lineage: dict[str, str] = field(default_factory=dict)
    chain: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)

    def header(self, with_files: bool = True) -> dict[str, Any]:
        """The answer header (LATEST's without ``files``)."""
        head = {
            "dataset": self.dataset,
            "commit": self.commit,
            "seq": self.seq,
            "time": self.time,
            "source": self.source,
            "producer": self.producer,
            "message": self.message,
            "lineage": self.lineage,
            "chain": self.chain,
        }
        if with_files:
            head["files"] = sorted(self.files)
        return head

    def bodies(self) -> list[bytes]:
        """The file contents in ``files`` order."""
        return [self.files[name] for name in sorted(self.files)]

    def to_message(self, with_files: bool = True) -> Message:
        bodies = self.bodies() if with_files else []
        return Message("OK", self.header(with_files), bodies)

    @classmethod
    def parse(cls, message: Message) -> Snapshot:
        """A GET or LATEST answer; ProtocolError when its files and bodies disagree."""
        head = message.header
        names = head.get("files") or []
        if not isinstance(names, list) or len(names) != len(message.bodies):
            count = len(names) if isinstance(names, list) else "no list of"
            raise BadRequest(f"an answer names {count} files but carries {len(message.bodies)}")
        return cls(
            dataset=_get(head, "answer", "dataset", str),
            commit=_get(head, "answer", "commit", str, None),
            seq=_get(head, "answer", "seq", int, 0),
            time=_get(head, "answer", "time", str, None),
            source=_get(head, "answer", "source", str, ""),
            producer=_get(head, "answer", "producer", str, ""),
            message=_get(head, "answer", "message", str, ""),
            lineage=dict(_get(head, "answer", "lineage", dict, {})),
            chain=list(_get(head, "answer", "chain", list, [])),
            files=dict(zip(names, message.bodies, strict=True)),
        )

    def text(self, name: str) -> str:
        """One file as text."""
        return self.files[name].decode("utf-8")


@dataclass
class LogRequest:
    """LOG: the newest ``limit`` commits of ``dataset``, newest first."""

    KIND: ClassVar[str] = "LOG"
    dataset: str
    limit: int = DEFAULT_LOG_LIMIT

    def to_message(self) -> Message:
        return Message(self.KIND, {"dataset": self.dataset, "limit": self.limit})

    @classmethod
    def parse(cls, message: Message) -> LogRequest:
        _expect(message, cls.KIND)
        _no_bodies(message)
        limit = _get(message.header, cls.KIND, "limit", int, DEFAULT_LOG_LIMIT)
        if limit < 1:
            raise BadRequest(f"LOG limit must be a positive whole number, not {limit}")
        return cls(_get(message.header, cls.KIND, "dataset", str), min(limit, MAX_LOG_LIMIT))


@dataclass
class LogAnswer:
    """The LOG answer: entries ``{"commit", "seq", "time", "message", "source", "producer",
    "lineage"}``, newest first."""

    dataset: str
    commits: list[dict[str, Any]]

    def to_message(self) -> Message:
        return Message("OK", {"dataset": self.dataset, "commits": self.commits})

    @classmethod
    def parse(cls, message: Message) -> LogAnswer:
        head = message.header
        return cls(
            _get(head, "LOG answer", "dataset", str), _get(head, "LOG answer", "commits", list)
        )


@dataclass
class DiffRequest:
    """DIFF: the unified diff of ``dataset`` between two commits (each a SHA or "latest")."""

    KIND: ClassVar[str] = "DIFF"
    dataset: str
    old: str
    new: str

    def to_message(self) -> Message:
        return Message(self.KIND, {"dataset": self.dataset, "from": self.old, "to": self.new})

    @classmethod
    def parse(cls, message: Message) -> DiffRequest:
        _expect(message, cls.KIND)
        _no_bodies(message)
        head = message.header
        ends = []
        for key in ("from", "to"):
            value = _get(head, cls.KIND, key, str)
            ends.append(value if value == "latest" else check_sha(value, f"DIFF {key!r}"))
        return cls(_get(head, cls.KIND, "dataset", str), *ends)


@dataclass
class DiffAnswer:
    """The DIFF answer: the two commits resolved, and the diff text as one body."""

    dataset: str
    old: str
    new: str
    text: str

    def to_message(self) -> Message:
        header = {"dataset": self.dataset, "from": self.old, "to": self.new}
        return Message("OK", header, [self.text.encode("utf-8")])

    @classmethod
    def parse(cls, message: Message) -> DiffAnswer:
        head = message.header
        text = message.bodies[0].decode("utf-8") if message.bodies else ""
        return cls(str(head.get("dataset")), str(head.get("from")), str(head.get("to")), text)


# -- qplan_service ----------------------------------------------------------------------------


@dataclass
class WhatIfRequest:
    """WHATIF: the plan of the conditioned commit ``base`` (None: the latest) with ``edits``."""

    KIND: ClassVar[str] = "WHATIF"
    base: str | None
    edits: list[Any]

    def to_message(self) -> Message:
        return Message(self.KIND, {"base": self.base, "edits": self.edits})

    @classmethod
    def parse(cls, message: Message) -> WhatIfRequest:
        _expect(message, cls.KIND)
        _no_bodies(message)
        base = message.header.get("base")
        if base is not None:
            base = check_sha(base, '"base" (a conditioned commit)')
        if "edits" not in message.header:
            raise BadRequest('the request has no "edits" (a list of edits)')
        edits = _get(message.header, cls.KIND, "edits", list)
        return cls(base, edits)


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
        _expect(message, cls.KIND)
        head = message.header
        seq = _get(head, cls.KIND, "seq", int)
        if seq < 0:
            raise BadRequest(f"NOTIFY seq must not be negative, not {seq}")
        return cls(
            dataset=_get(head, cls.KIND, "dataset", str, topic or ""),
            seq=seq,
            commit=check_sha(_get(head, cls.KIND, "commit", str), "NOTIFY commit"),
            lineage=dict(_get(head, cls.KIND, "lineage", dict, {})),
            time=_get(head, cls.KIND, "time", str, None),
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
        _expect(message, cls.KIND)
        head = message.header
        name = _get(head, cls.KIND, "component", str)
        if not name or len(name) > MAX_NAME or not name.isprintable():
            raise BadRequest(f"HEARTBEAT component {name[:40]!r} is not a component name")
        pid = _get(head, cls.KIND, "pid", int)
        if not 1 <= pid < 2**22:
            raise BadRequest(f"HEARTBEAT pid {pid} is not a process id")
        counts = {}
        for key in _COUNTS:
            value = _get(head, cls.KIND, key, int, 0)
            if not 0 <= value < MAX_COUNT:
                raise BadRequest(f"HEARTBEAT {key} {value} is not a count")
            counts[key] = value
        state = _get(head, cls.KIND, "state", str, "up")
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
            detail=dict(_get(head, cls.KIND, "detail", dict, {})),
            **counts,
        )
