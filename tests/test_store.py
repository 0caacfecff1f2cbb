"""GitStore on real git repositories in temporary folders, checked with plain git."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import subprocess
import threading
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapshot_service import disk, journal
from snapshot_service.diffs import dataset_diff, file_diff
from snapshot_service.objects import commit_bytes, object_sha, parse_trailers
from snapshot_service.repository import OWNER_FILE
from snapshot_service.store import GitStore, StoreError
from tests.support import wait_for

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
WORK = b"Rank\tName\tTrack\n10\tSplit payments\tCheckout\n20\tLanding page\tGrowth\n"
STAFF = b"Name\tSkill\nAda\tApps\n"


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run plain git on a store."""
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=check
    )


def fsck(repo: Path) -> None:
    """``git fsck --full`` must pass (dangling objects are fine)."""
    result = git(repo, "fsck", "--full", "--no-progress", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def store(path: Path):
    with GitStore(path) as opened:
        yield opened


def pipeline(store: GitStore) -> tuple[str, str, str]:
    """raw -> conditioned -> plan, each naming its source; their commit SHAs."""
    raw = store.put("raw", {"work.tsv": WORK}, source="/data/plan.xlsx", producer="pull_raw")
    cond = store.put(
        "conditioned",
        {"streams.txt": b"streams\n"},
        source=f"raw@{raw.commit[:7]}",
        producer="condition_service",
    )
    plan = store.put(
        "plan",
        {"plan.json": b"{}\n"},
        source=f"conditioned@{cond.commit}",
        producer="qplan_service",
    )
    return raw.commit, cond.commit, plan.commit


# -- PUT, GET, LATEST ------------------------------------------------------------------


def test_the_first_put_creates_a_bare_repository_and_commits(path: Path) -> None:
    assert not path.exists()
    with GitStore(path) as store:
        result = store.put("raw", {"work.tsv": WORK, "staff.tsv": STAFF}, source="/data/plan.xlsx")
        assert (result.dataset, result.seq, result.changed) == ("raw", 1, True)
        assert re.fullmatch(r"[0-9a-f]{40}", result.commit)
        assert git(path, "rev-parse", "--is-bare-repository").stdout.strip() == "true"
        assert git(path, "rev-parse", "main").stdout.strip() == result.commit
        assert git(path, "ls-tree", "-r", "--name-only", "main").stdout.split() == [
            "raw/staff.tsv",
            "raw/work.tsv",
        ]
        assert git(path, "show", "main:raw/work.tsv").stdout.encode() == WORK
        got = store.get("raw")
        assert got.commit == result.commit
        assert got.files == {"work.tsv": WORK, "staff.tsv": STAFF}
        assert got.header()["files"] == ["staff.tsv", "work.tsv"]
        assert got.bodies() == [STAFF, WORK]
    fsck(path)


def test_a_put_replaces_the_whole_folder_of_its_dataset(store: GitStore, path: Path) -> None:
    store.put("raw", {"work.tsv": WORK, "staff.tsv": STAFF})
    store.put("plan", {"plan.json": b"{}\n"})
    store.put("raw", {"work.tsv": WORK + b"30\tNew\tGrowth\n"})
    assert store.get("raw").files == {"work.tsv": WORK + b"30\tNew\tGrowth\n"}
    assert store.get("plan").files == {"plan.json": b"{}\n"}
    assert git(path, "ls-tree", "-r", "--name-only", "main").stdout.split() == [
        "plan/plan.json",
        "raw/work.tsv",
    ]
    # Each commit changes one dataset.
    changed = git(path, "show", "--name-only", "--format=", "main").stdout.split()
    assert changed == ["raw/staff.tsv", "raw/work.tsv"]


def test_a_put_of_the_current_content_makes_no_commit(store: GitStore, path: Path) -> None:
    first = store.put("raw", {"work.tsv": WORK, "staff.tsv": STAFF}, source="/data/plan.xlsx")
    store.put("plan", {"plan.json": b"{}\n"})
    head = git(path, "rev-parse", "main").stdout
    again = store.put("raw", {"staff.tsv": STAFF, "work.tsv": WORK}, source="/other.xlsx")
    assert (again.commit, again.seq, again.changed) == (first.commit, 1, False)
    assert again.lineage == {"origin": "/data/plan.xlsx"}
    assert git(path, "rev-parse", "main").stdout == head
    assert git(path, "rev-list", "--count", "main").stdout.strip() == "2"
    # Changing it back after a change is a change again.
    store.put("raw", {"work.tsv": WORK})
    assert store.put("raw", {"work.tsv": WORK, "staff.tsv": STAFF}).seq == 3


def test_latest_and_get_of_a_dataset_without_commits(store: GitStore) -> None:
    assert store.latest("plan").commit is None
    assert store.get("plan").header()["files"] == []
    store.put("raw", {"work.tsv": WORK})
    raw = store.latest("raw")
    assert raw.commit is not None and raw.files == {}
    assert "files" not in raw.header(with_files=False)
    assert store.latest("plan").commit is None


def test_plain_git_log_shows_the_trailers(store: GitStore, path: Path) -> None:
    raw, cond, plan = pipeline(store)
    out = git(path, "log", "--format=%an <%ae>|%s|%(trailers:only,unfold)%x00", "main").stdout
    entries = [entry.strip() for entry in out.split("\0") if entry.strip()]
    assert entries[0] == (
        "qplan_service <qplan_service@qplan.local>|Update plan|"
        f"Dataset: plan\nSource: conditioned@{cond}\nProducer: qplan_service\nSequence: 1"
    )
    assert entries[1].endswith(f"Source: raw@{raw}\nProducer: condition_service\nSequence: 1")
    assert entries[2] == (
        "pull_raw <pull_raw@qplan.local>|Update raw|"
        "Dataset: raw\nSource: /data/plan.xlsx\nProducer: pull_raw\nSequence: 1"
    )
    body = git(path, "log", "-1", "--format=%B", plan).stdout
    assert body.startswith("Update plan\n\nDataset: plan\n")


def test_message_producer_and_empty_source(store: GitStore, path: Path) -> None:
    store.put("raw", {"work.tsv": WORK}, message="pulled\nby hand", producer="")
    out = git(path, "log", "-1", "--format=%an <%ae>|%s|%(trailers:only)", "main").stdout
    assert out.strip() == "qplan <qplan@qplan.local>|pulled by hand|Dataset: raw\nSequence: 1"
    store.put("raw", {"work.tsv": STAFF}, producer="Eve <x> Smith")
    assert git(path, "log", "-1", "--format=%an|%ae", "main").stdout.strip() == (
        "Eve x Smith|Eve-x-Smith@qplan.local"
    )
    fsck(path)


def test_sequence_numbers_count_per_dataset_and_survive_a_restart(path: Path) -> None:
    with GitStore(path) as store:
        assert [store.put("raw", {"w.tsv": bytes([n])}).seq for n in range(3)] == [1, 2, 3]
        assert store.put("plan", {"plan.json": b"1"}).seq == 1
    with GitStore(path) as store:
        assert store.index["raw"].seq == 3
        assert store.put("raw", {"w.tsv": b"new"}).seq == 4
        assert store.put("plan", {"plan.json": b"2"}).seq == 2
        assert store.heads() == {
            "raw": {"commit": store.index["raw"].commit, "seq": 4},
            "conditioned": {"commit": None, "seq": 0},
            "plan": {"commit": store.index["plan"].commit, "seq": 2},
        }


def test_opening_never_walks_the_history_for_a_dataset_that_has_no_commits(
    path: Path, monkeypatch
) -> None:
    with GitStore(path) as store:
        for n in range(200):
            store.put("raw", {"w.tsv": b"%d" % n})
        store.put("plan", {"plan.json": b"1"})
    reads = []
    from snapshot_service.repository import Repository

    real = Repository.commit
    monkeypatch.setattr(
        Repository, "commit", lambda self, sha: reads.append(sha) or real(self, sha)
    )
    with GitStore(path, ["raw", "conditioned", "plan", "scenarios"]) as store:
        assert store.index["raw"].seq == 200 and "scenarios" not in store.index
    assert len(reads) <= 3  # the head (plan), then raw: never down to the first commit


def test_lineage_follows_the_sources_upstream(store: GitStore) -> None:
    raw, cond, plan = pipeline(store)
    got = store.get("plan", plan)
    assert got.source == f"conditioned@{cond}"
    assert got.lineage == {"conditioned": cond, "raw": raw, "origin": "/data/plan.xlsx"}
    assert [(link["dataset"], link["commit"]) for link in got.chain] == [
        ("plan", plan),
        ("conditioned", cond),
        ("raw", raw),
    ]
    assert got.chain[1]["source"] == f"raw@{raw}"  # the abbreviated source was stored in full
    assert got.chain[2]["source"] == "/data/plan.xlsx"
    assert all(ISO.match(link["time"]) for link in got.chain)
    assert ISO.match(got.time) and got.producer == "qplan_service" and got.seq == 1
    assert store.latest("raw").lineage == {"origin": "/data/plan.xlsx"}


def test_a_source_naming_an_unknown_commit_is_refused(store: GitStore) -> None:
    with pytest.raises(StoreError, match="unknown commit") as caught:
        store.put("plan", {"plan.json": b"{}"}, source="conditioned@" + "ab" * 20)
    assert caught.value.code == "unknown_commit"
    # Not the form dataset@sha of a known dataset: kept as written, as an origin.
    result = store.put("raw", {"w.tsv": b"1"}, source="user@deadbeefcafe.example/plan.csv")
    assert result.lineage == {"origin": "user@deadbeefcafe.example/plan.csv"}


def test_get_at_a_commit_of_another_dataset(store: GitStore) -> None:
    raw1 = store.put("raw", {"work.tsv": WORK}).commit
    plan1 = store.put("plan", {"plan.json": b"1"}).commit
    raw2 = store.put("raw", {"work.tsv": STAFF}).commit
    plan2 = store.put("plan", {"plan.json": b"2"}).commit
    at_plan1 = store.get("raw", plan1)
    assert (at_plan1.commit, at_plan1.files) == (raw1, {"work.tsv": WORK})
    at_plan2 = store.get("raw", plan2[:10])
    assert (at_plan2.commit, at_plan2.seq, at_plan2.files) == (raw2, 2, {"work.tsv": STAFF})
    assert store.get("plan", raw2).files == {"plan.json": b"1"}
    before = store.get("plan", raw1)
    assert (before.commit, before.files) == (None, {})


def test_log_lists_a_datasets_commits_newest_first(store: GitStore) -> None:
    raws = []
    for n in range(4):
        raws.append(store.put("raw", {"w.tsv": b"%d" % n}, source="/p.xlsx", message=f"pull {n}"))
        store.put("plan", {"plan.json": b"%d" % n})
    log = store.log("raw", 3)
    assert [entry["commit"] for entry in log] == [r.commit for r in reversed(raws)][:3]
    assert [entry["seq"] for entry in log] == [4, 3, 2]
    assert log[0]["message"] == "pull 3" and log[0]["source"] == "/p.xlsx"
    assert log[0]["lineage"] == {"origin": "/p.xlsx"} and ISO.match(log[0]["time"])
    assert set(log[0]) == {"commit", "seq", "time", "message", "source", "producer", "lineage"}
    assert len(store.log("raw", 100)) == 4
    assert store.log("conditioned") == []


# -- DIFF --------------------------------------------------------------------------------


def test_diff_reads_like_git(store: GitStore, path: Path) -> None:
    old = store.put("raw", {"work.tsv": WORK, "staff.tsv": STAFF}).commit
    store.put("plan", {"plan.json": b"{}"})
    new = store.put(
        "raw", {"work.tsv": WORK.replace(b"Growth", b"Search"), "holidays.tsv": b"Date\n"}
    ).commit
    start, end, text = store.diff("raw", old[:8], "latest")
    assert (start, end) == (old, store.head)
    assert text == (
        "--- /dev/null\n"
        "+++ b/raw/holidays.tsv\n"
        "@@ -0,0 +1 @@\n"
        "+Date\n"
        "--- a/raw/staff.tsv\n"
        "+++ /dev/null\n"
        "@@ -1,2 +0,0 @@\n"
        "-Name\tSkill\n"
        "-Ada\tApps\n"
        "--- a/raw/work.tsv\n"
        "+++ b/raw/work.tsv\n"
        "@@ -1,3 +1,3 @@\n"
        " Rank\tName\tTrack\n"
        " 10\tSplit payments\tCheckout\n"
        "-20\tLanding page\tGrowth\n"
        "+20\tLanding page\tSearch\n"
    )
    # git agrees on which lines changed.
    git_diff = git(path, "diff", old, new, "--", "raw/work.tsv").stdout
    assert "-20\tLanding page\tGrowth\n+20\tLanding page\tSearch\n" in git_diff
    assert store.diff("raw", new, new)[2] == ""
    assert store.diff("plan", old, new)[2].startswith("--- /dev/null\n+++ b/plan/plan.json\n")


def test_file_diff_marks_missing_newlines_and_binary_files() -> None:
    text = file_diff(b"a\nb", b"a\nc", "a/x", "b/x")
    assert text.endswith("-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n")
    assert file_diff(b"\x00\x01", b"\x00\x02", "a/x", "b/x") == "Binary files a/x and b/x differ\n"
    assert file_diff(b"\xff", b"ok\n", "a/x", "b/x") == "Binary files a/x and b/x differ\n"
    assert dataset_diff("raw", {}, {"empty.tsv": b""}) == "--- /dev/null\n+++ b/raw/empty.tsv\n"


# -- names and SHAs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "non-empty"),
        ("a/b.tsv", "plain name"),
        ("a\\b.tsv", "plain name"),
        ("nul\0.tsv", "control character"),
        ("line\n.tsv", "control character"),
        (".hidden", "must not start with '.'"),
        ("x" * 256, "longer than 255 bytes"),
        ("é" * 128, "longer than 255 bytes"),
        ("bad\udc80.tsv", "not valid UTF-8"),
    ],
)
def test_bad_file_names_are_refused(store: GitStore, name: str, problem: str) -> None:
    with pytest.raises(StoreError, match=re.escape(problem)) as caught:
        store.put("raw", {name: b"x"})
    assert caught.value.code == "bad_request"
    assert store.head is None


