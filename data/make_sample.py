"""Make the sample workbook: data/sample/plan.xlsx and the same sheets as data/sample/plan/*.csv.

The sheets follow README.md "The workbook": ``work`` (ranked items over five
tracks with per-skill estimates written the way people write them), ``staff``
(people with a skill, a track, a team and vacations in mixed formats),
``params`` (the quarter) and ``holidays``. Everything comes from a seeded
random generator, so the same seed always gives the same workbook, byte for
byte.

The numbers are chosen so the plan is interesting: demand exceeds capacity
(the lower-ranked items do not finish), the Checkout track has one Web
engineer for a lot of web work (adding two shows), and the top items finish.
A few cells are messy the way real sheets are (a triage of `` 2 ``, a
vacation written ``12/1/2026 to 12/3/2026``, a skill written ``iOS``), but
nothing is broken.

Run ``python data/make_sample.py [--seed N] [--out FOLDER]`` to rewrite the files.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import random
import re
import zipfile
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

__all__ = [
    "SEED",
    "TRACKS",
    "SKILLS",
    "HEADERS",
    "build_sheets",
    "write_xlsx",
    "write_csv_folder",
    "main",
]

SEED = 2026
START = dt.date(2026, 10, 1)
END = dt.date(2026, 12, 31)
SKILLS = ("Apps", "Native", "Web", "QA", "UX")
SCHEDULED = ("Apps", "Native", "Web")
TRACKS = ("Checkout", "Discovery", "Accounts", "Growth", "Platform")
HOLIDAYS = (
    (dt.date(2026, 11, 26), "Thanksgiving"),
    (dt.date(2026, 11, 27), "Day after Thanksgiving"),
    (dt.date(2026, 12, 24), "Christmas Eve"),
    (dt.date(2026, 12, 25), "Christmas Day"),
)
HEADERS = {
    "work": ["Rank", "ID", "Name", "Track", "Triage", *SKILLS],
    "staff": ["ID", "Name", "Team", "Track", "Skill", "Vacation"],
    "params": ["Parameter", "Value"],
    "holidays": ["Date", "Name"],
}
# The fixed time written into the workbook, so that regenerating it changes no byte.
FIXED_TIME = (2026, 9, 1, 9, 0, 0)
FIXED_STAMP = "2026-09-01T09:00:00Z"

# Who works where: (track, skill) per person, 40 slots; more people repeat the list.
# Checkout has a single Web engineer for the most web-heavy work: the visible gap.
STAFFING = (
    [("Checkout", s) for s in ("Apps", "Apps", "Apps", "Native", "Native", "Web", "QA", "UX")]
    + [("Discovery", s) for s in ("Apps", "Apps", "Native", "Native", "Web", "Web", "QA", "UX")]
    + [("Accounts", s) for s in ("Apps", "Apps", "Apps", "Native", "Web", "Web", "QA")]
    + [("Growth", s) for s in ("Apps", "Apps", "Native", "Native", "Web", "Web", "Web", "QA", "UX")]
    + [("Platform", s) for s in ("Apps", "Apps", "Apps", "Apps", "Native", "Web", "QA", "QA")]
)
TEAMS = {"Apps": "Server", "Native": "Mobile", "Web": "Frontend", "QA": "Quality", "UX": "Design"}
# How likely an item of a track needs each skill.
SKILL_ODDS = {
    "Checkout": {"Apps": 0.5, "Native": 0.4, "Web": 0.85, "QA": 0.5, "UX": 0.3},
    "Discovery": {"Apps": 0.6, "Native": 0.5, "Web": 0.5, "QA": 0.5, "UX": 0.3},
    "Accounts": {"Apps": 0.7, "Native": 0.35, "Web": 0.45, "QA": 0.5, "UX": 0.15},
    "Growth": {"Apps": 0.5, "Native": 0.5, "Web": 0.6, "QA": 0.4, "UX": 0.35},
    "Platform": {"Apps": 0.85, "Native": 0.25, "Web": 0.25, "QA": 0.6, "UX": 0.05},
}
# Estimates as people write them: T-shirt sizes, counts of sizes, plain man-weeks.
ESTIMATES = (
    ("S", 26),
    ("M", 20),
    ("2M", 6),
    ("3S", 5),
    ("L", 8),
    ("Q", 0.4),
    (3, 5),
    (1.5, 5),
    (0.5, 4),
    (2, 4),
    (4, 3),
    (2.5, 2),
    (5, 1),
)
TRIAGES = (1, 1.5, 2, 2.5, 3)
# Item names: a piece of work per track, sometimes narrowed down the way backlogs do.
SUBJECTS = {
    "Checkout": (
        "Apple Pay support",
        "Google Pay support",
        "Saved cards",
        "Guest checkout",
        "Order summary redesign",
        "Promo codes",
        "Gift cards",
        "Tax calculation service",
        "Shipping options",
        "Address autocomplete",
        "Split payments",
        "Order confirmation email",
        "Abandoned cart reminders",
        "3-D Secure flow",
        "Self-service refunds",
        "Invoice download",
    ),
    "Discovery": (
        "Search filters",
        "Search suggestions",
        "Category pages refresh",
        "Recommendations carousel",
        "Recently viewed",
        "Product comparison",
        "Wishlist",
        "Sort options",
        "Store locator",
        "Image search",
        "Related items",
        "Trending list",
        "Search ranking tuning",
        "Browse navigation",
    ),
    "Accounts": (
        "Sign in with Apple",
        "Two-factor login",
        "Password reset flow",
        "Profile page redesign",
        "Notification settings",
        "Account deletion",
        "Email verification",
        "Session management",
        "Address book",
        "Privacy settings",
        "Family sharing",
        "Login rate limits",
        "SSO for business accounts",
    ),
    "Growth": (
        "Referral program",
        "Onboarding tour",
        "Push campaigns",
        "Loyalty points",
        "Welcome offer",
        "In-app surveys",
        "Win-back emails",
        "App rating prompt",
        "Share sheet",
        "Landing page builder",
        "Subscription upsell",
        "Deep links",
    ),
    "Platform": (
        "API gateway migration",
        "Feature flag service",
        "Crash reporting",
        "Faster build pipeline",
        "Analytics events cleanup",
        "Image CDN",
        "Rate limiter",
        "Audit logging",
        "Database upgrade",
        "Offline cache",
        "App start time",
        "Dependency updates",
        "Monitoring dashboards",
        "Load testing",
    ),
}
QUALIFIERS = (
    "",
    "",
    "",
    " (web)",
    " (iOS)",
    " (Android)",
    " for tablets",
    " in EU markets",
    " v2",
    " polish",
    " A/B test",
    " analytics",
)
# Written as one string each to keep the list short; split into names below.
FIRST_NAMES = (  # noqa: SIM905
    "Aisha Alex Ana Ben Carlos Chen Chloe Dana David Elena Emma Farah Felix Grace Hana Hugo "
    "Ines Ivan Jamal Jana Jonas Julia Kai Kenji Lara Leo Lina Luca Maya Mei Mia Noah Nora Omar "
    "Priya Rafael Rosa Sam Sara Sofia Tariq Theo Tom Uma Vera Wei Yara Yusuf Zoe"
).split()
LAST_NAMES = (  # noqa: SIM905
    "Abbott Alvarez Bauer Becker Brooks Castro Chan Costa Dubois Ellis Fischer Garcia Hansen "
    "Ito Jensen Kim Kowalski Larsen Lopez Martin Meyer Moreau Nakamura Nguyen Novak Okafor "
    "Olsen Patel Petrov Quinn Rossi Santos Schmidt Silva Singh Tanaka Torres Varga Walsh Weber "
    "Wong Young Zhang"
).split()


# -- building the sheets ----------------------------------------------------------


def _weighted(rng: random.Random, pairs: tuple[tuple[Any, float], ...]) -> Any:
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights)[0]


def _item_name(rng: random.Random, track: str, used: set[str]) -> str:
    """A plausible, unique item name for ``track``."""
    base = f"{rng.choice(SUBJECTS[track])}{rng.choice(QUALIFIERS)}"
    name, phase = base, 1
    while name in used:
        phase += 1
        name = f"{base} (phase {phase})"
    used.add(name)
    return name


def _triage(rng: random.Random, position: float) -> float | int | None:
    """Triage drifts from 1 at the top of the list to 3 at the bottom, with noise."""
    if rng.random() < 0.05 + 0.1 * position:
        return None
    level = min(4, max(0, round(position * 4 + rng.gauss(0, 0.8))))
    value = TRIAGES[level]
    return int(value) if float(value).is_integer() else value


def _estimates(rng: random.Random, track: str, position: float) -> list[Any]:
    """One cell per skill: a size, a number, or None."""
    # Ideas at the very bottom of the list are often not estimated yet.
    if position > 0.97 and rng.random() < 0.5:
        return [None] * len(SKILLS)
    odds = SKILL_ODDS[track]
    cells = [_weighted(rng, ESTIMATES) if rng.random() < odds[s] else None for s in SKILLS]
    if not any(cells[SKILLS.index(s)] for s in SCHEDULED):
        cells[SKILLS.index(rng.choice(SCHEDULED))] = _weighted(rng, ESTIMATES[:5])
    return cells


def _work_rows(rng: random.Random, items: int) -> list[list[Any]]:
    used: set[str] = set()
    rows = [list(HEADERS["work"])]
    for index in range(items):
        position = index / max(1, items - 1)
        track = rng.choice(TRACKS)
        name = _item_name(rng, track, used)
        triage = _triage(rng, position)
        rows.append(
            [10 * (index + 1), f"QP-{1001 + index}", name, track, triage]
            + _estimates(rng, track, position)
        )
    return rows


def _weekday_on_or_after(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def _us(day: dt.date) -> str:
    return f"{day.month}/{day.day}/{day.year}"


def _long(day: dt.date) -> str:
    return f"{day:%b} {day.day}, {day.year}"


def _time_off(rng: random.Random) -> tuple[dt.date, dt.date]:
    """One stretch of time off inside the quarter: a day, or a few work days in a row."""
    first = _weekday_on_or_after(START + dt.timedelta(days=rng.randrange((END - START).days - 8)))
    last = first
    for _ in range(_weighted(rng, ((1, 5), (2, 1), (3, 1), (5, 3))) - 1):
        last = _weekday_on_or_after(last + dt.timedelta(days=1))
    return first, last


def _time_off_spans(rng: random.Random, count: int) -> list[tuple[dt.date, dt.date]]:
    """``count`` stretches of time off that do not overlap, in date order."""
    spans: list[tuple[dt.date, dt.date]] = []
    while len(spans) < count:
        first, last = _time_off(rng)
        gap = dt.timedelta(days=1)  # apart by a day at least, or they would be one stretch
        if all(last < a - gap or first > b + gap for a, b in spans):
            spans.append((first, last))
    return sorted(spans)


def _vacation(rng: random.Random) -> Any:
    """A Vacation cell: nothing, a real date cell, or text in one of the usual ways."""
    if rng.random() < 0.35:
        return None
    spans = _time_off_spans(rng, _weighted(rng, ((1, 5), (2, 3), (3, 1))))
    if len(spans) == 1 and spans[0][0] == spans[0][1] and rng.random() < 0.5:
        return spans[0][0]  # one date typed into a cell: the spreadsheet makes it a date
    parts = []
    for first, last in spans:
        if first == last:
            parts.append(rng.choice((first.isoformat(), _us(first), _long(first))))
        else:
            parts.append(f"{_us(first)}-{_us(last)}")
    return rng.choice(("; ", ";", "; ")).join(parts)


def _person_names(rng: random.Random, people: int) -> list[str]:
    names: list[str] = []
    while len(names) < people:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        if name not in names:
            names.append(name)
    return names


def _login(name: str, used: set[str]) -> str:
    first, last = name.lower().split(" ", 1)
    base = re.sub(r"[^a-z]", "", first[0] + last)
    login, count = base, 1
    while login in used:
        count += 1
        login = f"{base}{count}"
    used.add(login)
    return login


def _staff_rows(rng: random.Random, people: int) -> list[list[Any]]:
    rows = [list(HEADERS["staff"])]
    logins: set[str] = set()
    for index, name in enumerate(_person_names(rng, people)):
        track, skill = STAFFING[index % len(STAFFING)]
        rows.append([_login(name, logins), name, TEAMS[skill], track, skill, _vacation(rng)])
    return rows


def _make_messy(work: list[list[Any]], staff: list[list[Any]]) -> None:
    """A few cells written the way real sheets have them; all of them still valid."""
    triage = HEADERS["work"].index("Triage")
    if len(work) > 17:
        work[17][triage] = " 2 "
    vacation, skill = HEADERS["staff"].index("Vacation"), HEADERS["staff"].index("Skill")
    if len(staff) > 5:
        staff[5][vacation] = "12/1/2026 to 12/3/2026"
    natives = [row for row in staff[1:] if row[skill] == "Native"]
    if natives:
        natives[-1][skill] = "iOS"  # an alias config.ini maps to Native


def build_sheets(seed: int = SEED, items: int = 300, people: int = 40) -> dict[str, list[list]]:
    """The four sheets of the sample workbook: sheet name -> rows of cell values."""
    rng = random.Random(seed)
    work = _work_rows(rng, items)
    staff = _staff_rows(rng, people)
    _make_messy(work, staff)
    params = [
        list(HEADERS["params"]),
        ["Start", START],
        ["End", END],
        ["Scheduled skills", ", ".join(SCHEDULED)],
    ]
    holidays = [list(HEADERS["holidays"])] + [[day, name] for day, name in HOLIDAYS]
    return {"work": work, "staff": staff, "params": params, "holidays": holidays}


# -- writing ----------------------------------------------------------------------


def _fixed_zip(data: bytes) -> bytes:
    """The xlsx bytes with fixed timestamps, so the same sheets give the same file."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", FIXED_STAMP.encode(), body)
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, body)
    return out.getvalue()


