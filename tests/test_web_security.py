"""The web refuses what a foreign page or a rebound DNS name could send (issue 9).

A real web process on a random port (no store: these checks come first).
"""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from tests.support import wait_for
from tests.test_web_api import Mesh, _close, ws
from web.app import MAX_BODY, answer_client
from web.safejson import browser_json

ADD = json.dumps({"edits": [{"op": "add_people", "skill": "Web", "track": "T", "count": 1}]})


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    mesh = Mesh(tmp_path_factory.mktemp("websec"))
    mesh.start("web")
    wait_for(lambda: mesh.call("/api/health")[0] == 200, 20, what="the web to listen")
    yield mesh
    for proc in reversed(mesh.procs):
        proc.stop()


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
    assert status == 503  # accepted: only the planner is missing here


@pytest.mark.parametrize("path", ["/api/plan.json", "/api/health", "/", "/static/common.js"])
def test_a_foreign_host_is_refused(mesh, path):
    status, body, _ = mesh.call(path, headers={"Host": "evil.example"})
    assert status == 421 and "evil.example" in body["error"]
    assert mesh.call("/api/health", headers={"Host": f"localhost:{mesh.port}"})[0] == 200


async def _ws_status(url: str, headers: dict) -> int:
    try:
        conn = await websocket_connect(HTTPRequest(url, headers=headers))
    except HTTPClientError as exc:
        return exc.code
    await _close(conn)
    return 101


@pytest.mark.parametrize(
    "headers, status",
    [({"Host": "evil.example"}, 421), ({"Origin": "http://evil.example"}, 403)],
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
    reply = ws(mesh, ['{"type":"ping","id":NaN}', '{"type":"ping","id":Infinity}'], 3)
    texts = [json.dumps(message, allow_nan=False) for message in reply]  # raises on NaN
    assert [m["type"] for m in reply[1:]] == ["error", "error"], texts
    assert "NaN" in reply[1]["error"]
    assert answer_client('{"type":"ping","id":-Infinity}')["type"] == "error"
    assert browser_json({"a": [float("nan"), float("inf"), 1.5]}) == b'{"a":[null,null,1.5]}'


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
    import base64

    from web.access import WebAccess, host_name, is_loopback

    access = WebAccess(frozenset({"127.0.0.1", "plan.example"}), "s3cret")

    def basic(text: str) -> str:
        return "Basic " + base64.b64encode(text.encode()).decode()

    assert access.signed_in(basic("anyone:s3cret"))
    assert not access.signed_in(basic("anyone:wrong"))
    assert not access.signed_in(None) and not access.signed_in("Basic !!!")
    assert access.host_allowed("PLAN.example:8750") and not access.host_allowed("evil.example")
    assert not access.host_allowed(None)
    assert access.origin_allowed(None, "x") and access.origin_allowed("http://a:1", "a:1")
    assert not access.origin_allowed("http://a:2", "a:1")
    assert host_name("[::1]:8750") == "[::1]" and host_name("Localhost") == "localhost"
    assert is_loopback("127.0.0.1") and is_loopback("::1") and not is_loopback("0.0.0.0")