def test_names_that_are_fine(store: GitStore, path: Path) -> None:
    names = {"x" * 255: b"1", "é" * 127: b"2", "a b.tsv": b"3", "a.b": b"4", "a": b"5"}
    store.put("raw", names)
    assert store.get("raw").files == names
    fsck(path)


def test_unknown_dataset_and_empty_put(store: GitStore) -> None:
    with pytest.raises(StoreError, match="unknown dataset 'cooked'") as caught:
        store.put("cooked", {"a": b"1"})
    assert caught.value.code == "unknown_dataset"
    with pytest.raises(StoreError, match="at least one file"):
        store.put("raw", {})
    for call in (lambda: store.get("cooked"), lambda: store.log("cooked")):
        with pytest.raises(StoreError, match="unknown dataset"):
            call()


def test_shas_resolve_from_7_to_40_hex_digits(store: GitStore) -> None:
    sha = store.put("raw", {"w.tsv": WORK}).commit
    for size in (7, 12, 40):
        assert store.resolve(sha[:size]) == sha
        assert store.resolve(sha[:size].upper()) == sha
    for bad in (sha[:6], sha + "0", "g" * 7, "", "HEAD", "main", 1234567):
        with pytest.raises(StoreError, match="not a commit SHA") as caught:
            store.resolve(bad)
        assert caught.value.code == "bad_request"
    unknown = "0" * 40 if not sha.startswith("0000000") else "f" * 40
    with pytest.raises(StoreError) as caught:
        store.resolve(unknown)
    assert caught.value.code == "unknown_commit"
    tree = store.commit(sha).tree
    with pytest.raises(StoreError, match="unknown commit"):
        store.resolve(tree[:10])  # a tree is not a commit


