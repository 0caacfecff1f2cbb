"""Random planning models for hypothesis, shared by the planner's and the forecast's tests."""

from __future__ import annotations

import datetime as dt

from hypothesis import settings
from hypothesis import strategies as st

from formats.streams import Item, Model, Params, Person

__all__ = ["SKILLS", "TRACKS", "WEEKS", "TRIAGES", "FEW", "models"]

SKILLS = ("Apps", "Native", "Web", "QA")
TRACKS = ("T1", "T2", "T3")
WEEKS = (0, 0.25, 0.5, 1, 1.5, 2, 2.5, 3, 4, 6.5, 13)
TRIAGES = (0.5, 1, 1.2, 1.5, 2, 2.5, 2.7, 3)
FEW = settings(max_examples=60, deadline=None)


@st.composite
def models(draw, weeks: tuple[float, ...] = WEEKS) -> Model:
    """A small random model: a quarter of 1-8 weeks, a few people, a dozen items."""
    start = dt.date(2026, 1, 1) + dt.timedelta(draw(st.integers(0, 360)))
    days = [start + dt.timedelta(n) for n in range(draw(st.integers(1, 56)))]
    holidays = tuple(sorted(draw(st.sets(st.sampled_from(days), max_size=4))))
    staff = [
        Person(
            f"P{n}",
            f"Person {n}",
            "Team",
            draw(st.sampled_from(TRACKS)),
            draw(st.sampled_from(SKILLS)),
            tuple(sorted(draw(st.sets(st.sampled_from(days), max_size=6)))),
        )
        for n in range(draw(st.integers(0, 7)))
    ]
    estimate = st.lists(
        st.tuples(st.sampled_from(SKILLS), st.sampled_from(weeks).map(float)), max_size=3
    ).map(tuple)
    work = [
        Item(
            f"W{n}",
            float(draw(st.integers(1, 20))),
            f"Item {n}",
            draw(estimate),
            float(draw(st.sampled_from(TRIAGES))),
            draw(st.sampled_from(TRACKS)),
        )
        for n in range(draw(st.integers(0, 12)))
    ]
    scheduled = tuple(draw(st.lists(st.sampled_from(SKILLS), unique=True, max_size=3)))
    return Model(Params(days[0], days[-1], scheduled), holidays, staff, work)
