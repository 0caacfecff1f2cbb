"""What-if scenarios: edits applied to a model, and what they change in the plan.

Pure functions, no sockets. ``apply_edits(model, edits)`` returns a new
Model (the input is never changed); ``compare_plans(before, after)`` lists
every item whose date or shortage differs, per track. An edit is a JSON
object whose ``op`` names it:

    {"op": "add_people", "skill", "track", "count", "from"?: ISO date, "team"?}
    {"op": "remove_person", "person": id or exact name}
    {"op": "set_estimate", "item": id, "estimate": {skill: man-weeks or text like "M", "2w"}}
    {"op": "set_rank", "item": id, "rank": number}
    {"op": "set_triage", "item": id, "triage": number from 1 to 3}
    {"op": "set_track", "item": id, "track": name}
    {"op": "set_quarter", "start": ISO date, "end": ISO date}
    {"op": "set_scheduled_skills", "skills": [skill...]}   (empty: every skill)
    {"op": "set_holidays", "dates": [ISO date...]}

A bad edit raises ``EditError`` naming the edit (``edit 2 (set_rank)``) and
the problem. Skills must be the plan's skills and tracks the plan's tracks,
so that a typo is an error and not a new, empty track. New people are named
``New Web engineer 1``, ``2``, ... and are away before ``from``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from formats.estimates import DEFAULT_SIZES, UNSIZED, parse_size
from formats.plan import same_outcome
from formats.streams import Model, Params, Person
from planning.planner import ALL, plan_skills

__all__ = ["EditError", "apply_edits", "compare_plans", "MAX_NEW_PEOPLE", "MAX_QUARTER_DAYS"]

MAX_NEW_PEOPLE = 1000  # per add_people edit: enough for any team, not enough to stall the planner
MAX_QUARTER_DAYS = 731  # a what-if quarter may span two years at most


class EditError(ValueError):
    """A what-if edit that cannot be applied; the message names the edit and the problem."""


class _Bad(Exception):
    """A problem with one field of the edit being applied (becomes an EditError)."""


def apply_edits(
    model: Model,
    edits: Sequence[Mapping[str, Any]],
    sizes: Mapping[str, float] = DEFAULT_SIZES,
    names: tuple[list[str], list[str]] | None = None,
) -> Model:
    """A copy of ``model`` with ``edits`` applied in order; raises EditError.

    An estimate's sizes may be written as in the workbook (``formats.estimates``: ``M``,
    ``2w``, ``2-3w``), with ``sizes`` the T-shirt sizes. ``names``: the model's skills
    (``plan_skills``) and tracks (without All), when the caller knows them already.
    """
    if not isinstance(edits, (list, tuple)):
        raise EditError('"edits" must be a list of edits')
    scenario = Model(model.params, tuple(model.holidays), list(model.staff), list(model.work))
    skills, tracks = names if names is not None else (plan_skills(model), _tracks(model))
    known = _Known(list(skills), list(tracks), {}, dict(sizes))
    for number, edit in enumerate(edits, start=1):
        op = edit.get("op") if isinstance(edit, Mapping) else None
        name = f"edit {number} ({op})" if isinstance(op, str) else f"edit {number}"
        if not isinstance(edit, Mapping):
            raise EditError(f'{name}: an edit must be an object with an "op"')
        action = _OPS.get(op) if isinstance(op, str) else None
        if action is None:
            raise EditError(f"{name}: unknown op {op!r}; known: {', '.join(sorted(_OPS))}")
        try:
            _check_fields(edit, _FIELDS[op])
            action(scenario, edit, known)
        except _Bad as exc:
            raise EditError(f"{name}: {exc}") from None
    _away_until_arrival(scenario, known.arrivals)
    return scenario


def _away_until_arrival(scenario: Model, arrivals: dict[str, dt.date]) -> None:
    """New people are away from the (final) quarter's start until they arrive."""
    start = scenario.params.start
    after_end = scenario.params.end + dt.timedelta(1)
    for n, person in enumerate(scenario.staff):
        arrives = arrivals.get(person.id)
        if arrives is not None and arrives > start:
            days = (min(arrives, after_end) - start).days  # the days after the end don't count
            away = tuple(start + dt.timedelta(d) for d in range(days))
            scenario.staff[n] = dataclasses.replace(person, vacation=away)


