"""Typed calls of the snapshot service's verbs, blocking and asyncio.

The requests and answers are ``mesh.messages`` classes (``PutRequest``,
``GetRequest``, ``Snapshot``, …), where each field is documented; the
verbs' behaviour is in the ``snapshot_service`` package docstring.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesh.client import AsyncClient, Client
from mesh.messages import (
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

__all__ = ["Snapshot", "SnapshotClient", "AsyncSnapshotClient", "START_HINT"]

START_HINT = "start the mesh with `make run` (or `python run_all.py --config config.ini`)"


class SnapshotClient:
    """Blocking snapshot calls over a ``Client``."""

    def __init__(self, endpoint: str, **kwargs) -> None:
        kwargs.setdefault("service", "snapshot service")
        kwargs.setdefault("hint", START_HINT)
        self.client = Client(endpoint, **kwargs)

    def put(self, dataset: str, files: Mapping[str, bytes | str], **kw) -> dict[str, Any]:
        """Commit ``files`` as the new content of ``dataset``; the PutAnswer's fields."""
        reply = self.client.request(PutRequest.build(dataset, files, **kw).to_message())
        return PutAnswer.parse(reply).header()

    def get(self, dataset: str, commit: str | None = None) -> Snapshot:
        """The files of ``dataset`` at ``commit`` (None: the latest)."""
        return Snapshot.parse(self.client.request(GetRequest(dataset, commit).to_message()))

    def latest(self, dataset: str) -> Snapshot:
        """The latest commit of ``dataset`` without its files."""
        return Snapshot.parse(self.client.request(LatestRequest(dataset).to_message()))

    def log(self, dataset: str, limit: int = 50) -> list[dict[str, Any]]:
        """The newest ``limit`` commits of ``dataset``."""
        reply = self.client.request(LogRequest(dataset, limit).to_message())
        return LogAnswer.parse(reply).commits

    def diff(self, dataset: str, old: str, new: str) -> str:
        """The unified diff of ``dataset`` between two commits."""
        reply = self.client.request(DiffRequest(dataset, old, new).to_message())
        return DiffAnswer.parse(reply).text

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
        """Commit ``files`` as the new content of ``dataset``; the PutAnswer's fields."""
        reply = await self.client.request(PutRequest.build(dataset, files, **kw).to_message())
        return PutAnswer.parse(reply).header()

    async def get(self, dataset: str, commit: str | None = None) -> Snapshot:
        """The files of ``dataset`` at ``commit`` (None: the latest)."""
        return Snapshot.parse(await self.client.request(GetRequest(dataset, commit).to_message()))

    async def latest(self, dataset: str) -> Snapshot:
        """The latest commit of ``dataset`` without its files."""
        return Snapshot.parse(await self.client.request(LatestRequest(dataset).to_message()))

    async def log(self, dataset: str, limit: int = 50) -> list[dict[str, Any]]:
        """The newest ``limit`` commits of ``dataset``."""
        reply = await self.client.request(LogRequest(dataset, limit).to_message())
        return LogAnswer.parse(reply).commits

    async def diff(self, dataset: str, old: str, new: str) -> str:
        """The unified diff of ``dataset`` between two commits."""
        reply = await self.client.request(DiffRequest(dataset, old, new).to_message())
        return DiffAnswer.parse(reply).text

    def close(self) -> None:
        """Close the socket."""
        self.client.close()
