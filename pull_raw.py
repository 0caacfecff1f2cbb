"""pull_raw: read a spreadsheet and PUT every sheet into the store as dataset ``raw``.

``python pull_raw.py SOURCE`` where SOURCE is a workbook (.xlsx, .xlsm, .xls,
.ods), a .csv or .tsv file, a folder of .csv/.tsv files (one sheet per file,
named after the file), or an http(s) URL of a CSV export. Every sheet becomes
``raw/<sheet>.tsv`` (the format of README.md "The store"); the commit SHA the
snapshot service answers is the last line printed. ``--watch`` keeps running as
a mesh component (heartbeats included) and pulls again whenever the source
changes.

Reading and formatting are plain functions (``resolve_source``,
``read_sheets``, ``raw_files``, ``format_cell``) that need no sockets; the
``pull`` function and the ``Watcher`` service wire them to the store.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import email.message
import hashlib
import io
import logging
import math
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any

from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum

from mesh.cli import base_parser, load_config, report
from mesh.config import Config
from mesh.errors import QPlanError, RemoteError
from mesh.logs import logging_from_config
from mesh.service import Service
from mesh.snapshot import SnapshotClient

__all__ = [
    "PROG",
    "SourceError",
    "Source",
    "Sheet",
    "Download",
    "resolve_source",
    "read_sheets",
    "read_workbook",
    "read_folder",
    "parse_text_table",
    "decode_text",
    "download",
    "probe",
    "format_cell",
    "sheet_tsv",
    "sheet_file_name",
    "raw_files",
    "put_fields",
    "summary",
    "pull",
    "Watcher",
    "main",
]

PROG = "pull_raw"
DATASET = "raw"
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
TEXT_DELIMITERS = {".csv": ",", ".tsv": "\t"}
DEFAULT_INTERVAL = 1.0  # seconds between two looks at the source in --watch mode
EXCEL_DIGITS = 15  # significant digits a spreadsheet keeps and shows
MAX_NAME_BYTES = 255  # longest file name the store accepts
UNSAFE_NAME = re.compile(r'[/\\:*?"<>|\x00-\x1f\x7f]')
TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
# Files a spreadsheet program leaves next to the one it has open.
LOCK_PREFIXES = ("~$", ".")

log = logging.getLogger(PROG)


class SourceError(QPlanError):
    """The source cannot be found, fetched or read."""


@dataclass(frozen=True)
class Source:
    """Where the sheets come from: a workbook, a text file, a folder or a URL."""

    kind: str  # "workbook", "text", "folder" or "url"
    location: str  # absolute path or URL: the Source trailer of the commit
    sheet: str | None = None  # the sheet name asked for with --sheet

    @property
    def path(self) -> Path:
        """The file or folder (not for URLs)."""
        return Path(self.location)

    @property
    def name(self) -> str:
        """A short name for messages: the file or folder name, or the URL (no password)."""
        return _redact(self.location) if self.kind == "url" else self.path.name


@dataclass
class Sheet:
    """One sheet: its name and its rows of cell values (str, float, date, bool, None…)."""

    name: str
    rows: list[list[Any]]


@dataclass
class Download:
    """The bytes of one HTTP answer and what its headers say about them."""

    data: bytes
    filename: str | None = None
    content_type: str = ""


# -- finding the source ---------------------------------------------------------


def _is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


def _redact(url: str) -> str:
    """The URL without a password in it, as it may be written into the history."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def resolve_source(text: str, sheet: str | None = None) -> Source:
    """The Source that ``text`` names; raises SourceError when it cannot be read."""
    if _is_url(text):
        if not urllib.parse.urlsplit(text).hostname:
            raise SourceError(f"{text}: not a valid http(s) URL")
        return Source("url", text, sheet)
    path = Path(text).expanduser()
    if not path.exists():
        raise SourceError(f"{text}: no such file or folder")
    path = path.resolve()
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
    if sheet is not None and kind in ("workbook", "folder"):
        raise SourceError(
            f"--sheet names the sheet of a single .csv/.tsv file or URL; "
            f"a {kind}'s sheets keep their own names"
        )
    return Source(kind, str(path), sheet)


# -- reading --------------------------------------------------------------------


def read_workbook(path: Path) -> list[Sheet]:
    """Every worksheet of an .xlsx/.xlsm/.xls/.ods workbook, from cell A1."""
    try:
        with CalamineWorkbook.from_path(str(path)) as book:
            return [
                # skip_empty_area=False keeps leading empty rows and columns,
                # so row numbers stay the ones the user sees.
                Sheet(meta.name, book.get_sheet_by_name(meta.name).to_python(skip_empty_area=False))
                for meta in book.sheets_metadata
                if meta.typ == SheetTypeEnum.WorkSheet
            ]
    except CalamineError as exc:
        raise SourceError(f"{path}: cannot read the workbook ({exc})") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None


