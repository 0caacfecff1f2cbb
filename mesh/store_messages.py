"""The snapshot service's requests and answers: PUT, GET, LATEST, LOG, DIFF (``mesh.messages``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from mesh.checks import BadRequest, check_sha, expect_kind, get_field, no_bodies
from mesh.protocol import Message

__all__ = [
    "DEFAULT_LOG_LIMIT",
    "MAX_LOG_LIMIT",
    "PutRequest",
    "PutAnswer",
    "GetRequest",
    "LatestRequest",
    "Snapshot",
    "LogRequest",
    "LogAnswer",
    "DiffRequest",
    "DiffAnswer",
]

DEFAULT_LOG_LIMIT = 50
MAX_LOG_LIMIT = 10_000


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
        expect_kind(message, cls.KIND)
        head = message.header
        names = get_field(head, cls.KIND, "files", list)
        if not all(isinstance(name, str) for name in names):
            raise BadRequest("PUT header field 'files' must be a list of strings")
        if len(names) != len(message.bodies):
            raise BadRequest(
                f"PUT names {len(names)} files but carries {len(message.bodies)} bodies"
            )
        if len(set(names)) != len(names):
            raise BadRequest("PUT header field 'files' names a file twice")
        return cls(
            get_field(head, cls.KIND, "dataset", str),
            dict(zip(names, message.bodies, strict=True)),
            get_field(head, cls.KIND, "source", str, ""),
            get_field(head, cls.KIND, "message", str, ""),
            get_field(head, cls.KIND, "producer", str, ""),
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
            get_field(head, "PUT answer", "dataset", str),
            get_field(head, "PUT answer", "commit", str, None),
            get_field(head, "PUT answer", "seq", int, 0),
            bool(head.get("changed")),
            dict(get_field(head, "PUT answer", "lineage", dict, {})),
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
        expect_kind(message, cls.KIND)
        no_bodies(message)
        commit = get_field(message.header, cls.KIND, "commit", str, "latest")
        commit = None if commit == "latest" else check_sha(commit)
        return cls(get_field(message.header, cls.KIND, "dataset", str), commit)


@dataclass
class LatestRequest:
    """LATEST: the newest commit of ``dataset``, without its files."""

    KIND: ClassVar[str] = "LATEST"
    dataset: str

    def to_message(self) -> Message:
        return Message(self.KIND, {"dataset": self.dataset})

    @classmethod
    def parse(cls, message: Message) -> LatestRequest:
        expect_kind(message, cls.KIND)
        no_bodies(message)
        return cls(get_field(message.header, cls.KIND, "dataset", str))


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
            dataset=get_field(head, "answer", "dataset", str),
            commit=get_field(head, "answer", "commit", str, None),
            seq=get_field(head, "answer", "seq", int, 0),
            time=get_field(head, "answer", "time", str, None),
            source=get_field(head, "answer", "source", str, ""),
            producer=get_field(head, "answer", "producer", str, ""),
            message=get_field(head, "answer", "message", str, ""),
            lineage=dict(get_field(head, "answer", "lineage", dict, {})),
            chain=list(get_field(head, "answer", "chain", list, [])),
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
        expect_kind(message, cls.KIND)
        no_bodies(message)
        limit = get_field(message.header, cls.KIND, "limit", int, DEFAULT_LOG_LIMIT)
        if limit < 1:
            raise BadRequest(f"LOG limit must be a positive whole number, not {limit}")
        return cls(get_field(message.header, cls.KIND, "dataset", str), min(limit, MAX_LOG_LIMIT))


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
            get_field(head, "LOG answer", "dataset", str),
            get_field(head, "LOG answer", "commits", list),
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
        expect_kind(message, cls.KIND)
        no_bodies(message)
        head = message.header
        ends = []
        for key in ("from", "to"):
            value = get_field(head, cls.KIND, key, str)
            ends.append(value if value == "latest" else check_sha(value, f"DIFF {key!r}"))
        return cls(get_field(head, cls.KIND, "dataset", str), *ends)


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
