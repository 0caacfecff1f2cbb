"""The plan dataset: the one file qplan_service commits (``plan/plan.json``).

Its shape is DOMAIN.md's "Plan JSON"; keys sorted, man-weeks rounded to 2
decimals, dates ISO.
"""

from __future__ import annotations

PLAN_FILE = "plan.json"

__all__ = ["PLAN_FILE"]
