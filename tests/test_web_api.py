"""The web's JSON API and websocket against a real snapshot service and a real web process.

No condition or qplan service runs here: the test PUTs raw, conditioned and
plan commits itself, so the plan is the worked example and every answer is
known. What-ifs meet a planner that is not running (503).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from tornado.websocket import websocket_connect

from tests.examples import worked_plan
from tests.support import Proc, service_args, store_client, wait_for, write_config


class Mesh:
    """A snapshot service and a web, and helpers to talk to them."""

    def __init__(self, folder: Path) -> None:
        self.config = write_config(folder, {"mesh": {"request_timeout": "1.0"}})
        text = self.config.read_text()
        self.port = int(text.split("[web]")[1].split("port = ")[1].split()[0])
        self.store_endpoint = text.split("[snapshot_service]")[1].split("request_endpoint = ")[1]
        self.store_endpoint = self.store_endpoint.split()[0]
        self.folder = folder
        self.procs: list[Proc] = []

    def start(self, package: str) -> Proc:
        proc = Proc(service_args(package, self.config), self.folder / f"{package}.out")
        self.procs.append(proc)
        return proc

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def call(self, path: str, body: bytes | None = None) -> tuple[int, dict, Any]:
        """(status, JSON body, headers) of one request; 4xx/5xx are answers too."""
        request = urllib.request.Request(
            self.url(path),
            data=body,
            method="POST" if body else "GET",
            headers={"Content-Type": "application/json"} if body else {},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read()), response.headers
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read()), exc.headers

    def put_plan(self, plan: dict, raw_text: str) -> dict:
        """Commit raw, conditioned and plan, chained by Source, as the real stages would."""
        with store_client(self.config, timeout=5) as store:
            raw = store.put("raw", {"work.tsv": raw_text}, source="test.xlsx")
            cond = store.put(
                "conditioned",
                {"streams.txt": raw_text},
                source=f"raw@{raw['commit']}",
                producer="test",
            )
            plan = dict(plan, lineage={"conditioned": cond["commit"], "raw": raw["commit"]})
            text = json.dumps(plan, sort_keys=True)
            return store.put(
                "plan", {"plan.json": text}, source=f"conditioned@{cond['commit']}", producer="test"
            )


async def _close(conn) -> None:
    """Close a websocket client and wait until the server has closed it too."""
    conn.close()
    with contextlib.suppress(TimeoutError):
        while await asyncio.wait_for(conn.read_message(), 5) is not None:
            pass


async def _ws_exchange(url: str, sends: list, wanted: int, timeout: float = 10.0) -> list[dict]:
    """Connect, send each message, and collect ``wanted`` messages (health excluded)."""
    conn = await websocket_connect(url)
    got: list[dict] = []
    try:
        for message in sends:
            await conn.write_message(message, binary=isinstance(message, bytes))
        while len(got) < wanted:
            text = await asyncio.wait_for(conn.read_message(), timeout)
            assert text is not None, f"connection closed after {got}"
            message = json.loads(text)
            if message["type"] != "health":
                got.append(message)
    finally:
        await _close(conn)
    return got


def ws(mesh: Mesh, sends: list, wanted: int, query: str = "") -> list[dict]:
    return asyncio.run(_ws_exchange(f"ws://127.0.0.1:{mesh.port}/ws{query}", sends, wanted))


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    """A web started before the store (so it waits), then the store; both stopped after."""
    folder = tmp_path_factory.mktemp("webapi")
    mesh = Mesh(folder)
    mesh.start("web")
    wait_for(lambda: mesh.call("/api/health")[0] == 200, 20, what="the web to listen")
    yield mesh
    for proc in reversed(mesh.procs):
        proc.stop()


def test_before_any_plan_the_web_waits_without_errors(mesh):
    status, body, _ = mesh.call("/api/plan")
    assert status == 503 and "waiting" in body["error"]
    hello = ws(mesh, [], 1)[0]
    assert hello == {"type": "hello", "state": "waiting", "waiting": True, "commit": None}
    mesh.start("snapshot_service")
    wait_for(lambda: mesh.call("/api/history")[0] == 200, 20, what="the store to answer")
    assert mesh.call("/api/plan")[0] == 503  # the store is up, but has no plan yet


def test_a_new_plan_is_pushed_to_a_connected_client(mesh):
    async def scenario():
        conn = await websocket_connect(f"ws://127.0.0.1:{mesh.port}/ws?want=plan")
        try:
            hello = json.loads(await conn.read_message())
            assert hello["waiting"] is True
            put = await asyncio.to_thread(mesh.put_plan, worked_plan(), "v1\n")
            message = json.loads(await asyncio.wait_for(conn.read_message(), 10))
            return put, message
        finally:
            await _close(conn)

    put, message = asyncio.run(scenario())
    assert message["type"] == "plan"
    assert message["commit"] == put["commit"] and message["seq"] == put["seq"]
    assert "plan" not in message  # a notice: the page fetches its own view
    assert [link["dataset"] for link in message["chain"]] == ["plan", "conditioned", "raw"]


def test_plan_view_for_a_track_and_triage(mesh):
    status, view, headers = mesh.call("/api/plan?track=Track2&triage=2.5")
    assert status == 200
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert view["track"] == "Track2" and view["triage"] == 2.5
    assert view["counts"] == {"in_cut": 3, "total": 3, "dnf": 1}
    apps = next(s for s in view["staffing"] if s["skill"] == "Apps")
    assert (apps["available"], apps["required"], apps["net"]) == (0.96, 2.73, -1.77)
    assert [link["dataset"] for link in view["chain"]] == ["plan", "conditioned", "raw"]
    assert view["problems"][0]["sheet"] == "work"


def test_whole_plan_and_health(mesh):
    status, plan, headers = mesh.call("/api/plan.json")
    assert status == 200 and plan["by_track"]["All"]["manpower"]["Apps"] == 21.2
    assert headers["X-QPlan-Commit"]

    def rows():
        health = mesh.call("/api/health")[1]
        return {row["component"]: row for row in health["components"]}

    # Both beat into the web's heartbeat SUB; the store has answered requests.
    wait_for(lambda: rows()["web"]["status"] in ("up", "idle"), 10, what="the web's own beat")
    wait_for(lambda: rows()["snapshot_service"]["status"] == "up", 10, what="the store's beat")
    assert rows()["qplan_service"]["status"] == "missing"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/plan?track=Nope", 404),
        ("/api/plan?triage=7", 400),
        ("/api/plan?triage=abc", 400),
        ("/api/history?limit=0", 400),
        ("/api/history?limit=many", 400),
        ("/api/history?dataset=../etc", 400),
        ("/api/history?dataset=nosuch", 404),
        ("/api/diff?from=zz&to=abc", 400),
        ("/api/diff?from=abcd", 400),
        ("/api/diff?from=abcdef&to=abcdef12", 400),
        ("/api/diff?from=abcdef12&to=abcdef12", 404),
        ("/api/nothing", 404),
        ("/api/plan?track=%ff", 400),
    ],
)
def test_bad_requests_get_a_4xx_with_a_json_error(mesh, path, status):
    got, body, _ = mesh.call(path)
    assert got == status
    assert body["error"]


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"edits": 3}', b'{"edits": [1]}', b'{"edits": [{"no": "op"}]}',
     b'{"edits": [], "triage": "x"}', b"[" * 5000, b'{"edits": [], "n": ' + b"9" * 5000 + b"}"],
)  # fmt: skip
def test_bad_whatif_bodies_get_a_400(mesh, body):
    status, answer, _ = mesh.call("/api/whatif", body)
    assert status == 400 and answer["error"]


def test_whatif_without_a_planner_is_a_503_after_the_timeout(mesh):
    body = json.dumps(
        {"edits": [{"op": "add_people", "skill": "Web", "track": "Track2", "count": 1}]}
    )
    status, answer, _ = mesh.call("/api/whatif", body.encode())
    assert status == 503 and "qplan_service" in answer["error"]


def test_bad_websocket_messages_get_errors_and_the_connection_stays_up(mesh):
    sends = [
        "not json",
        b"\x00binary",
        '{"type": "shout"}',
        '["ping"]',
        "[" * 5000,
        '{"type": "ping", "id": ' + "9" * 5000 + "}",
        '{"type": "ping", "id": 1}',
    ]
    got = ws(mesh, sends, 9, "?want=plan")
    assert [m["type"] for m in got[:2]] == ["hello", "plan"]
    assert [m["type"] for m in got[2:]] == ["error"] * 6 + ["pong"]
    assert got[-1]["id"] == 1


def test_history_and_diff_between_two_plans(mesh):
    plan = worked_plan()
    plan["by_track"]["Track1"]["work"][1]["end"] = "2013-12-12"
    put = mesh.put_plan(plan, "v2\n")
    wait_for(lambda: mesh.call("/api/plan")[1].get("commit") == put["commit"], 10)
    status, history, _ = mesh.call("/api/history?dataset=plan&limit=5")
    assert status == 200
    commits = history["commits"]
    assert [c["seq"] for c in commits] == [2, 1]
    new, old = commits[0]["commit"], commits[1]["commit"]
    status, answer, _ = mesh.call(f"/api/diff?from={old}&to={new}&raw=1")
    assert status == 200
    moved = answer["diff"]["items"]["moved"]
    assert [(m["track"], m["name"]) for m in moved] == [("Track1", "Push notifications")]
    assert "-v1" in answer["raw_diff"] and "+v2" in answer["raw_diff"]
    # Short SHAs work too; the same commit twice is no change.
    status, same, _ = mesh.call(f"/api/diff?from={new[:10]}&to={new}")
    assert status == 200 and same["diff"]["count"] == 0


@pytest.mark.parametrize(
    "document",
    ["{not json", "[" * 5000, json.dumps({"tracks": ["All"], "by_track": {"All": {"work": [1]}}})],
    ids=["not json", "too deep", "work items that are not objects"],
)
def test_a_broken_plan_keeps_the_last_good_one(mesh, document):
    before = mesh.call("/api/plan")[1]["commit"]
    with store_client(mesh.config, timeout=5) as store:
        put = store.put("plan", {"plan.json": document}, producer="test")
    status, history, _ = mesh.call("/api/history?limit=1")
    assert history["commits"][0]["commit"] == put["commit"]

    def web_row():
        rows = mesh.call("/api/health")[1]["components"]
        return next(row for row in rows if row["component"] == "web")

    # The web's beat names the commit it handled last, read or not.
    wait_for(lambda: web_row()["last_sha"] == put["commit"], 10, what="the web to see the plan")
    assert mesh.call("/api/plan")[1]["commit"] == before
    assert mesh.call("/api/plan?track=All&triage=2")[1]["commit"] == before
    status, answer, _ = mesh.call(f"/api/diff?from={before}&to={put['commit']}")
    assert status == 400 and "readable plan" in answer["error"]


def test_pages_are_served_with_a_content_security_policy(mesh):
    for path in ("/", "/history", "/dashboard"):
        with urllib.request.urlopen(mesh.url(path), timeout=10) as response:
            assert response.status == 200
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
            assert b"<script src=" in response.read()
