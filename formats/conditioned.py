"""The conditioned dataset: the files condition_service commits and every reader opens.

Files, relative to the dataset's folder in the store (``conditioned/``):

- ``streams.txt``: qplan streams v1 (``formats.streams``); absent after a fatal
  problem in the first pull, kept from the last good pull after a later one.
- ``problems.jsonl``: one problem a line, keys sorted, in sheet/row order.
- ``status.json``: which raw commit the streams come from and whether they are stale.
- ``estimates.json``: how each estimate was written, for readers that need more
  than streams v1 carries (a range's low and high, a T-shirt size, unsized items)::

      {"items": {ITEM_ID: {"unsized": bool,
                           "skills": {SKILL: {"weeks": 2.5, "low": 2, "high": 3,
                                              "kind": "range", "text": "2-3w"}}}}}

  ``kind`` is one of ``number``, ``size``, ``unit``, ``range``; ``weeks`` is
  what streams v1 holds (a range's midpoint); for all but a range ``low`` and
  ``high`` equal ``weeks``. An item missing from the file reads as numbers.
"""

from __future__ import annotations

import json
from typing import Any

STREAMS = "streams.txt"
PROBLEMS = "problems.jsonl"
STATUS = "status.json"
ESTIMATES = "estimates.json"

ESTIMATE_KINDS = ("number", "size", "unit", "range")

__all__ = [
    "STREAMS",
    "PROBLEMS",
    "STATUS",
    "ESTIMATES",
    "ESTIMATE_KINDS",
    "load_estimates",
    "dump_estimates",
]


def dump_estimates(items: dict[str, Any]) -> str:
    """``estimates.json`` for the estimates of every item, keys sorted, one key a line."""
    return json.dumps({"items": items}, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def load_estimates(data: bytes | None) -> dict[str, Any] | None:
    """``estimates.json`` as written, or None when it is missing or not readable.

    Its readers fall back to plain numbers without it, so a broken file costs precision,
    never a forecast.
    """
    if not data:
        return None
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    items = value.get("items") if isinstance(value, dict) else None
    return value if isinstance(items, dict) else None
