"""A pipeline stage that catches up by itself (the ZeroMQ guide's Clone pattern).

A stage hears one upstream dataset and builds something from each of its
commits. It subscribes first, then syncs: at start, when a sequence gap
shows it missed a notification, and after ``[mesh] resync_interval``
seconds without one, it asks the store for the latest upstream commit and processes it
only if its output does not already come from it (``is_current``). The
store is the truth; a notification is only a hint.

Notifications that queue up while a stage is busy are coalesced: only the
newest commit is processed. An input is processed once; a failure caused by
the input (a bug, a sheet the code cannot handle, an output the store refuses,
such as one over its ``max_payload``) is logged and counted and that input
is not retried, while a store that does not answer, holds a lock or fails
inside is tried again at the next sync.
"""

from __future__ import annotations

from typing import ClassVar

import zmq

from mesh.errors import QPlanError, RemoteError, RequestTimeout
from mesh.messages import ErrorCode
from mesh.service import Service
from mesh.snapshot import Snapshot
from mesh.subscriber import Subscriber

__all__ = ["Stage"]

# Store errors that may pass by themselves.
RETRIED_CODES = frozenset({ErrorCode.LOCKED, ErrorCode.INTERNAL, ErrorCode.NO_SPACE})


def worth_retrying(exc: QPlanError) -> bool:
    """True for a failure of the store rather than of the input: no answer, a lock, a bug."""
    return isinstance(exc, RequestTimeout) or (
        isinstance(exc, RemoteError) and exc.code in RETRIED_CODES
    )


class Stage(Service):
    """A service that follows ``upstream``; subclasses implement ``process``."""

    upstream: ClassVar[str] = ""
    output: ClassVar[str | None] = None  # the dataset this stage writes, if any

    def __init__(self, config) -> None:
        super().__init__(config)
        self.last_input: str | None = None  # the upstream commit last handled
        self.subscriber: Subscriber | None = None

    async def setup(self) -> None:
        """Subscribe to the upstream dataset, then follow it."""
        await super().setup()
        self.subscriber = Subscriber(
            self.dialing(zmq.SUB, "snapshot_service"),
            self.config.endpoint("snapshot_service", "publish_endpoint"),
            [self.upstream],
        )
        self.spawn(self.follow(), "follow")

    async def process(self, snapshot: Snapshot) -> None:
        """Build this stage's output from one upstream snapshot."""
        raise NotImplementedError

    async def is_current(self, latest: Snapshot) -> bool:
        """True when this stage's output already comes from ``latest``."""
        if self.output is None:
            return False
        mine = await self.snapshot.latest(self.output)
        return mine.source == f"{self.upstream}@{latest.commit}"

    async def sync(self, reason: str) -> None:
        """Process the latest upstream commit unless the output already reflects it."""
        try:
            latest = await self.snapshot.latest(self.upstream)
            if latest.commit is None or latest.commit == self.last_input:
                return
            if await self.is_current(latest):
                self.last_input = latest.commit
                return
        except QPlanError as exc:
            self.counters.errors += 1
            self.log.warning("sync (%s) failed, will retry: %s", reason, exc)
            return
        self.log.info("sync (%s): %s@%s is new", reason, self.upstream, latest.commit[:12])
        await self.handle(latest.commit)

    async def handle(self, commit: str) -> None:
        """GET one upstream commit and process it, once."""
        if commit == self.last_input:
            return
        try:
            snapshot = await self.snapshot.get(self.upstream, commit)
            await self.process(snapshot)
        except QPlanError as exc:
            self.counters.errors += 1
            if worth_retrying(exc):
                what = "%s@%s not processed, will retry: %s"
                self.log.warning(what, self.upstream, commit[:12], exc)
                return
            # The store refused what this input makes: asking again gets the same answer.
            what = "%s@%s could not be processed (not retried): %s"
            self.log.error(what, self.upstream, commit[:12], exc)
        except Exception:
            # A fault caused by this input: say so loudly, keep serving, don't loop on it.
            self.counters.errors += 1
            self.log.exception("%s@%s could not be processed", self.upstream, commit[:12])
        self.last_input = commit
        self.counters.worked(commit)

    async def follow(self) -> None:
        """Sync, then handle notifications until the service stops."""
        resync = self.config.number("mesh", "resync_interval", minimum=0.1)
        await self.sync("start")
        while True:
            notes = await self.subscriber.receive(timeout=resync)
            if not notes:
                await self.sync("periodic")
                continue
            self.counters.messages_in += len(notes)
            if any(note.gap for note in notes):
                self.log.info("sequence gap on %s; syncing from the store", self.upstream)
                await self.sync("gap")
            else:
                await self.handle(notes[-1].commit)