def test_an_abbreviated_sha_that_starts_two_commits_is_ambiguous(store: GitStore) -> None:
    head = store.put("raw", {"w.tsv": WORK}).commit
    tree = store.commit(head).tree
    # Make commit objects until two share 7 hex digits (about 2**14 tries), then store both.
    seen: dict[str, bytes] = {}
    n = 0
    while True:
        data = commit_bytes(tree, None, "t", "t@qplan.local", 1_700_000_000, f"try {n}\n")
        prefix = object_sha(b"commit", data).hex()[:7]
        if prefix in seen:
            break
        seen[prefix] = data
        n += 1
    txn = disk.Transaction(store.repository.objects, store.repository.spares, journal=None)
    txn.add_object(b"commit", seen[prefix])
    txn.add_object(b"commit", data)
    txn.finish(store.repository.ref, store.repository.ref_name, head, head)  # the branch stays
    with pytest.raises(StoreError, match="ambiguous") as caught:
        store.resolve(prefix)
    assert caught.value.code == "bad_request"
    full = object_sha(b"commit", data).hex()
    assert store.resolve(full) == full


# -- the repository on disk --------------------------------------------------------------


def spare_files(path: Path) -> list[Path]:
    """The files in the spare folder (``new/``, where they are made, aside)."""
    return [spare for spare in (path / disk.SPARE_FOLDER).iterdir() if spare.is_file()]


def temp_files(path: Path) -> list[Path]:
    """Spare files written into (the empty ones are ready for use), and any being made."""
    making = list((path / disk.SPARE_FOLDER / "new").iterdir())
    return making + [spare for spare in spare_files(path) if spare.stat().st_size]


def loose(path: Path, hexsha: str) -> Path:
    return path / "objects" / hexsha[:2] / hexsha[2:]


def test_leftovers_of_a_crash_are_removed_at_start(path: Path) -> None:
    spares = path / disk.SPARE_FOLDER
    with GitStore(path) as store:
        assert store.prepare_files(11) == disk.SPARE_FILES - 11
        store.put("raw", {"w.tsv": WORK})  # its four objects and the lock were spare files
        assert len(spare_files(path)) == 6
        store.put("raw", {"w.tsv": STAFF})  # and the old ref's file is kept, to be freed later
        assert len(temp_files(path)) == 1
        store.prepare_files(1)
        assert temp_files(path) == []
        empty = sorted(spare_files(path))
        assert len(empty) == 1
    # Spare files written into were never promised to anyone (the journal holds what was):
    # they go, and the lock, and a file a crash left half made; the empty ones are kept for use.
    (spares / "77-1").write_bytes(zlib.compress(b"blob 5\0hello"))
    (spares / "77-2").write_bytes(b"x\x9c")
    (spares / "new" / "77-3").write_bytes(b"")
    lock = path / "refs" / "heads" / "main.lock"
    lock.write_text("0" * 40 + "\n")
    with GitStore(path) as store:
        assert temp_files(path) == [] and not lock.exists()
        assert sorted(spare_files(path)) == empty
        assert not loose(path, object_sha(b"blob", b"hello").hex()).exists()
        assert store.put("raw", {"w.tsv": b"3"}).seq == 3
    fsck(path)


# -- the journal -------------------------------------------------------------------------


def journal_file(path: Path, which: int = 0) -> Path:
    """Journal file A (0) or B (1); A is the one a store starts with."""
    return path / journal.JOURNAL_FILES[which]


def read_journal(path: Path, which: int = 0) -> journal.JournalFile:
    """One journal file, read (closed: its ``epoch`` and ``size`` tell where records go)."""
    opened = journal.JournalFile(journal_file(path, which))
    try:
        opened.read()
    finally:
        opened.close()
    return opened


