"""The snapshot service process: the store wired to a ROUTER (requests) and a PUB (NOTIFY).

Requests are handled one at a time, in arrival order, so the store has a
single writer. A PUT is answered once its commit is in the journal; its
files are put in place and the branch moved right after (``GitStore.settle``),
before the NOTIFY of the commit goes out and the next request is read.
The store's thread (``upkeep``) makes the spare files commits write into and
frees the old refs' (``disk.Spares``), and checkpoints a full journal file
while commits go to the other one. The switch happens between requests:
when the file is long (after an answer) and when no request came for
``IDLE`` seconds, which also has the thread top up the spare files.

Nothing a client sends can stop the service: bad requests get an ERR
answer, a request without an envelope is logged and dropped (there is
nobody to answer), and a bug answers ERR ``internal`` and is logged with its
traceback.
"""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path
from typing import Any

import zmq

from mesh.errors import ConfigError
from mesh.messages import ErrorCode
from mesh.protocol import Message
from mesh.service import Service
from snapshot_service.packing import Packer
from snapshot_service.store import GitStore, StoreError, check_branch, check_name
from snapshot_service.verbs import Outcome, Verbs, refusal

__all__ = ["SnapshotService", "SECTION"]

SECTION = "snapshot_service"
IDLE = 0.2  # seconds without a request before the store checkpoints and makes spare files


class SnapshotService(Service):
    """The git store: answers PUT, GET, LATEST, LOG and DIFF, and publishes a NOTIFY per commit."""

    name = "snapshot_service"

    def __init__(self, config) -> None:
        super().__init__(config)
        self.store: GitStore | None = None
        self.verbs: Verbs | None = None
        self.packer: Packer | None = None
        self.store_path: Path | None = None
        self._last_request = 0.0  # loop time

    def _settings(self) -> dict[str, Any]:
        """Every key this service reads, checked before anything is opened."""
        cfg = self.config
        settings = {
            "path": cfg.path(SECTION, "store"),
            "requests": cfg.endpoint(SECTION, "request_endpoint"),
            "publish": cfg.endpoint(SECTION, "publish_endpoint"),
            "datasets": cfg.names(SECTION, "datasets"),
            "max_payload": cfg.size(SECTION, "max_payload"),
            "durable": cfg.flag(SECTION, "durable"),
            "branch": cfg.text(SECTION, "branch"),
            "pack_after": cfg.integer(SECTION, "pack_after", minimum=1),
        }
        where = f"{cfg.file}: [{SECTION}]"
        if not settings["datasets"]:
            raise ConfigError(f"{where} datasets: name at least one dataset")
        try:
            for name in settings["datasets"]:
                check_name(name, "dataset name")
            check_branch(settings["branch"])
        except StoreError as exc:
            key = "branch" if exc.code == "config" else "datasets"
            raise ConfigError(f"{where} {key}: {exc}") from None
        return settings

    async def setup(self) -> None:
        """Open the store, bind both sockets, start serving."""
        settings = self._settings()
        self.store_path = settings["path"]
        self.store = GitStore(
            settings["path"],
            settings["datasets"],
            settings["branch"],
            settings["durable"],
            background=True,
        )
        self.verbs = Verbs(self.store, settings["max_payload"])
        self.packer = Packer(self.store.repository.git_dir, settings["pack_after"])
        self.router = self.bound(zmq.ROUTER, SECTION, "request_endpoint")
        self.publisher = self.bound(zmq.PUB, SECTION, "publish_endpoint")
        self.log.info(
            "store %s: requests on %s, notifications on %s (durable %s)",
            settings["path"],
            settings["requests"],
            settings["publish"],
            "yes" if settings["durable"] else "no",
        )
        self.spawn(self.serve(), "serve")
        self.spawn(self.when_idle(), "idle")

    async def teardown(self) -> None:
        """Let go of the store."""
        if self.store is not None:
            self.store.close()

    async def serve(self) -> None:
        """Answer requests, one at a time, until cancelled."""
        async for envelope, body in self.requests(self.router):
            self._last_request = asyncio.get_running_loop().time()
            outcome = self.answer(body)
            await outcome.reply.send(self.router, envelope=envelope)
            # A PUT's commit is durable when answered; its files and the branch follow while
            # the client reads the answer, and before the NOTIFY and the next request.
            self.store.after_request()
            if outcome.notify is not None:
                await self.publish(outcome.notify)

    async def when_idle(self) -> None:
        """Once no request came for ``IDLE`` seconds: checkpoint, make and free files; after
        longer, pack loose objects in a git process of its own (``packing``)."""
        # A timer rather than a timeout on the ROUTER's poll: polling before each request costs
        # ~40 us, a tenth of a commit.
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(IDLE)
            now = loop.time()
            if now - self._last_request >= IDLE:
                self.store.checkpoint_if_due(idle=True)  # a failed sync stops the service
            if self.packer.due(now, now - self._last_request):
                self.spawn(self.packer.run(now), "pack")

    def answer(self, body: list[bytes]) -> Outcome:
        """The outcome of one request; a bug becomes ERR ``internal``, never a dead service."""
        try:
            outcome = self.verbs.handle(body)
        except Exception as exc:
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                # A full disk is not a bug: no traceback; the log line below is the one line.
                outcome = refusal(f"no space left for the store: {exc}", ErrorCode.NO_SPACE)
            else:
                self.log.exception("internal error answering a request")
                text = f"internal error: {type(exc).__name__}: {exc}"
                outcome = refusal(text, ErrorCode.INTERNAL)
        if outcome.failed:
            self.counters.errors += 1
            head = outcome.reply.header
            self.log.info("answered ERR %s: %s", head.get("code"), head.get("error"))
        return outcome

    async def publish(self, note: Message) -> None:
        """Send one NOTIFY, topic = its dataset."""
        head = note.header
        await note.send(self.publisher, topic=head["dataset"])
        self.counters.messages_out += 1
        self.counters.worked(head["commit"])
        self.log.debug("NOTIFY %s seq %d %s", head["dataset"], head["seq"], head["commit"][:12])

    def heartbeat_detail(self) -> dict[str, Any]:
        """The store's path and every dataset's latest commit and sequence number."""
        return {
            "store": str(self.store_path) if self.store_path else None,
            "datasets": self.store.heads() if self.store is not None else {},
        }
