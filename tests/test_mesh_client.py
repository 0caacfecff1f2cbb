"""Request clients: timeout, close and reopen, retry, and error replies."""

from __future__ import annotations

import asyncio
import threading

import pytest
import zmq
import zmq.asyncio

from mesh.client import AsyncClient, Client
from mesh.errors import RemoteError, RequestTimeout
from mesh.protocol import Message, split_envelope
from tests.support import wait_for


class FlakyServer:
    """A ROUTER in a thread that ignores the first ``drop`` requests and echoes the rest."""

    def __init__(self, drop: int) -> None:
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.linger = 0
        port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.drop = drop
        self.identities: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not self.socket.poll(50):
                continue
            envelope, frames = split_envelope(self.socket.recv_multipart())
            self.identities.append(envelope[0])
            if len(self.identities) <= self.drop:
                continue
            _, request = Message.from_frames(frames)
            if request.kind == "FAIL":
                Message("ERR", {"error": "that went wrong", "code": "oops"}).send(
                    self.socket, envelope=envelope
                )
            else:
                Message("OK", {"echo": request.header}).send(self.socket, envelope=envelope)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.socket.close(linger=0)
        self.context.term()


@pytest.fixture
def flaky():
    servers: list[FlakyServer] = []

    def make(drop: int) -> FlakyServer:
        servers.append(FlakyServer(drop))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def test_blocking_client_reopens_its_socket_and_retries(flaky) -> None:
    server = flaky(drop=1)
    with Client(server.endpoint, timeout=0.3, retries=1) as client:
        reply = client.call("PING", {"n": 1})
    assert reply.header == {"echo": {"n": 1}}
    # The retry came from a fresh socket: a new identity at the ROUTER.
    assert len(server.identities) == 2
    assert server.identities[0] != server.identities[1]


def test_blocking_client_gives_up_with_a_clear_message(flaky) -> None:
    server = flaky(drop=10)
    client = Client(server.endpoint, timeout=0.2, retries=2, service="store", hint="start it")
    with pytest.raises(RequestTimeout) as info:
        client.call("PING")
    client.close()
    assert str(info.value) == (
        f"store at {server.endpoint} did not answer PING within 0.2 s (3 tries); start it"
    )
    # Every try reached the server (its thread may still be taking the last one in).
    wait_for(lambda: len(server.identities) == 3, 5, what="three tries at the server")


def test_error_reply_raises_remote_error(flaky) -> None:
    server = flaky(drop=0)
    with Client(server.endpoint, timeout=1, retries=0) as client:
        with pytest.raises(RemoteError) as info:
            client.call("FAIL")
        assert info.value.code == "oops"
        assert str(info.value) == "that went wrong"
        # The socket is still usable after an error reply.
        assert client.call("PING").header == {"echo": {}}


def test_async_client_reopens_and_retries(flaky) -> None:
    server = flaky(drop=1)

    async def scenario() -> Message:
        context = zmq.asyncio.Context()
        client = AsyncClient(server.endpoint, timeout=0.3, retries=1, context=context)
        try:
            return await client.call("PING", {"async": True})
        finally:
            client.close()
            context.term()

    reply = asyncio.run(scenario())
    assert reply.header == {"echo": {"async": True}}
    assert len(set(server.identities)) == 2


def test_async_client_times_out(flaky) -> None:
    server = flaky(drop=10)

    async def scenario() -> None:
        context = zmq.asyncio.Context()
        client = AsyncClient(server.endpoint, timeout=0.2, retries=0, context=context)
        try:
            await client.call("PING")
        finally:
            client.close()
            context.term()

    with pytest.raises(RequestTimeout, match="did not answer PING within 0.2 s"):
        asyncio.run(scenario())
