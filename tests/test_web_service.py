"""The web service's plain parts: turning a GET answer into the plan it pushes."""

from __future__ import annotations

import json
import resource

import pytest

from mesh.snapshot import Snapshot
from tests.test_web_views import worked_plan
from web.hub import text_frame
from web.service import load_plan, prepare, raise_open_files_limit
from web.views import plan_view


def snapshot(files: dict[str, bytes]) -> Snapshot:
    chain = [{"dataset": "plan", "commit": "p" * 40, "time": "2026-11-23T04:00:00Z", "source": ""}]
    return Snapshot(
        dataset="plan",
        commit="p" * 40,
        seq=7,
        time="2026-11-23T04:00:00Z",
        lineage={"conditioned": "c" * 40, "raw": "a" * 40},
        chain=chain,
        files=files,
    )


def payload(frame: bytes) -> bytes:
    """The payload of one unmasked websocket frame from the server."""
    size = frame[1] & 0x7F
    start = {126: 4, 127: 10}.get(size, 2)
    return frame[start:]


def test_a_plan_becomes_one_compact_websocket_message_made_once():
    text = json.dumps(worked_plan(), indent=2).encode()
    version = load_plan(snapshot({"plan.json": text}))
    prepare(version)
    body = payload(version.frame)
    assert version.frame == text_frame(body)
    message = json.loads(body)
    assert message["type"] == "plan"
    assert (message["commit"], message["seq"]) == ("p" * 40, 7)
    assert message["lineage"]["raw"] == "a" * 40
    assert message["plan"] == worked_plan()
    assert b"\n" not in body and b", " not in version.document
    assert json.loads(version.document) == worked_plan()
    # Every track's default view is made once too, as /api/plan answers it.
    assert sorted(version.views) == sorted(worked_plan()["by_track"])
    view = json.loads(version.views["Track1"])
    assert view["commit"] == "p" * 40 and view == {**view, **plan_view(worked_plan(), "Track1")}


@pytest.mark.parametrize(
    "by_track",
    [{"All": {"work": [1]}}, {"All": "x"}, {"All": {"work": "abc"}}],
)
def test_a_plan_the_pages_cannot_show_is_a_value_error(by_track):
    plan = {**worked_plan(), "by_track": by_track, "tracks": ["All"]}
    version = load_plan(snapshot({"plan.json": json.dumps(plan).encode()}))
    with pytest.raises(ValueError, match="not a plan the pages can show"):
        prepare(version)
    assert version.views == {} and version.frame == b""


@pytest.mark.parametrize(
    "files",
    [{"plan.json": b"{broken"}, {"plan.json": b"[1, 2]"}, {"other.txt": b"{}"}, {}],
)
def test_an_unreadable_plan_is_a_value_error(files):
    with pytest.raises(ValueError):
        load_plan(snapshot(files))


def test_the_open_files_limit_is_raised_to_the_hard_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 256), hard))
        assert raise_open_files_limit() == (hard if hard != resource.RLIM_INFINITY else 256)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
