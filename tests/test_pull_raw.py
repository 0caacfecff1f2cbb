"""pull_raw: the reading functions directly, and the command against a real snapshot service."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import os
import re
import signal
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from odf.opendocument import OpenDocumentSpreadsheet
from odf.table import Table, TableCell, TableRow
from odf.text import P
from openpyxl import Workbook
from openpyxl.styles import Font

import pull_raw
from mesh.config import Config
from mesh.protocol import Message
from tests.support import (
    PYTHON,
    ROOT,
    Proc,
    serve_as,
    service_args,
    store_client,
    wait_for,
    wait_for_store,
    write_config,
)

SHA = re.compile(r"^[0-9a-f]{40}$")

# -- the pure parts ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("", ""),
        (" 2 ", " 2 "),
        (True, "TRUE"),
        (False, "FALSE"),
        (3, "3"),
        (3.0, "3"),
        (-12.0, "-12"),
        (1.5, "1.5"),
        (0.1 + 0.2, "0.3"),
        (2.9999999999999996, "3"),
        (1e20, "100000000000000000000"),
        (1.25e-7, "1.25e-07"),
        (dt.date(2026, 10, 12), "2026-10-12"),
        (dt.datetime(2026, 10, 12), "2026-10-12"),
        (dt.datetime(2026, 10, 12, 14, 30), "2026-10-12 14:30:00"),
        (dt.datetime(2026, 10, 12, 14, 29, 59, 999_600), "2026-10-12 14:30:00"),
        (dt.time(9, 30), "09:30:00"),
        (dt.time(9, 29, 59, 999_700), "09:30:00"),
        (dt.timedelta(hours=27, minutes=5), "27:05:00"),
    ],
)
def test_cells_read_as_the_user_sees_them(value, text) -> None:
    assert pull_raw.format_cell(value) == text


def test_tsv_escapes_cells_and_trims_only_trailing_emptiness() -> None:
    rows = [
        [None, None],
        ["", "b", None, ""],
        ["a\tb", "c\nd", "e\\f", "g\r\nh"],
        [],
        ["x", None, 2.0, "", None],
        [None, ""],
        [],
    ]
    assert pull_raw.sheet_tsv(rows) == "\n\tb\na\\tb\tc\\nd\te\\\\f\tg\\r\\nh\n\nx\t\t2\n"
    assert pull_raw.sheet_tsv([]) == ""
    assert pull_raw.sheet_tsv([[None], [""]]) == ""


def test_sheet_names_become_safe_file_names() -> None:
    assert pull_raw.sheet_file_name("work") == "work.tsv"
    assert pull_raw.sheet_file_name('Q4/plan: "a" <b> | c?*\\') == "Q4_plan_ _a_ _b_ _ c___.tsv"
    assert pull_raw.sheet_file_name(" ..tab\there. ") == "tab_here.tsv"
    assert pull_raw.sheet_file_name("...") == "sheet.tsv"
    assert pull_raw.sheet_file_name("Équipe 2026") == "Équipe 2026.tsv"
    with pytest.raises(pull_raw.SourceError, match="too long"):
        pull_raw.sheet_file_name("x" * 300)


def test_two_sheets_on_one_file_name_are_refused() -> None:
    sheets = [pull_raw.Sheet("a/b", [["1"]]), pull_raw.Sheet("a:b", [["2"]])]
    with pytest.raises(pull_raw.SourceError, match=r"'a/b' and 'a:b' .* raw/a_b.tsv"):
        pull_raw.raw_files(sheets)
    files = pull_raw.raw_files([pull_raw.Sheet("work", [["1"]]), pull_raw.Sheet("Work", [])])
    assert files == {"work.tsv": "1\n", "Work.tsv": ""}


def test_text_is_utf8_with_or_without_bom_else_cp1252() -> None:
    assert pull_raw.decode_text("Café".encode()) == "Café"
    assert pull_raw.decode_text(b"\xef\xbb\xbfCaf\xc3\xa9") == "Café"
    assert pull_raw.decode_text("Café – “x”".encode("cp1252")) == "Café – “x”"
    assert pull_raw.decode_text(b"a\x81b") == "a\ufffdb"  # unassigned in cp1252: no error
    assert pull_raw.decode_text("Café".encode("utf-16")) == "Café"


def test_csv_quoting_is_understood() -> None:
    data = b'Name,Note\r\n"Smith, J","said ""hi""\r\nthen left"\r\nx,\r\n'
    assert pull_raw.parse_text_table(data, ",") == [
        ["Name", "Note"],
        ["Smith, J", 'said "hi"\r\nthen left'],
        ["x", ""],
    ]
    assert pull_raw.parse_text_table(b"a\tb\n1\t\n", "\t") == [["a", "b"], ["1", ""]]


def test_sources_are_recognised_or_refused(tmp_path: Path) -> None:
    book = tmp_path / "Plan.XLSX"
    book.write_bytes(b"")
    assert pull_raw.resolve_source(str(book)).kind == "workbook"
    assert pull_raw.resolve_source(str(tmp_path)).kind == "folder"
    assert pull_raw.resolve_source("https://example.com/x.csv").kind == "url"
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(pull_raw.SourceError, match=r"unsupported file type '\.txt'"):
        pull_raw.resolve_source(str(tmp_path / "notes.txt"))
    with pytest.raises(pull_raw.SourceError, match="no such file or folder"):
        pull_raw.resolve_source(str(tmp_path / "missing.xlsx"))
    one = pull_raw.resolve_source(str(book), sheet="work")
    assert (one.kind, one.sheet, one.whole) == ("workbook", "work", False)
    assert pull_raw.resolve_source(str(book)).whole
    with pytest.raises(pull_raw.SourceError, match="--sheet"):
        pull_raw.resolve_source(str(tmp_path), sheet="work")
    named = pull_raw.resolve_source("work=https://example.com/e?gid=1&format=csv")
    assert (named.kind, named.sheet, named.location) == (
        "url",
        "work",
        "https://example.com/e?gid=1&format=csv",
    )
    plain = pull_raw.resolve_source("https://example.com/e?format=csv")
    assert (plain.sheet, plain.location) == (None, "https://example.com/e?format=csv")
    (tmp_path / "staff.csv").write_text("a\n")
    assert pull_raw.resolve_source("people=staff.csv", base=tmp_path).sheet == "people"
    with pytest.raises(pull_raw.SourceError, match="not a valid"):
        pull_raw.resolve_source("http:///x.csv")


def test_folders_hold_csv_and_tsv_files_only(tmp_path: Path) -> None:
    (tmp_path / "work.csv").write_text("a,b\n1,2\n")
    (tmp_path / "staff.TSV").write_text("n\tt\n")
    (tmp_path / "~$work.csv").write_text("lock file")
    (tmp_path / ".~lock.work.csv#").write_text("lock file")
    (tmp_path / "README.txt").write_text("ignored")
    (tmp_path / "sub.csv").mkdir()
    sheets = pull_raw.read_folder(tmp_path)
    assert [(s.name, s.rows) for s in sheets] == [
        ("staff", [["n", "t"]]),
        ("work", [["a", "b"], ["1", "2"]]),
    ]
    (tmp_path / "plan.xlsx").write_bytes(b"x")
    with pytest.raises(pull_raw.SourceError, match=r"holds the workbook\(s\) plan.xlsx"):
        pull_raw.read_folder(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(pull_raw.SourceError, match="no .csv or .tsv files"):
        pull_raw.read_folder(empty)


def test_a_downloaded_sheet_is_named_by_flag_header_or_path() -> None:
    def name_of(url: str, got: pull_raw.Download, sheet: str | None = None) -> str:
        [only] = pull_raw.read_sheets(pull_raw.Source("url", url, sheet), got=got)
        return only.name

    data = b"a,b\n"
    assert name_of("http://h/x/Plan%202026.csv?x=1", pull_raw.Download(data)) == "Plan 2026"
    assert name_of("http://h/export", pull_raw.Download(data, "Team.csv")) == "Team"
    assert name_of("http://h/export", pull_raw.Download(data, "Team.csv"), "work") == "work"
    assert name_of("http://h/", pull_raw.Download(data)) == "sheet"
    [tsv] = pull_raw.read_sheets(
        pull_raw.Source("url", "http://h/e"), got=pull_raw.Download(b"a\tb\n", "x.tsv")
    )
    assert tsv.rows == [["a", "b"]]


def test_a_password_in_a_url_stays_out_of_the_history() -> None:
    source = pull_raw.resolve_source("https://me:secret@sheets.example.com:8443/e/plan.csv")
    fields = pull_raw.put_fields(source)
    assert fields == {
        "source": "https://me@sheets.example.com:8443/e/plan.csv",
        "message": "pull https://me@sheets.example.com:8443/e/plan.csv",
        "producer": "pull_raw",
    }
    assert "secret" not in source.name


# -- sources written the way real programs write them ------------------------------

XLSX_WORK_TSV = (
    "Name\tRank\tStart\tWhen\tDone\tNote\n"
    "Login\t10\t2026-10-12\t2026-10-12 14:30:00\tTRUE\ttab\\there\n"
    "Search\t1.5\t2026-10-13\t\tFALSE\tline1\\nline2 back\\\\slash\n"
    "\n"
    "  spaced \t0.3\n"
)
XLSX_DRAFT_TSV = "\n\tx\n"


def write_test_xlsx(path: Path, note: str = "tab\there") -> None:
    """A workbook with dates, numbers, escapes and empty trailing cells to trim."""
    book = Workbook()
    work = book.active
    work.title = "work"
    work.append(["Name", "Rank", "Start", "When", "Done", "Note"])
    work.append(["Login", 10, dt.date(2026, 10, 12), dt.datetime(2026, 10, 12, 14, 30), True, note])
    work.append(["Search", 1.5, dt.datetime(2026, 10, 13), None, False, "line1\nline2 back\\slash"])
    work.append([])
    work.append(["  spaced ", 0.1 + 0.2, None, None, None, ""])
    work["J12"].font = Font(bold=True)  # a formatted empty cell: trailing rows and columns
    draft = book.create_sheet("Plan <draft>")
    draft["B2"] = "x"
    book.save(path)


def write_test_ods(path: Path) -> None:
    """An OpenDocument spreadsheet written with odfpy, as LibreOffice would."""
    doc = OpenDocumentSpreadsheet()
    table = Table(name="staff")

    def cell(text: str, **attributes) -> TableCell:
        element = TableCell(**attributes)
        element.addElement(P(text=text))
        return element

    rows = [
        [cell("Name", valuetype="string"), cell("Start", valuetype="string")],
        [
            cell("Ann", valuetype="string"),
            cell("10/05/26", valuetype="date", datevalue="2026-10-05"),
            cell("3", valuetype="float", value="3"),
            cell("TRUE", valuetype="boolean", booleanvalue="true"),
        ],
        [],
        [
            cell("Bob", valuetype="string"),
            cell("x", valuetype="date", datevalue="2026-10-06T09:15:00"),
            cell("2.5", valuetype="float", value="2.5"),
            cell("FALSE", valuetype="boolean", booleanvalue="false"),
        ],
    ]
    for cells in rows:
        row = TableRow()
        for element in cells:
            row.addElement(element)
        table.addElement(row)
    doc.spreadsheet.addElement(table)
    doc.save(str(path))


ODS_STAFF_TSV = "Name\tStart\nAnn\t2026-10-05\t3\tTRUE\n\nBob\t2026-10-06 09:15:00\t2.5\tFALSE\n"


# -- the command against a real snapshot service ---------------------------------


class Store:
    """The module's snapshot service: its config and a client."""

    def __init__(self, config: Path) -> None:
        self.config = config
        loaded = Config(config)
        self.endpoint = loaded.endpoint("snapshot_service", "request_endpoint")
        self.heartbeat_endpoint = loaded.endpoint("mesh", "heartbeat_endpoint")
        self.client = store_client(config, timeout=2.0, retries=1)

    def files(self, commit: str) -> dict[str, str]:
        """The raw files of one commit as text."""
        snapshot = self.client.get("raw", commit)
        assert snapshot.commit == commit
        return {name: snapshot.text(name) for name in snapshot.files}

    def latest(self) -> str | None:
        """The latest raw commit."""
        return self.client.latest("raw").commit

    def entry(self, commit: str) -> dict:
        """The LOG entry of one raw commit."""
        return next(e for e in self.client.log("raw", 200) if e["commit"] == commit)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Iterator[Store]:
    """One real snapshot service for the whole module (pulls replace raw; tests GET by SHA)."""
    folder = tmp_path_factory.mktemp("mesh")
    config = write_config(folder)
    proc = Proc(service_args("snapshot_service", config), folder / "snapshot_service.out")
    store = Store(config)
    try:
        wait_for_store(config)
        yield store
    finally:
        store.client.close()
        proc.stop()