def compare_plans(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every (track, item) whose end date or shortage differs between two plans."""
    tracks = list(after.get("tracks", []))
    tracks += [track for track in before.get("tracks", []) if track not in tracks]
    changes = []
    for track in tracks:
        old = _outcomes(before, track)
        new = _outcomes(after, track)
        for item_id in [*new, *(i for i in old if i not in new)]:
            was, now = old.get(item_id), new.get(item_id)
            if was is not None and now is not None and same_outcome(was[1], now[1]):
                continue
            name = (now or was)[0]
            changes.append(
                {
                    "track": track,
                    "id": item_id,
                    "name": name,
                    "before": None if was is None else was[1],
                    "after": None if now is None else now[1],
                }
            )
    return changes


def _outcomes(plan: Mapping[str, Any], track: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Per item id of one track: its name and {"end", "shortage"}."""
    work = plan.get("by_track", {}).get(track, {}).get("work", [])
    return {
        item["id"]: (item["name"], {"end": item["end"], "shortage": item["shortage"]})
        for item in work
    }


# -- what an edit may name ------------------------------------------------------------


@dataclasses.dataclass
class _Known:
    """The skills and tracks of the base plan (the names an edit may use), and new people."""

    skills: list[str]
    tracks: list[str]
    arrivals: dict[str, dt.date]  # new person's id -> the day they start
    sizes: dict[str, float] = dataclasses.field(default_factory=lambda: dict(DEFAULT_SIZES))

    def skill(self, value: Any, field: str) -> str:
        if not isinstance(value, str) or value not in self.skills:
            raise _Bad(f"unknown skill {value!r} in {field!r}; known: {', '.join(self.skills)}")
        return value

    def track(self, value: Any, field: str) -> str:
        if not isinstance(value, str) or value not in self.tracks:
            known = ", ".join(self.tracks) or "none"
            raise _Bad(f"unknown track {value!r} in {field!r}; known: {known}")
        return value


def _tracks(model: Model) -> list[str]:
    """The base's tracks, without the synthetic All (nobody belongs to it alone)."""
    return sorted(({p.track for p in model.staff} | {i.track for i in model.work}) - {ALL})


def _check_fields(edit: Mapping[str, Any], fields: tuple[set[str], set[str]]) -> None:
    """Every required field is there and no field is unknown (a typo must not pass)."""
    required, optional = fields
    missing = sorted(required - edit.keys())
    if missing:
        raise _Bad(f"missing field {missing[0]!r}")
    extra = sorted(set(edit) - required - optional - {"op"})
    if extra:
        raise _Bad(f"unknown field {extra[0]!r}")


def _number(value: Any, field: str) -> float:
    """A finite JSON number (not a boolean, not a string)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Bad(f"{field!r} must be a number, not {value!r}")
    if not math.isfinite(value):
        raise _Bad(f"{field!r} must be a finite number")
    return float(value)


def _date(value: Any, field: str) -> dt.date:
    """An ISO date such as 2026-10-15."""
    if not isinstance(value, str):
        raise _Bad(f"{field!r} must be an ISO date like 2026-10-15, not {value!r}")
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise _Bad(f"{field!r}: {value!r} is not an ISO date like 2026-10-15") from None


def _text(value: Any, field: str) -> str:
    """A name that fits in the streams format (no TAB, newline or ':')."""
    if not isinstance(value, str) or any(c in value for c in "\t\r\n:"):
        raise _Bad(f"{field!r} must be text without TAB, newline or ':'")
    return value.strip()


def _item_indexes(scenario: Model, item_id: Any) -> list[int]:
    """Where the item with this id is in the work list (every copy, should there be two)."""
    found = [n for n, item in enumerate(scenario.work) if item.id == item_id]
    if not found:
        raise _Bad(f"unknown item {item_id!r}")
    return found


def _replace_item(scenario: Model, item_id: Any, **changes: Any) -> None:
    for n in _item_indexes(scenario, item_id):
        scenario.work[n] = dataclasses.replace(scenario.work[n], **changes)


# -- the edits ------------------------------------------------------------------------


def _add_people(scenario: Model, edit: Mapping[str, Any], known: _Known) -> None:
    skill = known.skill(edit["skill"], "skill")
    track = known.track(edit["track"], "track")
    count = edit["count"]
    if isinstance(count, bool) or not isinstance(count, int):
        raise _Bad(f"'count' must be a whole number, not {count!r}")
    if not 1 <= count <= MAX_NEW_PEOPLE:
        raise _Bad(f"'count' must be from 1 to {MAX_NEW_PEOPLE}, not {count}")
    arrives = _date(edit["from"], "from") if "from" in edit else None
    team = _text(edit.get("team", ""), "team")
    ids = {person.id for person in scenario.staff}
    names = {person.name for person in scenario.staff}
    number = 0
    for _ in range(count):
        number += 1
        while f"New {skill} engineer {number}" in names or f"new-{skill}-{number}" in ids:
            number += 1
        person = Person(
            f"new-{skill}-{number}", f"New {skill} engineer {number}", team, track, skill
        )
        scenario.staff.append(person)
        if arrives is not None:
            known.arrivals[person.id] = arrives
        ids.add(person.id)
        names.add(person.name)


def _remove_person(scenario: Model, edit: Mapping[str, Any], known: _Known) -> None:
    wanted = edit["person"]
    by_id = [n for n, p in enumerate(scenario.staff) if p.id == wanted]
    found = by_id or [n for n, p in enumerate(scenario.staff) if p.name == wanted]
    if not found:
        raise _Bad(f"unknown person {wanted!r} (give an id or the exact name)")
    if len(found) > 1 and not by_id:
        raise _Bad(f"{len(found)} people are named {wanted!r}; give the id")
    for n in reversed(found):
        del scenario.staff[n]


def _set_estimate(scenario: Model, edit: Mapping[str, Any], known: _Known) -> None:
    estimate = edit["estimate"]
    if not isinstance(estimate, Mapping):
        raise _Bad("'estimate' must be an object of skill: man-weeks")
    parts = []
    for skill, weeks in estimate.items():
        known.skill(skill, "estimate")
        if isinstance(weeks, str):
            try:
                size = parse_size(weeks, known.sizes)
            except ValueError as exc:
                raise _Bad(f"estimate {skill}: {exc}") from None
            if size is UNSIZED:
                raise _Bad(f"estimate {skill}: {weeks!r} is not a size a plan can use")
            value = size.weeks
        else:
            value = _number(weeks, f"estimate {skill}")
        if value < 0:
            raise _Bad(f"estimate {skill} is negative ({weeks})")
        parts.append((skill, value))
    _item_indexes(scenario, edit["item"])
    _replace_item(scenario, edit["item"], estimate=tuple(parts))


def _set_rank(scenario: Model, edit: Mapping[str, Any], known: _Known) -> None:
    _item_indexes(scenario, edit["item"])
    _replace_item(scenario, edit["item"], rank=_number(edit["rank"], "rank"))


def _set_triage(scenario: Model, edit: Mapping[str, Any], known: _Known) -> None:
    triage = _number(edit["triage"], "triage")
    if not 1 <= triage <= 3:
        raise _Bad(f"'triage' must be from 1 to 3, not {edit['triage']}")
    _item_indexes(scenario, edit["item"])
    _replace_item(scenario, edit["item"], triage=triage)


def _set_track(scenario: Model, edit: Mapping[str, Any], known: _Known) -> None:
    track = known.track(edit["track"], "track")
    _item_indexes(scenario, edit["item"])
    _replace_item(scenario, edit["item"], track=track)


def _set_quarter(scenario: Model, edit: Mapping[str, Any], known: _Known) -> None:
    start, end = _date(edit["start"], "start"), _date(edit["end"], "end")
    if end < start:
        raise _Bad(f"the quarter ends ({end}) before it starts ({start})")
    if (end - start).days >= MAX_QUARTER_DAYS:
        raise _Bad(f"a quarter of more than {MAX_QUARTER_DAYS} days")
    scenario.params = dataclasses.replace(scenario.params, start=start, end=end)


def _set_scheduled_skills(scenario: Model, edit: Mapping[str, Any], known: _Known) -> None:
    skills = edit["skills"]
    if not isinstance(skills, list):
        raise _Bad("'skills' must be a list of skills (empty: every skill)")
    chosen = tuple(dict.fromkeys(known.skill(skill, "skills") for skill in skills))
    scenario.params = Params(scenario.params.start, scenario.params.end, chosen)


def _set_holidays(scenario: Model, edit: Mapping[str, Any], known: _Known) -> None:
    dates = edit["dates"]
    if not isinstance(dates, list):
        raise _Bad("'dates' must be a list of ISO dates")
    scenario.holidays = tuple(sorted({_date(day, "dates") for day in dates}))


_Edit = Callable[[Model, Mapping[str, Any], _Known], None]
_OPS: dict[str, _Edit] = {
    "add_people": _add_people,
    "remove_person": _remove_person,
    "set_estimate": _set_estimate,
    "set_rank": _set_rank,
    "set_triage": _set_triage,
    "set_track": _set_track,
    "set_quarter": _set_quarter,
    "set_scheduled_skills": _set_scheduled_skills,
    "set_holidays": _set_holidays,
}
# (required fields, optional fields) of each op
_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    "add_people": ({"skill", "track", "count"}, {"from", "team"}),
    "remove_person": ({"person"}, set()),
    "set_estimate": ({"item", "estimate"}, set()),
    "set_rank": ({"item", "rank"}, set()),
    "set_triage": ({"item", "triage"}, set()),
    "set_track": ({"item", "track"}, set()),
    "set_quarter": ({"start", "end"}, set()),
    "set_scheduled_skills": ({"skills"}, set()),
    "set_holidays": ({"dates"}, set()),
}
