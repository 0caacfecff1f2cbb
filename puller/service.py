"""pull_raw as a mesh component: one pull, or ``--watch`` (heartbeats included).

Both use the service base's snapshot client (its ``[mesh]`` timeout and
retries) and the one pull path of ``puller.pull``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

from mesh.config import Config
from mesh.errors import QPlanError, RemoteError
from mesh.service import Service
from puller.download import Download, download
from puller.pull import pull, put_fields
from puller.readers import folder_entries
from puller.sources import PROG, Source, SourceError

__all__ = ["DEFAULT_INTERVAL", "Puller", "probe"]

DEFAULT_INTERVAL = 1.0  # seconds between two looks at the sources in --watch mode


def _stat(path: Path) -> tuple[str, int, int] | tuple[str]:
    try:
        info = path.stat()
    except OSError:
        return (path.name,)
    return (path.name, info.st_mtime_ns, info.st_size)


def probe(source: Source, timeout: float = 30.0) -> tuple[Hashable, Download | None]:
    """What ``--watch`` compares between two looks: stat data, or the downloaded bytes."""
    if source.kind == "url":
        got = download(source.location, timeout)
        return hashlib.sha256(got.data).hexdigest(), got
    if source.kind == "folder":
        try:
            return tuple(_stat(p) for p in folder_entries(source.path)), None
        except SourceError:
            return ("unlistable",), None
    return _stat(source.path), None


class Puller(Service):
    """pull_raw: pull the sources once, or again each time one of them changes."""

    name = PROG

    def __init__(
        self,
        config: Config,
        sources: Sequence[Source],
        *,
        replace: bool = False,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        super().__init__(config)
        self.sources = list(sources)
        self.replace = replace
        self.interval = interval
        self.http_timeout = config.number("pull_raw", "http_timeout", minimum=0.01)
        self.max_payload = config.size("snapshot_service", "max_payload")
        self.pulls = 0
        self._last_error: str | None = None

    @property
    def names(self) -> str:
        """The sources for messages."""
        return ", ".join(s.name for s in self.sources)

    async def pull(self, got: dict[int, Download] | None = None) -> tuple[str, str]:
        """The one pull path: read, PUT, log; (summary line, SHA)."""
        line, sha, _ = await pull(
            self.snapshot,
            self.sources,
            timeout=self.http_timeout,
            budget_limit=self.max_payload,
            replace=self.replace,
            got=got,
        )
        self.pulls += 1
        self.counters.messages_out += 1
        self.counters.worked(sha)
        return line, sha

    async def once(self) -> int:
        """A single pull (no heartbeats); prints the summary and the SHA."""
        try:
            line, sha = await self.pull()
        except QPlanError as exc:
            self.log.error("pull of %s failed: %s", self.names, exc)
            raise
        finally:
            if self._snapshot is not None:
                self._snapshot.close()
            self.context.destroy(linger=0)
        print(line)
        print(sha, flush=True)
        return 0

    # -- --watch ------------------------------------------------------------------

    async def setup(self) -> None:
        """Start the watch loop."""
        self.spawn(self.watch(), "watch")

    def heartbeat_detail(self) -> dict[str, Any]:
        """The sources watched and how many pulls reached the store."""
        return {"source": put_fields(self.sources)["source"], "pulls": self.pulls}

    def _failed(self, exc: QPlanError, retry: str) -> None:
        self.counters.errors += 1
        text = " ".join(str(exc).split())
        # A URL or a store that stays down would otherwise repeat the same line every interval.
        if text != self._last_error:
            self.log.error("pull of %s failed (will try again %s): %s", self.names, retry, text)
        self._last_error = text

    def _probe_all(self) -> tuple[tuple[Hashable, ...], dict[int, Download]]:
        states, got = [], {}
        for index, source in enumerate(self.sources):
            state, download_ = probe(source, self.http_timeout)
            states.append(state)
            if download_ is not None:
                got[index] = download_
        return tuple(states), got

    async def watch(self) -> None:
        """Look at the sources every interval; pull when what they show has changed."""
        seen: Hashable = None
        while True:
            try:
                state, got = await asyncio.to_thread(self._probe_all)
            except SourceError as exc:
                self._failed(exc, "at the next look")
            else:
                if state != seen:
                    seen = state if await self.watched_pull(got) else None
            await asyncio.sleep(self.interval)

    async def watched_pull(self, got: dict[int, Download]) -> bool:
        """Pull once; False when the store did not answer, so the next look tries again."""
        try:
            line, sha = await self.pull(got)
        except RemoteError as exc:
            # The store read the content and refused it: the same bytes would be refused again.
            self._failed(exc, "when a source changes")
            return True
        except SourceError as exc:
            self._failed(exc, "when a source changes")
            return True
        except QPlanError as exc:
            # The store did not answer (or answered garbage): the content never got in.
            self._failed(exc, "at the next look")
            return False
        self._last_error = None
        print(line, sha, sep="\n", flush=True)
        return True
