"""Where sheets come from: a workbook, a .csv/.tsv file, a folder or an http(s) URL.

A source is written on the command line or in ``[pull_raw] sources`` as a path
or URL, optionally with the sheet it fills: ``work=https://…`` (the same as
``--sheet work URL``). ``resolve_source`` turns that text into a ``Source``.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from mesh.errors import QPlanError

__all__ = [
    "PROG",
    "TEXT_DELIMITERS",
    "WORKBOOK_SUFFIXES",
    "Source",
    "SourceError",
    "is_lock_file",
    "is_url",
    "lock_file_error",
    "redact",
    "resolve_source",
    "split_spec",
]

PROG = "pull_raw"
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
TEXT_DELIMITERS = {".csv": ",", ".tsv": "\t"}
# Files a spreadsheet program leaves next to the one it has open.
LOCK_PREFIXES = ("~$", ".~lock.")
# ``NAME=SOURCE``: a sheet name (no path or URL characters) before the first ``=``.
_SPEC = re.compile(r"^([^=/\\:?&]+)=(.+)$", re.DOTALL)


class SourceError(QPlanError):
    """The source cannot be found, fetched or read."""


@dataclass(frozen=True)
class Source:
    """Where the sheets come from: a workbook, a text file, a folder or a URL."""

    kind: str  # "workbook", "text", "folder" or "url"
    location: str  # absolute path or URL: the Source trailer of the commit
    sheet: str | None = None  # the sheet name asked for (--sheet or NAME=)

    @property
    def path(self) -> Path:
        """The file or folder (not for URLs)."""
        return Path(self.location)

    @property
    def name(self) -> str:
        """A short name for messages: the file or folder name, or the URL (no password)."""
        return redact(self.location) if self.kind == "url" else self.path.name

    @property
    def whole(self) -> bool:
        """True when the source is a whole dataset (a workbook or a folder), not one sheet."""
        return self.kind in ("workbook", "folder") and self.sheet is None


def is_lock_file(path: Path) -> bool:
    """True for an Office ``~$…`` or LibreOffice ``.~lock.…#`` lock file."""
    return path.name.startswith(LOCK_PREFIXES)


def lock_file_error(path: Path) -> SourceError:
    """The sentence that says what a lock file is."""
    real = path.name.removeprefix("~$").removeprefix(".~lock.").removesuffix("#")
    return SourceError(
        f"{path}: this is a lock file, not a workbook: a spreadsheet program writes it "
        f"while {real!r} is open, and it holds only who has it open; pull the workbook itself"
    )


def is_url(text: str) -> bool:
    """True for an http(s) URL."""
    return text.lower().startswith(("http://", "https://"))


def redact(url: str) -> str:
    """The URL without a password in it, as it may be written into the history."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def split_spec(text: str, base: Path | None = None) -> tuple[str, str | None]:
    """``work=URL`` -> (``URL``, ``work``); a plain path or URL -> (text, None)."""
    match = _SPEC.match(text)
    if not match or (base or Path.cwd()).joinpath(text).exists():
        return text, None
    return match.group(2).strip(), match.group(1).strip()


def resolve_source(text: str, sheet: str | None = None, base: Path | None = None) -> Source:
    """The Source that ``text`` names; raises SourceError when it cannot be read.

    ``text`` may be ``NAME=SOURCE``; a relative path is relative to ``base``
    (the current folder by default).
    """
    text, named = split_spec(text, base)
    if named is not None:
        if sheet is not None and sheet != named:
            raise SourceError(f"{named}={text}: names sheet {named!r} and --sheet {sheet!r}")
        sheet = named
    if is_url(text):
        if not urllib.parse.urlsplit(text).hostname:
            raise SourceError(f"{text}: not a valid http(s) URL")
        return Source("url", text, sheet)
    path = Path(text).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    if not path.exists():
        raise SourceError(f"{text}: no such file or folder")
    path = path.resolve()
    if is_lock_file(path):
        raise lock_file_error(path)
    if path.is_dir():
        kind = "folder"
    elif path.suffix.lower() in WORKBOOK_SUFFIXES:
        kind = "workbook"
    elif path.suffix.lower() in TEXT_DELIMITERS:
        kind = "text"
    else:
        known = ", ".join(WORKBOOK_SUFFIXES + tuple(TEXT_DELIMITERS))
        raise SourceError(
            f"{text}: unsupported file type {path.suffix or '(none)'!r}; "
            f"expected one of {known}, a folder or an http(s) URL"
        )
    if sheet is not None and kind == "folder":
        raise SourceError(
            f"{text}: --sheet (or NAME=) names one sheet, but a folder's sheets keep "
            "their own names (one per .csv/.tsv file)"
        )
    return Source(kind, str(path), sheet)
