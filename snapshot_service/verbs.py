"""The verbs of the snapshot service: request frames in, an answer (and maybe a NOTIFY) out.

No sockets here: ``Verbs.handle`` takes the frames after the routing
envelope and returns an ``Outcome``. Every field of a request is checked
before the store is touched, and every problem becomes an ERR answer that
names it. The contract is in the ``snapshot_service`` package docstring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mesh.errors import ProtocolError
from mesh.protocol import Message
from snapshot_service.store import MAX_LOG_LIMIT, GitStore, StoreError

__all__ = ["Outcome", "Verbs", "DEFAULT_LOG_LIMIT"]

DEFAULT_LOG_LIMIT = 50
VERBS = ("PUT", "GET", "LATEST", "LOG", "DIFF")


@dataclass
class Outcome:
    """The answer to send back, and the notification to publish after it (after a commit)."""

    reply: Message
    notify: Message | None = None

    @property
    def failed(self) -> bool:
        """True for an ERR answer."""
        return self.reply.kind == "ERR"


def _field(request: Message, key: str, kind: type, required: bool = True, default: Any = None):
    """One header field of the expected type (bool is not taken for int)."""
    if key not in request.header or (not required and request.header[key] is None):
        if required:
            raise StoreError(f"{request.kind} needs the header field {key!r}")
        return default
    value = request.header[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise StoreError(
            f"{request.kind} header field {key!r} must be {_type_name(kind)}, "
            f"not {_type_name(type(value))}"
        )
    return value


def _type_name(kind: type) -> str:
    names = {str: "a string", int: "a whole number", list: "a list", dict: "an object"}
    return names.get(kind, "null" if kind is type(None) else kind.__name__)


class Verbs:
    """Answers requests from one ``GitStore``."""

    def __init__(self, store: GitStore, max_payload: int) -> None:
        self.store = store
        self.max_payload = max_payload
        self._handlers: dict[str, Callable[[Message], Outcome]] = {
            "PUT": self.put,
            "GET": self.get,
            "LATEST": self.latest,
            "LOG": self.log,
            "DIFF": self.diff,
        }

    def handle(self, frames: list[bytes]) -> Outcome:
        """The answer to one request (frames after the envelope)."""
        try:
            _, request = Message.from_frames(frames)
        except ProtocolError as exc:
            return Outcome(Message.error(f"bad request frames: {exc}", "bad_request"))
        handler = self._handlers.get(request.kind)
        if handler is None:
            known = ", ".join(VERBS)
            text = f"unknown verb {request.kind!r}; the snapshot service answers {known}"
            return Outcome(Message.error(text, "unknown_verb"))
        try:
            if request.kind != "PUT" and request.bodies:
                raise StoreError(f"{request.kind} takes no bodies, got {len(request.bodies)}")
            return handler(request)
        except StoreError as exc:
            return Outcome(Message.error(str(exc), exc.code))

    def put(self, request: Message) -> Outcome:
        """Commit the files as the dataset's new content.

        The commit is durable, but the caller settles it (``GitStore.settle``: its files put in
        place, the branch moved) after sending the answer, before the NOTIFY and the next
        request.
        """
        dataset = self.store.check_dataset(_field(request, "dataset", str))
        names = _field(request, "files", list)
        if not all(isinstance(name, str) for name in names):
            raise StoreError("PUT header field 'files' must be a list of strings")
        if len(names) != len(request.bodies):
            raise StoreError(
                f"PUT names {len(names)} files but carries {len(request.bodies)} bodies"
            )
        if len(set(names)) != len(names):
            raise StoreError("PUT header field 'files' names a file twice")
        size = request.size()
        if size > self.max_payload:
            raise StoreError(
                f"PUT of {dataset} is {size} bytes; the limit is {self.max_payload} "
                "([snapshot_service] max_payload)",
                "too_large",
            )
        result = self.store.put(
            dataset,
            dict(zip(names, request.bodies, strict=True)),
            source=_field(request, "source", str, False, ""),
            message=_field(request, "message", str, False, ""),
            producer=_field(request, "producer", str, False, ""),
            settle=False,
        )
        notify = None
        if result.changed:
            head = {
                "dataset": dataset,
                "seq": result.seq,
                "commit": result.commit,
                "lineage": result.lineage,
                "time": result.time,
            }
            notify = Message("NOTIFY", head)
        return Outcome(Message("OK", result.header()), notify)

    def get(self, request: Message) -> Outcome:
        """The dataset's files at a commit."""
        dataset = _field(request, "dataset", str)
        commit = _field(request, "commit", str, False, "latest")
        version = self.store.get(dataset, commit)
        return Outcome(Message("OK", version.header(), version.bodies()))

    def latest(self, request: Message) -> Outcome:
        """The dataset's newest commit, without files."""
        version = self.store.latest(_field(request, "dataset", str))
        return Outcome(Message("OK", version.header(with_files=False)))

    def log(self, request: Message) -> Outcome:
        """The dataset's newest commits."""
        dataset = _field(request, "dataset", str)
        limit = _field(request, "limit", int, False, DEFAULT_LOG_LIMIT)
        if limit < 1:
            raise StoreError(f"LOG limit must be a positive whole number, not {limit}")
        commits = self.store.log(dataset, min(limit, MAX_LOG_LIMIT))
        return Outcome(Message("OK", {"dataset": dataset, "commits": commits}))

    def diff(self, request: Message) -> Outcome:
        """The unified diff of the dataset between two commits."""
        dataset = _field(request, "dataset", str)
        old, new, text = self.store.diff(
            dataset, _field(request, "from", str), _field(request, "to", str)
        )
        header = {"dataset": dataset, "from": old, "to": new}
        return Outcome(Message("OK", header, [text.encode("utf-8")]))
