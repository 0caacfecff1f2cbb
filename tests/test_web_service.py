"""The web's plain parts: a GET answer turned into the plan it shows and the notice it sends."""

from __future__ import annotations

import json
import resource

import pytest

from mesh.snapshot import Snapshot
from tests.examples import worked_plan
from web.plans import load_plan, prepare
from web.service import raise_open_files_limit
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


def test_a_plan_becomes_one_small_websocket_notice_made_once():
    text = json.dumps(worked_plan(), indent=2).encode()
    version = load_plan(snapshot({"plan.json": text}))
    prepare(version)
    message = json.loads(version.notice)
    assert message["type"] == "plan"
    assert (message["commit"], message["seq"]) == ("p" * 40, 7)
    assert message["lineage"]["raw"] == "a" * 40 and message["forecast"] is None
    # The notice says a version is there; each page fetches its own view.
    assert "plan" not in message and len(version.notice) < 1024
    assert b"\n" not in version.notice and b", " not in version.document
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
    assert version.views == {} and version.notice == b""


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
