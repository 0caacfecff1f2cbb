"""Dataset ``raw``: one TSV file per spreadsheet sheet (README "The store").

One row a line, cells separated by TAB. Inside a cell ``\\\\``, ``\\t``,
``\\n`` and ``\\r`` stand for a backslash, TAB, newline and carriage return.
Line 1 is the spreadsheet's row 1. The puller writes these files
(``escape_cell``, ``sheet_file_name``); the conditioner reads them back
(``unescape_cell``).
"""

from __future__ import annotations

import re

__all__ = [
    "DATASET",
    "MAX_NAME_BYTES",
    "SUFFIX",
    "escape_cell",
    "sheet_file_name",
    "sheet_name",
    "unescape_cell",
]

DATASET = "raw"
SUFFIX = ".tsv"
MAX_NAME_BYTES = 255  # longest file name the store accepts
_UNSAFE_NAME = re.compile(r'[/\\:*?"<>|\x00-\x1f\x7f]')
_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def escape_cell(text: str) -> str:
    """A cell's text as it is written in a raw TSV line."""
    return text.translate(_ESCAPE)


def unescape_cell(text: str) -> str:
    """A raw TSV cell with its escapes undone (an unknown escape is kept as written)."""
    if "\\" not in text:
        return text
    return _ESCAPED.sub(lambda m: _UNESCAPES.get(m.group(1), m.group(0)), text)


def sheet_file_name(sheet: str) -> str | None:
    """The store's file name for a sheet (unsafe characters become ``_``); None when too long."""
    stem = _UNSAFE_NAME.sub("_", sheet).strip(" .") or "sheet"
    name = f"{stem}{SUFFIX}"
    return name if len(name.encode("utf-8")) <= MAX_NAME_BYTES else None


def sheet_name(file_name: str) -> str:
    """The sheet name a raw file stands for (its name without ``.tsv``)."""
    return file_name.removesuffix(SUFFIX)
