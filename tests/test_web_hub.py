"""The websocket hub: a slow or dead client never holds up the others."""

from __future__ import annotations

import asyncio
import gc

from web.app import answer_client
from web.hub import Hub


class FakeSocket:
    """A websocket whose writes complete when the test says so (or at once)."""

    def __init__(self, fast: bool = True, broken: bool = False) -> None:
        self.fast = fast
        self.broken = broken
        self.got: list[bytes] = []
        self.pending: list[asyncio.Future] = []
        self.closed = False

    def send(self, message: bytes):
        if self.broken:
            raise OSError("connection reset")
        self.got.append(message)
        future = asyncio.get_running_loop().create_future()
        if self.fast:
            future.set_result(None)
        else:
            self.pending.append(future)
        return future

    def release(self) -> None:
        for future in self.pending:
            future.set_result(None)
        self.pending.clear()

    def close(self, code=None, reason=None) -> None:
        self.closed = True


async def settle(predicate, rounds: int = 200) -> None:
    for _ in range(rounds):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


def test_a_stalled_client_does_not_delay_the_others_and_only_gets_the_newest_plan():
    async def scenario():
        sent = []
        hub = Hub(sent=sent.append)
        fast, slow = FakeSocket(), FakeSocket(fast=False)
        hub.add(fast)
        hub.add(slow)
        for n in range(5):
            assert hub.broadcast("plan", b"plan %d" % n) == 2
            await settle(lambda n=n: fast.got[-1:] == [b"plan %d" % n])
        # The slow client is still writing plan 0; plans 1-3 were replaced by 4.
        assert slow.got == [b"plan 0"]
        slow.release()
        await settle(lambda: slow.got == [b"plan 0", b"plan 4"])
        assert hub.peers[id(slow)].skipped == 3
        await hub.close()
        assert fast.closed and slow.closed
        return sent

    # Five writes to the fast client and two to the slow one.
    assert asyncio.run(scenario()) == ["plan"] * 7


def test_a_broken_client_is_dropped_and_the_rest_keep_getting_plans():
    async def scenario():
        hub = Hub()
        good, bad = FakeSocket(), FakeSocket(broken=True)
        hub.add(bad)
        hub.add(good)
        hub.broadcast("plan", b"one")
        await settle(lambda: bad.closed and good.got == [b"one"])
        hub.broadcast("plan", b"two")
        await settle(lambda: good.got == [b"one", b"two"])
        await hub.close()

    asyncio.run(scenario())


def test_clients_get_only_what_they_want_and_replies_go_first():
    async def scenario():
        hub = Hub()
        dash, page = FakeSocket(fast=False), FakeSocket()
        hub.add(dash, frozenset({"health"}))
        hub.add(page, frozenset({"plan"}))
        hub.broadcast("health", b"h1")
        hub.broadcast("plan", b"p1")
        await settle(lambda: page.got == [b"p1"] and dash.got == [b"h1"])
        hub.broadcast("health", b"h2")
        hub.peers[id(dash)].offer("reply", b"pong")
        dash.release()
        await settle(lambda: dash.got == [b"h1", b"pong"])
        dash.release()
        await settle(lambda: dash.got == [b"h1", b"pong", b"h2"])
        hub.remove(page)
        assert hub.broadcast("plan", b"p2") == 0
        await hub.close()

    asyncio.run(scenario())


def test_browser_messages_get_a_pong_or_an_error():
    assert answer_client('{"type": "ping", "id": 7}') == {"type": "pong", "id": 7}
    for bad in ("nope", "[1]", '{"type": 3}', '{"type": "shout"}', b"\x00\x01"):
        answer = answer_client(bad)
        assert answer["type"] == "error" and answer["error"]


def test_no_garbage_collection_runs_while_a_broadcast_writes():
    class Watching(FakeSocket):
        def send(self, message: bytes):
            self.collecting = gc.isenabled()
            return super().send(message)

    async def scenario():
        hub = Hub()
        sockets = [Watching() for _ in range(50)]
        for socket in sockets:
            hub.add(socket)
        assert gc.isenabled()
        hub.broadcast("plan", b"p1")
        assert not any(socket.collecting for socket in sockets)
        assert gc.isenabled()  # collections resume after the last write
        gc.disable()
        try:
            hub.broadcast("plan", b"p2")
            assert not gc.isenabled()  # and a collector that was off stays off
        finally:
            gc.enable()
        await hub.close()

    asyncio.run(scenario())
