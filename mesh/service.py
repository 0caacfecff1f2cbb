"""The asyncio base every mesh service is built on.

A subclass sets ``name``, opens its sockets and spawns its loops in
``setup()``, and may add to the heartbeat with ``heartbeat_detail()``. The
base gives it counters, a heartbeat once a second, clean SIGINT/SIGTERM
handling (the handler only schedules the stop on the loop), and an orderly
shutdown: tasks cancelled, sockets closed with linger 0, context terminated.

A loop that dies of an unexpected exception stops the service with exit
code 1, so that run_all restarts it, instead of leaving a half-alive process.

Security lives here too (``mesh.keys``): ``bound`` makes every bound socket a
CURVE server whose clients ZAP checks against the allow-list, and every socket
the service connects (``dialing``, its clients, its heartbeat) carries its
client key; with ``[mesh] curve = no`` the service says loudly that it runs in
plain text.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import AsyncIterator, Coroutine
from typing import Any, ClassVar

import zmq
import zmq.asyncio
from zmq.auth.thread import ThreadAuthenticator

from mesh.config import Config
from mesh.errors import ProtocolError, QPlanError
from mesh.heartbeat import Counters, Heartbeat
from mesh.keys import ClientCurve, Keys, say_plaintext
from mesh.protocol import split_envelope
from mesh.snapshot import AsyncSnapshotClient

__all__ = ["Service"]

LAST_HEARTBEAT_LINGER = 200  # milliseconds: time the "stopping" beat gets to leave


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class Service:
    """Base class of a mesh service; see the module docstring."""

    name: ClassVar[str] = "service"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.log = logging.getLogger(self.name)
        self.context = zmq.asyncio.Context()
        self.counters = Counters()
        self.exit_code = 0
        self._sockets: list[zmq.asyncio.Socket] = []
        self._tasks: set[asyncio.Task] = set()
        self._stop_event: asyncio.Event | None = None
        self.heartbeat: Heartbeat | None = None
        self._beating: asyncio.Task | None = None
        self._snapshot: AsyncSnapshotClient | None = None
        self.keys = Keys.of(config, self.name)
        self._authenticator: ThreadAuthenticator | None = None
        if self.keys is None:
            say_plaintext(self.name)

    # -- what subclasses use -------------------------------------------------

    def socket(self, kind: int) -> zmq.asyncio.Socket:
        """A new socket that the service closes (linger 0) when it stops."""
        sock = self.context.socket(kind)
        sock.linger = 0
        self._sockets.append(sock)
        return sock

    def bound(self, kind: int, section: str, key: str) -> zmq.asyncio.Socket:
        """A new socket bound at the endpoint config.ini names; a clear error if it can't bind."""
        endpoint = self.config.endpoint(section, key)
        sock = self.socket(kind)
        if self.keys is not None:
            self._start_zap()
            self.keys.serve(sock)
        try:
            sock.bind(endpoint)
        except zmq.ZMQError as exc:
            raise QPlanError(
                f"cannot bind [{section}] {key} {endpoint}: {exc} (is another {self.name} running?)"
            ) from None
        return sock

    def _start_zap(self) -> None:
        """Start ZAP (in its own thread, so handshakes never wait for the loop) once."""
        if self._authenticator is None and self.keys is not None:
            self._authenticator = ThreadAuthenticator(self.context)
            self._authenticator.start()
            self._authenticator.configure_curve_callback("*", self.keys.allow_list())

    def curve(self, server: str) -> ClientCurve | None:
        """What a socket of this service needs to connect to ``server`` (None: plain text)."""
        return None if self.keys is None else self.keys.client(server)

    def dialing(self, kind: int, server: str) -> zmq.asyncio.Socket:
        """A new socket (closed when the service stops) ready to connect to ``server``."""
        sock = self.socket(kind)
        curve = self.curve(server)
        if curve is not None:
            curve.apply(sock)
        return sock

    async def requests(
        self, router: zmq.asyncio.Socket
    ) -> AsyncIterator[tuple[list[bytes], list[bytes]]]:
        """Each request on a ROUTER as (envelope, message frames), counted; junk is dropped.

        Frames without an envelope delimiter cannot be answered (there is no one
        to answer): they are logged, counted as an error and skipped.
        """
        while True:
            frames = await router.recv_multipart()
            self.counters.requests += 1
            try:
                envelope, body = split_envelope(frames)
            except ProtocolError as exc:
                self.counters.errors += 1
                self.log.warning("dropped a request of %d frames: %s", len(frames), exc)
                continue
            yield envelope, body

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task:
        """Run ``coro`` as a task of this service; its crash stops the service."""
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}.{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def client_options(self, server: str) -> dict[str, Any]:
        """The ``[mesh]`` timeout and retries, and the keys, of a client of ``server``."""
        return {
            "timeout": self.config.number("mesh", "request_timeout", minimum=0.01),
            "retries": self.config.integer("mesh", "request_retries", minimum=0),
            "context": self.context,
            "curve": self.curve(server),
        }

    def snapshot_client(self, **options) -> AsyncSnapshotClient:
        """A new client of the snapshot service (closed by the caller); ``options`` override."""
        endpoint = self.config.endpoint("snapshot_service", "request_endpoint")
        return AsyncSnapshotClient(
            endpoint, **{**self.client_options("snapshot_service"), **options}
        )

    @property
    def snapshot(self) -> AsyncSnapshotClient:
        """The service's own client of the snapshot service, made on first use."""
        if self._snapshot is None:
            self._snapshot = self.snapshot_client()
        return self._snapshot

    def stop(self, code: int | None = None) -> None:
        """Ask the service to stop (safe to call from a signal handler or twice)."""
        if code is not None and not self.exit_code:
            self.exit_code = code
        if self._stop_event is not None:
            self._stop_event.set()

    @property
    def stopping(self) -> bool:
        """True once a stop was asked for."""
        return self._stop_event is not None and self._stop_event.is_set()

    # -- what subclasses provide ---------------------------------------------

    async def setup(self) -> None:
        """Open sockets and spawn loops; raise to refuse to start."""

    async def teardown(self) -> None:
        """Release what ``setup`` took that is not a socket or a task."""

    def heartbeat_detail(self) -> dict[str, Any]:
        """Extra, service-specific fields for the heartbeat's ``detail``."""
        return {}

    def _beat_detail(self) -> dict[str, Any]:
        """The subclass's detail, and ``plain_text`` when CURVE is off (the dashboard says so)."""
        detail = self.heartbeat_detail()
        return detail if self.keys is not None else {**detail, "plain_text": True}

    # -- running ---------------------------------------------------------------

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.log.error(
                "task %s crashed; stopping", task.get_name(), exc_info=(type(exc), exc, None)
            )
            self.stop(1)

    async def run(self) -> int:
        """Run until SIGINT/SIGTERM or ``stop()``; returns the exit code."""
        loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        # Signals reach only the main thread; a service run in a test thread is stopped by stop().
        signals = (signal.SIGINT, signal.SIGTERM) if _in_main_thread() else ()
        for sig in signals:
            loop.add_signal_handler(sig, self.stop)
        self.heartbeat = Heartbeat(
            self.context,
            self.config.endpoint("mesh", "heartbeat_endpoint"),
            self.name,
            self.counters,
            interval=self.config.number("mesh", "heartbeat_interval", minimum=0.05),
            detail=self._beat_detail,
            curve=self.curve("web"),
        )
        try:
            self._beating = self.spawn(self.heartbeat.run(), "heartbeat")
            await self.setup()
            self.log.info("%s started", self.name)
            await self._stop_event.wait()
        finally:
            await self._shutdown()
            for sig in signals:
                loop.remove_signal_handler(sig)
        return self.exit_code

    @staticmethod
    async def _cancel(tasks: list[asyncio.Task]) -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _shutdown(self) -> None:
        self.log.info("%s stopping", self.name)
        # The heartbeat goes on through teardown (run_all's can take a grace period).
        await self._cancel([task for task in self._tasks if task is not self._beating])
        try:
            await self.teardown()
        finally:
            await self._cancel(list(self._tasks))
            if self._snapshot is not None:
                self._snapshot.close()
            if self.heartbeat is not None:
                await self.heartbeat.last_word("stopping")
                self.heartbeat.socket.close(linger=LAST_HEARTBEAT_LINGER)
            for sock in self._sockets:
                sock.close(linger=0)
            if self._authenticator is not None:
                self._authenticator.stop()
            # destroy, not term: a socket some code path left open is closed here rather
            # than keeping the process from ever exiting (run_all could not restart it).
            self.context.destroy(linger=0)
