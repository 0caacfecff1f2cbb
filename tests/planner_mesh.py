"""A snapshot service and qplan_service for the tests that talk to the planner."""

from __future__ import annotations

import json
from pathlib import Path

import zmq

from mesh.config import Config
from mesh.messages import whatif_answer
from mesh.protocol import Message
from mesh.snapshot import Snapshot
from tests.support import (
    ROOT,
    made_from,
    planner_client,
    serve_as,
    store_client,
    wait_for_store,
)

__all__ = ["WORKED", "Heartbeats", "Mesh"]

WORKED = (ROOT / "tests" / "fixtures" / "worked_example.streams").read_text(encoding="utf-8")


class Heartbeats:
    """A SUB socket bound where every component beats: the latest beat per component."""

    def __init__(self, config: Path) -> None:
        self.socket = zmq.Context.instance().socket(zmq.SUB)
        self.socket.linger = 0
        serve_as(config, "web", self.socket)
        self.socket.bind(Config(config).endpoint("mesh", "heartbeat_endpoint"))
        self.socket.subscribe(b"heartbeat")
        self.latest: dict[str, dict] = {}

    def of(self, component: str) -> dict | None:
        """The newest heartbeat header of ``component`` heard so far."""
        while self.socket.poll(0):
            _, beat = Message.from_frames(self.socket.recv_multipart(), topic=True)
            self.latest[beat.header["component"]] = beat.header
        return self.latest.get(component)

    def close(self) -> None:
        self.socket.close(linger=0)


class Mesh:
    """A snapshot service and qplan_service on one config, with clients for both."""

    def __init__(self, spawn, config: Path) -> None:
        self.spawn = spawn
        self.config = config
        self.heartbeats = Heartbeats(config)
        self.store = store_client(config, timeout=2.0, retries=2)
        self.planner = planner_client(config, timeout=10.0, retries=0)
        self.snapshot_service = spawn.service("snapshot_service", config)
        wait_for_store(config)
        self.raw = self.store.put("raw", {"work.tsv": "Name\n"}, source="test.xlsx")["commit"]
        self.service = None

    def start(self, package: str = "qplan_service"):
        """Start (again) qplan_service (or another service on the same config)."""
        proc = self.spawn.service(package, self.config)
        if package == "qplan_service":
            self.service = proc
        return proc

    def put_conditioned(
        self, streams: str | None, problems=(), stale: bool = False, streams_from: str = "auto"
    ) -> str:
        """PUT a conditioned commit made from this mesh's raw commit; returns its SHA."""
        status = {
            "stale": stale,
            "streams_from": self.raw if streams_from == "auto" else streams_from,
            "problems": {"fatal": 0, "error": 0, "warning": len(problems)},
        }
        files = {
            "problems.jsonl": "".join(json.dumps(p, sort_keys=True) + "\n" for p in problems),
            "status.json": json.dumps(status, sort_keys=True),
        }
        if streams is not None:
            files["streams.txt"] = streams
        answer = self.store.put("conditioned", files, source=f"raw@{self.raw}", producer="test")
        assert answer["changed"]
        return answer["commit"]

    def plan_from(self, conditioned: str, timeout: float = 30) -> Snapshot:
        """Wait for the plan commit made from ``conditioned``; returns it with its files."""
        return made_from(self.store, "plan", f"conditioned@{conditioned}", timeout)

    def plans(self) -> list[dict]:
        """Every plan commit, newest first."""
        return self.store.log("plan", 100)

    def whatif(self, edits, base=None) -> dict:
        return whatif_answer(self.planner.call("WHATIF", {"base": base, "edits": edits}))

    def close(self) -> None:
        self.store.close()
        self.planner.close()
        self.heartbeats.close()