def journal_records(path: Path) -> list[journal.Record]:
    """The records a store's journal would redo, from both files, in order."""
    opened = journal.Journal(path)
    try:
        return opened.read()
    finally:
        opened.close()


def puts_then_die(
    path: Path, puts: list[tuple[str, dict[str, bytes]] | None], lost_checkpoint: int = 0
) -> list[str]:
    """In a forked child, make the PUTs and die without closing the store (like kill -9).

    ``None`` among the PUTs is a checkpoint. Returns the commits; the journal records since
    the last checkpoint are still there. ``lost_checkpoint`` n: the checkpoint of the full
    journal file at the n-th switch never runs, as if the crash came first.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no cleanup, no except blocks, no atexit
        try:
            if lost_checkpoint:
                real, switches = journal.Journal.checkpoint_file, [0]

                def checkpoint_file(file: journal.JournalFile) -> None:
                    switches[0] += 1
                    if switches[0] != lost_checkpoint:
                        real(file)

                journal.Journal.checkpoint_file = staticmethod(checkpoint_file)
            store = GitStore(path)
            commits = []
            for put in puts:
                if put is None:
                    store.checkpoint()
                else:
                    commits.append(store.put(*put).commit)
            os.write(write_end, " ".join(commits).encode())
            os._exit(0)
        finally:
            os._exit(99)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        commits = pipe.read().decode().split()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return commits


def set_ref(path: Path, commit: str) -> None:
    (path / "refs" / "heads" / "main").write_text(commit + "\n")


def test_a_durable_put_syncs_the_journal_once_and_nothing_else(
    store: GitStore, path: Path, monkeypatch
) -> None:
    store.put("raw", {"w.tsv": WORK})
    calls: list[str] = []
    real_fdatasync = os.fdatasync
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append("fsync"))
    monkeypatch.setattr(journal, "sync_filesystem", lambda fd: calls.append("syncfs"))

    def fdatasync(fd: int) -> None:
        calls.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fdatasync(fd)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    store.put("raw", {"w.tsv": STAFF}, source="/p.xlsx")
    assert calls == [str(journal_file(path))]
    records = journal_records(path)
    assert records[-1].new == store.head and records[-1].ref == "refs/heads/main"
    assert records[-1].old == records[-2].new
    assert len(records[-1].objects) == 4  # blob, folder, root tree, commit
    # Records overwrite zeros written at start: the file does not grow.
    assert journal_file(path).stat().st_size == journal.JOURNAL_BYTES


def test_the_journal_files_take_turns_and_are_emptied_by_checkpoints(
    path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(journal, "JOURNAL_RECORDS", 3)

    def held() -> list[tuple[int, int]]:
        """(epoch, records) of files A and B."""
        return [(state.epoch, state.records) for state in map(read_journal, [path] * 2, [0, 1])]

    with GitStore(path) as store:
        assert journal_records(path) == []
        assert held() == [(1, 0), (2, 0)]  # A first; B's epoch is the one after
        commits = [store.put("raw", {"w.tsv": b"%d" % n}).commit for n in range(3)]
        assert held() == [(1, 3), (2, 0)]
        assert [record.new for record in journal_records(path)] == commits
        # A is due: B takes the commit, A is checkpointed and gets the epoch after B's.
        commits.append(store.put("raw", {"w.tsv": b"3"}).commit)
        assert held() == [(3, 0), (2, 1)]
        assert [record.new for record in journal_records(path)] == commits[3:]
        assert not store.checkpoint_if_due()
        assert store.checkpoint_if_due(idle=True)  # idle: B is checkpointed, A takes over
        assert held() == [(3, 0), (4, 0)]
        store.put("raw", {"w.tsv": b"4"})
        assert held() == [(3, 1), (4, 0)]
    assert journal_records(path) == []  # a clean close checkpoints
    with GitStore(path, durable=False) as store:
        store.put("raw", {"w.tsv": b"5"})
        assert journal_records(path) == []  # not durable: nothing journaled


def test_a_put_whose_journal_sync_fails_is_not_redone(
    store: GitStore, path: Path, monkeypatch
) -> None:
    first = store.put("raw", {"w.tsv": WORK}).commit

    def failing(fd: int) -> None:
        raise OSError(errno.EIO, "disk on fire")

    monkeypatch.setattr(os, "fdatasync", failing)
    with pytest.raises(OSError, match="disk on fire"):
        store.put("raw", {"w.tsv": STAFF})
    monkeypatch.undo()
    assert [record.new for record in journal_records(path)] == [first]
    assert not loose(path, object_sha(b"blob", STAFF).hex()).exists()
    assert temp_files(path) == [] and store.head == first
    assert store.put("raw", {"w.tsv": STAFF}).seq == 2
    fsck(path)


def test_half_a_record_from_a_failed_write_does_not_hide_the_next_ones(
    store: GitStore, path: Path, monkeypatch
) -> None:
    store.put("raw", {"w.tsv": WORK})
    journal_fd = store.repository.journal.active.fd
    real_pwrite = os.pwrite

    def write_half(fd: int, data, offset: int) -> int:
        if fd != journal_fd:
            return real_pwrite(fd, data, offset)
        real_pwrite(fd, bytes(data[: len(data) // 2]), offset)
        raise OSError(errno.ENOSPC, "disk full")

    monkeypatch.setattr(os, "pwrite", write_half)
    with pytest.raises(OSError, match="disk full"):
        store.put("raw", {"w.tsv": STAFF})
    monkeypatch.undo()
    last = store.put("raw", {"w.tsv": b"after"}).commit
    assert [record.new for record in journal_records(path)][-1] == last
    assert len(journal_records(path)) == 2


def test_a_put_left_to_settle_is_durable_and_unseen_until_settled(
    store: GitStore, path: Path
) -> None:
    first = store.put("raw", {"w.tsv": WORK}).commit
    result = store.put("raw", {"w.tsv": STAFF}, settle=False)
    assert journal_records(path)[-1].new == result.commit  # answerable: the journal redoes it
    # Nothing in place yet, and the store reads as before.
    assert git(path, "rev-parse", "main").stdout.strip() == first
    assert not loose(path, object_sha(b"blob", STAFF).hex()).exists()
    assert store.head == first and store.get("raw").files == {"w.tsv": WORK}
    assert store.index["raw"].seq == 1
    store.settle()
    assert git(path, "rev-parse", "main").stdout.strip() == result.commit == store.head
    assert store.get("raw").files == {"w.tsv": STAFF} and store.index["raw"].seq == 2
    # The next PUT settles a commit left to settle first.
    store.put("raw", {"w.tsv": b"3"}, settle=False)
    assert store.put("raw", {"w.tsv": b"4"}).seq == 4
    assert store.log("raw", 10)[1]["seq"] == 3
    fsck(path)


def test_a_crash_before_the_settle_is_redone(path: Path) -> None:
    with GitStore(path) as store:
        first = store.put("raw", {"w.tsv": WORK}).commit
    read_end, write_end = os.pipe()

    def work() -> None:
        store = GitStore(path)
        os.write(write_end, store.put("raw", {"w.tsv": STAFF}, settle=False).commit.encode())

    assert in_a_child(work) == 0
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answered = pipe.read().decode()
    assert git(path, "rev-parse", "main").stdout.strip() == first
    with GitStore(path) as store:
        assert store.head == answered
        assert store.get("raw").files == {"w.tsv": STAFF}
    assert temp_files(path) == []
    fsck(path)


@pytest.mark.parametrize("renames", [0, 2], ids=["first", "third"])
def test_a_settle_that_fails_is_tried_again_and_loses_nothing(
    path: Path, monkeypatch, renames: int
) -> None:
    store = GitStore(path)
    store.put("raw", {"w.tsv": WORK})
    answered = store.put("raw", {"w.tsv": STAFF}, settle=False).commit
    real_replace, calls = os.replace, [0]

    def failing(src, dst) -> None:
        calls[0] += 1
        if calls[0] > renames:
            raise OSError(errno.EIO, "disk on fire")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(StoreError, match="in the journal but could not be put in place") as caught:
        store.settle()
    assert caught.value.code == "internal"
    with pytest.raises(StoreError, match="the next call tries again"):
        store.put("raw", {"w.tsv": b"3"})  # never on top of a commit not in place
    with pytest.raises(StoreError):
        store.checkpoint()  # nor empty the journal of it
    assert [record.new for record in journal_records(path)][-1] == answered
    if renames:  # stopped at the third rename: the next start redoes the commit
        with pytest.raises(StoreError):
            store.close()
        monkeypatch.undo()
        store = GitStore(path)
        assert store.head == answered
    else:  # the disk is back: the next PUT puts it in place first
        monkeypatch.undo()
    assert store.put("raw", {"w.tsv": b"3"}).seq == 3
    assert store.log("raw", 10)[1]["commit"] == answered
    store.close()
    fsck(path)


def test_a_syncfs_failure_is_an_error() -> None:
    with pytest.raises(OSError, match="syncfs"):
        journal.sync_filesystem(-1)


def test_a_power_cut_after_the_journal_sync_is_redone_at_start(path: Path) -> None:
    """The journal reached the disk, the objects and the ref did not: all is redone."""
    with GitStore(path) as store:
        first = store.put("raw", {"w.tsv": WORK}).commit
    commits = puts_then_die(
        path, [("raw", {"w.tsv": STAFF}), ("plan", {"plan.json": b"{}"}), ("raw", {"w.tsv": b"3"})]
    )
    records = journal_records(path)
    assert [record.new for record in records] == commits
    # What a power cut does to files never synced: gone, or there but empty; the ref goes back.
    for hexsha, _ in records[0].objects + records[2].objects:
        loose(path, hexsha).unlink()
    for hexsha, _ in records[1].objects:
        os.truncate(loose(path, hexsha), 0)
    set_ref(path, first)
    assert git(path, "fsck", "--full", check=False).returncode != 0
    with GitStore(path) as store:
        assert store.head == commits[-1]
        assert store.get("raw").files == {"w.tsv": b"3"}
        assert store.get("raw", commits[0]).files == {"w.tsv": STAFF}
        assert store.get("plan").files == {"plan.json": b"{}"}
        assert store.index["raw"].seq == 3
    assert journal_records(path) == []
    assert temp_files(path) == []
    fsck(path)


def test_an_empty_object_left_by_a_power_cut_is_rewritten_from_the_journal(path: Path) -> None:
    (commit,) = puts_then_die(path, [("raw", {"w.tsv": WORK})])
    (record,) = journal_records(path)
    blob = object_sha(b"blob", WORK).hex()
    assert blob in [hexsha for hexsha, _ in record.objects]
    os.truncate(loose(path, blob), 0)  # renamed, but its data never reached the disk
    assert git(path, "fsck", "--full", check=False).returncode != 0
    with GitStore(path) as store:
        assert store.head == commit
        assert store.get("raw").files == {"w.tsv": WORK}
    assert zlib.decompress(loose(path, blob).read_bytes()) == b"blob %d\0" % len(WORK) + WORK
    fsck(path)


@pytest.mark.parametrize("damage", ["its end lost", "all lost but its frame", "a flipped byte"])
def test_a_torn_last_record_is_ignored(path: Path, damage: str, caplog) -> None:
    commits = puts_then_die(path, [("raw", {"w.tsv": WORK}), ("raw", {"w.tsv": STAFF})])
    records = journal_records(path)
    state = read_journal(path)
    data = bytearray(journal_file(path).read_bytes())
    end = state.size
    start = end - len(records[-1].pack(state.epoch))
    if damage == "its end lost":
        data[end - 1] ^= 0xFF
    elif damage == "all lost but its frame":
        data[start + 20 : end] = bytes(end - start - 20)
    else:
        data[(start + end) // 2] ^= 1
    journal_file(path).write_bytes(data)
    # The power cut came before the journal's sync: the objects stayed temp files, the ref put.
    for hexsha, _ in records[-1].objects:
        loose(path, hexsha).unlink()
    set_ref(path, commits[0])
    with GitStore(path) as store:
        assert store.head == commits[0]
        assert store.get("raw").files == {"w.tsv": WORK}
        assert store.put("raw", {"w.tsv": b"again"}).seq == 2
    assert journal_records(path) == []
    assert "ignored a torn last record" in caplog.text
    fsck(path)


def test_records_of_an_earlier_epoch_are_not_replayed(path: Path) -> None:
    """A checkpoint starts a new epoch; the old records that follow the new ones stay out."""
    puts = [("raw", {"w.tsv": WORK}), ("raw", {"w.tsv": STAFF}), None, ("raw", {"w.tsv": b"3"})]
    first, second, third = puts_then_die(path, puts)
    state = read_journal(path)
    (record,) = journal_records(path)
    assert (record.old, record.new) == (second, third)
    # A record of the epoch before, right after the last one of this epoch: were it taken
    # for one of this epoch, the ref would go to ``first``.
    with open(journal_file(path), "r+b") as fh:
        fh.seek(state.size)
        fh.write(journal.Record(record.ref, third, first, []).pack(state.epoch - 1))
    set_ref(path, second)  # as if the power cut lost the ref's last move
    with GitStore(path) as store:
        assert store.head == third
        assert store.get("raw").files == {"w.tsv": b"3"}
    fsck(path)


@pytest.mark.parametrize("newer", ["B", "A"])
@pytest.mark.parametrize("torn", [False, True], ids=["whole", "torn"])
def test_a_power_cut_with_records_in_both_journal_files_is_redone_in_order(
    path: Path, monkeypatch, newer: str, torn: bool, caplog
) -> None:
    """A crash after a switch, before the full file's checkpoint: both files are redone."""
    monkeypatch.setattr(journal, "JOURNAL_RECORDS", 2)
    with GitStore(path) as store:
        store.put("raw", {"w.tsv": WORK})
    # A is active after a start. Three PUTs fill it and switch to B; five go back to A.
    count = 3 if newer == "B" else 5
    commits = puts_then_die(
        path, [("raw", {"w.tsv": b"%d" % n}) for n in range(count)], lost_checkpoint=count // 2
    )
    older, newest = read_journal(path, newer == "A"), read_journal(path, newer == "B")
    assert (older.records, newest.records) == (2, 1)
    assert older.epoch + 1 == newest.epoch
    records = journal_records(path)
    assert [record.new for record in records] == commits[-3:]
    if torn:  # the power cut came during the last record's write: never answered
        data = bytearray(journal_file(path, newer == "B").read_bytes())
        data[newest.size - 1] ^= 0xFF
        journal_file(path, newer == "B").write_bytes(data)
    for record in records:  # written since the last checkpoint: lost
        for hexsha, _ in record.objects:
            loose(path, hexsha).unlink()
    set_ref(path, records[0].old)
    answered = commits[:-1] if torn else commits
    with GitStore(path) as store:
        assert store.head == answered[-1]
        for n, commit in enumerate(answered):
            assert store.get("raw", commit).files == {"w.tsv": b"%d" % n}
        assert store.index["raw"].seq == len(answered) + 1
    assert ("ignored a torn last record" in caplog.text) == torn
    assert journal_records(path) == []
    fsck(path)