def decode_text(data: bytes) -> str:
    """CSV/TSV bytes as text: UTF-8 (BOM or not), UTF-16 with a BOM, else cp1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheet programs on Windows still save "CSV" as cp1252; its five
        # unassigned bytes become U+FFFD rather than an error.
        return data.decode("cp1252", errors="replace")


def parse_text_table(data: bytes, delimiter: str, where: str = "text") -> list[list[str]]:
    """The rows of CSV or TSV bytes (quoted cells as spreadsheet programs write them)."""
    reader = csv.reader(io.StringIO(decode_text(data), newline=""), delimiter=delimiter)
    try:
        return [list(row) for row in reader]
    except csv.Error as exc:
        raise SourceError(f"{where}: line {reader.line_num}: {exc}") from None


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None


def read_text_file(path: Path, sheet: str | None = None) -> Sheet:
    """One .csv/.tsv file as one sheet, named after the file unless ``sheet`` is given."""
    delimiter = TEXT_DELIMITERS[path.suffix.lower()]
    return Sheet(sheet or path.stem, parse_text_table(_read_bytes(path), delimiter, str(path)))


def _folder_entries(folder: Path) -> list[Path]:
    """The files of ``folder`` that matter: tables and workbooks, not lock files."""
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise SourceError(f"{folder}: cannot list: {exc.strerror or exc}") from None
    suffixes = WORKBOOK_SUFFIXES + tuple(TEXT_DELIMITERS)
    return [
        p
        for p in entries
        if p.suffix.lower() in suffixes and not p.name.startswith(LOCK_PREFIXES) and p.is_file()
    ]


def read_folder(folder: Path) -> list[Sheet]:
    """Every .csv/.tsv file of ``folder`` as one sheet named after the file."""
    entries = _folder_entries(folder)
    books = [p.name for p in entries if p.suffix.lower() in WORKBOOK_SUFFIXES]
    if books:
        raise SourceError(
            f"{folder}: a folder is read as one sheet per .csv/.tsv file, but it holds "
            f"the workbook(s) {', '.join(books)}; pull a workbook by its own path"
        )
    if not entries:
        raise SourceError(f"{folder}: no .csv or .tsv files in this folder, so no sheets")
    return [read_text_file(p) for p in entries]


def download(url: str, timeout: float) -> Download:
    """GET ``url``; raises SourceError on HTTP errors, timeouts and HTML pages."""
    # Only http(s) URLs get here (resolve_source): no file: or custom schemes.
    request = urllib.request.Request(url, headers={"User-Agent": f"{PROG} (QPlan mesh)"})  # noqa: S310
    shown = _redact(url)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            data = answer.read()
            headers: email.message.Message = answer.headers
    except urllib.error.HTTPError as exc:
        raise SourceError(f"{shown}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            reason = f"no answer within {timeout:g} s"
        raise SourceError(f"{shown}: cannot fetch: {reason}") from None
    except TimeoutError:
        raise SourceError(f"{shown}: no answer within {timeout:g} s") from None
    except (HTTPException, OSError, ValueError) as exc:
        raise SourceError(f"{shown}: cannot fetch: {exc}") from None
    content_type = headers.get_content_type()
    if content_type in ("text/html", "application/xhtml+xml"):
        # A sign-in or error page: the sheet is private or the link is not an export link.
        raise SourceError(f"{shown}: the answer is an HTML page, not a CSV export")
    return Download(data, headers.get_filename(), content_type)


def _url_sheet(source: Source, got: Download) -> tuple[str, str]:
    """The sheet name and the delimiter of a downloaded table."""
    segment = urllib.parse.unquote(urllib.parse.urlsplit(source.location).path.rsplit("/", 1)[-1])
    for candidate in (got.filename, segment):
        if candidate and Path(candidate).stem.strip():
            file_name = Path(candidate)
            break
    else:
        file_name = Path("sheet")
    tab = file_name.suffix.lower() == ".tsv" or got.content_type == "text/tab-separated-values"
    return source.sheet or file_name.stem, "\t" if tab else ","


def read_sheets(source: Source, timeout: float = 30.0, got: Download | None = None) -> list[Sheet]:
    """The sheets of ``source`` (``got``: a download already made of a URL)."""
    if source.kind == "workbook":
        sheets = read_workbook(source.path)
    elif source.kind == "text":
        sheets = [read_text_file(source.path, source.sheet)]
    elif source.kind == "folder":
        sheets = read_folder(source.path)
    else:
        got = got or download(source.location, timeout)
        name, delimiter = _url_sheet(source, got)
        sheets = [Sheet(name, parse_text_table(got.data, delimiter, source.name))]
    if not sheets:
        raise SourceError(f"{source.name}: the workbook has no sheets")
    return sheets


def _stat(path: Path) -> tuple[str, int, int] | tuple[str]:
    try:
        info = path.stat()
    except OSError:
        return (path.name,)
    return (path.name, info.st_mtime_ns, info.st_size)


def probe(source: Source, timeout: float = 30.0) -> tuple[Hashable, Download | None]:
    """What ``--watch`` compares between two looks: stat data, or the downloaded bytes."""
    if source.kind == "url":
        got = download(source.location, timeout)
        return hashlib.sha256(got.data).hexdigest(), got
    if source.kind == "folder":
        try:
            return tuple(_stat(p) for p in _folder_entries(source.path)), None
        except SourceError:
            return ("unlistable",), None
    return _stat(source.path), None


# -- the TSV text of the store -------------------------------------------------


def _format_number(value: float) -> str:
    if not math.isfinite(value):
        return repr(value)
    # A spreadsheet keeps 15 significant digits; 0.1+0.2 shows as 0.3.
    value = float(f"{value:.{EXCEL_DIGITS}g}")
    if value.is_integer():
        return str(int(value))
    return repr(value)


def _to_second(value: dt.datetime) -> dt.datetime:
    # Spreadsheets store times as day fractions; round away the float noise.
    return (value + dt.timedelta(microseconds=500_000)).replace(microsecond=0)


def _format_datetime(value: dt.datetime) -> str:
    value = _to_second(value)
    if value.time() == dt.time(0):
        return value.date().isoformat()
    return value.isoformat(sep=" ")


def _format_duration(value: dt.timedelta) -> str:
    seconds = round(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"


def format_cell(value: Any) -> str:
    """A cell as the user sees it (unescaped): ISO dates, 3 not 3.0, TRUE/FALSE."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _format_number(value)
    if isinstance(value, dt.datetime):
        return _format_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return _to_second(dt.datetime.combine(dt.date(2000, 1, 1), value)).time().isoformat()
    if isinstance(value, dt.timedelta):
        return _format_duration(value)
    return str(value)


