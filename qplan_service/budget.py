"""What-if budgets: refused before any work starts, with the limit named.

A what-if's cost grows with the work items and the people, each over the
quarter's days (a lane per track and skill holds each day's person-days, made
from the people; each item takes days from it in rank order, the lane's first
open day moving forward), so the budget bounds the edits, the people the edits
add and (work items + people) × quarter days, computed from the request before
a worker starts. A plan of 20,000 items and 2,000 people over a quarter is about
2 million; adding 500,000 people to the sample, 45 million.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from formats.streams import Model

__all__ = ["Budget", "BudgetError", "check_budget", "whatif_size"]


class BudgetError(ValueError):
    """A what-if over one of the limits; the message names the limit and its config key."""


@dataclass(frozen=True)
class Budget:
    """The ``[qplan_service] whatif_*`` limits of one what-if."""

    max_edits: int = 100
    max_people: int = 2000
    max_size: int = 20_000_000


def _quarter_days(model: Model, edits: list[Any]) -> int:
    """The longest quarter the what-if may plan (its own or one an edit sets)."""
    days = (model.params.end - model.params.start).days + 1
    for edit in edits:
        if isinstance(edit, Mapping) and edit.get("op") == "set_quarter":
            try:
                start = dt.date.fromisoformat(str(edit.get("start")))
                end = dt.date.fromisoformat(str(edit.get("end")))
            except ValueError:
                continue  # apply_edits names the bad date
            days = max(days, (end - start).days + 1)
    return max(days, 1)


def people_added(edits: list[Any]) -> int:
    """The people ``add_people`` edits add (a malformed count is 0: apply_edits refuses it)."""
    total = 0
    for edit in edits:
        if isinstance(edit, Mapping) and edit.get("op") == "add_people":
            count = edit.get("count")
            if isinstance(count, int) and not isinstance(count, bool) and count > 0:
                total += count
    return total


def whatif_size(model: Model, edits: list[Any]) -> int:
    """(Work items + people) × quarter days: the what-if's computed size."""
    people = len(model.staff) + people_added(edits)
    return max(len(model.work) + people, 1) * _quarter_days(model, edits)


def check_budget(model: Model, edits: Any, budget: Budget) -> None:
    """Raise BudgetError when ``edits`` on ``model`` is over ``budget``."""
    if not isinstance(edits, list):
        return  # apply_edits names the problem
    if len(edits) > budget.max_edits:
        raise BudgetError(
            f"too many edits: {len(edits)} > {budget.max_edits}"
            " (limit [qplan_service] whatif_max_edits)"
        )
    added = people_added(edits)
    if added > budget.max_people:
        raise BudgetError(
            f"the edits add too many people: {added} > {budget.max_people}"
            " (limit [qplan_service] whatif_max_people)"
        )
    size = whatif_size(model, edits)
    if size > budget.max_size:
        raise BudgetError(
            f"the what-if is too big: ({len(model.work)} work items + "
            f"{len(model.staff) + added} people) × {_quarter_days(model, edits)} days = {size:,}"
            f" > {budget.max_size:,} (limit [qplan_service] whatif_max_size)"
        )
