"""The websocket hub: tell every browser about a new plan without letting one hold up the rest.

Each connected client is a ``Peer`` with a tiny mailbox: one slot for the
newest plan, one for the newest health, and a short queue of replies (hello,
pong, error). ``Hub.broadcast`` fills mailboxes and never waits for a
client: a peer whose previous write has been flushed starts the next write
at once (the bytes go to the kernel's socket buffer, or stay queued in the
connection); a peer still writing only has its slot replaced, and its own
write-completion callback sends the newest message when the socket drains.
A slow client therefore skips plans it had no time for (it only ever gets
the newest), a dead one is dropped, and every other client gets each message
as fast as its own connection allows.

Messages are small and handed over already encoded (UTF-8 JSON bytes, built
once per plan by the caller): a "plan" message only says that a version is
there (commit, sequence, lineage) and each page fetches its own view, so the
fan-out costs one short ``write_message`` per client.

No garbage collection runs during a broadcast: each ``write_message`` makes a
few objects (Tornado's task and futures), enough over 1,000 clients to start a
collection of the web's whole heap, which holds the recent plans and their
views (~100 ms); started mid-fan-out, it would hold up every client after that
point. It runs after the last write instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections import deque
from collections.abc import Callable
from typing import Protocol

__all__ = ["Hub", "Peer", "Connection"]

log = logging.getLogger(__name__)

MAX_REPLIES = 16  # queued replies per client; more means it is not reading, so drop the oldest
SLOTS = ("plan", "health")  # kinds where only the newest message matters


class Connection(Protocol):
    """What the hub needs from a websocket."""

    def send(self, message: bytes) -> asyncio.Future | None:
        """Start writing one text message; a future that is done once it is flushed (or None)."""

    def close(self, code: int | None = None, reason: str | None = None) -> None: ...


class Peer:
    """One client: its mailbox, and the send-when-drained chain that empties it."""

    def __init__(
        self, connection: Connection, wants: frozenset[str], sent: Callable[[str], None]
    ) -> None:
        self.connection = connection
        self.wants = wants
        self.slots: dict[str, bytes] = {}
        self.replies: deque[bytes] = deque(maxlen=MAX_REPLIES)
        self.skipped = 0  # plans or health replaced before they could be sent
        self.closed = False
        self._sent = sent
        self._writing: asyncio.Future | None = None

    def offer(self, kind: str, message: bytes) -> None:
        """Put a message in the mailbox (replacing an unsent one of its slot) and send."""
        if self.closed:
            return
        if kind in SLOTS:
            if kind not in self.wants:
                return
            if kind in self.slots:
                self.skipped += 1
            self.slots[kind] = message
        else:
            self.replies.append(message)
        if self._writing is None:
            self._pump()

    def _next(self) -> tuple[str, bytes] | None:
        """Replies first (they answer the client), then the plan, then health."""
        if self.replies:
            return "reply", self.replies.popleft()
        for kind in SLOTS:
            if kind in self.slots:
                return kind, self.slots.pop(kind)
        return None

    def _pump(self) -> None:
        """Send from the mailbox until it is empty or a write has to wait for the socket."""
        while not self.closed:
            item = self._next()
            if item is None:
                return
            kind, data = item
            try:
                pending = self.connection.send(data)
            except Exception as exc:  # noqa: BLE001 - any failed write ends only this client
                self._drop(exc)
                return
            self._sent(kind)
            if pending is not None and not pending.done():
                self._writing = pending
                pending.add_done_callback(self._written)
                return
            if pending is not None and (pending.cancelled() or pending.exception() is not None):
                self._drop(None if pending.cancelled() else pending.exception())
                return

    def _written(self, future: asyncio.Future) -> None:
        """The socket took the last write: send what arrived meanwhile."""
        self._writing = None
        if future.cancelled() or future.exception() is not None:
            self._drop(future.exception() if not future.cancelled() else None)
            return
        self._pump()

    def _drop(self, exc: BaseException | None) -> None:
        """Give up on this client (the others are not affected)."""
        log.info("websocket client dropped: %s", exc or "write cancelled")
        self.closed = True
        self.slots.clear()
        self.replies.clear()
        with contextlib.suppress(Exception):
            self.connection.close()

    def stop(self) -> None:
        """Send nothing more."""
        self.closed = True
        self.slots.clear()
        self.replies.clear()


class Hub:
    """Every connected client; broadcast fills mailboxes and returns at once."""

    def __init__(self, sent: Callable[[str], None] = lambda kind: None) -> None:
        self.peers: dict[int, Peer] = {}
        self._sent = sent

    def __len__(self) -> int:
        return len(self.peers)

    def add(self, connection: Connection, wants: frozenset[str] = frozenset(SLOTS)) -> Peer:
        """Register a new client."""
        peer = Peer(connection, wants, self._sent)
        self.peers[id(connection)] = peer
        return peer

    def remove(self, connection: Connection) -> None:
        """Forget a client."""
        peer = self.peers.pop(id(connection), None)
        if peer is not None:
            peer.stop()

    def broadcast(self, kind: str, message: bytes) -> int:
        """Offer one message to every client that wants it; returns how many."""
        count = 0
        with _no_collection():
            for peer in list(self.peers.values()):
                if not peer.closed and (kind not in SLOTS or kind in peer.wants):
                    peer.offer(kind, message)
                    count += 1
        return count

    async def close(self) -> None:
        """Close every connection."""
        peers = list(self.peers.values())
        self.peers.clear()
        for peer in peers:
            peer.stop()
            with contextlib.suppress(Exception):
                peer.connection.close(1001, "server stopping")
        await asyncio.sleep(0)  # let the close frames be written


@contextlib.contextmanager
def _no_collection():
    """Hold off the garbage collector for a block; it catches up on the next allocation after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
