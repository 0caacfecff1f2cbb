"""The git-versioned snapshot store: one branch, one folder per dataset, one dataset per commit.

``GitStore`` needs no sockets. A PUT's files replace its dataset's folder
(``raw/``, ``conditioned/``, ``plan/``); the commit's message ends with the
trailers that record where the content came from::

    Update plan

    Dataset: plan
    Source: conditioned@<sha>
    Producer: qplan_service
    Sequence: 12

Objects are built and hashed in-process (``objects``) and written through a
``disk.Transaction``, which moves the branch last and atomically. In durable
mode ``put`` returns once the commit is in the fdatasync'ed write-ahead
journal (``disk``, ``journal``); nothing else is fsync'ed per commit.
``checkpoint_if_due`` switches the journal to its other file when the
active one is long or the caller says the service is idle, and has the full
one checkpointed (one syncfs makes the files themselves durable, then the
file is emptied); ``checkpoint`` does both files at once, and ``close`` runs
one. With ``background`` a thread does those checkpoints and makes the
spare files commits write into (``upkeep``, ``disk.Spares``); without, a
checkpoint runs inline and ``prepare_files`` makes spares. The store keeps
an index in memory, dataset -> (latest commit, sequence number, folder
tree), rebuilt at start by walking back from the branch head, and caches
each commit's lineage (commits never change).
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snapshot_service.diffs import dataset_diff
from snapshot_service.disk import BranchLocked, Transaction
from snapshot_service.objects import (
    BLOB_MODE,
    TREE_MODE,
    CommitInfo,
    commit_bytes,
    iso_time,
    object_sha,
    parse_commit,
    tree_bytes,
)
from snapshot_service.repository import Repository, StoreError, remember
from snapshot_service.upkeep import Upkeep

__all__ = [
    "GitStore",
    "StoreError",
    "Version",
    "PutResult",
    "check_name",
    "check_branch",
    "MAX_NAME_BYTES",
    "MAX_LOG_LIMIT",
]

log = logging.getLogger(__name__)

MAX_NAME_BYTES = 255  # bytes of UTF-8 in a file or dataset name
MAX_LOG_LIMIT = 10_000  # commits one LOG answer lists at most
DEFAULT_PRODUCER = "qplan"

_SOURCE_REF = re.compile(r"^([A-Za-z0-9_.-]+)@([0-9a-fA-F]{7,40})$")
_BRANCH = re.compile(r"^[A-Za-z0-9_.\-/]+$")
_EMAIL_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Head:
    """The index entry of one dataset: its latest commit and the folder's tree."""

    commit: str
    seq: int
    tree: str | None


@dataclass
class Unsettled:
    """A commit ``put`` made that ``settle`` has still to finish (``txn`` None: placed)."""

    txn: Transaction | None
    dataset: str
    head: Head
    root: dict[bytes, tuple[bytes, bytes]]
    files: dict[bytes, tuple[bytes, bytes]]  # name -> (content, blob SHA)


@dataclass
class Version:
    """One dataset as of one commit, with where it came from."""

    dataset: str
    commit: str | None
    seq: int = 0
    time: str | None = None
    source: str = ""
    producer: str = ""
    message: str = ""
    lineage: dict[str, str] = field(default_factory=dict)
    chain: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)

    def header(self, with_files: bool = True) -> dict[str, Any]:
        """The GET answer header (the LATEST one without ``files``)."""
        head = {
            "dataset": self.dataset,
            "commit": self.commit,
            "seq": self.seq,
            "time": self.time,
            "source": self.source,
            "producer": self.producer,
            "message": self.message,
            "lineage": self.lineage,
            "chain": self.chain,
        }
        if with_files:
            head["files"] = sorted(self.files)
        return head

    def bodies(self) -> list[bytes]:
        """The file contents in ``files`` order."""
        return [self.files[name] for name in sorted(self.files)]


@dataclass
class PutResult:
    """What a PUT did."""

    dataset: str
    commit: str
    seq: int
    changed: bool
    lineage: dict[str, str]
    time: str

    def header(self) -> dict[str, Any]:
        """The PUT answer header."""
        return {
            "dataset": self.dataset,
            "commit": self.commit,
            "seq": self.seq,
            "changed": self.changed,
            "lineage": self.lineage,
        }


