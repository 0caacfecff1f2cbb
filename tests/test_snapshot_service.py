"""The snapshot service as a real process: typed clients, raw frames, a subscriber, kill -9."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import threading
from pathlib import Path

import pytest
import zmq

from mesh.config import Config
from mesh.errors import QPlanError, RemoteError
from mesh.protocol import SIGNATURE, Message
from mesh.snapshot import AsyncSnapshotClient, SnapshotClient
from snapshot_service import disk, journal
from snapshot_service.server import SnapshotService
from snapshot_service.verbs import Outcome
from tests.support import (
    Proc,
    serve_as,
    service_args,
    store_client,
    tools_curve,
    wait_for,
    wait_for_store,
    write_config,
)

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
MAX_PAYLOAD = 64 * 1024
WORK = "Rank\tName\tTrack\n10\tSplit payments\tCheckout\n20\tLanding page\tGrowth\n"


class Running:
    """A started snapshot service and what tests need to reach it."""

    def __init__(self, folder: Path, proc: Proc, config_path: Path) -> None:
        self.folder = folder
        self.proc = proc
        self.config_path = config_path
        self.config = Config(config_path)
        self.requests = self.config.endpoint("snapshot_service", "request_endpoint")
        self.publish = self.config.endpoint("snapshot_service", "publish_endpoint")
        self.store = self.config.path("snapshot_service", "store")

    def client(self, **kwargs) -> SnapshotClient:
        kwargs.setdefault("timeout", 10.0)
        kwargs.setdefault("retries", 0)
        return store_client(self.config_path, **kwargs)


def start(folder: Path, config_path: Path, name: str = "snapshot") -> Running:
    """Start the service and wait until it answers."""
    proc = Proc(service_args("snapshot_service", config_path), folder / f"{name}.out")
    running = Running(folder, proc, config_path)
    wait_for_store(config_path)
    return running


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """One service for the tests that only need it to answer (module-wide, it starts once)."""
    folder = tmp_path_factory.mktemp("snapshot")
    config_path = write_config(folder, {"snapshot_service": {"max_payload": "64KiB"}})
    assert not Config(config_path).path("snapshot_service", "store").exists()
    running = start(folder, config_path)
    yield running
    running.proc.stop()


@pytest.fixture
def client(service: Running):
    with service.client() as opened:
        yield opened


@pytest.fixture
def sockets():
    """Make raw sockets (``sockets(zmq.SUB)``); all are closed, linger 0, after the test."""
    ctx = zmq.Context()
    made: list[zmq.Socket] = []

    def make(kind: int) -> zmq.Socket:
        made.append(ctx.socket(kind))
        made[-1].linger = 0
        return made[-1]

    yield make
    for sock in made:
        sock.close(linger=0)
    ctx.term()


def git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)


def placed(store: Path, commit: str) -> str:
    """Wait until plain git sees ``commit`` on the branch; its 40 hex digits.

    The service answers a PUT once the commit is in its fsync'ed journal and puts the
    files and the branch in place right after the answer is sent (before the NOTIFY and
    the next request), so a reader racing the answer may see the branch one commit behind
    for a fraction of a millisecond.
    """
    wait_for(
        lambda: git(store, "rev-parse", "main").stdout.strip() == commit,
        what=f"the branch to reach {commit}",
    )
    return commit


# -- round trips ---------------------------------------------------------------------------


def test_the_store_is_created_on_first_start(service: Running) -> None:
    assert (service.store / "HEAD").is_file()
    assert git(service.store, "rev-parse", "--is-bare-repository").stdout.strip() == "true"


def test_the_journal_is_checkpointed_when_the_service_is_idle(
    client: SnapshotClient, service: Running
) -> None:
    def records() -> list[journal.Record]:
        opened = journal.Journal(service.store)
        try:
            return opened.read()
        finally:
            opened.close()

    commit = client.put("raw", {"work.tsv": WORK + "30\tIdle\tGrowth\n"})["commit"]
    # Answered once the commit was in the journal, before a checkpoint synced its files.
    assert records()[-1].new == commit
    wait_for(lambda: records() == [], timeout=10, what="an idle checkpoint")


def test_put_get_latest_log_and_diff(client: SnapshotClient, service: Running) -> None:
    before = client.latest("raw").seq
    first = client.put("raw", {"work.tsv": WORK, "staff.tsv": b"Name\nAda\n"}, source="/p.xlsx")
    assert set(first) == {"dataset", "commit", "seq", "changed", "lineage"}
    assert (first["seq"], first["changed"], first["lineage"]) == (
        before + 1,
        True,
        {"origin": "/p.xlsx"},
    )
    changed = WORK.replace("Growth", "Search")
    second = client.put(
        "raw", {"work.tsv": changed}, source="/p.xlsx", message="moved", producer="me"
    )

    got = client.get("raw", first["commit"][:7])
    assert got.commit == first["commit"] and got.text("work.tsv") == WORK
    assert got.files["staff.tsv"] == b"Name\nAda\n"
    latest = client.get("raw")
    assert (latest.commit, latest.seq, latest.source) == (second["commit"], before + 2, "/p.xlsx")
    assert list(latest.files) == ["work.tsv"] and ISO.match(latest.time)
    assert latest.chain == [
        {"dataset": "raw", "commit": second["commit"], "time": latest.time, "source": "/p.xlsx"}
    ]
    head = client.latest("raw")
    assert (head.commit, head.files) == (second["commit"], {})

    log = client.log("raw", 2)
    assert [entry["commit"] for entry in log] == [second["commit"], first["commit"]]
    assert log[0]["message"] == "moved" and log[0]["producer"] == "me"

    diff = client.diff("raw", first["commit"], second["commit"])
    assert "--- a/raw/staff.tsv\n+++ /dev/null\n" in diff
    assert "-20\tLanding page\tGrowth\n+20\tLanding page\tSearch\n" in diff


def test_the_asyncio_client_works_too(service: Running) -> None:
    async def talk() -> tuple[dict, str]:
        client = AsyncSnapshotClient(
            service.requests,
            timeout=10.0,
            retries=0,
            curve=tools_curve(service.config_path, "snapshot_service"),
        )
        try:
            answer = await client.put("conditioned", {"streams.txt": "async\n"})
            got = await client.get("conditioned", answer["commit"])
            return answer, got.text("streams.txt")
        finally:
            client.close()

    answer, text = asyncio.run(talk())
    assert answer["changed"] and text == "async\n"


def test_an_unchanged_put_makes_no_commit(client: SnapshotClient, service: Running) -> None:
    first = client.put("plan", {"plan.json": '{"same": true}\n'})
    head = placed(service.store, first["commit"])
    again = client.put("plan", {"plan.json": '{"same": true}\n'})
    assert (again["commit"], again["seq"], again["changed"]) == (
        first["commit"],
        first["seq"],
        False,
    )
    assert git(service.store, "rev-parse", "main").stdout.strip() == head


def test_plain_git_log_shows_lineage_trailers(client: SnapshotClient, service: Running) -> None:
    raw = client.put("raw", {"work.tsv": WORK + "30\tTrailers\tGrowth\n"}, source="/data/plan.xlsx")
    cond = client.put(
        "conditioned",
        {"streams.txt": "s\n"},
        source=f"raw@{raw['commit'][:10]}",
        producer="condition_service",
    )
    plan = client.put(
        "plan",
        {"plan.json": "{}\n"},
        source=f"conditioned@{cond['commit']}",
        producer="qplan_service",
    )
    assert plan["lineage"] == {
        "conditioned": cond["commit"],
        "raw": raw["commit"],
        "origin": "/data/plan.xlsx",
    }
    placed(service.store, plan["commit"])
    out = git(service.store, "log", "-1", "--format=%an <%ae>%n%s%n%(trailers)", "main").stdout
    assert out == (
        "qplan_service <qplan_service@qplan.local>\nUpdate plan\n"
        f"Dataset: plan\nSource: conditioned@{cond['commit']}\n"
        f"Producer: qplan_service\nSequence: {plan['seq']}\n\n"
    )


# -- notifications -------------------------------------------------------------------------


def test_a_subscriber_sees_every_commit_in_order(
    client: SnapshotClient, service: Running, sockets
) -> None:
    sub = sockets(zmq.SUB)
    tools_curve(service.config_path, "snapshot_service").apply(sub)
    sub.connect(service.publish)
    sub.subscribe(b"")
    # A SUB joins late: commit probes until one of their notifications arrives.
    probe = [0]

    def joined() -> bool:
        probe[0] += 1
        client.put("conditioned", {"streams.txt": f"probe {probe[0]}\n"})
        return bool(sub.poll(200))

    wait_for(joined, timeout=20, interval=0, what="the subscriber to join")
    while sub.poll(300):
        sub.recv_multipart()
    answers = [client.put("raw", {"work.tsv": f"{WORK}{n}\n"}, source="/p.xlsx") for n in range(20)]
    client.put("raw", {"work.tsv": f"{WORK}19\n"})  # unchanged: no notification
    answers.append(client.put("raw", {"work.tsv": "last\n"}))
    notes = []
    while len(notes) < len(answers):
        assert sub.poll(10_000), f"only {len(notes)} of {len(answers)} notifications arrived"
        topic, note = Message.from_frames(sub.recv_multipart(), topic=True)
        notes.append((topic, note))
    assert not sub.poll(300)  # and nothing more
    assert [topic for topic, _ in notes] == ["raw"] * len(answers)
    assert all(note.kind == "NOTIFY" for _, note in notes)
    assert [note.header["commit"] for _, note in notes] == [a["commit"] for a in answers]
    seqs = [note.header["seq"] for _, note in notes]
    assert seqs == list(range(seqs[0], seqs[0] + len(answers)))
    head = notes[0][1].header
    assert set(head) == {"dataset", "seq", "commit", "lineage", "time"}
    assert head["dataset"] == "raw" and head["lineage"] == {"origin": "/p.xlsx"}
    assert ISO.match(head["time"])


def test_the_heartbeat_carries_the_store_and_its_heads(service: Running, sockets) -> None:
    sub = sockets(zmq.SUB)
    serve_as(service.config_path, "web", sub)
    sub.bind(service.config.endpoint("mesh", "heartbeat_endpoint"))
    sub.subscribe(b"heartbeat")

    def beat():
        if not sub.poll(500):
            return None
        _, message = Message.from_frames(sub.recv_multipart(), topic=True)
        return message.header if message.header.get("component") == "snapshot_service" else None

    header = wait_for(beat, timeout=20, interval=0, what="a heartbeat")
    detail = header["detail"]
    assert detail["store"] == str(service.store)
    assert set(detail["datasets"]) == set(service.config.names("snapshot_service", "datasets"))
    assert {"raw", "conditioned", "plan", "forecast"} <= set(detail["datasets"])
    assert set(detail["datasets"]["raw"]) == {"commit", "seq"}
    assert header["requests"] >= 1


# -- bad requests --------------------------------------------------------------------------


def frames(kind: str, header: object, *bodies: bytes) -> list[bytes]:
    """Request frames built by hand, header given as an object or as raw bytes."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return [SIGNATURE, kind.encode(), raw, *bodies]


