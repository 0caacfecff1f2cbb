"""The dashboard's status rules and per-minute rates (pure functions, no sockets)."""

from __future__ import annotations

import pytest

from web.health import HealthBoard, component_status

NOW = 1_000_000.0


def beat(component="condition_service", pid=100, last_work=NOW - 5, state="up", **more):
    return {"component": component, "pid": pid, "last_work": last_work, "state": state, **more}


def status(name="condition_service", b=None, age=0.5, child=None, **kw):
    return component_status(name, b, age, child, NOW, 3.0, 60.0, **kw)


def test_a_component_that_beats_and_worked_lately_is_up():
    assert status(b=beat()).status == "up"


def test_a_component_that_beats_without_recent_work_is_idle():
    assert status(b=beat(last_work=NOW - 61)).status == "idle"
    never = status(b=beat(last_work=None))
    assert never.status == "idle" and never.detail == "no work yet"


def test_no_heartbeat_for_missing_after_seconds_is_missing():
    assert status(b=beat(), age=2.9).status == "up"
    late = status(b=beat(), age=3.0)
    assert late.status == "missing" and "3.0 s" in late.detail
    assert status(b=None, age=None).status == "missing"


def test_a_last_word_of_stopping_is_missing_at_once():
    assert status(b=beat(state="stopping"), age=0.1).status == "missing"


@pytest.mark.parametrize(
    ("child", "detail"),
    [
        ({"state": "backoff", "pid": None, "restarts": 1, "next_start_in": 2}, "restart in 2.0 s"),
        ({"state": "stopped", "pid": None, "restarts": 0}, "stopped"),
    ],
)
def test_a_child_run_all_saw_exit_is_missing_even_with_a_fresh_beat(child, detail):
    found = status(b=beat(), age=0.2, child=child)
    assert found.status == "missing"
    assert detail in found.detail


def test_a_failing_child_is_shown_loudly_with_its_next_try():
    child = {"state": "failing", "pid": None, "restarts": 5, "next_start_in": 30}
    found = status(b=beat(), age=0.2, child=child)
    assert found.status == "failing"
    assert "FAILING" in found.detail and "next try in 30 s" in found.detail


def test_a_replacement_that_has_not_beaten_yet_is_restarting():
    spawned = {"state": "running", "pid": 200, "restarts": 1}
    assert status(b=beat(pid=100), age=2.0, child=spawned).status == "restarting"
    assert status(b=beat(pid=100), age=2.0, child={**spawned, "state": "starting"}).status == (
        "restarting"
    )
    # Once the new pid beats, the usual rules apply again.
    assert status(b=beat(pid=200), age=0.1, child=spawned).status == "up"


def test_fields_of_the_wrong_type_in_run_all_s_beat_are_ignored():
    for restarts in ("x", None, [1], 1.5):
        child = {"state": "running", "pid": 100, "restarts": restarts}
        assert status(b=beat(), child=child).status == "up"


def test_the_first_start_is_not_a_restart():
    first = {"state": "starting", "pid": 100, "restarts": 0}
    assert status(b=None, age=None, child=first).status == "missing"
    running = {"state": "running", "pid": 100, "restarts": 0}
    assert status(b=beat(pid=100), age=0.1, child=running).status == "up"


def test_pull_raw_without_a_watcher_is_idle_never_missing():
    found = status("pull_raw", b=None, age=None, last_raw_time="2026-11-23T04:00:00Z")
    assert found.status == "idle" and "2026-11-23T04:00:00Z" in found.detail
    assert status("pull_raw", b=beat("pull_raw"), age=30).status == "idle"
    assert status("pull_raw", b=beat("pull_raw"), age=0.5).status == "up"


def test_board_counts_messages_in_the_last_minute_of_one_process():
    board = HealthBoard(3.0, 60.0)
    for second in range(0, 91, 10):
        board.record(beat(messages_in=second, messages_out=2 * second), at=NOW - 90 + second)
    row = board.row("condition_service", NOW, {})
    # Samples from NOW-60 (30 in) to NOW (90 in).
    assert row["in_per_min"] == 60 and row["out_per_min"] == 120
    board.record(beat(pid=101, messages_in=3), at=NOW + 1)  # a restart resets the counters
    assert board.row("condition_service", NOW + 1, {})["in_per_min"] == 0


def test_a_process_started_within_the_minute_counts_everything_since_its_start():
    board = HealthBoard(3.0, 60.0)
    board.record(beat(pid=102, messages_in=4, messages_out=7, started=NOW - 2), at=NOW)
    row = board.row("condition_service", NOW, {})
    assert (row["in_per_min"], row["out_per_min"]) == (4, 7)
    # A minute after its start only the growth within the window counts.
    board.record(beat(pid=102, messages_in=5, messages_out=7, started=NOW - 2), at=NOW + 70)
    assert board.row("condition_service", NOW + 70, {})["in_per_min"] == 0


def test_board_uses_run_all_children_only_while_run_all_beats():
    board = HealthBoard(3.0, 60.0)
    children = {"qplan_service": {"state": "backoff", "pid": None, "restarts": 1}}
    board.record(beat("run_all", detail={"children": children}), at=NOW - 1)
    board.record(beat("qplan_service"), at=NOW - 0.5)
    rows = {r["component"]: r for r in board.snapshot(NOW)["components"]}
    assert rows["qplan_service"]["status"] == "missing"
    assert rows["qplan_service"]["restarts"] == 1
    later = {r["component"]: r for r in board.snapshot(NOW + 3)["components"]}
    assert later["run_all"]["status"] == "missing"
    assert later["qplan_service"]["restarts"] is None  # run_all's word is stale


def test_board_lists_fixed_components_first_then_others_and_ignores_nameless_beats():
    board = HealthBoard()
    assert not board.record({"pid": 1})
    assert board.record(beat("zz_extra"), at=NOW)
    names = [r["component"] for r in board.snapshot(NOW)["components"]]
    assert names == [
        "pull_raw",
        "snapshot_service",
        "condition_service",
        "qplan_service",
        "web",
        "forecast_service",
        "run_all",
        "zz_extra",
    ]


def test_a_component_in_plain_text_says_so_on_its_row():
    plain = beat(detail={"plain_text": True})
    assert status(b=plain).detail.startswith("PLAIN TEXT")
    assert "PLAIN TEXT" in status(b={**plain, "last_work": None}).detail
    assert status(b=beat()).detail == ""
