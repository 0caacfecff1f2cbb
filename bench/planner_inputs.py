"""Seeded random planner inputs: valid qplan streams models of any size.

``make_model(items, people, seed)`` builds a quarter of 13 weeks with 5
skills, 6 tracks, a few holidays, vacations for about a third of the staff
and ranked work with 0 to 3 skills per estimate. The same arguments always
give the same model, so benchmark runs and tests can be compared.

Run it to write one input: ``python bench/planner_inputs.py 2000 200 > in.streams``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from formats.streams import Item, Model, Params, Person, format_streams

__all__ = ["SKILLS", "TRACKS", "QUARTER_START", "make_model", "make_streams"]

SKILLS = ("Apps", "Native", "Web", "QA", "UX")
TRACKS = ("Checkout", "Growth", "Platform", "Search", "Social", "Wallet")
QUARTER_START = dt.date(2026, 10, 5)  # a Monday
QUARTER_WEEKS = 13
SIZES = (0.5, 1, 1, 2, 2, 3, 4, 6.5, 13)  # man-weeks, small sizes more often
TRIAGES = ("1", "1.5", "2", "2.5", "3", "1.2", "")  # "" is a blank triage


def _quarter_days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(n) for n in range((end - start).days + 1)]


def _person(rng: random.Random, number: int, days: list[dt.date]) -> Person:
    vacation: tuple[dt.date, ...] = ()
    if rng.random() < 0.35:
        first = rng.randrange(len(days) - 10)
        vacation = tuple(days[first : first + rng.randint(1, 10)])
    return Person(
        id=f"P{number}",
        name=f"Person {number}",
        team=f"Team {number % 9}",
        track=rng.choice(TRACKS),
        skill=rng.choice(SKILLS),
        vacation=vacation,
    )


def _item(rng: random.Random, number: int, count: int) -> Item:
    estimate: tuple[tuple[str, float], ...] = ()
    if rng.random() > 0.03:
        skills = rng.sample(SKILLS, rng.choice((1, 1, 2, 2, 3)))
        estimate = tuple((skill, float(rng.choice(SIZES))) for skill in skills)
    triage = rng.choice(TRIAGES)
    return Item(
        id=f"W{number}",
        rank=float(rng.randint(1, count * 2)),  # ties happen, on purpose
        name=f"Work item {number}",
        estimate=estimate,
        triage=float(triage) if triage else 3.0,
        track=rng.choice(TRACKS),
    )


def make_model(items: int, people: int, seed: int = 1) -> Model:
    """A random valid model with ``items`` work items and ``people`` staff."""
    rng = random.Random(seed)
    start = QUARTER_START
    end = start + dt.timedelta(weeks=QUARTER_WEEKS) - dt.timedelta(days=3)  # a Friday
    days = _quarter_days(start, end)
    weekdays = [day for day in days if day.weekday() < 5]
    holidays = tuple(sorted(rng.sample(weekdays, 3)))
    staff = [_person(rng, n, days) for n in range(1, people + 1)]
    work = [_item(rng, n, items) for n in range(1, items + 1)]
    return Model(Params(start, end, ()), holidays, staff, work)  # every skill scheduled


def make_streams(items: int, people: int, seed: int = 1) -> str:
    """The streams text of ``make_model(items, people, seed)``."""
    return format_streams(make_model(items, people, seed))


def main() -> None:
    """Print one input as streams text."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("items", type=int)
    parser.add_argument("people", type=int)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sys.stdout.write(make_streams(args.items, args.people, args.seed))


if __name__ == "__main__":
    main()