SHA40 = "0123456789abcdef0123456789abcdef01234567"
BAD_REQUESTS = {
    "unknown verb": (frames("FROB", {}), "unknown_verb", "unknown verb 'FROB'"),
    "a reply kind": (frames("OK", {}), "unknown_verb", "unknown verb 'OK'"),
    "too few frames": ([SIGNATURE, b"GET"], "bad_request", "at least 3 frames"),
    "no signature": ([b"QPM0", b"GET", b"{}"], "bad_request", "bad signature"),
    "kind not UTF-8": (
        [SIGNATURE, b"\xff\xfe", b"{}"],
        "bad_request",
        "kind frame is not valid UTF-8",
    ),
    "header not UTF-8": (
        frames("GET", b'{"dataset": "\xff"}'),
        "bad_request",
        "header frame is not valid UTF-8",
    ),
    "header not JSON": (frames("GET", b"{nope"), "bad_request", "header is not valid JSON"),
    "header not an object": (frames("GET", b"[1, 2]"), "bad_request", "must be a JSON object"),
    "field missing": (frames("GET", {}), "bad_request", "GET needs the header field 'dataset'"),
    "field of wrong type": (
        frames("LATEST", {"dataset": 7}),
        "bad_request",
        "'dataset' must be a string, not a whole number",
    ),
    "unknown dataset": (
        frames("LATEST", {"dataset": "cooked"}),
        "unknown_dataset",
        "unknown dataset 'cooked'",
    ),
    "GET with a body": (
        frames("GET", {"dataset": "raw"}, b"x"),
        "bad_request",
        "GET takes no bodies, got 1",
    ),
    "LOG with bodies": (
        frames("LOG", {"dataset": "raw"}, b"x", b"y"),
        "bad_request",
        "LOG takes no bodies, got 2",
    ),
    "fewer bodies than files": (
        frames("PUT", {"dataset": "raw", "files": ["a.tsv", "b.tsv"]}, b"1"),
        "bad_request",
        "names 2 files but carries 1 bodies",
    ),
    "more bodies than files": (
        frames("PUT", {"dataset": "raw", "files": ["a.tsv"]}, b"1", b"2"),
        "bad_request",
        "names 1 files but carries 2 bodies",
    ),
    "files not a list": (
        frames("PUT", {"dataset": "raw", "files": "a.tsv"}, b"1"),
        "bad_request",
        "'files' must be a list",
    ),
    "file name not a string": (
        frames("PUT", {"dataset": "raw", "files": [3]}, b"1"),
        "bad_request",
        "list of strings",
    ),
    "a file twice": (
        frames("PUT", {"dataset": "raw", "files": ["a", "a"]}, b"1", b"2"),
        "bad_request",
        "names a file twice",
    ),
    "no files": (
        frames("PUT", {"dataset": "raw", "files": []}),
        "bad_request",
        "at least one file",
    ),
    "path in a name": (
        frames("PUT", {"dataset": "raw", "files": ["../x.tsv"]}, b"1"),
        "bad_request",
        "plain name",
    ),
    "backslash in a name": (
        frames("PUT", {"dataset": "raw", "files": ["a\\b"]}, b"1"),
        "bad_request",
        "plain name",
    ),
    "NUL in a name": (
        frames("PUT", {"dataset": "raw", "files": ["a\u0000b"]}, b"1"),
        "bad_request",
        "control character",
    ),
    "dot name": (
        frames("PUT", {"dataset": "raw", "files": [".git"]}, b"1"),
        "bad_request",
        "must not start with '.'",
    ),
    "long name": (
        frames("PUT", {"dataset": "raw", "files": ["n" * 256]}, b"1"),
        "bad_request",
        "longer than 255 bytes",
    ),
    "lone surrogate name": (
        frames("PUT", {"dataset": "raw", "files": ["\udc80"]}, b"1"),
        "bad_request",
        "not valid UTF-8",
    ),
    "source not a string": (
        frames("PUT", {"dataset": "raw", "files": ["a"], "source": 5}, b"1"),
        "bad_request",
        "'source' must be a string",
    ),
    "source of an unknown commit": (
        frames("PUT", {"dataset": "plan", "files": ["p"], "source": f"conditioned@{SHA40}"}, b"1"),
        "unknown_commit",
        f"unknown commit {SHA40}",
    ),
    "too large": (
        frames("PUT", {"dataset": "raw", "files": ["a", "b"]}, b"x" * MAX_PAYLOAD, b"y"),
        "too_large",
        f"is {MAX_PAYLOAD + 1} bytes; the limit is {MAX_PAYLOAD}",
    ),
    "unknown commit": (
        frames("GET", {"dataset": "raw", "commit": SHA40}),
        "unknown_commit",
        f"unknown commit {SHA40}",
    ),
    "malformed SHA": (
        frames("GET", {"dataset": "raw", "commit": "xyz1234"}),
        "bad_request",
        "not a commit SHA",
    ),
    "short SHA": (
        frames("GET", {"dataset": "raw", "commit": "abcdef"}),
        "bad_request",
        "not a commit SHA",
    ),
    "SHA not a string": (
        frames("GET", {"dataset": "raw", "commit": 1234567}),
        "bad_request",
        "'commit' must be a string",
    ),
    "limit zero": (
        frames("LOG", {"dataset": "raw", "limit": 0}),
        "bad_request",
        "positive whole number",
    ),
    "limit negative": (
        frames("LOG", {"dataset": "raw", "limit": -3}),
        "bad_request",
        "positive whole number",
    ),
    "limit fraction": (
        frames("LOG", {"dataset": "raw", "limit": 1.5}),
        "bad_request",
        "'limit' must be a whole number",
    ),
    "limit text": (
        frames("LOG", {"dataset": "raw", "limit": "10"}),
        "bad_request",
        "'limit' must be a whole number",
    ),
    "limit true": (
        frames("LOG", {"dataset": "raw", "limit": True}),
        "bad_request",
        "'limit' must be a whole number",
    ),
    "DIFF without to": (
        frames("DIFF", {"dataset": "raw", "from": SHA40}),
        "bad_request",
        "DIFF needs the header field 'to'",
    ),
    "DIFF of an unknown commit": (
        frames("DIFF", {"dataset": "raw", "from": SHA40, "to": "latest"}),
        "unknown_commit",
        "unknown commit",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_a_bad_request_gets_an_error_and_the_next_good_one_works(
    case: str, service: Running, sockets
) -> None:
    request, code, text = BAD_REQUESTS[case]
    dealer = sockets(zmq.DEALER)
    tools_curve(service.config_path, "snapshot_service").apply(dealer)
    dealer.connect(service.requests)
    dealer.send_multipart([b"", *request])
    assert dealer.poll(10_000), "no answer to a bad request"
    answer = dealer.recv_multipart()
    assert answer[0] == b""
    _, reply = Message.from_frames(answer[1:])
    assert reply.kind == "ERR", reply
    assert reply.header["code"] == code
    assert text in reply.header["error"]
    Message("LATEST", {"dataset": "raw"}).send(dealer, envelope=[b""])
    assert dealer.poll(10_000)
    _, good = Message.from_frames(dealer.recv_multipart()[1:])
    assert good.kind == "OK" and good.header["dataset"] == "raw"


def test_the_typed_client_raises_the_error(client: SnapshotClient) -> None:
    with pytest.raises(RemoteError, match="unknown dataset 'cooked'") as caught:
        client.get("cooked")
    assert caught.value.code == "unknown_dataset"
    with pytest.raises(RemoteError, match="plain name"):
        client.put("raw", {"a/b": "x"})


def test_a_request_without_an_envelope_is_dropped(service: Running, sockets) -> None:
    dealer = sockets(zmq.DEALER)
    tools_curve(service.config_path, "snapshot_service").apply(dealer)
    dealer.connect(service.requests)
    dealer.send_multipart(frames("LATEST", {"dataset": "plan"}))  # no empty delimiter
    Message("LATEST", {"dataset": "raw"}).send(dealer, envelope=[b""])
    assert dealer.poll(10_000)
    _, first = Message.from_frames(dealer.recv_multipart()[1:])
    assert first.header["dataset"] == "raw"  # the first answer is the good request's
    wait_for(lambda: "dropped a request" in service.proc.output(), what="the log line")


def test_a_store_that_lost_an_object_answers_internal_and_keeps_serving(
    client: SnapshotClient, service: Running
) -> None:
    answer = client.put("conditioned", {"streams.txt": "this blob will be lost\n"})
    placed(service.store, answer["commit"])
    blob = git(service.store, "rev-parse", f"{answer['commit']}:conditioned/streams.txt").stdout
    blob = blob.strip()
    (service.store / "objects" / blob[:2] / blob[2:]).unlink()
    with pytest.raises(RemoteError, match=f"blob {blob} is missing") as caught:
        client.get("conditioned", answer["commit"])
    assert caught.value.code == "internal"
    client.put("conditioned", {"streams.txt": "the next content\n"})
    assert client.get("conditioned").text("streams.txt") == "the next content\n"


def test_a_bug_answers_internal_with_a_logged_traceback(tmp_path: Path, caplog) -> None:
    class Broken:
        def handle(self, body):
            raise ZeroDivisionError("a bug")

    snapshot = SnapshotService(Config(write_config(tmp_path)))
    try:
        snapshot.verbs = Broken()
        outcome = snapshot.answer(frames("LATEST", {"dataset": "raw"}))
    finally:
        snapshot.context.term()
    assert outcome.reply.kind == "ERR" and outcome.notify is None
    assert outcome.reply.header == {
        "error": "internal error: ZeroDivisionError: a bug",
        "code": "internal",
    }
    assert snapshot.counters.errors == 1
    assert any(record.exc_info and "a bug" in str(record.exc_info[1]) for record in caplog.records)


def test_a_put_is_answered_then_settled_then_notified(tmp_path: Path) -> None:
    """The answer goes out once the commit is journaled; its files and the branch follow
    (``settle``), then its NOTIFY and the next request."""
    events: list[str] = []

    class Store:
        def after_request(self) -> None:
            events.append("settle")

    class Handler:
        def handle(self, body: list[bytes]) -> Outcome:
            kind = Message.from_frames(body)[1].kind
            events.append(kind)
            note = {"dataset": "raw", "seq": 1, "commit": "c" * 40}
            return Outcome(Message("OK", {}), Message("NOTIFY", note) if kind == "PUT" else None)

    class Socket:
        def __init__(self, name: str, requests: list[list[bytes]]) -> None:
            self.name, self.requests = name, requests

        async def recv_multipart(self) -> list[bytes]:
            if not self.requests:
                await asyncio.Event().wait()  # no more requests
            return self.requests.pop(0)

        async def send_multipart(self, frames, copy: bool = True) -> None:
            events.append(self.name)

    async def serve(snapshot: SnapshotService) -> None:
        task = asyncio.ensure_future(snapshot.serve())
        deadline = asyncio.get_running_loop().time() + 10
        while len(events) < 7 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    requests = [[b"id", b""] + frames("PUT", {}), [b"id", b""] + frames("LATEST", {})]
    snapshot = SnapshotService(Config(write_config(tmp_path)))
    try:
        snapshot.store, snapshot.verbs = Store(), Handler()
        snapshot.router, snapshot.publisher = Socket("answer", requests), Socket("NOTIFY", [])
        asyncio.run(asyncio.wait_for(serve(snapshot), 10))
    finally:
        snapshot.context.term()
    assert events == ["PUT", "answer", "settle", "NOTIFY", "LATEST", "answer", "settle"]


# -- crashes and configuration -------------------------------------------------------------


def test_kill_9_during_puts_loses_no_answered_put(tmp_path: Path, spawn) -> None:
    config_path = write_config(tmp_path)
    running = Running(tmp_path, spawn.service("snapshot_service", config_path), config_path)
    answered: list[tuple[str, str]] = []
    stop = threading.Event()

    def keep_putting() -> None:
        with running.client(timeout=2.0) as client:
            wait_for(lambda: client.latest("raw"), timeout=30, what="the service")
            n = 0
            while not stop.is_set():
                text = f"{WORK}{n}\n" * 50
                try:
                    answer = client.put("raw", {"work.tsv": text}, source="/kill.xlsx")
                except QPlanError:
                    return  # the service is gone
                answered.append((answer["commit"], text))
                n += 1

    writer = threading.Thread(target=keep_putting)
    writer.start()
    try:
        # Past 2 x 256: the journal switched files and checkpointed in the background twice.
        wait_for(lambda: len(answered) >= 600, timeout=60, what="600 answered PUTs")
        running.proc.signal(signal.SIGKILL)
    finally:
        stop.set()
        writer.join(30)
    assert running.proc.popen.wait(10) == -signal.SIGKILL
    count = len(answered)

    def written_spares() -> list[Path]:
        folder = again.store / disk.SPARE_FOLDER
        return [file for file in folder.iterdir() if file.is_file() and file.stat().st_size]

    again = Running(tmp_path, spawn.service("snapshot_service", config_path), config_path)
    with again.client() as client:
        wait_for(lambda: client.latest("raw"), timeout=30, what="the restarted service")
        assert written_spares() == []  # no half-made object left
        assert not (again.store / "refs" / "heads" / "main.lock").exists()
        for commit, text in answered:
            assert client.get("raw", commit).text("work.tsv") == text
        assert client.latest("raw").seq >= count
        after = client.put("raw", {"work.tsv": "after the crash\n"})
        assert after["seq"] > count
    placed(again.store, after["commit"])
    fsck = git(again.store, "fsck", "--full", "--no-progress")
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    wait_for(lambda: written_spares() == [], what="the old ref's file freed when idle")


def test_a_missing_config_key_is_one_line_naming_it(tmp_path: Path) -> None:
    config_path = write_config(tmp_path)
    text = config_path.read_text()
    config_path.write_text(re.sub(r"(?m)^request_endpoint = .*\n", "", text, count=1))
    result = subprocess.run(
        service_args("snapshot_service", config_path), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == (
        f"snapshot_service: error: {config_path}: [snapshot_service] request_endpoint: missing key"
    )
    assert "Traceback" not in result.stderr


def test_a_second_service_on_the_same_store_refuses_to_start(
    tmp_path: Path, service: Running
) -> None:
    config_path = write_config(tmp_path, {"snapshot_service": {"store": str(service.store)}})
    result = subprocess.run(
        service_args("snapshot_service", config_path), capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "in use by another snapshot service" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_full_disk_is_no_space_in_one_line_and_the_folders_are_private(tmp_path: Path, caplog):
    """ENOSPC is ERR no_space with one log line, not a traceback; store 0700, logs 0750."""
    import errno
    import logging
    import os

    from mesh.logs import setup_logging
    from snapshot_service.store import GitStore

    service = SnapshotService(Config(write_config(tmp_path)))

    class Full:
        def handle(self, body: list[bytes]) -> Outcome:
            raise OSError(errno.ENOSPC, "No space left on device")

    service.verbs = Full()
    try:
        with caplog.at_level(logging.INFO):
            outcome = service.answer(frames("PUT", {}))
    finally:
        service.context.term()
    header = outcome.reply.header
    assert header["code"] == "no_space" and "no space left" in header["error"]
    assert "Traceback" not in caplog.text and "internal error" not in caplog.text
    with GitStore(tmp_path / "newstore"):
        pass
    assert (tmp_path / "newstore").stat().st_mode & 0o777 == 0o700
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        setup_logging("probe", tmp_path / "newlogs")
    finally:
        for handler in root.handlers[:]:
            if handler not in before:
                root.removeHandler(handler)
                handler.close()
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "newlogs").stat().st_mode & 0o777 == 0o750 & ~mask


def test_plain_git_reads_the_branch_while_puts_flow(tmp_path: Path) -> None:
    """``git log``/``git show`` of the branch never fail while PUTs are committed."""
    config = write_config(tmp_path)
    proc = Proc(service_args("snapshot_service", config), tmp_path / "store.out")
    stop = threading.Event()
    done: list[int] = []

    def stream() -> None:
        with store_client(config, timeout=5) as client:
            n = 0
            while not stop.is_set():
                client.put("raw", {"work.tsv": f"x\t{n}\n"}, source="test")
                n += 1
            done.append(n)

    try:
        wait_for_store(config)
        with store_client(config, timeout=5) as client:
            client.put("raw", {"work.tsv": "first\n"}, source="test")
        writer = threading.Thread(target=stream)
        writer.start()
        store = tmp_path / "store"
        failures = []
        try:
            for _ in range(150):
                for args in (["log", "-1", "--format=%H", "main"], ["show", "main:raw/work.tsv"]):
                    run = subprocess.run(
                        ["git", "-C", str(store), *args], capture_output=True, text=True
                    )
                    if run.returncode:
                        failures.append(run.stderr.strip())
        finally:
            stop.set()
            writer.join(30)
        assert done and done[0] > 10, "the PUTs did not flow"
        assert failures == []
        fsck = subprocess.run(["git", "-C", str(store), "fsck", "--full"], capture_output=True)
        assert fsck.returncode == 0 and b"missing" not in fsck.stdout + fsck.stderr
    finally:
        proc.stop()


def test_the_idle_store_packs_its_loose_objects_and_reads_them_from_the_pack(
    tmp_path: Path,
) -> None:
    """``git repack`` runs while idle (in its own process); every commit still reads."""
    config = write_config(tmp_path, {"snapshot_service": {"pack_after": "40"}})
    running = start(tmp_path, config)
    git_dir = running.store if (running.store / "objects").is_dir() else running.store / ".git"
    try:
        with running.client() as client:
            puts = [client.put("raw", {"work.tsv": f"{WORK}{n}\n"}) for n in range(30)]

            def packed() -> dict[str, int]:
                counts = git(running.store, "count-objects", "-v").stdout.split("\n")
                found = dict(line.split(": ") for line in counts if ": " in line)
                return {k: int(v) for k, v in found.items() if v.isdigit()}

            done = "packed the store while idle"
            wait_for(lambda: done in running.proc.output(), timeout=30, what="the idle pack")
            assert packed()["in-pack"] > 0 and packed()["count"] <= 40
            first = client.get("raw", puts[0]["commit"])
            assert first.text("work.tsv") == f"{WORK}0\n"
            assert client.diff("raw", puts[0]["commit"], puts[-1]["commit"])
            later = client.put("raw", {"work.tsv": "after the pack\n"})
            assert client.get("raw").commit == later["commit"]
        assert git(running.store, "fsck", "--full").returncode == 0
        assert (git_dir / "refs" / "heads" / "main").exists()  # refs are never packed
    finally:
        running.proc.stop()


def test_a_failing_repack_is_one_warning_and_is_tried_less_often(tmp_path: Path, caplog) -> None:
    """Packing never runs while requests come, and a repack that fails backs off."""
    import asyncio
    import logging

    from snapshot_service.packing import EVERY, Packer

    loose = tmp_path / "not-a-repository" / "objects" / "ab"
    loose.mkdir(parents=True)
    for n in range(5):
        (loose / f"{n:038x}").write_bytes(b"x")
    packer = Packer(tmp_path / "not-a-repository", pack_after=2)
    assert not packer.due(0.0, idle_for=0.5)  # requests came within IDLE_FOR
    assert packer.due(0.0, idle_for=5.0)
    with caplog.at_level(logging.INFO):
        assert asyncio.run(packer.run(0.0)) is False
    assert caplog.text.count("git repack failed") == 1
    assert not packer.due(EVERY, idle_for=5.0) and packer.due(2 * EVERY, idle_for=5.0)
