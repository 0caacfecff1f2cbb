"""Dataset ``baselines``: named plan versions ("Q4 commit"), one file the web commits.

``baselines/baselines.jsonl`` holds one baseline a line, sorted by name, keys sorted::

    {"conditioned": SHA, "name": "Q4 commit", "plan": SHA, "raw": SHA,
     "saved": "2026-11-30T09:12:00Z", "time": "2026-11-29T17:01:44Z"}

``plan`` is the plan commit the name stands for (``time`` its commit time,
``conditioned`` and ``raw`` its lineage), ``saved`` when it was named. Each
save is one commit whose ``Source:`` is ``plan@SHA``, so ``git log --
baselines`` in the store lists every naming with its lineage, and ``git diff``
between two of them reads as "this name now points there".
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

__all__ = [
    "DATASET",
    "BASELINES_FILE",
    "MAX_NAME",
    "BaselineError",
    "check_name",
    "dump_baselines",
    "load_baselines",
]

DATASET = "baselines"
BASELINES_FILE = "baselines.jsonl"
MAX_NAME = 64  # characters
_ALLOWED_PUNCTUATION = set(" -_.,()+#&'/")
_SHA = re.compile(r"^[0-9a-f]{40}$")


class BaselineError(ValueError):
    """A baseline name or file that cannot be used; the message says what is wrong."""


def check_name(name: object) -> str:
    """``name`` if it can name a baseline, else BaselineError naming the problem.

    Letters (any script), digits, spaces and ``- _ . , ( ) + # & ' /``; 1 to 64
    characters; no space at either end. Names are compared as written (case counts).
    """
    if not isinstance(name, str):
        raise BaselineError(f'"name" must be a string, not {type(name).__name__}')
    if not name:
        raise BaselineError('"name" is empty: give the baseline a name like "Q4 commit"')
    if len(name) > MAX_NAME:
        raise BaselineError(f'"name" is {len(name)} characters; at most {MAX_NAME}')
    if name != name.strip():
        raise BaselineError('"name" must not start or end with a space')
    for ch in name:
        if ch.isalnum() or ch in _ALLOWED_PUNCTUATION:
            continue
        shown = repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"
        what = unicodedata.name(ch, "a control character").lower()
        allowed = "letters, digits, spaces and - _ . , ( ) + # & ' /"
        raise BaselineError(f'"name" may not hold {shown} ({what}); use {allowed}')
    return name


def dump_baselines(baselines: list[dict[str, Any]]) -> str:
    """The file's text: one baseline a line, sorted by name, keys sorted."""
    ordered = sorted(baselines, key=lambda entry: entry["name"])
    return "".join(json.dumps(b, sort_keys=True, ensure_ascii=False) + "\n" for b in ordered)


def load_baselines(data: bytes | None) -> list[dict[str, Any]]:
    """The baselines of the file (none for None); BaselineError for a line that is not one."""
    if not data:
        return []
    found = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError as exc:
            raise BaselineError(f"{BASELINES_FILE} line {number} is not JSON: {exc}") from None
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("name"), str)
            or not _SHA.match(str(entry.get("plan")))
        ):
            raise BaselineError(f"{BASELINES_FILE} line {number} has no name and plan SHA")
        found.append(entry)
    return sorted(found, key=lambda entry: entry["name"])
