"""Estimates as people write them: the one parser the conditioner and what-if edits share.

One size, in man-weeks, as a cell (or one ``Skill:size`` part) may hold it:

- a number: ``3``, ``1.5``, ``0`` (man-weeks);
- a T-shirt size with an optional count: ``S``, ``3S``, ``2M``, ``XL`` (the sizes
  are config, ``[condition_service] sizes``: S=1, M=2, L=3, XL=5, Q=13 by default);
- a number with a unit: ``2w``, ``2 wk``, ``3 weeks``, ``1.5w``, ``2d`` / ``2 days``
  (a day is 0.2 of a week), ``1 month`` (4.33 weeks);
- a range of any of these: ``2-3w``, ``2w-3w``, ``M-L``, ``1 to 2 weeks``, planned at
  its midpoint, its low and high kept (a forecast reads them as its P10 and P90);
- ``TBD``, ``?``, ``-`` (and ``tbc``, ``unknown``, ``n/a``): not sized yet.

``parse_size`` returns a ``Size`` or ``UNSIZED``, or raises ``ValueError`` with a
sentence saying what is wrong and how to write it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "DEFAULT_SIZES",
    "UNITS",
    "Size",
    "UNSIZED",
    "parse_size",
    "parse_sizes",
    "size_names",
]

DEFAULT_SIZES = {"S": 1.0, "M": 2.0, "L": 3.0, "XL": 5.0, "Q": 13.0}
UNITS = {  # man-weeks per unit, by every spelling people use
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks", "mw", "manweek", "manweeks"), 1.0),
    **dict.fromkeys(("d", "day", "days", "md", "manday", "mandays"), 0.2),
    **dict.fromkeys(("mo", "mon", "month", "months"), 4.33),
}
NOT_SIZED = frozenset({"tbd", "tbc", "?", "??", "???", "-", "–", "—", "unknown", "n/a", "na"})
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_ONE = re.compile(rf"^({_NUMBER})?\s*([A-Za-z][A-Za-z\-]*)?$")
_RANGE = re.compile(r"^(.+?)\s*(?:-|–|—|\.\.|\bto\b)\s*(.+)$", re.IGNORECASE)
DIGITS = 6  # decimals kept (the streams format's)


@dataclass(frozen=True)
class Size:
    """One estimate: ``weeks`` is what is planned, ``low``/``high`` its range (equal if none)."""

    weeks: float
    low: float
    high: float
    kind: str  # number, size, unit or range
    text: str

    def as_dict(self) -> dict[str, object]:
        """As ``conditioned/estimates.json`` writes it."""
        return {
            "weeks": self.weeks,
            "low": self.low,
            "high": self.high,
            "kind": self.kind,
            "text": self.text,
        }


class _Unsized:
    """The value of ``TBD``, ``?`` or ``-``: not sized yet."""

    def __repr__(self) -> str:
        return "UNSIZED"


UNSIZED = _Unsized()


def size_names(sizes: Mapping[str, float]) -> str:
    """``S=1, M=2, L=3`` for messages."""
    return ", ".join(f"{name}={weeks:g}" for name, weeks in sizes.items())


def parse_sizes(text: str) -> dict[str, float]:
    """The ``sizes`` config value ``S=1, M=2, XL=5`` as a map; ValueError naming a bad part."""
    sizes: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip().upper()
        if not sep or not re.fullmatch(r"[A-Z]{1,4}", name):
            raise ValueError(f"{part.strip()!r} is not NAME=weeks (like XL=5)")
        try:
            weeks = float(value)
        except ValueError:
            raise ValueError(f"{part.strip()!r}: {value.strip()!r} is not a number") from None
        if not math.isfinite(weeks) or weeks <= 0:
            raise ValueError(f"{part.strip()!r}: a size is a positive number of man-weeks")
        sizes[name] = weeks
    if not sizes:
        raise ValueError("no sizes given (like S=1, M=2, L=3)")
    return sizes


def _one(text: str, sizes: Mapping[str, float], unit: str | None) -> tuple[float, str, str]:
    """One size without a range: (weeks, kind, the unit or size word it used)."""
    match = _ONE.match(text.strip())
    if not match or not (match.group(1) or match.group(2)):
        raise ValueError("not a size")
    number, word = match.group(1), (match.group(2) or "").lower().replace("-", "")
    count = float(number) if number else None
    if not word:
        if unit:  # "2" in "2-3w": the range's unit
            return _scaled(count, unit, text)
        return count, "number", ""
    if word in UNITS:
        if count is None:
            raise ValueError("a unit needs a number in front")
        return _scaled(count, word, text)
    upper = word.upper()
    if upper in sizes:
        return (count if count is not None else 1.0) * sizes[upper], "size", upper
    raise ValueError(f"{match.group(2)!r} is not a size or a unit")


def _scaled(count: float, unit: str, text: str) -> tuple[float, str, str]:
    return count * UNITS[unit], "unit", unit


def _help(sizes: Mapping[str, float]) -> str:
    return (
        f"write man-weeks (3, 1.5), a size ({size_names(sizes)}; 2M = two M), a unit "
        "(2w, 3 days, 1 month), a range (2-3w, M-L), or TBD when not sized yet"
    )


def parse_size(text: str, sizes: Mapping[str, float] = DEFAULT_SIZES) -> Size | _Unsized:
    """One estimate as written; UNSIZED for TBD/?/-, ValueError for anything else unreadable."""
    value = " ".join(str(text).split())
    if value.lower() in NOT_SIZED:
        return UNSIZED
    if not value:
        raise ValueError("the estimate is empty")
    try:
        weeks, kind, _ = _one(value, sizes, None)
        return _checked(Size(weeks, weeks, weeks, kind, value), value, sizes)
    except ValueError:
        pass
    match = _RANGE.match(value)
    if match:
        low_text, high_text = match.group(1), match.group(2)
        try:
            high, high_kind, word = _one(high_text, sizes, None)
            unit = word if high_kind == "unit" else None
            low, _, _ = _one(low_text, sizes, unit)
        except ValueError:
            raise ValueError(f"{value!r} is not an estimate; {_help(sizes)}") from None
        if low > high:
            raise ValueError(f"the range {value!r} goes down; write the low end first")
        mid = (low + high) / 2
        return _checked(Size(mid, low, high, "range", value), value, sizes)
    raise ValueError(f"{value!r} is not an estimate; {_help(sizes)}")


def _checked(size: Size, text: str, sizes: Mapping[str, float]) -> Size:
    """Rounded and finite, never negative."""
    parts = (size.weeks, size.low, size.high)
    if not all(math.isfinite(p) for p in parts):
        raise ValueError(f"{text!r} is not a finite estimate; {_help(sizes)}")
    if size.low < 0:
        raise ValueError(f"{text!r} is negative; an estimate is 0 or more man-weeks")
    return Size(*(round(p, DIGITS) for p in parts), size.kind, size.text)
