"""What-ifs run apart from the shared plan: budgets, deadlines, cancel (issue 9, finding 1).

A real snapshot service and a real qplan_service; what-ifs sent over a real
DEALER socket. A what-if's worker is frozen with SIGSTOP to stand for one
that computes for ever: deterministic, whatever the machine's speed. The worker
is frozen before the what-if is sent: it is the one waiting (primed with the
base), which the what-if goes to; once given its base a worker answers a small
what-if in a millisecond, before a test could catch it computing.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from dataclasses import replace
from pathlib import Path

import pytest
import zmq

from formats.streams import parse_streams
from mesh.config import Config
from mesh.errors import RemoteError
from mesh.protocol import Message
from qplan_service.budget import Budget, BudgetError, check_budget
from tests.planner_mesh import WORKED, Mesh
from tests.support import ROOT, tools_curve, wait_for, write_config

WORKER = "qplan_service.whatif_worker"
ADD = [{"op": "add_people", "skill": "Apps", "track": "Track2", "count": 3}]


def workers_of(pid: int) -> list[int]:
    """The what-if worker processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        state = stat.rsplit(")", 1)[1].split()[0]
        if parent == pid and WORKER.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def given_to(service, worker: int) -> None:
    """Wait until qplan_service has given its what-if to ``worker`` (a spare may be frozen
    before the what-if reaches it)."""
    wait_for(lambda: f"worker pid {worker}" in service.output(), 10, what="the what-if's worker")


