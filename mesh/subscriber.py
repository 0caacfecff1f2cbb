"""A SUB socket on the snapshot service's notifications that notices sequence gaps.

The snapshot service numbers the commits of each dataset 1, 2, 3, … and
every NOTIFY carries that number. A subscriber remembers the last number it
saw per dataset; a jump (or a number going back, after a store was replaced)
means it missed something, and ``Notification.gap`` says so, so the stage
can sync from the store instead of trusting the message. Garbage on the
socket is logged and skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import zmq
import zmq.asyncio

from mesh.errors import ProtocolError
from mesh.messages import Notify
from mesh.protocol import Message

__all__ = ["Notification", "Subscriber"]

log = logging.getLogger(__name__)


@dataclass
class Notification:
    """One NOTIFY: a dataset got a new commit."""

    dataset: str
    seq: int
    commit: str
    gap: bool = False


class Subscriber:
    """Receives NOTIFY messages for some datasets and flags sequence gaps."""

    def __init__(self, socket: zmq.asyncio.Socket, endpoint: str, datasets: list[str]) -> None:
        self.socket = socket
        self.datasets = set(datasets)
        self.last_seq: dict[str, int] = {}
        socket.connect(endpoint)
        for name in datasets:
            socket.subscribe(name.encode())

    def _parse(self, frames: list[bytes]) -> Notification | None:
        try:
            topic, message = Message.from_frames(frames, topic=True)
            note = Notify.parse(message, topic)
        except ProtocolError as exc:
            log.warning("ignored a bad notification: %s", exc)
            return None
        if topic not in self.datasets:
            return None  # a longer topic that shares our prefix
        last = self.last_seq.get(topic)
        self.last_seq[topic] = note.seq
        gap = last is not None and note.seq != last + 1
        return Notification(topic, note.seq, note.commit, gap)

    async def receive(self, timeout: float | None = None) -> list[Notification]:
        """Wait up to ``timeout`` s for notifications; return all that are waiting."""
        if not await self.socket.poll(None if timeout is None else int(timeout * 1000)):
            return []
        found = []
        while True:
            try:
                frames = await self.socket.recv_multipart(flags=zmq.NOBLOCK)
            except zmq.Again:
                return found
            note = self._parse(frames)
            if note is not None:
                found.append(note)
