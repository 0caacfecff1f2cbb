"""Git's object formats: hashing, trees, commits and their trailers, as plain functions.

The store builds every object's bytes here and hashes them itself, so a
commit needs no ``git`` process and no GitPython object model: a tree is
``<mode> <name>\\0<20-byte sha>`` per entry, sorted the way git sorts them; a
commit is a few header lines, a blank line and the message. See
gitformat-tree / gitformat-commit in git's documentation.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field

__all__ = [
    "BLOB_MODE",
    "TREE_MODE",
    "CommitInfo",
    "object_sha",
    "tree_bytes",
    "parse_tree",
    "commit_bytes",
    "parse_commit",
    "parse_trailers",
    "iso_time",
]

BLOB_MODE = b"100644"
TREE_MODE = b"40000"
_TRAILER = re.compile(r"^([A-Za-z][A-Za-z0-9-]*): ?(.*)$")


@dataclass(frozen=True)
class CommitInfo:
    """What the store needs to know about one commit (commits never change)."""

    sha: str
    tree: str
    parent: str | None
    time: int  # committer time, epoch seconds
    subject: str
    trailers: dict[str, str] = field(default_factory=dict)

    @property
    def dataset(self) -> str | None:
        """The dataset this commit changed (its ``Dataset:`` trailer)."""
        return self.trailers.get("Dataset")

    @property
    def seq(self) -> int:
        """The dataset's sequence number (``Sequence:``), 0 when absent or garbled."""
        text = self.trailers.get("Sequence", "")
        return int(text) if text.isdigit() else 0

    @property
    def source(self) -> str:
        """Where the content came from (``Source:``)."""
        return self.trailers.get("Source", "")

    @property
    def producer(self) -> str:
        """Who wrote it (``Producer:``)."""
        return self.trailers.get("Producer", "")


def object_sha(kind: bytes, data: bytes) -> bytes:
    """The 20-byte SHA-1 git names an object of ``kind`` with ``data`` by."""
    digest = hashlib.sha1(b"%s %d\0" % (kind, len(data)))  # noqa: S324 - git's object name
    digest.update(data)
    return digest.digest()


def _tree_order(entry: tuple[bytes, bytes, bytes]) -> bytes:
    # git compares names as if a tree's name ended with "/".
    mode, name, _ = entry
    return name + b"/" if mode == TREE_MODE else name


def tree_bytes(entries: list[tuple[bytes, bytes, bytes]]) -> bytes:
    """A tree object's data from ``(mode, name, binsha)`` entries in any order."""
    return b"".join(
        mode + b" " + name + b"\0" + binsha
        for mode, name, binsha in sorted(entries, key=_tree_order)
    )


def parse_tree(data: bytes) -> list[tuple[bytes, bytes, bytes]]:
    """The ``(mode, name, binsha)`` entries of a tree object's data."""
    entries = []
    at = 0
    while at < len(data):
        space = data.index(b" ", at)
        nul = data.index(b"\0", space)
        entries.append((data[at:space], data[space + 1 : nul], data[nul + 1 : nul + 21]))
        at = nul + 21
    return entries


def commit_bytes(
    tree: str,
    parent: str | None,
    name: str,
    email: str,
    when: int,
    message: str,
) -> bytes:
    """A commit object's data; author and committer are the same, times in UTC."""
    ident = f"{name} <{email}> {when} +0000"
    lines = [f"tree {tree}"]
    if parent:
        lines.append(f"parent {parent}")
    lines += [f"author {ident}", f"committer {ident}", "", message]
    return "\n".join(lines).encode("utf-8")


def commit_data(info: CommitInfo, name: str, email: str) -> bytes:
    """The data of the commit ``info`` describes: subject, blank line, its trailers."""
    trailers = "\n".join(f"{key}: {value}" for key, value in info.trailers.items())
    message = f"{info.subject}\n\n{trailers}\n"
    return commit_bytes(info.tree, info.parent, name, email, info.time, message)


def parse_trailers(message: str) -> dict[str, str]:
    """The ``Key: value`` lines of a message's last paragraph (first value of a key wins)."""
    paragraphs = [p for p in message.strip().split("\n\n") if p.strip()]
    if len(paragraphs) < 2:
        return {}
    found: dict[str, str] = {}
    for line in paragraphs[-1].splitlines():
        match = _TRAILER.match(line.strip())
        if match:
            found.setdefault(match.group(1), match.group(2).strip())
    return found


def parse_commit(sha: str, data: bytes) -> CommitInfo:
    """The CommitInfo of a commit object's data."""
    head, _, body = data.partition(b"\n\n")
    tree, parent, when = "", None, 0
    for line in head.split(b"\n"):
        key, _, value = line.partition(b" ")
        if key == b"tree":
            tree = value.decode("ascii")
        elif key == b"parent" and parent is None:
            parent = value.decode("ascii")
        elif key == b"committer":
            # "Name <email> 1700000000 +0100": the epoch is the second field from the end.
            fields = value.rsplit(b" ", 2)
            when = int(fields[1]) if len(fields) == 3 and fields[1].isdigit() else 0
    message = body.decode("utf-8", errors="replace")
    subject = message.split("\n", 1)[0].strip()
    return CommitInfo(sha, tree, parent, when, subject, parse_trailers(message))


def iso_time(when: int) -> str:
    """Epoch seconds as ISO 8601 UTC: ``2026-11-23T10:00:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