def check_name(name: object, what: str = "file name") -> str:
    """``name`` if it is a plain file name, else StoreError naming the problem."""
    if not isinstance(name, str) or not name:
        raise StoreError(f"{what} {name!r} must be a non-empty string")
    shown = repr(name[:80])
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise StoreError(f"{what} {shown} is not valid UTF-8") from None
    if size > MAX_NAME_BYTES:
        raise StoreError(f"{what} {shown} is longer than {MAX_NAME_BYTES} bytes")
    if "/" in name or "\\" in name:
        raise StoreError(f"{what} {shown} must be a plain name, without / or \\")
    if name.startswith("."):
        raise StoreError(f"{what} {shown} must not start with '.'")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise StoreError(f"{what} {shown} contains a control character (NUL, newline, ...)")
    return name


def check_branch(name: str) -> str:
    """``name`` if git would take it as a branch name, else StoreError."""
    parts = name.split("/")
    if (
        not _BRANCH.match(name)
        or ".." in name
        or name.endswith(".lock")
        or any(not part or part.startswith(".") for part in parts)
    ):
        raise StoreError(f"{name!r} is not a usable branch name", "config")
    return name


def one_line(text: str) -> str:
    """``text`` on one line: control characters and runs of white space become one space."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


class GitStore:
    """The snapshot store on one git repository; see the module docstring."""

    def __init__(
        self,
        path: Path | str,
        datasets: Iterable[str] = ("raw", "conditioned", "plan"),
        branch: str = "main",
        durable: bool = True,
        background: bool = False,
    ) -> None:
        """``background``: a thread does the file work off the request path (``upkeep``)."""
        self.datasets = [check_name(name, "dataset name") for name in datasets]
        self.branch = check_branch(branch)
        self.durable = durable
        self.repository = Repository(path, branch, durable)
        self.path = self.repository.path
        self._journal = self.repository.journal if durable else None
        self._upkeep = Upkeep(self.repository.spares, background)
        self._lineages: dict[str, tuple[dict[str, str], list[dict[str, Any]]]] = {}
        self.head: str | None = None
        self.index: dict[str, Head] = {}
        self._root: dict[bytes, tuple[bytes, bytes]] = {}  # the head's tree: name -> (mode, sha)
        self._unsettled: Unsettled | None = None
        # Each dataset's files as a PUT of this process last gave them: name -> (content, SHA).
        self._contents: dict[str, dict[bytes, tuple[bytes, bytes]]] = {}
        try:
            self.reload()
        except BaseException:
            self.close()
            raise

    def reload(self) -> None:
        """Rebuild the index by walking back from the branch head."""
        repo = self.repository
        self.head = repo.read_ref()
        self.index = {}
        self._root = {}
        self._contents = {}
        if self.head is None:
            log.info("store %s: branch %s has no commits yet", self.path, self.branch)
            return
        info: CommitInfo | None = repo.commit(self.head)
        self._root = {name: (mode, sha) for mode, name, sha in repo.tree(info.tree)}
        wanted = set(self.datasets)
        while info is not None and wanted:
            name = info.dataset
            if name in wanted:
                wanted.discard(name)
                entry = self._root.get(name.encode())
                self.index[name] = Head(info.sha, info.seq, entry[1].hex() if entry else None)
            info = repo.commit(info.parent) if info.parent else None
        for name, item in self.index.items():
            log.info("store %s: %s is at %s (seq %d)", self.path, name, item.commit[:12], item.seq)

    def close(self) -> None:
        """Settle, stop the thread, checkpoint (durable mode) and release the writer lock."""
        try:
            self.settle()
            self._upkeep.close()
            if self._journal is not None and self._journal.records:
                self.checkpoint()
        finally:
            self._upkeep.close()
            self._journal = None
            self.repository.close()

    def checkpoint(self) -> None:
        """Make every commit durable without the journal (one syncfs), then empty the journal."""
        if self._journal is None:
            return
        self.settle()  # never empty the journal of a commit not yet in place
        self._upkeep.wait()
        started = time.perf_counter()
        records = self._journal.records
        self._journal.checkpoint()
        took = 1e3 * (time.perf_counter() - started)
        log.debug("checkpoint: %d commits synced in %.1f ms", records, took)

    def prepare_files(self, count: int) -> int:
        """Make or free up to ``count`` files for commits (``disk.Spares``); how many remain."""
        return self.repository.spares.prepare(count)

    def checkpoint_if_due(self, idle: bool = False) -> bool:
        """Switch journal files and have the full one checkpointed when it is due, or ``idle``.

        ``idle``: the active file holds anything; the thread also tops up the spare files.
        Raises what a background checkpoint failed with: the service stops, and its next start
        redoes the records.
        """
        self.settle()  # the file to checkpoint may hold its record
        upkeep = self._upkeep
        upkeep.check()
        if idle:
            upkeep.poke(idle=True)
        journal = self._journal
        if journal is None or not journal.active.records or not (idle or journal.due()):
            return False
        if idle and upkeep.busy:
            return False  # the last one still runs: the next idle moment will do
        upkeep.wait()  # both files full: the commit waits (correctness first)
        upkeep.checkpoint(journal.switch())
        return True

    def __enter__(self) -> GitStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def commit(self, sha: str) -> CommitInfo:
        """The parsed commit ``sha`` (a full SHA)."""
        return self.repository.commit(sha)

    def resolve(self, text: object) -> str:
        """The full SHA of the commit ``text`` names (7 to 40 hex digits, unique)."""
        return self.repository.resolve(text)

    def _dataset_tree(self, commit: str, dataset: str) -> str | None:
        """The SHA of ``dataset``'s folder in ``commit``'s tree (None: no folder)."""
        for mode, name, sha in self.repository.tree(self.commit(commit).tree):
            if name == dataset.encode() and mode == TREE_MODE:
                return sha.hex()
        return None

    def _blob_entries(self, tree: str | None) -> dict[str, str]:
        """File name -> blob SHA of a dataset folder."""
        return {
            name.decode("utf-8", errors="replace"): sha.hex()
            for mode, name, sha in self.repository.tree(tree)
            if mode.startswith(b"100")
        }

    def _files(self, tree: str | None) -> dict[str, bytes]:
        blob = self.repository.blob
        return {name: blob(sha) for name, sha in self._blob_entries(tree).items()}

    # -- names -------------------------------------------------------------------

    def check_dataset(self, dataset: object) -> str:
        """``dataset`` if the store takes it, else StoreError (code unknown_dataset)."""
        if not isinstance(dataset, str):
            raise StoreError(f"dataset must be a string, not {type(dataset).__name__}")
        if dataset not in self.datasets:
            known = ", ".join(self.datasets)
            raise StoreError(
                f"unknown dataset {dataset[:80]!r} (known: {known})", "unknown_dataset"
            )
        return dataset

    # -- lineage -----------------------------------------------------------------

    def lineage(self, sha: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
        """``(lineage, chain)`` of a commit, following ``Source: dataset@sha`` upstream."""
        cached = self._lineages.get(sha)
        if cached is not None:
            return cached
        info = self.commit(sha)
        chain = [_link(info.dataset or "", info)]
        lineage: dict[str, str] = {}
        seen = {sha}
        source = info.source
        while source:
            match = _SOURCE_REF.match(source)
            upstream = self.repository.try_resolve(match.group(2)) if match else None
            if upstream is None:
                if match:
                    lineage.setdefault(match.group(1), match.group(2))  # gone from the store
                else:
                    lineage["origin"] = source
                break
            if upstream in seen:
                break  # a loop of sources: report what we have
            seen.add(upstream)
            lineage.setdefault(match.group(1), upstream)
            upstream_info = self.commit(upstream)
            chain.append(_link(match.group(1), upstream_info))
            source = upstream_info.source
        remember(self._lineages, sha, (lineage, chain))
        return lineage, chain

    # -- the verbs ---------------------------------------------------------------

    def put(
        self,
        dataset: str,
        files: Mapping[str, bytes],
        source: str = "",
        message: str = "",
        producer: str = "",
        settle: bool = True,
    ) -> PutResult:
        """Make ``files`` the content of ``dataset``; a commit only when it changes.

        ``settle`` False, in durable mode: return as soon as the commit is in the journal,
        which can redo it, and leave its files and the branch to ``settle``, for the caller to
        run right after it answered. Until then the store reads as it did before the commit.
        """
        self.settle()
        self.check_dataset(dataset)
        if not files:
            raise StoreError(f"a PUT of {dataset} needs at least one file")
        for name in files:
            check_name(name)
        source = self._expand_source(one_line(source))
        self.checkpoint_if_due()
        if self.repository.read_ref() != self.head:
            # Someone else moved the branch (a git command): never write over their commit,
            # and make it durable (git does not fsync by default) before building on it.
            log.warning("branch %s moved outside the service; re-reading the store", self.branch)
            if self._journal is not None:
                self.checkpoint()
            self.reload()
        known = self._contents.get(dataset, {})
        blobs = {}
        for name, data in files.items():
            hit = known.get(name.encode("utf-8"))
            # Equal bytes compare ~30 times faster than they hash.
            same = hit is not None and hit[0] == data
            blobs[name.encode("utf-8")] = hit if same else (data, object_sha(b"blob", data))
        folder = tree_bytes([(BLOB_MODE, name, sha) for name, (_, sha) in blobs.items()])
        folder_sha = object_sha(b"tree", folder)
        current = self.index.get(dataset)
        if current is not None and current.tree == folder_sha.hex():
            log.info(
                "%s unchanged at %s (seq %d): no commit", dataset, current.commit[:12], current.seq
            )
            self._contents[dataset] = blobs
            lineage = self.lineage(current.commit)[0]
            when = self.commit(current.commit).time
            return PutResult(dataset, current.commit, current.seq, False, lineage, iso_time(when))
        seq = (current.seq if current else 0) + 1
        root = dict(self._root)
        root[dataset.encode()] = (TREE_MODE, folder_sha)
        txn = Transaction(self.repository.objects, self.repository.spares, self._journal)
        settle = settle or self._journal is None  # only the journal can redo a commit not placed
        try:
            for name, blob in blobs.items():
                if blob is not known.get(name):  # those are in the store
                    txn.add_object(b"blob", *blob)
            txn.add_object(b"tree", folder, folder_sha)
            root_sha = txn.add_object(
                b"tree", tree_bytes([(m, n, s) for n, (m, s) in root.items()])
            )
            when = int(time.time())
            data = self._commit_data(dataset, root_sha.hex(), seq, source, message, producer, when)
            sha = txn.add_object(b"commit", data).hex()
            if settle:
                txn.finish(self.repository.ref, self.repository.ref_name, self.head, sha)
            else:
                txn.write_ahead(self.repository.ref, self.repository.ref_name, self.head, sha)
        except BranchLocked:
            raise StoreError(
                f"{self.repository.ref}.lock exists: a git command is moving the branch; try again",
                "locked",
            ) from None
        except BaseException:
            txn.abort()
            with contextlib.suppress(StoreError, OSError):
                self.reload()  # the branch may or may not have moved: believe the disk
            raise
        self.repository.learn(parse_commit(sha, data))
        head = Head(sha, seq, folder_sha.hex())
        self._unsettled = Unsettled(None if settle else txn, dataset, head, root, blobs)
        result = PutResult(dataset, sha, seq, True, self.lineage(sha)[0], iso_time(when))
        if settle:
            self.settle()
        return result

    def settle(self) -> None:
        """Put the files of the commit ``put(settle=False)`` journaled in place, move the branch.

        Until it succeeds, every ``put`` and checkpoint tries it again first and fails with it.
        """
        done = self._unsettled
        if done is None:
            return
        if done.txn is not None:
            try:
                done.txn.place()
            except BaseException as exc:
                raise StoreError(
                    f"commit {done.head.commit} is in the journal but could not be put in place "
                    f"({exc}); the next call tries again, and the next start redoes it",
                    "internal",
                ) from exc
        self._unsettled = None
        self.head, self._root = done.head.commit, done.root
        self.index[done.dataset] = done.head
        self._contents[done.dataset] = done.files
        self._upkeep.poke()
        log.info(
            "committed %s %s (seq %d, %d files)",
            done.dataset,
            done.head.commit[:12],
            done.head.seq,
            len(done.files),
        )

    def _expand_source(self, source: str) -> str:
        """``dataset@<abbreviated sha>`` of a known dataset made ``dataset@<full sha>``."""
        match = _SOURCE_REF.match(source)
        if not match or match.group(1) not in self.datasets:
            return source
        try:
            return f"{match.group(1)}@{self.resolve(match.group(2))}"
        except StoreError as exc:
            raise StoreError(f"source {source}: {exc}", exc.code) from None

    def _commit_data(
        self, dataset: str, tree: str, seq: int, source: str, message: str, producer: str, when: int
    ) -> bytes:
        """The commit object: subject, blank line, trailers; the producer authors it."""
        producer = one_line(producer)
        subject = one_line(message) or f"Update {dataset}"
        trailers = [f"Dataset: {dataset}"]
        if source:
            trailers.append(f"Source: {source}")
        if producer:
            trailers.append(f"Producer: {producer}")
        trailers.append(f"Sequence: {seq}")
        text = subject + "\n\n" + "\n".join(trailers) + "\n"
        name = producer.replace("<", "").replace(">", "").strip() or DEFAULT_PRODUCER
        email = (_EMAIL_UNSAFE.sub("-", producer).strip("-") or DEFAULT_PRODUCER) + "@qplan.local"
        return commit_bytes(tree, self.head, name, email, when, text)

    def get(self, dataset: str, commit: str | None = None) -> Version:
        """``dataset`` with its files as of ``commit`` (None or "latest": the newest)."""
        self.check_dataset(dataset)
        if commit is None or commit == "latest":
            current = self.index.get(dataset)
            if current is None:
                return Version(dataset, None)
            return self._version(dataset, current.commit, self._files(current.tree))
        at = self.resolve(commit)
        made_by = self._dataset_commit_at(dataset, at)
        return self._version(dataset, made_by, self._files(self._dataset_tree(at, dataset)))

    def latest(self, dataset: str) -> Version:
        """The newest commit of ``dataset``, without files (commit None when it has none)."""
        self.check_dataset(dataset)
        current = self.index.get(dataset)
        return Version(dataset, None) if current is None else self._version(dataset, current.commit)

    def _version(
        self, dataset: str, sha: str | None, files: dict[str, bytes] | None = None
    ) -> Version:
        if sha is None:
            return Version(dataset, None, files=files or {})
        info = self.commit(sha)
        lineage, chain = self.lineage(sha)
        return Version(
            dataset,
            sha,
            info.seq,
            iso_time(info.time),
            info.source,
            info.producer,
            info.subject,
            dict(lineage),
            [dict(link) for link in chain],
            files or {},
        )

    def _dataset_commit_at(self, dataset: str, sha: str) -> str | None:
        """The last commit at or before ``sha`` (first parents) that changed ``dataset``."""
        current = self.index.get(dataset)
        if sha == self.head:
            return current.commit if current else None
        info: CommitInfo | None = self.commit(sha)
        while info is not None and info.dataset != dataset:
            info = self.commit(info.parent) if info.parent else None
        return info.sha if info else None

    def log(self, dataset: str, limit: int = 50) -> list[dict[str, Any]]:
        """The newest ``limit`` commits of ``dataset``, newest first."""
        self.check_dataset(dataset)
        limit = min(limit, MAX_LOG_LIMIT)
        current = self.index.get(dataset)
        entries: list[dict[str, Any]] = []
        info = self.commit(current.commit) if current else None
        while info is not None and len(entries) < limit:
            if info.dataset == dataset:
                entries.append(
                    {
                        "commit": info.sha,
                        "seq": info.seq,
                        "time": iso_time(info.time),
                        "message": info.subject,
                        "source": info.source,
                        "producer": info.producer,
                        "lineage": dict(self.lineage(info.sha)[0]),
                    }
                )
            info = self.commit(info.parent) if info.parent else None
        return entries

    def diff(self, dataset: str, old: str, new: str) -> tuple[str, str, str]:
        """``(old sha, new sha, unified diff)`` of ``dataset`` between two commits."""
        self.check_dataset(dataset)
        ends = []
        for text in (old, new):
            if text == "latest":
                if self.head is None:
                    raise StoreError("the store has no commits yet", "unknown_commit")
                ends.append(self.head)
            else:
                ends.append(self.resolve(text))
        before = self._blob_entries(self._dataset_tree(ends[0], dataset))
        after = self._blob_entries(self._dataset_tree(ends[1], dataset))
        # Read only the blobs that differ; equal SHAs mean equal files.
        changed = {name for name in set(before) | set(after) if before.get(name) != after.get(name)}
        blob = self.repository.blob
        old_files = {n: blob(before[n]) for n in changed if n in before}
        new_files = {n: blob(after[n]) for n in changed if n in after}
        return ends[0], ends[1], dataset_diff(dataset, old_files, new_files)

    def heads(self) -> dict[str, dict[str, Any]]:
        """Every dataset's latest commit and sequence number (None and 0 when it has none)."""
        out = {}
        for name in self.datasets:
            current = self.index.get(name)
            out[name] = {
                "commit": current.commit if current else None,
                "seq": current.seq if current else 0,
            }
        return out


def _link(dataset: str, info: CommitInfo) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "commit": info.sha,
        "time": iso_time(info.time),
        "source": info.source,
    }
