"""The web service: follows ``plan``, serves the app, fans plans and health out to browsers.

It is a pipeline stage like the others (``mesh.stage``): it subscribes to
``plan`` notifications, then syncs with the store, and keeps the newest plan
in memory. It also follows ``forecast`` (the same way: subscribe, then sync
at start, after a gap and every resync interval) and shows a forecast with
the plan made from the same conditioned commit. Tornado runs on the same
asyncio loop as the ZeroMQ sockets. It also binds the heartbeat SUB that
every component's PUB connects to, and feeds those beats to the dashboard.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any

import tornado.httpserver
import zmq

from formats.forecast import FORECAST_DATASET, FORECAST_FILE, load_forecast
from mesh.client import AsyncClient
from mesh.errors import ProtocolError, QPlanError, RemoteError, RequestTimeout
from mesh.messages import Beat
from mesh.protocol import HEARTBEAT_TOPIC, Message, encode_json
from mesh.snapshot import AsyncSnapshotClient, Snapshot
from mesh.stage import Stage
from mesh.subscriber import Subscriber
from web.app import MAX_UPLOAD, make_app
from web.guard import LOOPBACK, Guard
from web.health import HealthBoard
from web.hub import Hub
from web.plans import Plans

__all__ = ["WebService", "raise_open_files_limit"]

log = logging.getLogger(__name__)

HEALTH_INTERVAL = 0.5  # seconds between health pushes (the dashboard wants >= 1 a second)
STORE_RETRY = 0.5  # seconds between tries to reach the store at start


def raise_open_files_limit() -> int:
    """Raise the soft limit of open files to the hard limit (a socket per browser)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open files limit from %d: %s", soft, exc)
    return soft