def sheet_tsv(rows: Sequence[Sequence[Any]]) -> str:
    """The raw TSV text of a sheet: escaped cells, no trailing empty cells or rows."""
    lines = []
    for row in rows:
        cells = [format_cell(value).translate(TSV_ESCAPES) for value in row]
        while cells and not cells[-1]:
            cells.pop()
        lines.append("\t".join(cells))
    # Interior empty rows stay, so line N is still the user's row N.
    while lines and not lines[-1]:
        lines.pop()
    return "".join(line + "\n" for line in lines)


def sheet_file_name(sheet: str) -> str:
    """The store's file name for a sheet: unsafe characters become ``_``, ``.tsv`` added."""
    stem = UNSAFE_NAME.sub("_", sheet).strip(" .") or "sheet"
    name = f"{stem}.tsv"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise SourceError(f"sheet name {sheet[:40]!r}… is too long for a file name")
    return name


def raw_files(sheets: Sequence[Sheet]) -> dict[str, str]:
    """The files of dataset raw: file name -> TSV text; two sheets on one name is an error."""
    files: dict[str, str] = {}
    owner: dict[str, str] = {}
    for sheet in sheets:
        name = sheet_file_name(sheet.name)
        if name in files:
            raise SourceError(
                f"sheets {owner[name]!r} and {sheet.name!r} would both be stored as "
                f"raw/{name}; rename one of them"
            )
        files[name] = sheet_tsv(sheet.rows)
        owner[name] = sheet.name
    return files


# -- pulling into the store ----------------------------------------------------


def put_fields(source: Source) -> dict[str, str]:
    """The source, message and producer of the PUT for ``source``."""
    location = _redact(source.location) if source.kind == "url" else source.location
    return {"source": location, "message": f"pull {source.name}", "producer": PROG}


