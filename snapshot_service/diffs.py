"""The unified diff of one dataset's files between two commits, computed in-process.

The text reads like ``diff -u`` over the dataset's folder: per changed file a
``--- a/raw/work.tsv`` / ``+++ b/raw/work.tsv`` header (``/dev/null`` for an
added or removed file) and its hunks. A file that is not UTF-8 text is
reported as ``Binary files … differ``, as git does.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

__all__ = ["CONTEXT_LINES", "dataset_diff", "file_diff"]

CONTEXT_LINES = 3
NO_NEWLINE = "\\ No newline at end of file\n"


def _text_lines(data: bytes) -> list[str] | None:
    """The lines of a text file (ends kept), or None when it is binary."""
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def file_diff(old: bytes | None, new: bytes | None, old_name: str, new_name: str) -> str:
    """The diff of one file; ``None`` content stands for an absent file (``/dev/null``)."""
    left = "/dev/null" if old is None else old_name
    right = "/dev/null" if new is None else new_name
    old_lines = _text_lines(old or b"")
    new_lines = _text_lines(new or b"")
    if old_lines is None or new_lines is None:
        return f"Binary files {left} and {right} differ\n"
    out = []
    for line in difflib.unified_diff(
        old_lines, new_lines, left, right, n=CONTEXT_LINES, lineterm="\n"
    ):
        # A last line without its newline would run into the next one; say so like diff does.
        out.append(line if line.endswith("\n") else line + "\n" + NO_NEWLINE)
    if not out and (old is None) != (new is None):
        out = [f"--- {left}\n", f"+++ {right}\n"]  # an empty file came or went: no hunks
    return "".join(out)


def dataset_diff(
    dataset: str, old: Mapping[str, bytes | None], new: Mapping[str, bytes | None]
) -> str:
    """The diff of every file that differs, in name order."""
    parts = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        parts.append(file_diff(before, after, f"a/{dataset}/{name}", f"b/{dataset}/{name}"))
    return "".join(parts)
