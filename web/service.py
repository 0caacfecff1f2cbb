"""The web service: follows ``plan``, serves the app, fans plans and health out to browsers.

It is a pipeline stage like the others (``mesh.stage``): it subscribes to
``plan`` notifications, then syncs with the store, and keeps the newest plan
in memory. Tornado runs on the same asyncio loop as the ZeroMQ sockets. It
also binds the heartbeat SUB that every component's PUB connects to, and
feeds those beats to the dashboard.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import tornado.httpserver
import zmq

from formats.plan import PLAN_FILE
from mesh.client import AsyncClient
from mesh.errors import ProtocolError, QPlanError, RequestTimeout
from mesh.protocol import HEARTBEAT_TOPIC, Message
from mesh.snapshot import AsyncSnapshotClient, Snapshot
from mesh.stage import Stage
from web.access import is_loopback, web_access
from web.app import HARD_MAX_BODY, make_app
from web.health import HealthBoard
from web.hub import Hub, text_frame
from web.safejson import browser_json as encode_json  # no NaN/Infinity to a browser
from web.views import plan_view

__all__ = ["WebService", "PlanVersion", "load_plan", "raise_open_files_limit"]

log = logging.getLogger(__name__)

HEALTH_INTERVAL = 0.5  # seconds between health pushes (the dashboard wants >= 1 a second)
STORE_RETRY = 0.5  # seconds between tries to reach the store at start
PLAN_CACHE = 32  # plans by commit kept for the history page's diffs


@dataclass
class PlanVersion:
    """One plan and where it comes from."""

    commit: str
    seq: int
    time: str | None
    chain: list[dict[str, Any]]
    lineage: dict[str, Any]
    plan: dict[str, Any]
    document: bytes = b""  # the plan as compact JSON, made once
    frame: bytes = field(default=b"", repr=False)  # the websocket "plan" message, framed once
    views: dict[str, bytes] = field(default_factory=dict, repr=False)  # track -> /api/plan

    def version(self) -> dict[str, Any]:
        """The version fields every API answer about this plan carries."""
        return {
            "commit": self.commit,
            "seq": self.seq,
            "time": self.time,
            "chain": self.chain,
            "lineage": self.lineage,
        }


def load_plan(snapshot: Snapshot) -> PlanVersion:
    """Parse the plan of a GET answer; raises ValueError for a missing or broken plan.json."""
    data = snapshot.files.get(PLAN_FILE)
    if data is None:
        found = [name for name in snapshot.files if name.endswith(".json")]
        if len(found) != 1:
            raise ValueError(f"plan@{snapshot.commit} has no {PLAN_FILE}")
        data = snapshot.files[found[0]]
    try:
        plan = json.loads(data)
    except RecursionError:
        raise ValueError(f"plan@{snapshot.commit}: {PLAN_FILE} is nested too deeply") from None
    if not isinstance(plan, dict):
        raise ValueError(f"plan@{snapshot.commit}: {PLAN_FILE} is not a JSON object")
    lineage = dict(snapshot.lineage or plan.get("lineage") or {})
    version = PlanVersion(
        commit=snapshot.commit or "",
        seq=snapshot.seq,
        time=snapshot.time,
        chain=snapshot.chain,
        lineage=lineage,
        plan=plan,
    )
    return version


def prepare(version: PlanVersion) -> None:
    """Make what the browsers get of a plan about to be shown; ValueError if the web can't.

    Every track's view at the default triage (what most ``/api/plan`` requests ask for, a
    thousand times after each push) and the pushed frame are made once. Making the views is
    also the check that the plan has the shape the pages read.
    """
    try:
        for track in version.plan.get("by_track") or {}:
            view = plan_view(version.plan, track)
            version.views[track] = encode_json({**version.version(), **view})
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        version.views = {}
        why = f"{type(exc).__name__}: {exc}"
        raise ValueError(
            f"plan@{version.commit[:12]} is not a plan the pages can show ({why})"
        ) from None
    version.document = encode_json(version.plan)
    head = encode_json({"type": "plan", **version.version()})
    # Splice the already-encoded plan into the message instead of encoding it twice.
    version.frame = text_frame(head[:-1] + b',"plan":' + version.document + b"}")


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
        self.current: PlanVersion | None = None
        self.hub = Hub(sent=self._sent_plan)
        self.board = HealthBoard(
            config.number("web", "missing_after", minimum=0.1),
            config.number("web", "idle_after", minimum=0.1),
        )
        self.host = config.text("web", "host")
        self.port = config.port("web", "port")
        self.access = web_access(config, self.host)
        self.http: tornado.httpserver.HTTPServer | None = None
        self._plans: OrderedDict[str, PlanVersion] = OrderedDict()
        self._store: AsyncSnapshotClient | None = None
        self._planner: AsyncClient | None = None
        self._health: bytes = b""
        self._cancels: set[asyncio.Task] = set()

    # -- sockets and loops -------------------------------------------------------

    async def setup(self) -> None:
        """Bind the heartbeat SUB and the HTTP server, then follow ``plan``."""
        limit = raise_open_files_limit()
        beats = self.bound(zmq.SUB, "mesh", "heartbeat_endpoint")
        beats.subscribe(HEARTBEAT_TOPIC.encode())
        self.http = tornado.httpserver.HTTPServer(make_app(self), max_body_size=HARD_MAX_BODY)
        if self.access.password is None and not is_loopback(self.host):
            self.log.warning(
                "web bound to %s beyond localhost WITHOUT sign-in: set [web] password", self.host
            )
        try:
            self.http.listen(self.port, address=self.host)
        except OSError as exc:
            raise QPlanError(f"web: cannot listen on {self.host}:{self.port}: {exc}") from None
        self.log.info(
            "web listening on http://%s:%d/ (open files limit %d)", self.host, self.port, limit
        )
        self.spawn(self._hear_beats(beats), "heartbeats")
        self.spawn(self._push_health(), "health")
        await super().setup()

    async def teardown(self) -> None:
        """Stop taking connections, close every websocket and HTTP connection."""
        await self.hub.close()
        if self.http is not None:
            self.http.stop()
            await self.http.close_all_connections()
        for client in (self._store, self._planner):
            if client is not None:
                client.close()

    async def follow(self) -> None:
        """Wait for the store to answer (the page says it waits for data), then follow."""
        await self._wait_for_store()
        await super().follow()

    async def _wait_for_store(self) -> None:
        """Ask the store for the latest plan every STORE_RETRY s until it answers."""
        endpoint = self.config.endpoint("snapshot_service", "request_endpoint")
        request = Message("LATEST", {"dataset": self.upstream})
        said = False
        while True:
            # A fresh socket per try, so a late answer can never be mistaken for the next one.
            probe = self.context.socket(zmq.DEALER)
            probe.linger = 0
            try:
                probe.connect(endpoint)
                await request.send(probe, envelope=[b""])
                if await probe.poll(int(STORE_RETRY * 1000)):
                    return
            finally:
                probe.close(linger=0)
            if not said:
                self.log.info("waiting for the snapshot service at %s", endpoint)
                said = True

    async def _hear_beats(self, socket) -> None:
        """Feed every component's heartbeat to the dashboard."""
        while True:
            frames = await socket.recv_multipart()
            try:
                _, message = Message.from_frames(frames, topic=True)
            except ProtocolError as exc:
                self.log.warning("ignored a bad heartbeat: %s", exc)
                continue
            if message.kind == "HEARTBEAT":
                self.board.record(message.header, time.time())

    async def _push_health(self) -> None:
        """Push the dashboard rows to the browsers that want them."""
        while True:
            self._health = encode_json({"type": "health", **self.board.snapshot()})
            self.hub.broadcast("health", text_frame(self._health))
            await asyncio.sleep(HEALTH_INTERVAL)

    # -- the stage -----------------------------------------------------------------

    async def is_current(self, latest: Snapshot) -> bool:
        """True when the plan in memory is the latest one."""
        return self.current is not None and self.current.commit == latest.commit

    async def process(self, snapshot: Snapshot) -> None:
        """Keep this plan in memory and push it to every browser."""
        try:
            version = load_plan(snapshot)
            prepare(version)
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
        self._remember(version)
        if self.current is not None and version.seq and version.seq < self.current.seq:
            self.log.info("plan@%s is older than the one shown; not pushed", version.commit[:12])
            return
        self.current = version
        raw_time = _raw_time(version.chain)
        if raw_time:
            self.board.last_raw_time = raw_time
        clients = self.hub.broadcast("plan", version.frame)
        self.log.info(
            "plan@%s (seq %d, raw %s) pushed to %d clients",
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

    def connect(self, connection, wants: frozenset[str]) -> None:
        """A browser connected: greet it, then give it the plan and health it wants."""
        peer = self.hub.add(connection, wants)
        waiting = self.current is None
        hello = {
            "type": "hello",
            "state": "waiting" if waiting else "ready",
            "waiting": waiting,
            "commit": None if waiting else self.current.commit,
        }
        peer.offer("hello", text_frame(encode_json(hello)))
        if not waiting:
            peer.offer("plan", self.current.frame)
        if self._health:
            peer.offer("health", text_frame(self._health))

    def reply(self, connection, data: bytes) -> None:
        """Queue an answer for one browser."""
        peer = self.hub.peers.get(id(connection))
        if peer is not None:
            peer.offer("reply", text_frame(data))

    def disconnect(self, connection) -> None:
        """A browser went away."""
        self.hub.remove(connection)

    @property
    def store(self) -> AsyncSnapshotClient:
        """A snapshot client for API requests, apart from the one the stage follows with."""
        if self._store is None:
            # No retries: a browser waiting on a store that is down gets its 503 in one
            # timeout, and the requests queued behind it (one at a time per client) too.
            self._store = self.snapshot_client(retries=0)
        return self._store

    def _remember(self, version: PlanVersion) -> None:
        self._plans[version.commit] = version
        self._plans.move_to_end(version.commit)
        while len(self._plans) > PLAN_CACHE:
            self._plans.popitem(last=False)

    async def plan_at(self, commit: str) -> PlanVersion:
        """The plan of one commit (cached: a commit never changes)."""
        cached = [version for sha, version in self._plans.items() if sha.startswith(commit.lower())]
        if len(cached) == 1:  # else the store says which commit it is, or that it is ambiguous
            return cached[0]
        version = load_plan(await self.store.get(self.upstream, commit))
        self._remember(version)
        return version

    async def whatif(self, base: str | None, edits: list[dict[str, Any]]) -> dict[str, Any]:
        """Ask qplan_service for the plan with ``edits`` applied to ``base``."""
        if self._planner is None:
            self._planner = AsyncClient(
                self.config.endpoint("qplan_service", "request_endpoint"),
                **{**self.client_options(), "retries": 0},
                service="qplan_service",
                hint="is the mesh running? (run_all restarts a planner that died)",
            )
        self.counters.worked()
        request_id = uuid.uuid4().hex
        try:
            reply = await self._planner.call(
                "WHATIF", {"base": base, "edits": edits, "id": request_id}
            )
        except (asyncio.CancelledError, RequestTimeout):
            # The browser went away or the answer is late: stop the worker, not just wait.
            self.spawn_cancel(request_id)
            raise
        return reply.header

    def spawn_cancel(self, request_id: str) -> None:
        """Send CANCEL for one what-if on a fresh socket, in the background."""

        async def cancel() -> None:
            client = AsyncClient(
                self.config.endpoint("qplan_service", "request_endpoint"),
                **{**self.client_options(), "retries": 0},
                service="qplan_service",
            )
            try:
                await client.call("CANCEL", {"id": request_id})
            except QPlanError as exc:
                self.log.info("could not cancel what-if %s: %s", request_id, exc)
            finally:
                client.close()

        task = asyncio.get_running_loop().create_task(cancel())
        self._cancels.add(task)
        task.add_done_callback(self._cancels.discard)


def _raw_time(chain: list[dict[str, Any]]) -> str | None:
    """When the raw commit behind a plan was made, from its chain."""
    for link in chain or []:
        if isinstance(link, dict) and link.get("dataset") == "raw":
            return link.get("time")
    return None
