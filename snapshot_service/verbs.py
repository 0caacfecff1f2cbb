"""The verbs of the snapshot service: request frames in, an answer (and maybe a NOTIFY) out.

No sockets here: ``Verbs.handle`` takes the frames after the routing
envelope and returns an ``Outcome``. Every field of a request is checked
before the store is touched, and every problem becomes an ERR answer that
names it. The contract is in the ``snapshot_service`` package docstring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mesh.errors import ProtocolError
from mesh.messages import (
    BadRequest,
    DiffAnswer,
    DiffRequest,
    ErrorAnswer,
    ErrorCode,
    GetRequest,
    LatestRequest,
    LogAnswer,
    LogRequest,
    Notify,
    PutRequest,
)
from mesh.protocol import Message
from snapshot_service.store import GitStore, StoreError

__all__ = ["Outcome", "Verbs"]

REQUESTS = {
    kind.KIND: kind for kind in (PutRequest, GetRequest, LatestRequest, LogRequest, DiffRequest)
}


@dataclass
class Outcome:
    """The answer to send back, and the notification to publish after it (after a commit)."""

    reply: Message
    notify: Message | None = None

    @property
    def failed(self) -> bool:
        """True for an ERR answer."""
        return self.reply.kind == "ERR"


def refusal(text: str, code: str | ErrorCode) -> Outcome:
    """An ERR outcome (a code outside ``ErrorCode`` would be a bug: it is sent as internal)."""
    known = code in ErrorCode._value2member_map_
    return Outcome(ErrorAnswer(text, ErrorCode(code) if known else ErrorCode.INTERNAL).to_message())


class Verbs:
    """Answers requests from one ``GitStore``."""

    def __init__(self, store: GitStore, max_payload: int) -> None:
        self.store = store
        self.max_payload = max_payload
        self._handlers: dict[str, Callable] = {
            "PUT": self.put,
            "GET": self.get,
            "LATEST": self.latest,
            "LOG": self.log,
            "DIFF": self.diff,
        }

    def handle(self, frames: list[bytes]) -> Outcome:
        """The answer to one request (frames after the envelope)."""
        try:
            _, message = Message.from_frames(frames)
        except ProtocolError as exc:
            return refusal(f"bad request frames: {exc}", ErrorCode.BAD_REQUEST)
        kind = REQUESTS.get(message.kind)
        if kind is None:
            known = ", ".join(REQUESTS)
            text = f"unknown verb {message.kind!r}; the snapshot service answers {known}"
            return refusal(text, ErrorCode.UNKNOWN_VERB)
        try:
            return self._handlers[message.kind](kind.parse(message))
        except BadRequest as exc:
            return refusal(str(exc), exc.code)
        except StoreError as exc:
            return refusal(str(exc), exc.code)

    def put(self, request: PutRequest) -> Outcome:
        """Commit the files as the dataset's new content.

        The commit is durable, but the caller settles it (``GitStore.settle``: its files put in
        place, the branch moved) after sending the answer, before the NOTIFY and the next
        request.
        """
        dataset = self.store.check_dataset(request.dataset)
        size = sum(len(body) for body in request.files.values())
        if size > self.max_payload:
            raise StoreError(
                f"PUT of {dataset} is {size} bytes; the limit is {self.max_payload} "
                "([snapshot_service] max_payload)",
                ErrorCode.TOO_LARGE,
            )
        result = self.store.put(
            dataset,
            request.files,
            source=request.source,
            message=request.message,
            producer=request.producer,
            settle=False,
        )
        notify = None
        if result.changed:
            note = Notify(dataset, result.seq, result.commit, result.lineage, result.time)
            notify = note.to_message()
        return Outcome(Message("OK", result.header()), notify)

    def get(self, request: GetRequest) -> Outcome:
        """The dataset's files at a commit."""
        version = self.store.get(request.dataset, request.commit or "latest")
        return Outcome(Message("OK", version.header(), version.bodies()))

    def latest(self, request: LatestRequest) -> Outcome:
        """The dataset's newest commit, without files."""
        version = self.store.latest(request.dataset)
        return Outcome(Message("OK", version.header(with_files=False)))

    def log(self, request: LogRequest) -> Outcome:
        """The dataset's newest commits."""
        commits = self.store.log(request.dataset, request.limit)
        return Outcome(LogAnswer(request.dataset, commits).to_message())

    def diff(self, request: DiffRequest) -> Outcome:
        """The unified diff of the dataset between two commits."""
        old, new, text = self.store.diff(request.dataset, request.old, request.new)
        return Outcome(DiffAnswer(request.dataset, old, new, text).to_message())
