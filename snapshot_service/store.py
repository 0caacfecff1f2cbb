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
``disk.Transaction``, which moves the branch last and atomically. How a commit
becomes durable — the write-ahead journal, spare files, checkpoints, a commit
journaled and placed after the answer — is behind one seam,
``durability.Durability``: ``put`` hands it each commit in one call
(``record``), and the service calls ``after_request`` once per request. The
read side (GET, LATEST, LOG, DIFF, lineage) is ``reading.StoreReads``. The
store keeps an index in memory, dataset -> (latest commit, sequence number,
folder tree), rebuilt at start by walking back from the branch head, and
caches each commit's lineage (commits never change).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesh.checks import ErrorCode
from mesh.store_messages import PutAnswer
from snapshot_service.disk import BranchLocked
from snapshot_service.durability import Durability
from snapshot_service.objects import (
    BLOB_MODE,
    TREE_MODE,
    CommitInfo,
    commit_data,
    iso_time,
    object_sha,
    tree_bytes,
)
from snapshot_service.reading import SOURCE_REF, StoreReads
from snapshot_service.repository import Repository, StoreError

__all__ = [
    "GitStore",
    "StoreError",
    "PutResult",
    "check_name",
    "check_branch",
    "MAX_NAME_BYTES",
]

log = logging.getLogger(__name__)

MAX_NAME_BYTES = 255  # bytes of UTF-8 in a file or dataset name
DEFAULT_PRODUCER = "qplan"

_BRANCH = re.compile(r"^[A-Za-z0-9_.\-/]+$")
_EMAIL_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Head:
    """The index entry of one dataset: its latest commit and the folder's tree."""

    commit: str
    seq: int
    tree: str | None


@dataclass
class Placed:
    """What the index learns once a commit is in place."""

    dataset: str
    head: Head
    root: dict[bytes, tuple[bytes, bytes]]
    files: dict[bytes, tuple[bytes, bytes]]  # name -> (content, blob SHA)


@dataclass
class PutResult(PutAnswer):
    """What a PUT did: the answer (``header()``), and the commit's time for its NOTIFY."""

    time: str = ""


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
        raise StoreError(f"{name!r} is not a usable branch name", ErrorCode.CONFIG)
    return name


