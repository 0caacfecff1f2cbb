"""The websocket hub: fan a plan out to every browser without letting one hold up the rest.

Each connected client is a ``Peer`` with a tiny mailbox: one slot for the
newest plan, one for the newest health, and a short queue of replies (hello,
pong, error). ``Hub.broadcast`` only fills slots and never awaits a client;
each peer's own sender writes its mailbox to the socket and waits for that
write alone. A slow client therefore skips plans it had no time for (it only
ever gets the newest) and a dead one is dropped, while every other client
gets each message as fast as its own connection allows.

Messages are handed over already encoded (UTF-8 JSON bytes, built once per
plan by the caller) and go out as text frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Hub", "Peer", "Connection"]

log = logging.getLogger(__name__)

MAX_REPLIES = 16  # queued replies per client; more means it is not reading, so drop the oldest
SLOTS = ("plan", "health")  # kinds where only the newest message matters


class Connection(Protocol):
    """What the hub needs from a websocket: a write that returns an awaitable, and close."""

    def write_message(self, message: bytes, binary: bool = False) -> Any: ...

    def close(self, code: int | None = None, reason: str | None = None) -> None: ...


class Peer:
    """One client: its mailbox and the task that empties it onto its socket."""

    def __init__(
        self, connection: Connection, wants: frozenset[str], sent: Callable[[], None]
    ) -> None:
        self.connection = connection
        self.wants = wants
        self.slots: dict[str, bytes] = {}
        self.replies: deque[bytes] = deque(maxlen=MAX_REPLIES)
        self.skipped = 0  # plans or health replaced before they could be sent
        self._sent = sent
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.closed = False

    def start(self) -> None:
        """Start the sender."""
        self._task = asyncio.get_running_loop().create_task(self._send_loop())

    def offer(self, kind: str, data: bytes) -> None:
        """Put a message in the mailbox (replacing an unsent one of the same slot)."""
        if self.closed:
            return
        if kind in SLOTS:
            if kind not in self.wants:
                return
            if kind in self.slots:
                self.skipped += 1
            self.slots[kind] = data
        else:
            self.replies.append(data)
        self._wake.set()

    def _next(self) -> bytes | None:
        """Replies first (they answer the client), then the plan, then health."""
        if self.replies:
            return self.replies.popleft()
        for kind in SLOTS:
            if kind in self.slots:
                return self.slots.pop(kind)
        return None

    async def _send_loop(self) -> None:
        """Write the mailbox out, one message at a time, until the connection ends."""
        try:
            while True:
                data = self._next()
                if data is None:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                await self.connection.write_message(data)
                self._sent()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failed write ends only this client
            log.info("websocket client dropped: %s", exc or type(exc).__name__)
            self.closed = True
            with contextlib.suppress(Exception):
                self.connection.close()

    async def stop(self) -> None:
        """Stop the sender."""
        self.closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class Hub:
    """Every connected client; broadcast fills mailboxes and returns at once."""

    def __init__(self, sent: Callable[[], None] = lambda: None) -> None:
        self.peers: dict[int, Peer] = {}
        self._sent = sent

    def __len__(self) -> int:
        return len(self.peers)

    def add(self, connection: Connection, wants: frozenset[str] = frozenset(SLOTS)) -> Peer:
        """Register a new client and start its sender."""
        peer = Peer(connection, wants, self._sent)
        self.peers[id(connection)] = peer
        peer.start()
        return peer

    def remove(self, connection: Connection) -> None:
        """Forget a client (its sender is cancelled)."""
        peer = self.peers.pop(id(connection), None)
        if peer is not None:
            peer.closed = True
            if peer._task is not None:
                peer._task.cancel()

    def broadcast(self, kind: str, data: bytes) -> int:
        """Offer one encoded message to every client; returns how many clients took it."""
        count = 0
        for peer in self.peers.values():
            if not peer.closed and (kind not in SLOTS or kind in peer.wants):
                peer.offer(kind, data)
                count += 1
        return count

    async def close(self) -> None:
        """Close every connection and stop every sender."""
        peers = list(self.peers.values())
        self.peers.clear()
        for peer in peers:
            with contextlib.suppress(Exception):
                peer.connection.close(1001, "server stopping")
        await asyncio.gather(*(peer.stop() for peer in peers), return_exceptions=True)