def test_a_put_waits_for_the_checkpoint_only_when_both_journal_files_are_full(
    path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(journal, "JOURNAL_RECORDS", 1)
    release = threading.Event()
    started = threading.Event()
    real = journal.Journal.checkpoint_file

    def slow_checkpoint(file: journal.JournalFile) -> None:
        started.set()
        assert release.wait(30)
        real(file)

    monkeypatch.setattr(journal.Journal, "checkpoint_file", staticmethod(slow_checkpoint))
    with GitStore(path, background=True) as store:
        store.put("raw", {"w.tsv": b"1"})
        store.put("raw", {"w.tsv": b"2"})  # A is full: B takes it, the thread checkpoints A
        assert started.wait(30)
        assert read_journal(path, 0).records == 1  # not yet
        third = threading.Thread(target=store.put, args=("raw", {"w.tsv": b"3"}))
        third.start()  # B is full too: this one waits for A
        third.join(0.3)
        assert third.is_alive() and store.index["raw"].seq == 2
        release.set()
        third.join(30)
        assert store.index["raw"].seq == 3
        assert read_journal(path, 0).records == 1  # A took it; the thread checkpoints B
        wait_for(lambda: read_journal(path, 1).records == 0, what="B's checkpoint")
    fsck(path)


def test_a_failed_background_checkpoint_stops_the_puts_and_loses_nothing(
    path: Path, monkeypatch, caplog
) -> None:
    monkeypatch.setattr(journal, "JOURNAL_RECORDS", 2)

    def failing(fd: int) -> None:
        raise OSError(errno.EIO, "syncfs: disk on fire")

    store = GitStore(path, background=True)
    monkeypatch.setattr(journal, "sync_filesystem", failing)
    commits = [store.put("raw", {"w.tsv": b"%d" % n}).commit for n in range(3)]
    with pytest.raises(OSError, match="disk on fire"):
        store.checkpoint()  # the thread's checkpoint of A failed: A keeps its records
    with pytest.raises(OSError, match="disk on fire"):
        store.put("raw", {"w.tsv": b"3"})
    with pytest.raises(OSError, match="disk on fire"):
        store.close()
    assert "checkpoint of" in caplog.text and "failed" in caplog.text
    assert [record.new for record in journal_records(path)] == commits
    monkeypatch.undo()
    with GitStore(path) as store:
        assert store.head == commits[-1]
        assert store.put("raw", {"w.tsv": b"3"}).seq == 4
    fsck(path)


def test_the_thread_keeps_the_spare_files_ready(path: Path, monkeypatch) -> None:
    monkeypatch.setattr(disk, "SPARE_FILES", 20)
    with GitStore(path, background=True) as store:
        spares = store.repository.spares
        for n in range(8):  # five files a commit: the pool runs low again and again
            store.put("raw", {"w.tsv": b"%d" % n})
        wait_for(lambda: not spares.low, what="the spare files made")
        store.checkpoint_if_due(idle=True)  # idle: topped up, and every old ref's file freed
        wait_for(lambda: spares.pending == 0, what="the spare files made and freed")
        assert len(spare_files(path)) == 20 and temp_files(path) == []
    fsck(path)


def test_a_ref_moved_by_git_since_the_journal_is_left_alone(path: Path, caplog) -> None:
    commits = puts_then_die(path, [("raw", {"w.tsv": WORK}), ("raw", {"w.tsv": STAFF})])
    tree = git(path, "rev-parse", f"{commits[0]}^{{tree}}").stdout.strip()
    env = {**os.environ, "GIT_AUTHOR_NAME": "x", "GIT_AUTHOR_EMAIL": "x@y"}
    env.update(GIT_COMMITTER_NAME="x", GIT_COMMITTER_EMAIL="x@y")
    foreign = subprocess.run(
        ["git", "-C", str(path), "commit-tree", tree, "-p", commits[0], "-m", "by hand"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    set_ref(path, foreign)
    with GitStore(path) as store:
        assert store.head == foreign
    assert "outside the journal's commits: left there" in caplog.text
    fsck(path)


def test_a_file_that_is_not_a_journal_stops_the_start(path: Path) -> None:
    GitStore(path).close()
    journal_file(path).write_bytes(b"my notes\n")
    with pytest.raises(
        StoreError, match="qplan-journal is not a snapshot service journal"
    ) as caught:
        GitStore(path)
    assert caught.value.code == "config"
    assert "move it out of the store" in str(caught.value)
    assert journal_file(path).read_bytes() == b"my notes\n"
    journal_file(path).unlink()
    GitStore(path).close()  # the failed start let go of the writer lock


def test_a_branch_lock_held_by_git_refuses_the_put_and_loses_nothing(
    store: GitStore, path: Path
) -> None:
    first = store.put("raw", {"w.tsv": WORK}).commit
    lock = path / "refs" / "heads" / "main.lock"
    lock.write_text("held by a git command\n")
    with pytest.raises(StoreError, match="main.lock exists") as caught:
        store.put("raw", {"w.tsv": STAFF})
    assert caught.value.code == "locked"
    assert lock.read_text() == "held by a git command\n"  # not ours to remove
    assert temp_files(path) == []
    lock.unlink()
    assert store.head == first
    assert store.put("raw", {"w.tsv": STAFF}).seq == 2
    fsck(path)


def test_a_second_writer_is_refused_until_the_first_closes(path: Path) -> None:
    first = GitStore(path)
    try:
        with pytest.raises(
            StoreError, match=f"in use by another snapshot service .pid {os.getpid()}"
        ):
            GitStore(path)
    finally:
        first.close()
    GitStore(path).close()
    assert (path / OWNER_FILE).exists()


def test_a_folder_that_is_not_a_repository_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "todo.txt").write_text("x")
    with pytest.raises(StoreError, match="not a git repository"):
        GitStore(folder)
    empty = tmp_path / "empty"
    empty.mkdir()
    GitStore(empty).close()
    assert (empty / "HEAD").exists()


def test_a_commit_made_by_git_itself_is_kept(store: GitStore, path: Path, monkeypatch) -> None:
    store.put("raw", {"w.tsv": WORK})
    tree = git(path, "rev-parse", "main^{tree}").stdout.strip()
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "x",
        "GIT_AUTHOR_EMAIL": "x@y",
        "GIT_COMMITTER_NAME": "x",
    }
    env["GIT_COMMITTER_EMAIL"] = "x@y"
    foreign = subprocess.run(
        ["git", "-C", str(path), "commit-tree", tree, "-p", "main", "-m", "by hand"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    git(path, "update-ref", "refs/heads/main", foreign)
    synced = []
    real_sync = journal.sync_filesystem
    monkeypatch.setattr(journal, "sync_filesystem", lambda fd: synced.append(real_sync(fd)))
    result = store.put("raw", {"w.tsv": STAFF})
    assert synced == [None]  # git's commit made durable before building on it
    assert git(path, "rev-parse", f"{result.commit}^").stdout.strip() == foreign
    assert result.seq == 2
    fsck(path)


def test_a_store_packed_by_git_gc_still_works(path: Path) -> None:
    with GitStore(path) as store:
        raw, cond, plan = pipeline(store)
    git(path, "gc", "--quiet", "--prune=now")
    assert not (path / "refs" / "heads" / "main").exists()  # now in packed-refs
    with GitStore(path) as store:
        assert store.index["plan"].commit == plan
        assert store.resolve(cond[:9]) == cond
        assert store.get("raw", raw).files == {"work.tsv": WORK}
        assert store.get("plan").lineage["raw"] == raw
        assert store.put("raw", {"work.tsv": STAFF}).seq == 2
        assert store.diff("raw", raw, "latest")[2].startswith("--- a/raw/work.tsv")
    fsck(path)


def test_tree_order_follows_git(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with GitStore(path, datasets=["a", "a.b", "a-b", "ab"]) as store:
        for name in ("a.b", "ab", "a", "a-b"):
            store.put(name, {"f": name.encode(), "f.x": b"1", "f-x": b"2", "fx": b"3"})
        assert store.get("a").files["f"] == b"a"
    fsck(path)
    assert git(path, "ls-tree", "--name-only", "main").stdout.split() == ["a-b", "a.b", "a", "ab"]


def test_not_durable_mode_writes_the_same_history(tmp_path: Path) -> None:
    with GitStore(tmp_path / "store", durable=False) as store:
        raw, cond, plan = pipeline(store)
        assert store.get("plan").lineage["raw"] == raw
    fsck(tmp_path / "store")


def test_branch_names(tmp_path: Path) -> None:
    with GitStore(tmp_path / "store", branch="qplan/data") as store:
        store.put("raw", {"w.tsv": WORK})
    assert (
        git(tmp_path / "store", "rev-parse", "--abbrev-ref", "HEAD").stdout.strip() == "qplan/data"
    )
    for bad in ("a..b", "x.lock", "/x", "x/", ".x", "a b", "a//b"):
        with pytest.raises(StoreError, match="not a usable branch name"):
            GitStore(tmp_path / "other", branch=bad)


def test_trailers_are_read_from_the_last_paragraph() -> None:
    assert parse_trailers("Subject\n\nbody text\n\nDataset: raw\nSequence: 3\n") == {
        "Dataset": "raw",
        "Sequence": "3",
    }
    assert parse_trailers("Dataset: raw\n") == {}  # a subject alone has no trailers
    digest = hashlib.sha1(b"blob 3\0abc").digest()  # noqa: S324 - git's object name
    assert object_sha(b"blob", b"abc") == digest


# -- any sequence of PUTs -----------------------------------------------------------------

NAMES = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"),
    min_size=1,
    max_size=12,
).filter(lambda name: not name.startswith("."))
FOLDERS = st.dictionaries(NAMES, st.binary(max_size=64), min_size=1, max_size=4)
PUTS = st.lists(st.tuples(st.sampled_from(["raw", "conditioned", "plan"]), FOLDERS), max_size=8)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(puts=PUTS)
def test_any_sequence_of_puts_reads_back_exactly(tmp_path: Path, puts) -> None:
    path = tmp_path / f"store-{os.urandom(6).hex()}"
    model: dict[str, dict[str, bytes]] = {}
    seqs: dict[str, int] = {}
    with GitStore(path, durable=False) as store:
        for dataset, files in puts:
            result = store.put(dataset, files)
            assert result.changed == (model.get(dataset) != files)
            if result.changed:
                seqs[dataset] = seqs.get(dataset, 0) + 1
            model[dataset] = files
            assert result.seq == seqs[dataset]
            assert store.get(dataset, result.commit).files == files
        for dataset in ("raw", "conditioned", "plan"):
            assert store.get(dataset).files == model.get(dataset, {})
            assert len(store.log(dataset, 100)) == seqs.get(dataset, 0)
    if puts:
        fsck(path)


# -- crashes ---------------------------------------------------------------------------


CRASHING_CALLS = (
    "open",
    "write",
    "pwrite",
    "fchmod",
    "link",
    "fdatasync",
    "fsync",
    "ftruncate",
    "rename",
    "replace",
    "mkdir",
    "unlink",
)
CRASHED, CRASHED_AFTER_SYNC = (
    86,
    87,
)  # the child's exit status: died before / after the journal sync


def crash_at(after: int) -> None:
    """Make file-system call number ``after`` (from 0) end the process, like kill -9.

    The process then exits with CRASHED_AFTER_SYNC if the journal's fdatasync had returned
    (the PUT was durable), else CRASHED.
    """
    count = [0]
    synced = [False]
    for name in CRASHING_CALLS:
        real = getattr(os, name)

        def crashing(*args, _real=real, _name=name, **kwargs):
            count[0] += 1
            if count[0] > after:
                os._exit(CRASHED_AFTER_SYNC if synced[0] else CRASHED)
            result = _real(*args, **kwargs)
            synced[0] = synced[0] or _name == "fdatasync"
            return result

        setattr(os, name, crashing)


def in_a_child(work) -> int:
    """Run ``work`` in a forked child; its exit status (0 when ``work`` returned)."""
    pid = os.fork()
    if pid == 0:  # the child: no cleanup, no except blocks, no atexit, like kill -9
        try:
            work()
            os._exit(0)
        finally:
            os._exit(99)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def put_and_crash(path: Path, after: int, files: dict[str, bytes]) -> int:
    """In a forked child, PUT ``files`` and die at file-system call number ``after``."""

    def work() -> None:
        store = GitStore(path)
        crash_at(after)
        store.put("raw", files, source="crash-test")

    return in_a_child(work)


def test_a_crash_at_any_step_of_a_commit_leaves_a_valid_store(path: Path) -> None:
    with GitStore(path) as store:
        answered = store.put("raw", {"work.tsv": WORK}).commit
        store.put("plan", {"plan.json": b"{}"})
    step = 0
    finished = False
    before = WORK
    codes = set()
    while not finished:
        files = {"work.tsv": WORK + b"%d\n" % step}
        code = put_and_crash(path, step, files)
        assert code in (0, CRASHED, CRASHED_AFTER_SYNC), f"child failed with {code} at step {step}"
        codes.add(code)
        finished = code == 0
        with GitStore(path) as store:
            # What was answered before is there; the interrupted PUT is all there or not at all,
            # and all there once the journal was synced.
            assert store.get("raw", answered).files == {"work.tsv": WORK}
            assert store.get("plan").files == {"plan.json": b"{}"}
            content = store.get("raw").files["work.tsv"]
            if code == CRASHED:
                assert content in (before, files["work.tsv"])
            else:
                assert content == files["work.tsv"]
            before = content
            assert temp_files(path) == []
            assert not (path / "refs" / "heads" / "main.lock").exists()
        assert journal_records(path) == []
        fsck(path)
        step += 1
    assert step > 10  # the commit really went through many steps, each one crashed once
    assert codes == {0, CRASHED, CRASHED_AFTER_SYNC}


def puts_and_crash(
    path: Path, after: int, contents: list[dict[str, bytes]], background: bool
) -> tuple[int, list[str]]:
    """In a forked child, PUT each content and die at file-system call number ``after``.

    Returns the child's exit status and the commits of the PUTs that were answered.
    """
    read_end, write_end = os.pipe()

    def work() -> None:
        answers = os.fdopen(write_end, "w", buffering=1)  # its writes are no os.write
        store = GitStore(path, background=background)
        crash_at(after)
        for files in contents:
            answers.write(store.put("raw", files).commit + "\n")

    code = in_a_child(work)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        return code, pipe.read().split()


@pytest.mark.parametrize("background", [False, True], ids=["inline", "thread"])
def test_a_crash_at_any_step_of_a_switch_loses_no_answered_put(
    path: Path, monkeypatch, background: bool
) -> None:
    """Four PUTs fill a journal file, switch to the other and have the full one checkpointed
    (inline, or by the thread while the PUTs go on), with a crash at every file-system call."""
    monkeypatch.setattr(journal, "JOURNAL_RECORDS", 2)
    monkeypatch.setattr(journal, "JOURNAL_BYTES", 64 * 1024)  # less to write at every start
    monkeypatch.setattr(disk, "SPARE_FILES", 8)  # the thread makes a few files per commit
    GitStore(path).close()
    before: dict[str, bytes] = {}
    step = 0
    while True:
        contents = [{"w.tsv": b"%d-%d" % (step, n)} for n in range(4)]
        code, answered = puts_and_crash(path, step, contents, background)
        assert code in (0, CRASHED, CRASHED_AFTER_SYNC), f"child failed with {code} at step {step}"
        with GitStore(path) as store:
            for commit, files in zip(answered, contents, strict=False):
                assert store.get("raw", commit).files == files
            # The PUT the crash interrupted is all there or not at all.
            done = len(answered)
            allowed = [contents[done - 1] if done else before, *contents[done : done + 1]]
            before = store.get("raw").files
            assert before in allowed
            assert temp_files(path) == []
            assert not (path / "refs" / "heads" / "main.lock").exists()
        assert journal_records(path) == []
        fsck(path)
        if code == 0:
            break
        step += 1
    assert step > 60  # four commits and a checkpoint, each of their steps crashed once


def test_a_crash_at_any_step_of_the_recovery_loses_nothing(
    path: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(journal, "JOURNAL_BYTES", 64 * 1024)  # less to copy at every step
    monkeypatch.setattr(journal, "JOURNAL_RECORDS", 1)
    with GitStore(path) as store:
        first = store.put("raw", {"w.tsv": WORK}).commit
    # One record in each journal file: the crash came before the checkpoint of A.
    puts = [("raw", {"w.tsv": STAFF}), ("plan", {"plan.json": b"{}"})]
    commits = puts_then_die(path, puts, lost_checkpoint=1)
    assert [read_journal(path, which).records for which in (0, 1)] == [1, 1]
    records = journal_records(path)
    for hexsha, _ in records[0].objects:
        loose(path, hexsha).unlink()
    for hexsha, _ in records[1].objects:
        os.truncate(loose(path, hexsha), 0)
    set_ref(path, first)
    damaged = tmp_path / "damaged"
    shutil.copytree(path, damaged)
    step = 0
    while True:
        shutil.rmtree(path)
        shutil.copytree(damaged, path)
        code = in_a_child(lambda: (crash_at(step), GitStore(path)))  # noqa: B023 - run at once
        assert code in (0, CRASHED, CRASHED_AFTER_SYNC), f"child failed with {code} at step {step}"
        with GitStore(path) as store:
            assert store.head == commits[-1]
            assert store.get("raw").files == {"w.tsv": STAFF}
            assert store.get("plan").files == {"plan.json": b"{}"}
        assert temp_files(path) == []
        fsck(path)
        if code == 0:
            break
        step += 1
    assert step > 5  # the recovery rewrote objects and moved the ref, each step crashed once