def one_line(text: str) -> str:
    """``text`` on one line: control characters and runs of white space become one space."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


class GitStore(StoreReads):
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
        self._durability = Durability(self.repository, durable, background, self._placed)
        self._lineages: dict[str, tuple[dict[str, str], list[dict[str, Any]]]] = {}
        self.head: str | None = None
        self.index: dict[str, Head] = {}
        self._root: dict[bytes, tuple[bytes, bytes]] = {}  # the head's tree: name -> (mode, sha)
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
        # A dataset has a folder in the head's tree from its first commit on (a PUT cannot
        # empty it): one without has no commits, and is not looked for down the history.
        wanted = {name for name in self.datasets if name.encode() in self._root}
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
            self._durability.close()
        finally:
            self.repository.close()

    # -- durability: the one seam (``snapshot_service.durability``) ----------------

    def settle(self) -> None:
        """Put the commit a ``put(settle=False)`` journaled in place and move the branch."""
        self._durability.settle()

    def after_request(self) -> None:
        """What follows each answer of the service: settle, and checkpoint a long journal."""
        self._durability.after_request()

    def checkpoint(self) -> None:
        """Make every commit durable without the journal (one syncfs), then empty it."""
        self._durability.checkpoint()

    def checkpoint_if_due(self, idle: bool = False) -> bool:
        """A checkpoint of a long journal file, or with ``idle`` of whatever it holds."""
        if idle:
            return self._durability.idle()
        return self._durability.after_request()

    def prepare_files(self, count: int) -> int:
        """Make or free up to ``count`` files for commits (``disk.Spares``); how many remain."""
        return self._durability.prepare_files(count)

    def __enter__(self) -> GitStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

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
        The branch's first commit is always placed at once: the branch exists when answered.
        """
        self._durability.after_request()  # the last commit in place before building on it
        self.check_dataset(dataset)
        if not files:
            raise StoreError(f"a PUT of {dataset} needs at least one file")
        for name in files:
            check_name(name)
        source = self._expand_source(one_line(source))
        if self.repository.read_ref() != self.head:
            # Someone else moved the branch (a git command): never write over their commit,
            # and make it durable (git does not fsync by default) before building on it.
            log.warning("branch %s moved outside the service; re-reading the store", self.branch)
            self._durability.checkpoint()
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
        txn = self._durability.transaction()
        try:
            for name, blob in blobs.items():
                if blob is not known.get(name):  # those are in the store
                    txn.add_object(b"blob", *blob)
            txn.add_object(b"tree", folder, folder_sha)
            root_sha = txn.add_object(
                b"tree", tree_bytes([(m, n, s) for n, (m, s) in root.items()])
            )
            info = self._commit_info(dataset, root_sha.hex(), seq, source, message, producer)
            data = commit_data(info, *self._author(producer))
            info = dataclasses.replace(info, sha=txn.add_object(b"commit", data).hex())
            self.repository.learn(info)
            placed = Placed(dataset, Head(info.sha, seq, folder_sha.hex()), root, blobs)
            # The first commit is placed before the answer: a reader who saw it answered
            # finds the branch (later ones may read one commit behind, never no branch).
            first = self.head is None
            self._durability.record(txn, self.head, info.sha, placed, place_now=settle or first)
        except BranchLocked:
            raise StoreError(
                f"{self.repository.ref}.lock exists: a git command is moving the branch; try again",
                ErrorCode.LOCKED,
            ) from None
        except BaseException:
            txn.abort()
            with contextlib.suppress(StoreError, OSError):
                self.reload()  # the branch may or may not have moved: believe the disk
            raise
        lineage = self.lineage(info.sha)[0]
        return PutResult(dataset, info.sha, seq, True, lineage, iso_time(info.time))

    def _placed(self, done: Placed) -> None:
        """A commit is in place: the index and the branch head follow it."""
        self.head, self._root = done.head.commit, done.root
        self.index[done.dataset] = done.head
        self._contents[done.dataset] = done.files
        log.info(
            "committed %s %s (seq %d, %d files)",
            done.dataset,
            done.head.commit[:12],
            done.head.seq,
            len(done.files),
        )

    def _expand_source(self, source: str) -> str:
        """``dataset@<abbreviated sha>`` of a known dataset made ``dataset@<full sha>``."""
        match = SOURCE_REF.match(source)
        if not match or match.group(1) not in self.datasets:
            return source
        try:
            return f"{match.group(1)}@{self.resolve(match.group(2))}"
        except StoreError as exc:
            raise StoreError(f"source {source}: {exc}", exc.code) from None

    def _commit_info(
        self, dataset: str, tree: str, seq: int, source: str, message: str, producer: str
    ) -> CommitInfo:
        """The commit to write: subject, blank line, trailers (its SHA once it is hashed)."""
        trailers = {"Dataset": dataset}
        if source:
            trailers["Source"] = source
        if one_line(producer):
            trailers["Producer"] = one_line(producer)
        trailers["Sequence"] = str(seq)
        subject = one_line(message) or f"Update {dataset}"
        return CommitInfo("", tree, self.head, int(time.time()), subject, trailers)

    @staticmethod
    def _author(producer: str) -> tuple[str, str]:
        """The producer as the commit's author: a name and an email git accepts."""
        producer = one_line(producer)
        name = producer.replace("<", "").replace(">", "").strip() or DEFAULT_PRODUCER
        email = (_EMAIL_UNSAFE.sub("-", producer).strip("-") or DEFAULT_PRODUCER) + "@qplan.local"
        return name, email