def summary(source: Source, files: dict[str, str], answer: dict[str, Any]) -> str:
    """One line: what was pulled, and whether the store's content changed."""
    counts = {name.removesuffix(".tsv"): text.count("\n") for name, text in files.items()}
    detail = ", ".join(f"{name} {rows}" for name, rows in counts.items())
    state = "changed" if answer.get("changed") else "unchanged"
    return (
        f"pulled {source.name}: {_count(len(files), 'sheet')}, "
        f"{_count(sum(counts.values()), 'row')} ({detail}); raw {state}, seq {answer.get('seq')}"
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _refused(exc: RemoteError) -> RemoteError:
    return RemoteError(f"the snapshot service refused the pull: {exc}", exc.code)


def pull(client: SnapshotClient, source: Source, timeout: float = 30.0) -> tuple[str, str]:
    """Read ``source`` and PUT it as dataset raw; returns (summary line, commit SHA)."""
    files = raw_files(read_sheets(source, timeout))
    try:
        answer = client.put(DATASET, files, **put_fields(source))
    except RemoteError as exc:
        raise _refused(exc) from None
    log.info("pulled %s as raw@%s (changed: %s)", source.name, answer["commit"], answer["changed"])
    return summary(source, files, answer), answer["commit"]


class Watcher(Service):
    """pull_raw --watch: pull again each time the source changes."""

    name = PROG

    def __init__(self, config: Config, source: Source, interval: float = DEFAULT_INTERVAL) -> None:
        super().__init__(config)
        self.source = source
        self.interval = interval
        self.http_timeout = config.number("pull_raw", "http_timeout", minimum=0.01)
        self.pulls = 0
        self._last_error: str | None = None

    async def setup(self) -> None:
        """Start the watch loop."""
        self.spawn(self.watch(), "watch")

    def heartbeat_detail(self) -> dict[str, Any]:
        """The source watched and how many pulls reached the store."""
        return {"source": put_fields(self.source)["source"], "pulls": self.pulls}

    def _failed(self, exc: QPlanError, retry: str) -> None:
        self.counters.errors += 1
        text = " ".join(str(exc).split())
        # A URL or a store that stays down would otherwise repeat the same line every interval.
        if text != self._last_error:
            self.log.error(
                "pull of %s failed (will try again %s): %s", self.source.name, retry, text
            )
        self._last_error = text

    async def watch(self) -> None:
        """Look at the source every interval; pull when what it shows has changed."""
        seen: Hashable = None
        while True:
            try:
                state, got = await asyncio.to_thread(probe, self.source, self.http_timeout)
            except SourceError as exc:
                self._failed(exc, "at the next look")
            else:
                if state != seen:
                    seen = state if await self.pull(got) else None
            await asyncio.sleep(self.interval)

    async def pull(self, got: Download | None) -> bool:
        """Pull once; False when the store did not answer, so the next look tries again."""
        try:
            sheets = await asyncio.to_thread(read_sheets, self.source, self.http_timeout, got)
            files = raw_files(sheets)
            answer = await self.snapshot.put(DATASET, files, **put_fields(self.source))
        except RemoteError as exc:
            # The store read the content and refused it: the same bytes would be refused again.
            self._failed(_refused(exc), "when the source changes")
            return True
        except SourceError as exc:
            self._failed(exc, "when the source changes")
            return True
        except QPlanError as exc:
            # The store did not answer (or answered garbage): the content never got in.
            self._failed(exc, "at the next look")
            return False
        sha = answer["commit"]
        self.pulls += 1
        self.counters.messages_out += 1
        self.counters.worked(sha)
        self._last_error = None
        self.log.info("pulled %s as raw@%s (changed: %s)", self.source.name, sha, answer["changed"])
        print(summary(self.source, files, answer), sha, sep="\n", flush=True)
        return True


# -- command line ----------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = base_parser(PROG, "Read a spreadsheet and put every sheet into the store as raw.")
    parser.add_argument(
        "source", help="a .xlsx/.xlsm/.xls/.ods workbook, a .csv/.tsv file, a folder or a URL"
    )
    parser.add_argument(
        "--sheet", metavar="NAME", help="the sheet name of a single CSV/TSV file or URL"
    )
    parser.add_argument(
        "--watch", action="store_true", help="keep running; pull again when the source changes"
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL,
        metavar="SECONDS",
        help=f"with --watch: seconds between looks at the source (default {DEFAULT_INTERVAL:g})",
    )
    return parser


def _setup_logging(config: Config, console: bool) -> None:
    logging_from_config(PROG, config)
    if console:
        return
    # A single pull's errors are one line on stderr; its log (retries included) goes to the file.
    root = logging.getLogger()
    for handler in list(root.handlers):
        if not isinstance(handler, logging.FileHandler):
            root.removeHandler(handler)


def _pull_once(config: Config, source: Source) -> int:
    client = SnapshotClient(
        config.endpoint("snapshot_service", "request_endpoint"),
        timeout=config.number("mesh", "request_timeout", minimum=0.01),
        retries=config.integer("mesh", "request_retries", minimum=0),
    )
    http_timeout = config.number("pull_raw", "http_timeout", minimum=0.01)
    with client:
        try:
            line, sha = pull(client, source, http_timeout)
        except QPlanError as exc:
            log.error("pull of %s failed: %s", source.name, exc)
            raise
    print(line)
    print(sha, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if not args.interval > 0:
            raise QPlanError(f"--interval {args.interval:g}: must be a number of seconds > 0")
        config = load_config(args)
        source = resolve_source(args.source, args.sheet)
        _setup_logging(config, console=args.watch)
        if args.watch:
            return asyncio.run(Watcher(config, source, args.interval).run())
        return _pull_once(config, source)
    except QPlanError as exc:
        return report(PROG, exc)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