class WebService(Stage):
    """The web: the plan page, what-ifs, history, dashboard, JSON API and websocket."""

    name = "web"
    upstream = "plan"
    output = None

    def __init__(self, config) -> None:
        super().__init__(config)
        self.hub = Hub(sent=self._sent_plan)
        self.board = HealthBoard(
            config.number("web", "missing_after", minimum=0.1),
            config.number("web", "idle_after", minimum=0.1),
        )
        # No retries for the API's clients: a browser waiting on a service that is down gets
        # its 503 in one timeout, and the requests queued behind it (one at a time) too.
        self.plans = Plans(
            store=lambda: self.snapshot_client(retries=0),
            planner=self._planner_client,
            dataset=self.upstream,
        )
        self.host = config.text("web", "host")
        self.port = config.port("web", "port")
        self.guard = Guard.from_config(config)
        self.http: tornado.httpserver.HTTPServer | None = None
        self._health: bytes = b""
        self._forecasts: AsyncSnapshotClient | None = None

    @property
    def current(self):
        """The plan the pages show (``Plans.current``)."""
        return self.plans.current

    # -- sockets and loops -------------------------------------------------------

    async def setup(self) -> None:
        """Bind the heartbeat SUB and the HTTP server, then follow ``plan`` and ``forecast``."""
        limit = raise_open_files_limit()
        self.curve("qplan_service")  # a missing key stops the web now, not its first what-if
        beats = self.bound(zmq.SUB, "mesh", "heartbeat_endpoint")
        beats.subscribe(HEARTBEAT_TOPIC.encode())
        app = make_app(self, self.plans, self.board, self.guard)
        self.http = tornado.httpserver.HTTPServer(app, max_body_size=MAX_UPLOAD)
        try:
            self.http.listen(self.port, address=self.host)
        except OSError as exc:
            raise QPlanError(f"web: cannot listen on {self.host}:{self.port}: {exc}") from None
        self.log.info(
            "web listening on http://%s:%d/ (open files limit %d)", self.host, self.port, limit
        )
        if self.host not in LOOPBACK and not self.guard.password:
            self.log.warning(
                "web bound to %s with no [web] password: anyone who reaches it can read the "
                "plan and run what-ifs; set [web] password or put a signing-in proxy in front",
                self.host,
            )
        self.spawn(self._hear_beats(beats), "heartbeats")
        self.spawn(self._push_health(), "health")
        await super().setup()
        forecasts = Subscriber(
            self.dialing(zmq.SUB, "snapshot_service"),
            self.config.endpoint("snapshot_service", "publish_endpoint"),
            [FORECAST_DATASET],
        )
        self.spawn(self._follow_forecasts(forecasts), "forecasts")

    async def teardown(self) -> None:
        """Stop taking connections, close every websocket and HTTP connection."""
        await self.hub.close()
        if self.http is not None:
            self.http.stop()
            await self.http.close_all_connections()
        self.plans.close()
        if self._forecasts is not None:
            self._forecasts.close()

    async def follow(self) -> None:
        """Wait for the store to answer (the page says it waits for data), then follow."""
        await self._wait_for_store()
        await super().follow()

    async def _wait_for_store(self) -> None:
        """Ask the store for the latest plan every STORE_RETRY s until it answers."""
        probe = self.snapshot_client(timeout=STORE_RETRY, retries=0)
        said = False
        try:
            while True:
                try:
                    await probe.latest(self.upstream)
                    return
                except RemoteError:
                    return  # an ERR is an answer: the store is up
                except (RequestTimeout, ProtocolError):
                    # The client closed and reopened its socket: a late answer can never be
                    # mistaken for the next one.
                    if not said:
                        self.log.info(
                            "waiting for the snapshot service at %s", probe.client.endpoint
                        )
                        said = True
        finally:
            probe.close()

    async def _hear_beats(self, socket) -> None:
        """Feed every component's heartbeat to the dashboard."""
        while True:
            frames = await socket.recv_multipart()
            try:
                _, message = Message.from_frames(frames, topic=True)
                beat = Beat.parse(message)
            except ProtocolError as exc:
                self.log.warning("ignored a bad heartbeat: %s", exc)
                continue
            self.board.record(beat.header(), time.time())

    async def _push_health(self) -> None:
        """Push the dashboard rows to the browsers that want them."""
        while True:
            self._health = encode_json({"type": "health", **self.board.snapshot()})
            self.hub.broadcast("health", self._health)
            await asyncio.sleep(HEALTH_INTERVAL)

    async def _follow_forecasts(self, subscriber: Subscriber) -> None:
        """Keep the newest forecast; sync at start, after a gap and every resync interval."""
        await self._wait_for_store()
        self._forecasts = self.snapshot_client()
        resync = self.config.number("mesh", "resync_interval", minimum=0.1)
        await self._sync_forecast("start")
        while True:
            notes = await subscriber.receive(timeout=resync)
            if not notes:
                await self._sync_forecast("periodic")
            elif any(note.gap for note in notes):
                await self._sync_forecast("gap")
            else:
                await self._take_forecast(notes[-1].commit)

    async def _sync_forecast(self, reason: str) -> None:
        """Take the latest forecast if it is not the one in memory."""
        try:
            latest = await self._forecasts.latest(FORECAST_DATASET)
        except RemoteError as exc:
            # A store that does not keep forecasts (an older config): the plan shows without one.
            self.log.debug("no forecasts (%s): %s", reason, exc)
            return
        except QPlanError as exc:
            self.log.warning("forecast sync (%s) failed, will retry: %s", reason, exc)
            return
        if latest.commit and latest.commit != self.plans.forecast_commit:
            await self._take_forecast(latest.commit)

    async def _take_forecast(self, commit: str) -> None:
        """GET one forecast commit, keep it, and show it with the plan it belongs to."""
        if commit == self.plans.forecast_commit:
            return
        try:
            snapshot = await self._forecasts.get(FORECAST_DATASET, commit)
            forecast = load_forecast(snapshot.files.get(FORECAST_FILE, b""))
            version = self.plans.take_forecast(commit, forecast)
        except QPlanError as exc:
            self.log.warning("forecast@%s not read, will retry: %s", commit[:12], exc)
            return
        except ValueError as exc:
            self.counters.errors += 1
            self.plans.forecast_commit = commit  # the same bytes will not read better next time
            self.log.error("forecast@%s is not readable: %s", commit[:12], exc)
            return
        self.counters.messages_in += 1
        if version is not None:
            clients = self.hub.broadcast("plan", version.notice)
            what = "forecast@%s shown with plan@%s to %d clients"
            self.log.info(what, commit[:12], version.commit[:12], clients)

    # -- the stage -----------------------------------------------------------------

    async def is_current(self, latest: Snapshot) -> bool:
        """True when the plan in memory is the latest one."""
        return self.current is not None and self.current.commit == latest.commit

    async def process(self, snapshot: Snapshot) -> None:
        """Keep this plan in memory and tell every browser a new version is there."""
        try:
            version = self.plans.take_plan(snapshot)
        except ValueError as exc:
            # A plan the web cannot read must not replace the last good one on anyone's screen.
            self.counters.errors += 1
            shown = self.current.commit[:12] if self.current else "none"
            self.log.error(
                "plan@%s is not readable (%s); still showing plan@%s",
                snapshot.commit[:12],
                exc,
                shown,
            )
            return
        if version is None:
            self.log.info("plan@%s is older than the one shown; not pushed", snapshot.commit[:12])
            return
        raw_time = _raw_time(version.chain)
        if raw_time:
            self.board.last_raw_time = raw_time
        clients = self.hub.broadcast("plan", version.notice)
        self.log.info(
            "plan@%s (seq %d, raw %s) announced to %d clients",
            version.commit[:12],
            version.seq,
            str(version.lineage.get("raw", "?"))[:12],
            clients,
        )

    def heartbeat_detail(self) -> dict[str, Any]:
        """How many browsers are connected and which plan they see."""
        return {
            "clients": len(self.hub),
            "plan": self.current.commit if self.current else None,
            "address": f"http://{self.host}:{self.port}/",
        }

    # -- what the handlers use ---------------------------------------------------------

    def _sent_plan(self, kind: str) -> None:
        """Count plan pushes (health pushes are the dashboard's own traffic)."""
        if kind == "plan":
            self.counters.messages_out += 1

    def _planner_client(self) -> AsyncClient:
        """The what-if client of qplan_service (no retries, like the store's API client)."""
        return AsyncClient(
            self.config.endpoint("qplan_service", "request_endpoint"),
            **{**self.client_options("qplan_service"), "retries": 0},
            service="qplan_service",
            hint="is the mesh running? (run_all restarts a planner that died)",
        )

    def connect(self, connection, wants: frozenset[str]) -> None:
        """A browser connected: greet it, then tell it the plan version and health it wants."""
        peer = self.hub.add(connection, wants)
        waiting = self.current is None
        hello = {
            "type": "hello",
            "state": "waiting" if waiting else "ready",
            "waiting": waiting,
            "commit": None if waiting else self.current.commit,
        }
        peer.offer("hello", encode_json(hello))
        if not waiting:
            # In the reply queue, so the first notice always follows the hello, whatever the
            # client sends meanwhile (a newer plan still replaces it through the slot).
            peer.offer("greeting", self.current.notice)
        if self._health:
            peer.offer("health", self._health)

    def reply(self, connection, data: bytes) -> None:
        """Queue an answer for one browser."""
        peer = self.hub.peers.get(id(connection))
        if peer is not None:
            peer.offer("reply", data)

    def disconnect(self, connection) -> None:
        """A browser went away."""
        self.hub.remove(connection)

    def worked(self) -> None:
        """Count one piece of work done for a browser (a what-if)."""
        self.counters.worked()


def _raw_time(chain: list[dict[str, Any]]) -> str | None:
    """When the raw commit behind a plan was made, from its chain."""
    for link in chain or []:
        if isinstance(link, dict) and link.get("dataset") == "raw":
            return link.get("time")
    return None
