"""mesh.priority: a background process gives way, its session's autogroup too."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mesh.priority import AUTOGROUP

REPORT = """
import json, os
from mesh.priority import AUTOGROUP, lower_priority
failed = lower_priority(7)
print(json.dumps({"failed": failed, "nice": os.nice(0), "group": AUTOGROUP.read_text()}))
"""

pytestmark = pytest.mark.skipif(not AUTOGROUP.exists(), reason="no autogroups on this kernel")


def _child(own_session: bool) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", REPORT],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        start_new_session=own_session,
    )
    return json.loads(done.stdout)


def _nice_of(group: str) -> int:
    return int(group.split("nice")[1])  # "/autogroup-123 nice 7"


def test_a_process_leading_its_session_lowers_its_autogroup_too():
    got = _child(own_session=True)
    if any(failed.startswith("autogroup:") for failed in got["failed"]):
        pytest.skip(f"this machine does not let a process set its autogroup: {got['failed']}")
    assert got["failed"] == [] and got["nice"] == min(19, os.nice(0) + 7)
    assert _nice_of(got["group"]) == 7


def test_a_process_in_its_parents_session_leaves_the_autogroup_alone():
    before = AUTOGROUP.read_text()
    got = _child(own_session=False)
    assert got["failed"] == [] and got["group"] == before
    assert AUTOGROUP.read_text() == before