def freeze_next_worker(pid: int) -> int:
    """Wait for a worker of ``pid`` to start and SIGSTOP it; its pid."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for worker in workers_of(pid):
            os.kill(worker, signal.SIGSTOP)
            return worker
        time.sleep(0.002)
    raise AssertionError("no what-if worker started")


class Dealer:
    """A raw DEALER to qplan_service, so requests can overlap and be cancelled."""

    def __init__(self, config: Path) -> None:
        self.socket = zmq.Context.instance().socket(zmq.DEALER)
        self.socket.linger = 0
        tools_curve(config, "qplan_service").apply(self.socket)
        self.socket.connect(Config(config).endpoint("qplan_service", "request_endpoint"))

    def send(self, kind: str, header: dict) -> None:
        self.socket.send_multipart([b"", *Message(kind, header).frames()])

    def receive(self, timeout: float) -> Message | None:
        if not self.socket.poll(int(timeout * 1000)):
            return None
        frames = self.socket.recv_multipart()
        return Message.from_frames(frames[1:])[1]

    def close(self) -> None:
        self.socket.close(linger=0)


@pytest.fixture
def mesh(spawn, tmp_path):
    folder = tmp_path / "mesh"
    folder.mkdir()
    limits = {"whatif_deadline": "6", "whatif_workers": "1", "whatif_queue": "1"}
    started = Mesh(spawn, write_config(folder, {"qplan_service": limits}))
    started.start()
    started.plan_from(started.put_conditioned(WORKED))
    started.dealer = Dealer(started.config)
    yield started
    started.dealer.close()
    started.close()


def test_the_budget_is_checked_before_any_work_starts(mesh):
    flood = [{"op": "add_people", "skill": "Apps", "track": "Track2", "count": 1000}] * 500
    waiting = wait_for(lambda: workers_of(mesh.service.pid), 20, what="the spare worker")
    with pytest.raises(RemoteError, match="whatif_max_edits") as refused:
        mesh.whatif(flood)
    assert refused.value.code == "over_budget"
    with pytest.raises(RemoteError, match="whatif_max_people"):
        mesh.whatif(flood[:3])
    assert workers_of(mesh.service.pid) == waiting  # the spare still waits: no work started
    assert mesh.whatif(ADD)["changes"]  # the service still answers


def test_budget_size_names_the_limit():
    model = parse_streams(WORKED)
    with pytest.raises(BudgetError, match="whatif_max_size"):
        check_budget(model, ADD, Budget(max_size=10))
    check_budget(model, ADD, Budget())
    # A plan of 20,000 items and 2,000 people fits the shipped budget: what-ifs on a big
    # team's plan are computed, not refused.
    people = [replace(model.staff[0], id=f"p{n}", name=f"P{n}") for n in range(2000)]
    work = [replace(model.work[0], id=f"w{n}", name=f"W{n}") for n in range(20_000)]
    big = replace(model, staff=people, work=work)
    check_budget(
        big,
        ADD,
        Budget(max_size=Config(ROOT / "config.ini").integer("qplan_service", "whatif_max_size")),
    )


def test_a_whatif_past_its_deadline_is_killed_and_named(mesh):
    worker = freeze_next_worker(mesh.service.pid)  # the waiting worker: the what-if's
    mesh.dealer.send("WHATIF", {"base": None, "edits": ADD, "id": "slow"})
    answer = mesh.dealer.receive(20)
    assert answer is not None and answer.kind == "ERR"
    assert answer.header["code"] == "deadline" and "whatif_deadline" in answer.header["error"]
    wait_for(lambda: not Path(f"/proc/{worker}").exists(), 5, what="the worker to be killed")
    assert mesh.whatif(ADD)["changes"]


def test_a_cancelled_whatif_stops_its_worker_and_gets_no_answer(mesh):
    worker = freeze_next_worker(mesh.service.pid)  # the waiting worker: the what-if's
    mesh.dealer.send("WHATIF", {"base": None, "edits": ADD, "id": "gone"})
    given_to(mesh.service, worker)
    mesh.dealer.send("CANCEL", {"id": "gone"})
    answer = mesh.dealer.receive(5)
    assert answer is not None and answer.kind == "OK" and answer.header == {"cancelled": True}
    wait_for(lambda: not Path(f"/proc/{worker}").exists(), 5, what="the worker to be killed")
    assert mesh.dealer.receive(1) is None  # nothing for the cancelled what-if


def test_committed_planning_never_waits_behind_a_whatif(mesh):
    worker = freeze_next_worker(mesh.service.pid)  # the waiting worker: the what-if's
    mesh.dealer.send("WHATIF", {"base": None, "edits": ADD, "id": "stuck"})
    given_to(mesh.service, worker)
    mesh.dealer.send("WHATIF", {"base": None, "edits": ADD, "id": "queued"})

    def waiting() -> int:
        beat = mesh.heartbeats.of("qplan_service") or {}
        return beat.get("detail", {}).get("whatifs", {}).get("running", 0)

    wait_for(lambda: waiting() == 2, 10, what="both what-ifs taken")
    over = Dealer(mesh.config)
    try:
        over.send("WHATIF", {"base": None, "edits": ADD})
        busy = over.receive(5)
        assert busy is not None and busy.header["code"] == "busy"
        assert "whatif_queue" in busy.header["error"]
    finally:
        over.close()
    sha = mesh.put_conditioned(WORKED.replace("Track2", "Track9"))
    plan = json.loads(mesh.plan_from(sha, timeout=10).text("plan.json"))
    assert "Track9" in plan["tracks"]
    # Planned while the what-if still hangs: it was neither answered nor killed meanwhile.
    assert Path(f"/proc/{worker}").exists() and mesh.dealer.receive(0) is None


def test_a_closed_web_request_cancels_the_whatif_and_its_worker(spawn, tmp_path):
    folder = tmp_path / "mesh"
    folder.mkdir()
    config = write_config(
        folder, {"mesh": {"request_timeout": "20"}, "qplan_service": {"whatif_deadline": "30"}}
    )
    started = Mesh(spawn, config)
    try:
        started.start()
        started.plan_from(started.put_conditioned(WORKED))
        started.heartbeats.close()  # the web binds the heartbeat endpoint
        started.start("web")
        port = Config(config).port("web", "port")

        def web_has_plan() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
                    conn.sendall(b"GET /api/plan.json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                    return conn.recv(64).startswith(b"HTTP/1.1 200")
            except OSError:
                return False

        wait_for(web_has_plan, 20, what="the web to show the plan")
        worker = freeze_next_worker(started.service.pid)  # the waiting worker
        body = json.dumps({"edits": ADD}).encode()
        conn = socket.create_connection(("127.0.0.1", port), timeout=5)
        conn.sendall(
            b"POST /api/whatif HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        given_to(started.service, worker)
        conn.close()  # the browser gave up
        wait_for(lambda: not Path(f"/proc/{worker}").exists(), 10, what="the worker to stop")
        assert "cancelled by its client" in started.service.output()
    finally:
        started.close()
