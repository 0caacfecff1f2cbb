"""Reading one spreadsheet cell: dates, day lists, numbers, estimates, safe text.

Every parser here takes the text a user typed and either returns a value or
raises ``ValueError`` whose message says, in plain words, what is wrong with
it; the conditioner turns that message into a problem record. Nothing here
knows about sheets, rows or skills.
"""

from __future__ import annotations

import datetime as dt
import math
import re

__all__ = [
    "MAX_RANGE_DAYS",
    "SIZES",
    "clean_text",
    "is_blank",
    "parse_date",
    "parse_days",
    "parse_number",
    "parse_weeks",
    "split_estimate",
]

SIZES = {"S": 1.0, "M": 2.0, "L": 3.0, "Q": 13.0}  # T-shirt sizes in man-weeks
SERIAL_RANGE = (20000, 80000)  # spreadsheet day numbers we accept: 1954-10-03 .. 2119-01-11
YEAR_RANGE = (1954, 2119)  # years of a written date we accept: the same span
SERIAL_EPOCH = dt.date(1899, 12, 30)  # day 0 of spreadsheet serial dates
MAX_RANGE_DAYS = 366  # a longer vacation range is taken for a typo, not a sabbatical

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
_ISO = re.compile(
    r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})$")
_MONTH_DAY_YEAR = re.compile(r"^([A-Za-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?\s*,?\s*(\d{4})$")
_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2})\s+([A-Za-z]+)\.?\s*,?\s*(\d{4})$")
_SERIAL = re.compile(r"^\d+(?:\.\d+)?$")
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)?\s*([A-Za-z]+)$")
# "Oct 7, 2013": the comma inside a date is not a list separator.
_DATE_COMMA = re.compile(r"\b([A-Za-z]{3,}\.?\s+\d{1,2}(?:st|nd|rd|th)?)\s*,\s*(\d{4})\b")
_DAY_SEPARATORS = re.compile(r"[;,\n\r]+")
_RANGE_WORDS = re.compile(r"\s*(?:\.\.+|–|—|\bto\b|\bthrough\b|\bthru\b|\buntil\b)\s*", re.I)
_ESTIMATE_SEPARATORS = re.compile(r"[,;\n\r]+")
# Separators of the streams format, and anything else str.splitlines() breaks a line at.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029:]")
_DASHES = re.compile(r"^[-–—]+$")


def is_blank(text: str) -> bool:
    """True for an empty cell, or one holding only a dash (written for "none")."""
    stripped = text.strip()
    return not stripped or bool(_DASHES.match(stripped))


def clean_text(text: str) -> tuple[str, bool]:
    """Text safe for a streams field, and whether anything had to be replaced.

    TAB, line breaks and other control characters become a space and ``:``
    becomes ``-``: the streams format uses them as separators.
    """
    stripped = text.strip()
    safe = _UNSAFE.sub(lambda match: "-" if match.group() == ":" else " ", stripped)
    return safe.strip(), safe != stripped


def _make_date(year: int, month: int, day: int, text: str) -> dt.date:
    """A date, or ValueError naming the text that does not make one."""
    low, high = YEAR_RANGE
    if not low <= year <= high:
        # 0013-10-07 or 9999-12-31 is a typo; the streams and the planner need a real quarter.
        raise ValueError(f"{text!r} is not a date from {low} to {high}")
    try:
        return dt.date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a real date ({exc})") from None


def _month(name: str, text: str) -> int:
    """The number of a month name (``Oct``, ``October``, ``Sept``)."""
    number = _MONTHS.get(name.lower())
    if number is None:
        raise ValueError(f"{text!r} is not a date: {name!r} is not a month")
    return number


def _two_digit_year(year: str) -> int:
    """A four-digit year from the year of a US date."""
    # Spreadsheets read "10/12/26" as 2026 and "10/12/85" as 1985; so do we.
    value = int(year)
    if len(year) == 4:
        return value
    return 2000 + value if value < 70 else 1900 + value


def parse_date(text: str) -> dt.date:
    """One date: ISO, US m/d/y, ``Oct 7, 2013``, ``7 Oct 2013`` or a spreadsheet serial."""
    value = text.strip()
    if match := _ISO.match(value):
        year, month, day = (int(part) for part in match.groups())
        return _make_date(year, month, day, value)
    if match := _US.match(value):
        month, day = int(match.group(1)), int(match.group(2))
        return _make_date(_two_digit_year(match.group(3)), month, day, value)
    if match := _MONTH_DAY_YEAR.match(value):
        month = _month(match.group(1), value)
        return _make_date(int(match.group(3)), month, int(match.group(2)), value)
    if match := _DAY_MONTH_YEAR.match(value):
        month = _month(match.group(2), value)
        return _make_date(int(match.group(3)), month, int(match.group(1)), value)
    if _SERIAL.match(value):
        serial = float(value)
        low, high = SERIAL_RANGE
        if not low <= serial <= high:
            raise ValueError(
                f"{value!r} is not a date (as a spreadsheet day number it must be "
                f"between {low} and {high})"
            )
        return SERIAL_EPOCH + dt.timedelta(days=int(serial))
    raise ValueError(f"{value!r} is not a date; write 2026-10-12, 10/12/2026 or Oct 12, 2026")


