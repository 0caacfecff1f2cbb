"""Counters every component keeps, and the heartbeat that publishes them.

Each component connects a PUB socket to ``[mesh] heartbeat_endpoint`` (the
web binds the matching SUB) and publishes a HEARTBEAT message, topic
``heartbeat``, every ``[mesh] heartbeat_interval`` seconds and whenever
``beat_now`` is called. ``mesh.messages.Beat`` is the message. With CURVE on,
the beat's socket carries the component's client key and the web's SUB takes
beats only from allowed keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zmq
import zmq.asyncio

from mesh.keys import ClientCurve
from mesh.messages import Beat
from mesh.protocol import HEARTBEAT_TOPIC, Message

__all__ = ["Counters", "Heartbeat"]

log = logging.getLogger(__name__)


@dataclass
class Counters:
    """What a component has done since it started."""

    requests: int = 0
    messages_in: int = 0
    messages_out: int = 0
    errors: int = 0
    last_sha: str | None = None
    last_work: float | None = None  # epoch seconds of the last request or message
    started: float = field(default_factory=time.time)

    def worked(self, sha: str | None = None) -> None:
        """Note that work happened now (and which commit it handled)."""
        self.last_work = time.time()
        if sha:
            self.last_sha = sha

    def snapshot(self) -> dict[str, Any]:
        """The counters as a heartbeat header fragment."""
        now = time.time()
        return {
            "requests": self.requests,
            "messages_in": self.messages_in,
            "messages_out": self.messages_out,
            "errors": self.errors,
            "last_sha": self.last_sha,
            "last_work": self.last_work,
            "started": self.started,
            "uptime": round(now - self.started, 3),
            "time": now,
        }


class Heartbeat:
    """Publishes a component's counters once an interval, and on demand."""

    def __init__(
        self,
        context: zmq.asyncio.Context,
        endpoint: str,
        component: str,
        counters: Counters,
        interval: float = 1.0,
        detail: Callable[[], dict[str, Any]] | None = None,
        curve: ClientCurve | None = None,
    ) -> None:
        self.component = component
        self.counters = counters
        self.interval = interval
        self.detail = detail or dict
        self.socket = context.socket(zmq.PUB)
        self.socket.linger = 0
        self.socket.sndhwm = 100
        if curve is not None:
            curve.apply(self.socket)
        self.socket.connect(endpoint)
        self._wake = asyncio.Event()

    def message(self, state: str = "up") -> Message:
        """The HEARTBEAT message for now (``mesh.messages.Beat``)."""
        counts = self.counters.snapshot()
        beat = Beat(
            component=self.component, pid=os.getpid(), state=state, detail=self.detail(), **counts
        )
        return beat.to_message()

    def beat_now(self) -> None:
        """Publish at once instead of waiting for the interval."""
        self._wake.set()

    async def run(self) -> None:
        """Publish until cancelled."""
        while True:
            try:
                await self.message().send(self.socket, topic=HEARTBEAT_TOPIC)
            except zmq.ZMQError as exc:
                log.warning("heartbeat not sent: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()

    async def last_word(self, state: str) -> None:
        """A final heartbeat (state ``stopping``) so watchers need not wait for silence."""
        try:
            await self.message(state).send(self.socket, topic=HEARTBEAT_TOPIC)
        except zmq.ZMQError as exc:
            log.debug("last heartbeat not sent: %s", exc)

    def close(self) -> None:
        """Close the socket."""
        self.socket.close(linger=0)
