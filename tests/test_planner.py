"""The planner against DOMAIN.md's worked example, figure by figure, through the real filter."""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess

import pytest

from formats.streams import Item, Model, Params, Person, format_streams, parse_streams
from planning import planner
from planning.planner import compute_plan, plan_to_json, schedule
from qplan_service.filter import PARALLEL_LINES
from tests.support import PYTHON, ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "worked_example.streams"


def run_filter(text: str, *args: str) -> subprocess.CompletedProcess:
    """``python -m qplan_service.filter [args]`` with ``text`` on stdin."""
    return subprocess.run(
        [PYTHON, "-m", "qplan_service.filter", *args],
        cwd=ROOT,
        input=text.encode("utf-8"),
        capture_output=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def raw_plan() -> str:
    result = run_filter(FIXTURE.read_text(encoding="utf-8"))
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b""
    return result.stdout.decode("utf-8")


@pytest.fixture(scope="module")
def plan(raw_plan: str) -> dict:
    return json.loads(raw_plan)


def work(plan: dict, track: str) -> dict[str, dict]:
    """The work items of one track, by name."""
    return {item["name"]: item for item in plan["by_track"][track]["work"]}


def test_manpower_per_track(plan):
    by_track = plan["by_track"]
    assert by_track["All"]["manpower"] == {"Apps": 21.2, "Native": 10.2, "QA": 10.6, "Web": 10.6}
    assert by_track["Track1"]["manpower"] == {"Apps": 10.6, "Native": 10.2, "QA": 10.6, "Web": 0}
    assert by_track["Track2"]["manpower"] == {"Apps": 10.6, "Native": 0, "QA": 0, "Web": 10.6}


def test_cumulative_demand_of_all(plan):
    demand = plan["by_track"]["All"]["demand"]
    assert demand["1"] == {"Apps": 3, "Native": 2, "QA": 0, "Web": 1.5}
    assert demand["1.5"] == {"Apps": 3, "Native": 2, "QA": 1, "Web": 5.5}
    assert demand["2.5"] == {"Apps": 34, "Native": 8, "QA": 1, "Web": 25.5}
    assert list(demand) == ["1", "1.5", "2", "2.5", "3"]


def test_track1_dates(plan):
    items = work(plan, "Track1")
    assert items["Login flow"]["end"] == "2013-10-25"
    assert items["Push notifications"]["end"] == "2013-12-05"
    assert items["No estimate item"]["end"] is None
    assert [item["name"] for item in plan["by_track"]["Track1"]["work"]] == [
        "Login flow",
        "Push notifications",
        "No estimate item",
    ]


def test_track2_dates_and_shortages(plan):
    items = work(plan, "Track2")
    assert items["Search"]["end"] == "2013-10-16"
    assert items["Big rewrite"]["end"] is None
    assert items["Big rewrite"]["shortage"] == {"Apps": -19.4, "Web": -14.9}
    assert items["Settings page"]["shortage"] == {"QA": -1}
    assert items["Search"]["shortage"] == {}
    assert [item["rank"] for item in plan["by_track"]["Track2"]["work"]] == [5, 20, 40]


def test_all_shortage_of_the_big_rewrite(plan):
    items = work(plan, "All")
    assert items["Big rewrite"]["shortage"] == {"Apps": -12.8, "Web": -14.9}
    assert items["Big rewrite"]["end"] is None
    assert items["Settings page"]["shortage"] == {}  # All has Eve, who does QA


def test_params_skills_tracks_and_staff(plan):
    assert plan["params"] == {
        "start": "2013-10-07",
        "end": "2013-12-20",
        "num_weeks": 11,
        "scheduled_skills": ["Apps", "Native", "Web"],
        "holidays": ["2013-11-28", "2013-11-29"],
    }
    assert plan["tracks"] == ["All", "Track1", "Track2"]
    assert plan["skills"] == ["Apps", "Native", "QA", "Web"]
    assert plan["triages"] == [1, 1.5, 2, 2.5, 3]
    assert plan["by_track"]["All"]["staff"] == {
        "Apps": ["Alice", "Dan"],
        "Native": ["Bob"],
        "QA": ["Eve"],
        "Web": ["Carol"],
    }
    assert plan["by_track"]["Track2"]["staff"]["Native"] == []


def test_item_fields(plan):
    login = {k: v for k, v in work(plan, "All")["Login flow"].items() if k not in ("why",)}
    assert login == {
        "id": "W10",
        "rank": 10,
        "name": "Login flow",
        "triage": 1,
        "track": "Track1",
        "estimate": {"Apps": 3, "Native": 2},
        "shortage": {},
        "end": "2013-10-25",
        "start": "2013-10-07",
        "binding": "Apps",
    }
    assert work(plan, "All")["No estimate item"]["triage"] == 3


def test_every_object_has_its_keys_sorted(raw_plan):
    def check(pairs):
        keys = [key for key, _ in pairs]
        assert keys == sorted(keys)
        return dict(pairs)

    json.loads(raw_plan, object_pairs_hook=check)


@pytest.mark.parametrize(
    "text, where",
    [
        ("=====qplan params v1\n\tOct 7, 2013\n", "missing stream"),
        (FIXTURE.read_text(encoding="utf-8").replace("\tOct 7, 2013", "\tOct 77, 2013"), "line 2"),
        (FIXTURE.read_text(encoding="utf-8").replace("Apps:3,", "Apps:three,"), "line 13"),
        ("not streams at all\n", "line 1"),
    ],
)
def test_bad_streams_exit_2_with_one_line(text, where):
    result = run_filter(text)
    assert result.returncode == 2
    assert result.stdout == b""
    message = result.stderr.decode()
    assert message.count("\n") == 1, message
    assert where in message


def test_input_that_is_not_utf8_exits_2():
    result = subprocess.run(
        [PYTHON, "-m", "qplan_service.filter"],
        cwd=ROOT,
        input=b"=====qplan params v1\n\t\xff\n",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "UTF-8" in result.stderr.decode()


def big_streams(items: int, people: int, seed: int) -> str:
    """A seeded random model as streams text: tracks, vacations, holidays, ties in rank,
    unscheduled and unsized items, a skill named twice."""
    rng = random.Random(seed)
    skills, tracks = ["Apps", "Native", "QA", "UX", "Web"], ["Core", "Growth", "Pay", "Zed"]
    start = dt.date(2026, 1, 5)
    days = [start + dt.timedelta(n) for n in range(91)]
    staff = [
        Person(
            f"P{n}",
            f"Person {n}",
            "Team",
            rng.choice(tracks),
            rng.choice(skills),
            tuple(sorted(set(rng.sample(days, rng.choice((0, 0, 3)))))),
        )
        for n in range(people)
    ]
    work = []
    for n in range(items):
        picked = rng.sample(skills, rng.choice((0, 1, 2, 3)))
        estimate = tuple((skill, float(rng.choice((0.5, 1, 2, 3, 5, 8)))) for skill in picked)
        if n % 97 == 0 and estimate:
            estimate += (estimate[0],)  # the same skill twice: its parts add up
        work.append(
            Item(
                f"W{n}",
                float(rng.randrange(items // 2)),
                f"Item {n}",
                estimate,
                rng.choice((1, 1.5, 2, 3)),
                rng.choice(tracks),
            )
        )
    params = Params(start, days[-1], ("Web", "Apps", "UX", "Native"))  # as written, unsorted
    return format_streams(Model(params, (days[10], days[40]), staff, work))


def test_a_big_plan_on_two_cores_is_the_same_bytes_as_on_one():
    text = big_streams(3000, 300, seed=7)
    assert text.count("\n") >= PARALLEL_LINES  # so that the filter forks
    parallel, serial = run_filter(text), run_filter(text, "--serial")
    assert parallel.returncode == serial.returncode == 0, parallel.stderr + serial.stderr
    assert parallel.stderr == serial.stderr == b""
    expected = plan_to_json(compute_plan(parse_streams(text))) + "\n"
    assert parallel.stdout.decode() == serial.stdout.decode() == expected


def test_bad_big_input_gets_one_line_from_two_cores():
    lines = big_streams(3000, 300, seed=8).splitlines(keepends=True)
    bad = next(n for n, line in enumerate(lines) if line.startswith("\tW2500\t"))
    lines[bad] = lines[bad].replace("\tItem 2500\t", "\tItem 2500\tspare field\t")
    result = run_filter("".join(lines))
    assert result.returncode == 2 and result.stdout == b""
    message = result.stderr.decode()
    assert message.count("\n") == 1 and f"line {bad + 1}" in message, message


def test_unknown_filter_argument_is_refused():
    result = run_filter("", "--fast")
    assert result.returncode == 2 and b"usage" in result.stderr


def test_pretty_json_is_the_same_plan_one_key_a_line():
    plan = compute_plan(parse_streams(FIXTURE.read_text(encoding="utf-8")))
    pretty = plan_to_json(plan, pretty=True)
    assert json.loads(pretty) == json.loads(plan_to_json(plan))
    assert '\n "by_track": {\n' in pretty
    assert pretty.endswith("}\n")


def test_compact_json_matches_the_standard_encoder():
    plan = compute_plan(parse_streams(FIXTURE.read_text(encoding="utf-8")))
    expected = json.dumps(plan, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert plan_to_json(plan) == expected
    assert planner._compact_json(plan) == expected


def test_weekdays_and_work_days():
    start, end = dt.date(2013, 10, 7), dt.date(2013, 12, 20)
    assert planner.weekday_count(start, end) == 55
    holidays = [dt.date(2013, 11, 28), dt.date(2013, 11, 29), dt.date(2013, 11, 30)]
    days = planner.work_days(start, end, holidays)
    assert len(days) == 53
    assert days[0] == start and days[-1] == end
    assert planner.weekday_count(dt.date(2013, 10, 5), dt.date(2013, 10, 6)) == 0  # a weekend
    assert planner.weekday_count(dt.date(2013, 10, 8), dt.date(2013, 10, 7)) == 0


@pytest.mark.parametrize("weeks, limit", [(0.5, 1), (2, 1), (2.5, 1), (3.9, 1), (4, 2), (13, 6)])
def test_per_day_limit(weeks, limit):
    assert planner.per_day_limit(weeks) == limit


def test_schedule_splits_a_day_and_marks_dnf():
    # One person for 4 days: 1.5 weeks take 7.5 person-days, so the first item
    # cannot finish; the second finds half of nothing and is DNF too.
    result = schedule(4, {"Web": [1.0] * 4}, [{"Web": 1.5}, {"Web": 0.1}])
    assert result.ends == [None, None]
    assert result.used["Web"] == [1.0] * 4
    result = schedule(8, {"Web": [1.0] * 8}, [{"Web": 0.1}, {"Web": 1.5}, {}, None])
    assert result.ends == [0, 7, 0, None]
    assert result.used["Web"] == [1.0] * 8


def test_item_without_scheduled_effort_is_done_on_the_first_work_day():
    text = FIXTURE.read_text(encoding="utf-8").replace("Web:1.5\t1", "QA:1.5\t1")
    plan = compute_plan(parse_streams(text))
    assert work(plan, "Track2")["Search"]["end"] == "2013-10-07"


def test_a_data_track_named_all_is_folded_into_all():
    text = FIXTURE.read_text(encoding="utf-8").replace("Web:1.5\t1\tTrack2", "Web:1.5\t1\tAll")
    plan = compute_plan(parse_streams(text))
    assert plan["tracks"] == ["All", "Track1", "Track2"]
    assert "Search" in work(plan, "All")
    assert "Search" not in work(plan, "Track2")


# -- start, binding and why (DOMAIN.md "What the plan also says"), worked out by hand ----------


@pytest.mark.parametrize(
    ("track", "name", "start", "binding", "kind"),
    [
        # Alice does Login's Apps at 1 a day Oct 7-25; Bob's Native is done Oct 22.
        ("Track1", "Login flow", "2013-10-07", "Apps", "finishes_last"),
        # Bob is free from Oct 23 (Login took Oct 22); Alice from Oct 28: Native ends Dec 5.
        ("Track1", "Push notifications", "2013-10-23", "Native", "finishes_last"),
        ("Track1", "No estimate item", None, None, "no_estimate"),
        ("Track2", "Search", "2013-10-07", "Web", "finishes_last"),
        # Search leaves half of Carol's Oct 16; Settings starts there (QA is not scheduled).
        ("Track2", "Settings page", "2013-10-16", "Web", "finishes_last"),
        # Dan alone cannot do 150 person-days of Apps: Apps (named first) runs out.
        ("Track2", "Big rewrite", "2013-10-07", "Apps", "ran_out"),
        ("All", "Search", "2013-10-07", "Web", "finishes_last"),
        ("All", "Login flow", "2013-10-07", "Apps", "finishes_last"),
        # In All, Login and then Push (1 Apps a day each) fill Alice and Dan until Oct 11.
        ("All", "Push notifications", "2013-10-07", "Native", "finishes_last"),
        ("All", "Big rewrite", "2013-10-14", "Apps", "ran_out"),
    ],
)
def test_start_and_binding_of_the_worked_example(plan, track, name, start, binding, kind):
    item = work(plan, track)[name]
    assert (item["start"], item["binding"], item["why"]["kind"]) == (start, binding, kind)
    assert item["why"]["pooled"] is (track == "All")


def test_why_counts_people_booked_days_vacations_and_holidays(plan):
    login = work(plan, "Track1")["Login flow"]["why"]
    assert login == {**login, "people": 1, "booked_days": 15, "vacation_days": 0, "holidays": 0}
    # Bob is booked every one of the 30 work days Oct 23 - Dec 5; Nov 28-29 fall inside.
    push = work(plan, "Track1")["Push notifications"]["why"]
    assert push == {**push, "people": 1, "booked_days": 30, "vacation_days": 0, "holidays": 2}
    settings = work(plan, "Track2")["Settings page"]
    assert settings["end"] == "2013-11-13"
    assert settings["why"]["booked_days"] == 21  # Oct 16 - Nov 13, Carol full every day


def test_load_per_week_and_leverage(plan):
    load = plan["by_track"]["Track1"]["load"]
    assert load["weeks"][:2] == ["2013-10-07", "2013-10-14"] and len(load["weeks"]) == 11
    native = load["skills"]["Native"]
    assert native["available"][:2] == [5, 3]  # Bob's Oct 14-15 off
    assert native["used"][:2] == [5, 3]
    assert load["skills"]["Apps"]["available"][6:8] == [5, 3]  # Nov 18-22, Nov 25-27
    assert sum(load["skills"]["Apps"]["used"]) == 20  # Login 15 + Push 5 person-days
    # One more Native person from Oct 7: Login's Native is done Oct 18, and Push (p = 3) takes
    # what is left from Oct 7 on, 2 a day from Oct 21: done Nov 4 instead of Dec 5, 21 work
    # days earlier.
    track1 = plan["by_track"]["Track1"]["leverage"]
    assert track1[0] == {"skill": "Native", "dnf_to_date": 0, "days_pulled_in": 21}
    assert [e["skill"] for e in plan["by_track"]["Track2"]["leverage"]] == ["Web", "Apps", "Native"]