def run_pull(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """pull_raw.py as a real subprocess."""
    command = [PYTHON, str(ROOT / "pull_raw.py"), "--config", str(config), *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def pulled_sha(result: subprocess.CompletedProcess) -> str:
    """The commit SHA on the last stdout line of a successful pull."""
    assert result.returncode == 0, result.stderr
    last = result.stdout.splitlines()[-1]
    assert SHA.match(last), result.stdout
    return last


def assert_one_line_error(result: subprocess.CompletedProcess, *phrases: str) -> None:
    """A failed pull: non-zero exit, nothing on stdout, one line on stderr."""
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pull_raw: error: ")
    for phrase in phrases:
        assert phrase in lines[0]


def test_a_workbook_lands_as_one_tsv_per_sheet(store: Store, tmp_path: Path) -> None:
    book = tmp_path / "plan.xlsx"
    write_test_xlsx(book)
    result = run_pull(store.config, str(book))
    sha = pulled_sha(result)
    assert store.files(sha) == {"work.tsv": XLSX_WORK_TSV, "Plan _draft_.tsv": XLSX_DRAFT_TSV}
    assert "2 sheets" in result.stdout and "raw changed," in result.stdout
    entry = store.entry(sha)
    assert entry["source"] == str(book.resolve())
    assert entry["producer"] == "pull_raw"
    assert entry["message"] == "pull plan.xlsx"

    commits = len(store.client.log("raw", 200))
    again = run_pull(store.config, str(book))
    assert pulled_sha(again) == sha
    assert "unchanged" in again.stdout
    assert len(store.client.log("raw", 200)) == commits


def test_an_ods_workbook(store: Store, tmp_path: Path) -> None:
    book = tmp_path / "team.ods"
    write_test_ods(book)
    sha = pulled_sha(run_pull(store.config, str(book)))
    assert store.files(sha) == {"staff.tsv": ODS_STAFF_TSV}


def test_csv_and_tsv_files(store: Store, tmp_path: Path) -> None:
    csv_file = tmp_path / "Team Plan.csv"
    csv_file.write_bytes(b'\xef\xbb\xbfName,Note\r\n"Smith, J","said ""hi""\nthen"\r\n,\r\n\r\n')
    sha = pulled_sha(run_pull(store.config, "--replace", str(csv_file)))
    assert store.files(sha) == {"Team Plan.tsv": 'Name\tNote\nSmith, J\tsaid "hi"\\nthen\n'}
    assert store.entry(sha)["source"] == str(csv_file)

    legacy = tmp_path / "export.csv"
    legacy.write_bytes("Name\nCafé\n".encode("cp1252"))
    sha = pulled_sha(run_pull(store.config, "--replace", "--sheet", "work", str(legacy)))
    assert store.files(sha) == {"work.tsv": "Name\nCafé\n"}

    tsv_file = tmp_path / "holidays.tsv"
    tsv_file.write_text("Date\tName\t\n2026-12-25\tChristmas Day\t\n\t\t\n", encoding="utf-8")
    sha = pulled_sha(run_pull(store.config, "--replace", str(tsv_file)))
    assert store.files(sha) == {"holidays.tsv": "Date\tName\n2026-12-25\tChristmas Day\n"}


def test_a_folder_of_csv_and_tsv_files(store: Store, tmp_path: Path) -> None:
    (tmp_path / "work.csv").write_text("Name,Rank\nLogin,10\n", encoding="utf-8")
    (tmp_path / "staff.tsv").write_text("Name\tSkill\nAnn\tWeb\n", encoding="utf-8")
    (tmp_path / "README.txt").write_text("not a sheet", encoding="utf-8")
    result = run_pull(store.config, str(tmp_path))
    sha = pulled_sha(result)
    assert store.files(sha) == {
        "work.tsv": "Name\tRank\nLogin\t10\n",
        "staff.tsv": "Name\tSkill\nAnn\tWeb\n",
    }
    assert store.entry(sha)["message"] == f"pull {tmp_path.name}"


class Routes(http.server.BaseHTTPRequestHandler):
    """Answers from a table: path -> (status, headers, body)."""

    table: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def do_GET(self) -> None:
        status, headers, body = self.table.get(self.path, (404, {}, b"not found"))
        self.send_response(status)
        for key, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        """Quiet: the test output is not the place for an access log."""


@pytest.fixture(scope="module")
def http_base() -> Iterator[str]:
    """A local HTTP server on a random port, in a thread; its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Routes)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_csv_export_url(store: Store, http_base: str) -> None:
    csv_type = {"Content-Type": "text/csv; charset=utf-8"}
    Routes.table["/export?format=csv"] = (
        200,
        {**csv_type, "Content-Disposition": 'attachment; filename="Team Plan.csv"'},
        b"Name,Start\nLogin,2026-10-12\n",
    )
    Routes.table["/sheets/holidays.csv"] = (200, csv_type, b"Date\n2026-12-25\n")
    Routes.table["/login"] = (200, {"Content-Type": "text/html"}, b"<html>sign in</html>")

    url = f"{http_base}/export?format=csv"
    sha = pulled_sha(run_pull(store.config, "--replace", url))
    assert store.files(sha) == {"Team Plan.tsv": "Name\tStart\nLogin\t2026-10-12\n"}
    assert store.entry(sha)["source"] == url

    sha = pulled_sha(run_pull(store.config, "--replace", f"{http_base}/sheets/holidays.csv"))
    assert store.files(sha) == {"holidays.tsv": "Date\n2026-12-25\n"}
    sha = pulled_sha(run_pull(store.config, "--sheet", "work", url))
    assert set(store.files(sha)) == {"work.tsv", "holidays.tsv"}  # one sheet: the other kept

    before = store.latest()
    assert_one_line_error(run_pull(store.config, f"{http_base}/missing.csv"), "HTTP 404")
    assert_one_line_error(run_pull(store.config, f"{http_base}/login"), "HTML page")
    assert store.latest() == before


def test_broken_sources_give_one_line_and_change_nothing(store: Store, tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("a\n1\n", encoding="utf-8")
    before = pulled_sha(run_pull(store.config, str(good)))

    corrupt = tmp_path / "plan.xlsx"
    corrupt.write_bytes(os.urandom(2048))
    assert_one_line_error(run_pull(store.config, str(corrupt)), "cannot read the workbook")
    half = tmp_path / "half.xlsx"
    write_test_xlsx(half)
    half.write_bytes(half.read_bytes()[:1500])
    assert_one_line_error(run_pull(store.config, str(half)), "half.xlsx")
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    assert_one_line_error(run_pull(store.config, str(tmp_path / "notes.txt")), "unsupported")
    assert_one_line_error(run_pull(store.config, str(tmp_path / "nope.xlsx")), "no such file")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run_pull(store.config, str(tmp_path / "empty")), "no .csv or .tsv")
    assert store.latest() == before


def test_no_snapshot_service_says_how_to_start_the_mesh(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"mesh": {"request_timeout": "0.3", "request_retries": "1"}})
    (tmp_path / "work.csv").write_text("a\n", encoding="utf-8")
    result = run_pull(config, str(tmp_path / "work.csv"))
    assert_one_line_error(result, "did not answer LATEST within 0.3 s (2 tries)", "make run")
    assert result.returncode == 5
    # The retries went to the log file, not to the terminal.
    assert "reopening socket" in (tmp_path / "logs" / "pull_raw.log").read_text(encoding="utf-8")


def test_a_pull_the_store_refuses_is_one_line_too(tmp_path: Path, spawn) -> None:
    config = write_config(tmp_path, {"snapshot_service": {"max_payload": "100"}})
    spawn.service("snapshot_service", config)
    client = store_client(config)
    with client:
        wait_for(lambda: client.latest("raw"), timeout=30, what="the snapshot service")
        big = tmp_path / "work.csv"
        big.write_text("Name\n" + "a long enough item name\n" * 20, encoding="utf-8")
        # The puller's own bound is raised, so the store is the one that refuses.
        result = run_pull(config, "--set", "snapshot_service.max_payload=1MiB", str(big))
        assert_one_line_error(result, "the snapshot service refused the pull")
        assert result.returncode == 4
        assert client.latest("raw").commit is None


def _heartbeats(sub: zmq.Socket, component: str) -> Iterator[dict]:
    """The heartbeat headers of ``component`` that arrived on ``sub`` so far."""
    while sub.poll(0):
        _, message = Message.from_frames(sub.recv_multipart(), topic=True)
        if message.header.get("component") == component:
            yield message.header


def test_watch_pulls_again_on_change_and_survives_a_broken_file(
    store: Store, tmp_path: Path, spawn
) -> None:
    context = zmq.Context()
    sub = context.socket(zmq.SUB)
    sub.linger = 0
    sub.setsockopt(zmq.SUBSCRIBE, b"heartbeat")
    serve_as(store.config, "web", sub)
    sub.bind(store.heartbeat_endpoint)
    try:
        book = tmp_path / "plan.xlsx"
        write_test_xlsx(book)
        args = [PYTHON, str(ROOT / "pull_raw.py"), "--config", str(store.config)]
        proc: Proc = spawn([*args, "--watch", "--interval", "0.1", str(book)], name="watch")
        wait_for(
            lambda: store.files(store.latest()).get("work.tsv") == XLSX_WORK_TSV,
            timeout=30,
            what="the first pull",
        )
        first = store.latest()
        assert first in proc.output()

        book.write_bytes(b"PK\x03\x04 half-saved")
        wait_for(lambda: "cannot read the workbook" in proc.output(), what="the error")
        assert proc.alive()
        assert store.latest() == first

        staged = tmp_path / "next.xlsx"
        write_test_xlsx(staged, note="second version")
        os.replace(staged, book)
        wait_for(
            lambda: "second version" in store.files(store.latest()).get("work.tsv", ""),
            timeout=30,
            what="the pull of the fixed file",
        )
        second = store.latest()
        wait_for(lambda: second in proc.output(), what="the SHA printed")

        def counted() -> bool:
            return any(
                beat["messages_out"] >= 2 and beat["errors"] >= 1 and beat["last_sha"] == second
                for beat in _heartbeats(sub, "pull_raw")
            )

        wait_for(counted, timeout=15, what="a pull_raw heartbeat with the counters")
        proc.signal(signal.SIGTERM)
        wait_for(lambda: not proc.alive(), what="pull_raw to stop")
        assert proc.popen.returncode == 0
    finally:
        sub.close(linger=0)
        context.term()


def test_watch_of_a_url_pulls_when_the_bytes_change(store: Store, http_base: str, spawn) -> None:
    Routes.table["/live.csv"] = (200, {"Content-Type": "text/csv"}, b"Name\nfirst\n")
    args = [PYTHON, str(ROOT / "pull_raw.py"), "--config", str(store.config)]
    proc: Proc = spawn([*args, "--watch", "--interval", "0.1", f"{http_base}/live.csv"])
    wait_for(lambda: store.files(store.latest()).get("live.tsv") == "Name\nfirst\n", timeout=30)
    first = store.latest()
    kept = set(store.files(first)) - {"live.tsv"}
    Routes.table["/live.csv"] = (200, {"Content-Type": "text/csv"}, b"Name\nsecond\n")
    wait_for(lambda: store.files(store.latest()).get("live.tsv") == "Name\nsecond\n", timeout=30)
    assert store.latest() != first
    assert set(store.files(store.latest())) == kept | {"live.tsv"}  # a one-sheet watch keeps
    proc.stop()


# -- one sheet at a time, several sources at once ------------------------------------


def test_one_sheet_pulls_keep_the_other_sheets(store: Store, tmp_path: Path) -> None:
    book = tmp_path / "plan.xlsx"
    write_test_xlsx(book)
    whole = pulled_sha(run_pull(store.config, str(book)))
    assert set(store.files(whole)) == {"work.tsv", "Plan _draft_.tsv"}

    staff = tmp_path / "staff.csv"
    staff.write_text("Name,Skill\nAnn,Web\n", encoding="utf-8")
    result = run_pull(store.config, str(staff))
    one = pulled_sha(result)
    assert "kept Plan _draft_, work" in result.stdout
    files = store.files(one)
    assert files["work.tsv"] == XLSX_WORK_TSV and files["staff.tsv"] == "Name\tSkill\nAnn\tWeb\n"
    assert store.entry(one)["message"] == "pull staff.csv (kept Plan _draft_, work)"

    # Another sheet of a CSV export, as the second tab of a Google Sheet: both stay.
    other = tmp_path / "export.csv"
    other.write_text("Name,Rank\nSearch,1\n", encoding="utf-8")
    two = pulled_sha(run_pull(store.config, "--sheet", "work", str(other)))
    files = store.files(two)
    assert files["work.tsv"] == "Name\tRank\nSearch\t1\n"
    assert files["staff.tsv"] == "Name\tSkill\nAnn\tWeb\n"
    assert set(files) == {"work.tsv", "staff.tsv", "Plan _draft_.tsv"}

    # One sheet picked out of a workbook is a one-sheet pull too.
    three = pulled_sha(run_pull(store.config, "--sheet", "WORK", str(book)))
    assert store.files(three)["work.tsv"] == XLSX_WORK_TSV
    assert set(store.files(three)) == set(files)

    # --replace: the one sheet is the whole dataset.
    alone = pulled_sha(run_pull(store.config, "--replace", str(staff)))
    assert set(store.files(alone)) == {"staff.tsv"}

    missing = run_pull(store.config, "--sheet", "Q4 Backlog", str(book))
    assert_one_line_error(missing, "plan.xlsx", "no sheet named 'Q4 Backlog'", "'work'")
    assert store.latest() == alone


def test_several_sources_in_one_call_are_one_commit(
    store: Store, http_base: str, tmp_path: Path
) -> None:
    csv_type = {"Content-Type": "text/csv"}
    Routes.table["/pub?gid=0&output=csv"] = (200, csv_type, b"ID,Name\nQP-1,Login\n")
    Routes.table["/pub?gid=1&output=csv"] = (200, csv_type, b"Name,Skill\nAnn,Web\n")
    params = tmp_path / "params.csv"
    params.write_text("Parameter,Value\nStart,2026-10-01\n", encoding="utf-8")
    before = pulled_sha(run_pull(store.config, "--replace", "--sheet", "holidays", str(params)))
    commits = len(store.client.log("raw", 200))

    work, staff = f"{http_base}/pub?gid=0&output=csv", f"{http_base}/pub?gid=1&output=csv"
    result = run_pull(store.config, f"work={work}", f"staff={staff}", str(params))
    sha = pulled_sha(result)
    assert len(store.client.log("raw", 200)) == commits + 1
    assert store.files(sha) == {
        "work.tsv": "ID\tName\nQP-1\tLogin\n",
        "staff.tsv": "Name\tSkill\nAnn\tWeb\n",
        "params.tsv": "Parameter\tValue\nStart\t2026-10-01\n",
        "holidays.tsv": "Parameter\tValue\nStart\t2026-10-01\n",  # kept: never shrinks
    }
    assert store.entry(sha)["source"] == f"{work} {staff} {params}"
    assert "3 sheets" in result.stdout and "kept holidays" in result.stdout

    clash = run_pull(store.config, f"params={work}", str(params))
    assert_one_line_error(clash, "both give sheet 'params'")
    several = run_pull(store.config, "--sheet", "x", str(params), str(params))
    assert_one_line_error(several, "NAME=SOURCE")
    assert store.latest() == sha != before


def test_the_configured_sources_are_pulled_when_none_is_named(store: Store, tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("Name\nAnn\n", encoding="utf-8")
    (tmp_path / "quarter.csv").write_text("Parameter\nStart\n", encoding="utf-8")
    config = tmp_path / "config.ini"
    text = store.config.read_text(encoding="utf-8")
    config.write_text(
        text + "\n[pull_raw]\nsources = staff=people.csv, params=quarter.csv\n", encoding="utf-8"
    )
    sha = pulled_sha(run_pull(config))
    files = store.files(sha)
    assert files["staff.tsv"] == "Name\nAnn\n" and files["params.tsv"] == "Parameter\nStart\n"

    empty = run_pull(store.config)
    assert_one_line_error(empty, "[pull_raw] sources in config.ini is empty")


# -- reading errors said plainly, decided by content ---------------------------------


def test_lock_files_and_cut_files_say_what_they_are(tmp_path: Path) -> None:
    lock = tmp_path / "~$plan.xlsx"
    lock.write_bytes(b"\x0bJane Smith" + b"\x00" * 150)
    with pytest.raises(pull_raw.SourceError, match=r"~\$plan.xlsx: this is a lock file") as info:
        pull_raw.read_sheets(pull_raw.resolve_source(str(lock)))
    assert "'plan.xlsx' is open" in str(info.value)
    libre = tmp_path / ".~lock.plan.xlsx#"
    libre.write_text(",Jane Smith,host,28.11.2026 10:00,\n", encoding="utf-8")
    with pytest.raises(pull_raw.SourceError, match=r"lock file, not a workbook.*'plan.xlsx'"):
        pull_raw.resolve_source(str(libre))

    book = tmp_path / "half.xlsx"
    write_test_xlsx(book)
    whole = book.read_bytes()
    for cut in (len(whole) // 3, len(whole) - 30):
        book.write_bytes(whole[:cut])
        with pytest.raises(pull_raw.SourceError, match="half.xlsx: .*cut short.*save it again"):
            pull_raw.read_sheets(pull_raw.resolve_source(str(book)))

    text = tmp_path / "plan.xlsx"
    text.write_text("Name,Rank\n", encoding="utf-8")
    with pytest.raises(pull_raw.SourceError, match=r"plan.xlsx: .*not a spreadsheet.*\.csv"):
        pull_raw.read_sheets(pull_raw.resolve_source(str(text)))


def test_a_workbook_is_read_by_what_it_is_not_its_name(tmp_path: Path) -> None:
    xlsx_as_xls = tmp_path / "plan.xls"
    write_test_xlsx(xlsx_as_xls)
    sheets = pull_raw.read_sheets(pull_raw.resolve_source(str(xlsx_as_xls)))
    assert pull_raw.raw_files(sheets)["work.tsv"] == XLSX_WORK_TSV

    ods_as_xlsx = tmp_path / "team.xlsx"
    write_test_ods(ods_as_xlsx)
    sheets = pull_raw.read_sheets(pull_raw.resolve_source(str(ods_as_xlsx)))
    assert pull_raw.raw_files(sheets) == {"staff.tsv": ODS_STAFF_TSV}

    xlsx_as_csv = tmp_path / "work.csv"
    write_test_xlsx(xlsx_as_csv)
    [sheet] = pull_raw.read_sheets(pull_raw.resolve_source(str(xlsx_as_csv), "work"))
    assert pull_raw.sheet_tsv(sheet.rows) == XLSX_WORK_TSV


def _with_cached_value(path: Path, cell: str, value: str) -> None:
    """Give one formula cell of sheet1 a cached value, as a spreadsheet program saves it."""
    member = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(path) as old:
        parts = {info.filename: old.read(info) for info in old.infolist()}
    xml = parts[member].decode("utf-8")
    xml, count = re.subn(
        rf'(<c r="{cell}"[^>]*>)<f>([^<]*)</f><v\s*/?>(</v>)?', rf"\1<f>\2</f><v>{value}</v>", xml
    )
    assert count == 1, xml
    parts[member] = xml.encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for name, data in parts.items():
            new.writestr(name, data)


def test_formulas_give_their_cached_value_or_their_text(tmp_path: Path) -> None:
    book = tmp_path / "script.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "work"
    sheet.append(["Name", "Apps", "Web"])
    sheet.append(["Login", 2, "=B2*2"])
    sheet.append(["Search", "=SUM(B2:B2)", '=IF(B2>1,"L","S")'])
    workbook.save(book)
    _with_cached_value(book, "C2", "4")

    [work] = pull_raw.read_sheets(pull_raw.resolve_source(str(book)))
    assert pull_raw.sheet_tsv(work.rows) == (
        'Name\tApps\tWeb\nLogin\t2\t4\nSearch\t=SUM(B2:B2)\t=IF(B2>1,"L","S")\n'
    )


# -- bounded memory -------------------------------------------------------------------

MEASURE = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stderr.write(done.stderr)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(done.returncode)\n"
)


def write_big_xlsx(path: Path, cell_bytes: int, cells: int) -> None:
    """A workbook of ``cells`` cells of ``cell_bytes`` characters, written as a stream."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("work")
    texts = [f"{i:04d}" + "x" * (cell_bytes - 4) for i in range(64)]  # few distinct strings
    per_row = 10
    for row in range(cells // per_row):
        sheet.append([texts[(row + col) % len(texts)] for col in range(per_row)])
    workbook.save(path)


def test_a_workbook_of_150_mb_of_cells_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    book = tmp_path / "bomb.xlsx"
    write_big_xlsx(book, cell_bytes=2000, cells=75_000)  # 150 MB of cell text
    assert book.stat().st_size < 20_000_000
    config = write_config(tmp_path, {"snapshot_service": {"max_payload": "64MiB"}})
    pull = [PYTHON, str(ROOT / "pull_raw.py"), "--config", str(config), str(book)]
    result = subprocess.run(
        [PYTHON, "-c", MEASURE, *pull], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 1, result.stderr
    assert "bomb.xlsx: sheet 'work' holds over 67.1 MB" in result.stderr
    assert "[snapshot_service] max_payload = 67.1 MB" in result.stderr
    peak_mb = int(result.stdout.strip()) / 1024
    print(f"peak RSS of pull_raw on 150 MB of cells: {peak_mb:.0f} MB")
    assert peak_mb < 200


def test_declared_sizes_are_checked_before_reading(tmp_path: Path) -> None:
    book = tmp_path / "shared.xlsx"
    workbook = Workbook()
    workbook.active.title = "work"
    for row in range(200):
        workbook.active.append([f"text {row} " + "y" * 500])
    workbook.save(book)
    with pytest.raises(
        pull_raw.SourceError, match=r"shared.xlsx: its sheets declare \d+ bytes of cells"
    ):
        pull_raw.read_sheets(pull_raw.resolve_source(str(book)), budget=pull_raw.Budget(1000))
    budget = pull_raw.Budget(50_000)
    # A sheet whose <dimension> declares more rows than the budget has bytes.
    small = tmp_path / "tall.xlsx"
    workbook = Workbook()
    workbook.active.title = "work"
    workbook.active.append(["Name", "Rank"])
    workbook.save(small)
    with zipfile.ZipFile(small) as old:
        parts = {info.filename: old.read(info) for info in old.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode("utf-8")
    assert '<dimension ref="A1:B1" />' in sheet
    parts["xl/worksheets/sheet1.xml"] = sheet.replace("A1:B1", "A1:B900000").encode("utf-8")
    with zipfile.ZipFile(small, "w") as new:
        for name, data in parts.items():
            new.writestr(name, data)
    with pytest.raises(pull_raw.SourceError, match="tall.xlsx: sheet 'work' declares 900000 rows"):
        pull_raw.read_sheets(pull_raw.resolve_source(str(small)), budget=pull_raw.Budget(50_000))
    [work] = pull_raw.read_sheets(pull_raw.resolve_source(str(small)))  # within the default
    assert pull_raw.sheet_tsv(work.rows) == "Name\tRank\n"
    # A text file larger than the budget is refused by its size.
    big = tmp_path / "big.csv"
    big.write_text("a\n" * 40_000, encoding="utf-8")
    with pytest.raises(pull_raw.SourceError, match="big.csv: it is 80000 bytes, more than"):
        pull_raw.read_sheets(pull_raw.resolve_source(str(big)), budget=budget)


# -- through the whole mesh -------------------------------------------------------------


def test_one_sheet_and_several_source_pulls_never_shrink_the_plan(tmp_path: Path, spawn) -> None:
    config = write_config(tmp_path)
    for service in ("snapshot_service", "condition_service", "qplan_service"):
        spawn.service(service, config)
    client = store_client(config, timeout=2.0, retries=1)
    sample = ROOT / "data" / "sample" / "plan"

    def plan_of(raw: str) -> dict:
        def made() -> dict | None:
            latest = client.get("plan")
            return latest if latest.lineage.get("raw") == raw else None

        snapshot = wait_for(made, timeout=60, what=f"a plan from raw@{raw[:7]}")
        [name] = [n for n in snapshot.files if n.endswith(".json")]
        return json.loads(snapshot.text(name))

    def items(plan: dict) -> list[str]:
        return sorted(item["id"] for item in plan["by_track"]["All"]["work"])

    with client:
        wait_for_store(config)
        whole = plan_of(pulled_sha(run_pull(config, str(sample))))
        assert len(items(whole)) > 250

        # One tab re-pulled, as from a Google Sheet: the work, people and quarter stay.
        staff = (sample / "staff.csv").read_text(encoding="utf-8").splitlines()
        hired = tmp_path / "people.csv"
        hired.write_text("\n".join([*staff, "New Hire" + staff[-1][staff[-1].index(",") :]]) + "\n")
        one = plan_of(pulled_sha(run_pull(config, f"staff={hired}")))
        assert items(one) == items(whole)
        assert one["tracks"] == whole["tracks"]

        # Several tabs in one call: one raw commit, the same plan.
        commits = len(client.log("raw", 50))
        sha = pulled_sha(
            run_pull(config, f"work={sample / 'work.csv'}", f"staff={sample / 'staff.csv'}")
        )
        assert len(client.log("raw", 50)) == commits + 1
        assert items(plan_of(sha)) == items(whole)


def test_ods_formulas_without_a_saved_value_keep_their_text(tmp_path: Path) -> None:
    doc = OpenDocumentSpreadsheet()
    table = Table(name="work")

    def row(*cells: TableCell) -> TableRow:
        element = TableRow()
        for cell in cells:
            element.addElement(cell)
        return element

    def text(value: str) -> TableCell:
        cell = TableCell(valuetype="string")
        cell.addElement(P(text=value))
        return cell

    table.addElement(row(text("Name"), text("Apps"), text("Web")))
    table.addElement(
        row(
            text("Login"),
            TableCell(valuetype="float", value="2"),
            TableCell(valuetype="float", value="4", formula="of:=[.B2]*2"),
        )
    )
    table.addElement(
        row(text("Search"), TableCell(numbercolumnsrepeated=1), TableCell(formula="of:=[.B2]*3"))
    )
    doc.spreadsheet.addElement(table)
    book = tmp_path / "script.ods"
    doc.save(str(book))
    [work] = pull_raw.read_sheets(pull_raw.resolve_source(str(book)))
    assert pull_raw.sheet_tsv(work.rows) == "Name\tApps\tWeb\nLogin\t2\t4\nSearch\t\t=[.B2]*3\n"


def test_watch_follows_the_configured_sources(store: Store, tmp_path: Path, spawn) -> None:
    people = tmp_path / "people.csv"
    people.write_text("Name\nAnn\n", encoding="utf-8")
    quarter = tmp_path / "quarter.csv"
    quarter.write_text("Parameter\nStart\n", encoding="utf-8")
    config = tmp_path / "config.ini"
    config.write_text(
        store.config.read_text(encoding="utf-8")
        + "\n[pull_raw]\nsources = staff=people.csv, params=quarter.csv\n",
        encoding="utf-8",
    )
    args = [PYTHON, str(ROOT / "pull_raw.py"), "--config", str(config)]
    proc: Proc = spawn([*args, "--watch", "--interval", "0.1"], name="watch-config")
    wait_for(lambda: store.files(store.latest()).get("staff.tsv") == "Name\nAnn\n", timeout=30)
    first = store.latest()
    staged = tmp_path / "next.csv"
    staged.write_text("Name\nAnn\nBob\n", encoding="utf-8")
    os.replace(staged, people)
    wait_for(lambda: store.files(store.latest()).get("staff.tsv") == "Name\nAnn\nBob\n", timeout=30)
    files = store.files(store.latest())
    assert files["params.tsv"] == "Parameter\nStart\n"
    assert store.entry(store.latest())["message"].startswith("pull people.csv, quarter.csv")
    assert store.latest() != first
    proc.stop()
