"""Websocket clients for benchmarks: 1,000 of them read by one process, timed by the kernel.

A ``WsClient`` is a plain socket that speaks just enough of RFC 6455 to be a
page of the web (upgrade, text frames, a pong for every ping). Each text
message goes to a callback with two times: when its bytes reached the
socket (the kernel's receive time, Linux ``SO_TIMESTAMPNS``) and when this
process read them. A browser reads its own socket on its own machine; one
process reading 1,000 sockets on the mesh's own cores measures itself as much
as the server, so the kernel's time is the one that counts.

``TickingSelector`` is for the loop that reads them: it looks at the sockets
every millisecond rather than sleeping on them. On loopback the server's send
wakes a reader that sleeps on the socket, at the server's cost (~6 us a
client on the project's 2-core machine: 1,000 writes of the real Hub took
22-25 ms that way and 17-21 ms with a reader that does not sleep on them),
which a browser on its own machine never charges the server.
"""

from __future__ import annotations

import asyncio
import base64
import os
import selectors
import socket
import struct
import time
from collections.abc import Callable

__all__ = ["WsClient", "TickingSelector", "kernel_times_work"]

TICK = 0.001  # seconds between two looks at the sockets when nothing is ready
SO_TIMESTAMPNS = 35  # Linux <asm-generic/socket.h>; Python's socket module has no name for it
RECV_SIZE = 65536  # bytes per read
ANCILLARY_SIZE = socket.CMSG_SPACE(16)  # one struct timespec

# (client, payload, arrived, read): the kernel's arrival time and the read time, perf_counter s
Seen = Callable[["WsClient", bytes, float, float], None]


class WsClient:
    """A page's websocket on a plain socket: each text message, with its kernel and read times."""

    def __init__(self, sock: socket.socket, seen: Seen) -> None:
        self.sock = sock
        self.seen = seen
        self.buffer = bytearray()
        self.messages = 0

    @classmethod
    async def open(cls, host: str, port: int, seen: Seen, kernel_times: bool = True) -> WsClient:
        """Connect to ``/ws?want=plan``, upgrade, and start reading on the loop."""
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        if kernel_times:
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        try:
            await loop.sock_connect(sock, (host, port))
            request = (
                f"GET /ws?want=plan HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n\r\n"
            )
            await loop.sock_sendall(sock, request.encode())
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = await loop.sock_recv(sock, 4096)
                if not chunk:
                    raise ConnectionError("closed before the upgrade")
                answer += chunk
        except BaseException:
            sock.close()
            raise
        head, _, rest = answer.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            sock.close()
            raise ConnectionError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
        client = cls(sock, seen)
        client.buffer += rest
        now = time.perf_counter()
        client._frames(now, now)
        loop.add_reader(sock.fileno(), client._readable)
        return client

    def close(self) -> None:
        """Stop reading and close the socket."""
        if self.sock.fileno() >= 0:
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
            self.sock.close()

    def _readable(self) -> None:
        """Read what the socket holds, with the kernel's time of its arrival."""
        try:
            data, ancillary, _, _ = self.sock.recvmsg(RECV_SIZE, ANCILLARY_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            return
        read = time.perf_counter()
        if not data:
            self.close()
            return
        arrived = read
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                seconds, nanoseconds = struct.unpack_from("@qq", value)
                # The kernel stamps with the wall clock; perf_counter is the monotonic one.
                arrived = seconds + nanoseconds * 1e-9 - (time.time() - read)
        self.buffer += data
        self._frames(arrived, read)

    def _frames(self, arrived: float, read: float) -> None:
        """Take every complete frame out of the buffer (all of them got here by ``arrived``)."""
        while len(self.buffer) >= 2:
            opcode, size = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F
            start = 2
            if size == 126:
                if len(self.buffer) < 4:
                    return
                size, start = struct.unpack_from("!H", self.buffer, 2)[0], 4
            elif size == 127:
                if len(self.buffer) < 10:
                    return
                size, start = struct.unpack_from("!Q", self.buffer, 2)[0], 10
            if len(self.buffer) < start + size:
                return
            payload = bytes(self.buffer[start : start + size])
            del self.buffer[: start + size]
            if opcode == 0x9:  # ping: answer with a masked pong, as a client must
                mask = os.urandom(4)
                body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                self.sock.send(bytes([0x8A, 0x80 | len(payload)]) + mask + body)
            elif opcode == 0x1:
                self.messages += 1
                self.seen(self, payload, arrived, read)


class TickingSelector(selectors.DefaultSelector):
    """A selector that sleeps a TICK and then looks, instead of sleeping on the sockets."""

    def select(self, timeout: float | None = None):
        if timeout is None or timeout > 0:
            time.sleep(TICK if timeout is None else min(timeout, TICK))
        return super().select(0)


def kernel_times_work() -> bool:
    """True when sockets here can carry the kernel's receive time (Linux)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        except OSError:
            return False
    return True
