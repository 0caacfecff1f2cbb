"""The web's guard against a real web process: Host, Origin, content type, sizes, NaN, headers.

Each test is one finding of the security review (issue 9) that failed before the guard.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from tests.support import Proc, service_args, wait_for, write_config
from web.app import MAX_BODY, answer_client
from web.guard import Guard

ADD = json.dumps({"edits": [{"op": "add_people", "skill": "Web", "track": "T", "count": 1}]})


class Web:
    """A web process alone (no store: the guard answers before anything needs one)."""

    def __init__(self, folder: Path) -> None:
        self.config = write_config(folder, {"mesh": {"request_timeout": "0.5"}})
        text = self.config.read_text()
        self.port = int(text.split("[web]")[1].split("port = ")[1].split()[0])
        self.proc = Proc(service_args("web", self.config), folder / "web.out")

    def call(self, path: str, body: bytes | None = None, headers: dict | None = None):
        """(status, JSON body or None, headers); JSON content type by default for a body."""
        sent = {"Content-Type": "application/json"} if body is not None else {}
        sent.update(headers or {})
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=body,
            method="POST" if body is not None else "GET",
            headers=sent,
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                data, status, got = response.read(), response.status, response.headers
        except urllib.error.HTTPError as exc:
            with exc:
                data, status, got = exc.read(), exc.code, exc.headers
        with contextlib.suppress(ValueError):
            return status, json.loads(data), got
        return status, None, got


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    web = Web(tmp_path_factory.mktemp("websec"))
    wait_for(lambda: web.call("/api/health")[0] == 200, 20, what="the web to listen")
    yield web
    web.proc.stop()


async def _ws_messages(url: str, sends: list[str], wanted: int) -> list[dict]:
    conn = await websocket_connect(url)
    got: list[dict] = []
    try:
        for text in sends:
            await conn.write_message(text)
        while len(got) < wanted:
            message = await asyncio.wait_for(conn.read_message(), 10)
            if message is None:
                break
            parsed = json.loads(message)
            if parsed.get("type") != "health":
                got.append(parsed)
    finally:
        conn.close()
        with contextlib.suppress(TimeoutError):
            while await asyncio.wait_for(conn.read_message(), 5) is not None:
                pass
    return got


def test_text_plain_from_an_evil_origin_is_refused(mesh):
    status, body, _ = mesh.call(
        "/api/whatif",
        ADD.encode(),
        {"Content-Type": "text/plain", "Origin": "http://evil.example"},
    )
    assert status == 403 and "evil.example" in body["error"]
    status, body, _ = mesh.call("/api/whatif", ADD.encode(), {"Content-Type": "text/plain"})
    assert status == 415 and "application/json" in body["error"]
    own = f"http://127.0.0.1:{mesh.port}"
    status, body, _ = mesh.call("/api/whatif", ADD.encode(), {"Origin": own})
    assert status == 503  # accepted: only the plan (and the planner) are missing here


@pytest.mark.parametrize("path", ["/api/plan.json", "/api/health", "/", "/static/common.js"])
def test_a_foreign_host_is_refused(mesh, path):
    status, body, _ = mesh.call(path, headers={"Host": "evil.example"})
    assert status == 403 and "evil.example" in body["error"]
    assert mesh.call("/api/health", headers={"Host": f"localhost:{mesh.port}"})[0] == 200


async def _ws_status(url: str, headers: dict) -> int:
    try:
        conn = await websocket_connect(HTTPRequest(url, headers=headers))
    except HTTPClientError as exc:
        return exc.code
    conn.close()
    with contextlib.suppress(TimeoutError):
        while await asyncio.wait_for(conn.read_message(), 5) is not None:
            pass
    return 101


@pytest.mark.parametrize(
    "headers, status",
    [({"Host": "evil.example"}, 403), ({"Origin": "http://evil.example"}, 403)],
)
def test_the_websocket_refuses_a_foreign_host_or_origin(mesh, headers, status):
    url = f"ws://127.0.0.1:{mesh.port}/ws"
    assert asyncio.run(_ws_status(url, headers)) == status
    own = {"Origin": f"http://127.0.0.1:{mesh.port}"}
    assert asyncio.run(_ws_status(url, own)) == 101


def test_a_body_over_the_limit_gets_a_413_json_error(mesh):
    body = b'{"edits": [' + b" " * (MAX_BODY + 10) + b"]}"
    status, answer, _ = mesh.call("/api/whatif", body)
    assert status == 413 and str(MAX_BODY) in answer["error"]


def test_a_nan_ping_is_never_answered_with_nan(mesh):
    url = f"ws://127.0.0.1:{mesh.port}/ws?want=plan"
    sends = ['{"type":"ping","id":NaN}', '{"type":"ping","id":Infinity}']
    reply = asyncio.run(_ws_messages(url, sends, 3))
    texts = [json.dumps(message, allow_nan=False) for message in reply]  # raises on NaN
    assert [m["type"] for m in reply[1:]] == ["error", "error"], texts
    assert "NaN" in reply[1]["error"]
    assert answer_client('{"type":"ping","id":-Infinity}')["type"] == "error"


@pytest.mark.parametrize("path", ["/static/common.js", "/static/nosuch.js", "/api/health", "/"])
def test_every_response_carries_security_headers(mesh, path):
    with socket.create_connection(("127.0.0.1", mesh.port), timeout=5) as conn:
        conn.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{mesh.port}\r\n\r\n".encode())
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head = data.split(b"\r\n\r\n")[0].decode().lower()
    assert "content-security-policy: default-src 'self'" in head
    assert "frame-ancestors 'none'" in head
    assert "x-content-type-options: nosniff" in head
    assert "x-frame-options: deny" in head
    assert "referrer-policy: no-referrer" in head


def test_sign_in_host_names_and_origins():
    guard = Guard(frozenset({"127.0.0.1", "plan.example"}), "s3cret")

    def request(host: str, auth: str = "", method: str = "GET", **headers: str):
        all_headers = {"Authorization": auth, **headers}
        return SimpleNamespace(
            host_name=host.rsplit(":", 1)[0], host=host, protocol="http", method=method,
            headers=all_headers,
        )  # fmt: skip

    def basic(text: str) -> str:
        return "Basic " + base64.b64encode(text.encode()).decode()

    guard.check(request("PLAN.example:8750", basic("anyone:s3cret")))
    for refused in (
        request("evil.example", basic("anyone:s3cret")),
        request("127.0.0.1", basic("anyone:wrong")),
        request("127.0.0.1", "Basic !!!"),
        request("127.0.0.1", basic("x:s3cret"), "POST", **{"Content-Type": "text/plain"}),
        request("127.0.0.1", basic("x:s3cret"), "POST", Origin="http://evil.example"),
    ):
        with pytest.raises(Exception, match="."):
            guard.check(refused)
    own = request("127.0.0.1:8750")
    assert guard.origin_ok("http://127.0.0.1:8750", own)
    assert not guard.origin_ok("http://127.0.0.1:8751", own)
    assert not guard.origin_ok("null", own)
