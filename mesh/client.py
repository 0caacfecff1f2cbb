"""Request clients: a blocking one and an asyncio one, both "Lazy Pirate".

A request waits ``timeout`` seconds for its answer. When none comes, the
client closes its socket (linger 0, so the unanswered request is dropped and
a late answer can never be taken for the next one), opens a fresh one and
tries again, ``retries`` more times, before raising ``RequestTimeout``. An ERR
answer raises ``RemoteError`` with the service's message.

``curve`` (a ``mesh.keys.ClientCurve``) makes every socket a CURVE client. A
server that does not allow the key never answers; the client watches its
socket's handshakes (a ZeroMQ socket monitor), so that such a timeout says the
key was refused, and which key, instead of only that nothing answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os

import zmq
import zmq.asyncio
from zmq.utils.monitor import recv_monitor_message

from mesh.errors import ProtocolError, RemoteError, RequestTimeout
from mesh.keys import ClientCurve
from mesh.protocol import Message

__all__ = ["Client", "AsyncClient"]

log = logging.getLogger(__name__)

# Handshake events that mean the server would not take this client's key (or the client
# holds the wrong server key): ZAP said no, or the CURVE handshake could not be completed.
_MONITORS = itertools.count(1)  # a fresh inproc address for each socket monitor
HANDSHAKE_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
)


class _ClientBase:
    """What both clients share: the socket set-up and the answer checks."""

    def __init__(
        self,
        endpoint: str,
        *,
        timeout: float = 5.0,
        retries: int = 2,
        service: str = "service",
        hint: str = "",
        context: zmq.Context | None = None,
        curve: ClientCurve | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.curve = curve
        self.timeout = timeout
        self.retries = retries
        self.service = service
        self.hint = hint
        self._context = context
        self._socket = None
        self._monitor: zmq.Socket | None = None
        self._refused = False  # a handshake failed since the last answer

    def _open(self):
        socket = self._context.socket(zmq.DEALER)
        socket.linger = 0
        try:
            if self.curve is not None:
                self.curve.apply(socket)
                self._watch(socket)
            socket.connect(self.endpoint)
        except BaseException:
            # A socket left open would keep the context's term() waiting for ever.
            self._socket = socket
            self._drop_socket()
            raise
        return socket

    def _watch(self, socket) -> None:
        """Hear the handshake failures of ``socket`` on a PAIR of our own (a blocking socket
        even in an asyncio context, so that both clients read it alike). Each monitor gets
        an address never used before in this process: an inproc name is freed only once
        libzmq has reaped the old monitor."""
        address = f"inproc://qplan-client-monitor-{os.getpid()}-{next(_MONITORS)}"
        socket.monitor(address, HANDSHAKE_FAILED)
        self._monitor = self._context.socket(zmq.PAIR, socket_class=zmq.Socket)
        self._monitor.linger = 0
        self._monitor.connect(address)

    def _heard_refusal(self) -> bool:
        """True once a handshake of this client's socket failed (the key was refused)."""
        while self._monitor is not None and self._monitor.poll(0):
            event = recv_monitor_message(self._monitor)
            if event["event"] & HANDSHAKE_FAILED:
                self._refused = True
        return self._refused

    def _drop_socket(self) -> None:
        # In the order libzmq needs (pyzmq#1554): stop the monitor, close its PAIR, then the
        # socket; the other way round can leave the monitor writing to nobody, and the
        # context's term() waiting for ever.
        self._heard_refusal()
        if self._socket is not None and self._monitor is not None:
            with contextlib.suppress(zmq.ZMQError):
                self._socket.disable_monitor()
        if self._monitor is not None:
            self._monitor.close(linger=0)
            self._monitor = None
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def _timed_out(self, kind: str) -> RequestTimeout:
        tries = self.retries + 1
        if self._refused or self._heard_refusal():
            self._refused = False
            key = self.curve.source if self.curve is not None else "this client's key"
            return RequestTimeout(
                f"{self.service} at {self.endpoint} refused the connection: it does not allow "
                f"{key}, or this host holds another server key for it (see README "
                f'"Adding a host": `python -m mesh.keytool allow` on the {self.service}\'s host)'
            )
        text = (
            f"{self.service} at {self.endpoint} did not answer {kind} within "
            f"{self.timeout:g} s ({tries} {'try' if tries == 1 else 'tries'})"
        )
        return RequestTimeout(f"{text}; {self.hint}" if self.hint else text)

    @staticmethod
    def _answer(frames: list[bytes]) -> Message:
        if not frames or frames[0] != b"":
            raise ProtocolError("answer without the empty delimiter frame")
        _, reply = Message.from_frames(frames[1:])
        if reply.kind == "ERR":
            raise RemoteError(
                str(reply.header.get("error", "unknown error")),
                str(reply.header.get("code", "error")),
            )
        if reply.kind != "OK":
            raise ProtocolError(f"unexpected answer kind {reply.kind!r}")
        return reply

    def close(self) -> None:
        """Close the socket (the context belongs to the caller unless we made it)."""
        self._drop_socket()


class Client(_ClientBase):
    """Blocking request client; use it in scripts and tests."""

    def __init__(self, endpoint: str, **kwargs) -> None:
        kwargs.setdefault("context", zmq.Context.instance())
        super().__init__(endpoint, **kwargs)

    def request(self, message: Message) -> Message:
        """Send ``message`` and return the OK answer."""
        for attempt in range(self.retries + 1):
            if self._socket is None:
                self._socket = self._open()
            message.send(self._socket, envelope=[b""])
            if self._socket.poll(int(self.timeout * 1000), zmq.POLLIN):
                self._refused = False  # whatever failed before, this server answers now
                return self._answer(self._socket.recv_multipart())
            log.warning(
                "%s %s: no answer in %gs (try %d), reopening socket",
                self.service,
                message.kind,
                self.timeout,
                attempt + 1,
            )
            self._drop_socket()
        raise self._timed_out(message.kind)

    def call(self, kind: str, header: dict | None = None, bodies=()) -> Message:
        """Build a request from its parts and send it."""
        return self.request(Message(kind, header or {}, list(bodies)))

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class AsyncClient(_ClientBase):
    """asyncio request client; one request at a time, others wait their turn."""

    def __init__(self, endpoint: str, **kwargs) -> None:
        kwargs.setdefault("context", zmq.asyncio.Context.instance())
        super().__init__(endpoint, **kwargs)
        self._lock = asyncio.Lock()

    async def request(self, message: Message) -> Message:
        """Send ``message`` and return the OK answer."""
        async with self._lock:
            for attempt in range(self.retries + 1):
                if self._socket is None:
                    self._socket = self._open()
                await message.send(self._socket, envelope=[b""])
                try:
                    frames = await asyncio.wait_for(self._socket.recv_multipart(), self.timeout)
                except TimeoutError:
                    log.warning(
                        "%s %s: no answer in %gs (try %d), reopening socket",
                        self.service,
                        message.kind,
                        self.timeout,
                        attempt + 1,
                    )
                    self._drop_socket()
                    continue
                except BaseException:
                    # Cancelled mid-request: the answer may still come, so this
                    # socket can no longer pair requests with answers.
                    self._drop_socket()
                    raise
                self._refused = False  # whatever failed before, this server answers now
                return self._answer(frames)
            raise self._timed_out(message.kind)

    async def call(self, kind: str, header: dict | None = None, bodies=()) -> Message:
        """Build a request from its parts and send it."""
        return await self.request(Message(kind, header or {}, list(bodies)))