def _date_range(first: str, last: str, text: str) -> list[dt.date]:
    """Every day from ``first`` to ``last``, both counted."""
    start, end = parse_date(first), parse_date(last)
    if end < start:
        raise ValueError(f"the range {text!r} ends before it starts")
    length = (end - start).days + 1
    if length > MAX_RANGE_DAYS:
        raise ValueError(f"the range {text!r} is {length} days long (at most {MAX_RANGE_DAYS})")
    return [start + dt.timedelta(days=n) for n in range(length)]


def _parse_span(text: str) -> list[dt.date]:
    """The days of one date or one range of dates."""
    try:
        return [parse_date(text)]
    except ValueError as exc:
        single_error = exc
    parts = _RANGE_WORDS.split(text, maxsplit=1)
    if len(parts) == 2:
        return _date_range(parts[0], parts[1], text)
    # A plain hyphen also appears inside ISO dates: try every hyphen as the separator.
    for index, char in enumerate(text):
        if char != "-":
            continue
        try:
            first, last = parse_date(text[:index]), parse_date(text[index + 1 :])
        except ValueError:
            continue
        return _date_range(str(first), str(last), text)
    raise single_error


def parse_days(text: str) -> tuple[list[dt.date], list[str]]:
    """The days of a cell of dates and ranges, and a message for each part that failed.

    Parts are separated by ``;``, ``,`` or newlines (the comma in ``Oct 7,
    2013`` is not a separator); a range is ``A-B``, ``A to B``, ``A..B`` or
    ``A – B``. The days come back sorted, each once.
    """
    joined = _DATE_COMMA.sub(r"\1 \2", text)
    days: set[dt.date] = set()
    errors: list[str] = []
    for part in _DAY_SEPARATORS.split(joined):
        part = part.strip()
        if not part:
            continue
        try:
            days.update(_parse_span(part))
        except ValueError as exc:
            errors.append(str(exc))
    return sorted(days), errors


def parse_number(text: str) -> float:
    """A finite decimal number such as ``3``, ``1.5`` or ``-2``."""
    value = text.strip()
    if not _NUMBER.match(value):
        raise ValueError(f"{value!r} is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def parse_weeks(text: str) -> float:
    """An estimate in man-weeks: ``3``, ``1.5``, ``0``, or a T-shirt size ``S``, ``3S``, ``2M``."""
    value = text.strip()
    if _NUMBER.match(value):
        weeks = parse_number(value)
        if weeks < 0:
            raise ValueError(f"{value!r} is negative; an estimate is 0 or more man-weeks")
        return weeks
    match = _SIZE.match(value)
    if match and match.group(2).upper() in SIZES:
        count = float(match.group(1)) if match.group(1) else 1.0
        weeks = count * SIZES[match.group(2).upper()]
        if math.isfinite(weeks):
            return weeks
    raise ValueError(
        f"{value!r} is not an estimate; write man-weeks (3, 1.5) or a size S, M, L, Q (2M = 4)"
    )


def _looks_like_size(text: str) -> bool:
    """True when ``text`` was meant as a size (a number, or letters after a count)."""
    match = _SIZE.match(text)
    return bool(_NUMBER.match(text) or (match and (match.group(1) or text.upper() in SIZES)))


def split_estimate(text: str) -> list[tuple[str, str]]:
    """Split ``Apps:S, Native:2M, Web 3`` into ``(skill, size)`` text pairs.

    A part with no skill comes back with an empty skill; a part that is only
    a skill comes back with an empty size.
    """
    pairs = []
    for part in _ESTIMATE_SEPARATORS.split(text):
        part = part.strip()
        if not part:
            continue
        for separator in (":", "="):
            skill, sep, size = part.partition(separator)
            if sep:
                pairs.append((skill.strip(), size.strip()))
                break
        else:
            skill, _, size = part.rpartition(" ")
            if not skill and not _looks_like_size(size):
                skill, size = size, ""  # a lone word is a skill that lacks its size
            pairs.append((skill.strip(), size.strip()))
    return pairs
