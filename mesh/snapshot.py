"""Typed calls of the snapshot service's verbs, blocking and asyncio.

The request headers and answers (see ``snapshot_service`` for the full
contract)::

    PUT     {"dataset", "files": [name…], "source", "message", "producer"}
            bodies: one per file, in "files" order
            -> {"dataset", "commit", "seq", "changed", "lineage"}
    GET     {"dataset", "commit": SHA or "latest"}
            -> {"dataset", "commit", "seq", "time", "source", "producer",
                "message", "lineage", "chain", "files": [name…]} + bodies
    LATEST  {"dataset"} -> the GET header without files ("commit" is null
            when the dataset has no commit yet)
    LOG     {"dataset", "limit"} -> {"dataset", "commits": [entry…]}, newest first
    DIFF    {"dataset", "from", "to"} -> {"dataset", "from", "to"} + one body,
            the unified diff text

``lineage`` maps each upstream dataset to its commit (``{"conditioned": SHA,
"raw": SHA}``) and, when the chain starts outside the store, ``"origin"`` to
that source (the workbook's path or URL); ``chain`` lists the commit itself
and then each upstream commit as ``{"dataset", "commit", "time", "source"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mesh.client import AsyncClient, Client
from mesh.errors import ProtocolError
from mesh.protocol import Message

__all__ = ["Snapshot", "SnapshotClient", "AsyncSnapshotClient", "START_HINT"]

START_HINT = "start the mesh with `make run` (or `python run_all.py --config config.ini`)"


@dataclass
class Snapshot:
    """One dataset as of one commit."""

    dataset: str
    commit: str | None
    seq: int = 0
    time: str | None = None
    source: str = ""
    lineage: dict[str, str] = field(default_factory=dict)
    chain: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def from_reply(cls, reply: Message) -> Snapshot:
        """Build from a GET or LATEST answer."""
        head = reply.header
        names = head.get("files", [])
        if len(names) != len(reply.bodies):
            raise ProtocolError(
                f"an answer names {len(names)} files but carries {len(reply.bodies)}"
            )
        return cls(
            dataset=head["dataset"],
            commit=head.get("commit"),
            seq=head.get("seq", 0),
            time=head.get("time"),
            source=head.get("source", ""),
            lineage=dict(head.get("lineage") or {}),
            chain=list(head.get("chain") or []),
            files=dict(zip(names, reply.bodies, strict=True)),
        )

    def text(self, name: str) -> str:
        """One file of the snapshot as text."""
        return self.files[name].decode("utf-8")


def put_request(
    dataset: str,
    files: Mapping[str, bytes | str],
    *,
    source: str = "",
    message: str = "",
    producer: str = "",
) -> Message:
    """The PUT request for these files (names sorted, text encoded as UTF-8)."""
    names = sorted(files)
    bodies = [files[n].encode("utf-8") if isinstance(files[n], str) else files[n] for n in names]
    header = {
        "dataset": dataset,
        "files": names,
        "source": source,
        "message": message,
        "producer": producer,
    }
    return Message("PUT", header, bodies)


def get_request(dataset: str, commit: str | None = None) -> Message:
    """The GET request of a dataset at a commit (None: the latest)."""
    return Message("GET", {"dataset": dataset, "commit": commit or "latest"})


def diff_text(reply: Message) -> str:
    """The unified diff carried by a DIFF answer."""
    return reply.bodies[0].decode("utf-8") if reply.bodies else ""


class SnapshotClient:
    """Blocking snapshot calls over a ``Client``."""

    def __init__(self, endpoint: str, **kwargs) -> None:
        kwargs.setdefault("service", "snapshot service")
        kwargs.setdefault("hint", START_HINT)
        self.client = Client(endpoint, **kwargs)

    def put(self, dataset: str, files: Mapping[str, bytes | str], **kw) -> dict[str, Any]:
        """Commit ``files`` as the new content of ``dataset``."""
        return self.client.request(put_request(dataset, files, **kw)).header

    def get(self, dataset: str, commit: str | None = None) -> Snapshot:
        """The files of ``dataset`` at ``commit`` (None: the latest)."""
        return Snapshot.from_reply(self.client.request(get_request(dataset, commit)))

    def latest(self, dataset: str) -> Snapshot:
        """The latest commit of ``dataset`` without its files."""
        return Snapshot.from_reply(self.client.call("LATEST", {"dataset": dataset}))

    def log(self, dataset: str, limit: int = 50) -> list[dict[str, Any]]:
        """The newest ``limit`` commits of ``dataset``."""
        return self.client.call("LOG", {"dataset": dataset, "limit": limit}).header["commits"]

    def diff(self, dataset: str, old: str, new: str) -> str:
        """The unified diff of ``dataset`` between two commits."""
        return diff_text(self.client.call("DIFF", {"dataset": dataset, "from": old, "to": new}))

    def close(self) -> None:
        """Close the socket."""
        self.client.close()

    def __enter__(self) -> SnapshotClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class AsyncSnapshotClient:
    """asyncio snapshot calls over an ``AsyncClient``."""

    def __init__(self, endpoint: str, **kwargs) -> None:
        kwargs.setdefault("service", "snapshot service")
        kwargs.setdefault("hint", START_HINT)
        self.client = AsyncClient(endpoint, **kwargs)

    async def put(self, dataset: str, files: Mapping[str, bytes | str], **kw) -> dict[str, Any]:
        """Commit ``files`` as the new content of ``dataset``."""
        return (await self.client.request(put_request(dataset, files, **kw))).header

    async def get(self, dataset: str, commit: str | None = None) -> Snapshot:
        """The files of ``dataset`` at ``commit`` (None: the latest)."""
        return Snapshot.from_reply(await self.client.request(get_request(dataset, commit)))

    async def latest(self, dataset: str) -> Snapshot:
        """The latest commit of ``dataset`` without its files."""
        return Snapshot.from_reply(await self.client.call("LATEST", {"dataset": dataset}))

    async def log(self, dataset: str, limit: int = 50) -> list[dict[str, Any]]:
        """The newest ``limit`` commits of ``dataset``."""
        reply = await self.client.call("LOG", {"dataset": dataset, "limit": limit})
        return reply.header["commits"]

    async def diff(self, dataset: str, old: str, new: str) -> str:
        """The unified diff of ``dataset`` between two commits."""
        reply = await self.client.call("DIFF", {"dataset": dataset, "from": old, "to": new})
        return diff_text(reply)

    def close(self) -> None:
        """Close the socket."""
        self.client.close()