def write_xlsx(sheets: dict[str, list[list]], path: Path | str) -> None:
    """Write ``sheets`` as an .xlsx workbook (dates as real date cells)."""
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for column in sheet.columns:
            width = max(len(str(c.value)) for c in column if c.value is not None)
            sheet.column_dimensions[column[0].column_letter].width = min(48, max(8, width + 2))
    raw = io.BytesIO()
    book.save(raw)
    Path(path).write_bytes(_fixed_zip(raw.getvalue()))


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def write_csv_folder(sheets: dict[str, list[list]], folder: Path | str) -> None:
    """Write each sheet as ``folder/<sheet>.csv`` (UTF-8, dates as ISO dates)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in sheets.items():
        with open(folder / f"{name}.csv", "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerows([[_csv_cell(v) for v in row] for row in rows])


def main(argv: list[str] | None = None) -> int:
    """Rewrite the sample workbook and its CSV folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "sample",
        help="folder that receives plan.xlsx and plan/ (default: data/sample)",
    )
    args = parser.parse_args(argv)
    sheets = build_sheets(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    write_xlsx(sheets, args.out / "plan.xlsx")
    write_csv_folder(sheets, args.out / "plan")
    print(f"wrote {args.out / 'plan.xlsx'} and {args.out / 'plan'}/*.csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
