"""The web service's plain parts: turning a GET answer into the plan it pushes."""

from __future__ import annotations

import json
import resource

import pytest

from mesh.snapshot import Snapshot
from tests.test_web_views import worked_plan
from web.hub import text_frame
from web.service import load_plan, raise_open_files_limit


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


def test_a_plan_becomes_one_compact_websocket_message_made_once():
    text = json.dumps(worked_plan(), indent=2).encode()
    version = load_plan(snapshot({"plan.json": text}))
    message = json.loads(version.message)
    assert message["type"] == "plan"
    assert (message["commit"], message["seq"]) == ("p" * 40, 7)
    assert message["lineage"]["raw"] == "a" * 40
    assert message["plan"] == worked_plan()
    assert b"\n" not in version.message and b", " not in version.document
    assert version.frame == text_frame(version.message)
    assert json.loads(version.document) == worked_plan()


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
