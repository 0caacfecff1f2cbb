"""The git repository under the store: opened or created, claimed, recovered, and read.

``Repository`` opens the folder with GitPython (``git init --bare`` once when
it is new), holds the writer lock, opens the write-ahead journal and redoes
what a crashed writer left undone (``disk.recover``), reads the branch ref
and objects (loose ones directly, packed ones — the idle store packs them,
``packing`` — through gitdb), parses commits once (they never change) and
turns abbreviated SHAs into full ones.

Only one process may write a store: the first holds an advisory lock on
``<git dir>/snapshot_service.pid`` (the kernel releases it when the process
dies, even by kill -9), and a second one refuses to start.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
from pathlib import Path
from typing import Any

import git
from gitdb.db.pack import PackedDB
from gitdb.exc import AmbiguousObjectName, BadObject

from mesh.checks import ErrorCode
from mesh.errors import QPlanError
from snapshot_service.disk import SPARE_FOLDER, Spares, read_loose, read_ref, recover
from snapshot_service.journal import Journal, NotAJournal
from snapshot_service.objects import CommitInfo, parse_commit, parse_tree

__all__ = ["Repository", "StoreError", "remember", "CACHE_SIZE", "OWNER_FILE"]

log = logging.getLogger(__name__)

CACHE_SIZE = 20_000  # parsed commits (and, in the store, lineages) kept in memory
OWNER_FILE = "snapshot_service.pid"

_SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")
_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")


class StoreError(QPlanError):
    """A request the store cannot carry out; ``code`` says why in one word."""

    def __init__(self, message: str, code: ErrorCode = ErrorCode.BAD_REQUEST) -> None:
        super().__init__(message)
        self.code = code


def remember(cache: dict, key: str, value: Any) -> None:
    """Keep ``value``; forget the oldest entry once the cache is full."""
    cache[key] = value
    if len(cache) > CACHE_SIZE:
        del cache[next(iter(cache))]


class Repository:
    """One git repository, claimed by this process for writing."""

    def __init__(self, path: Path | str, branch: str, durable: bool = True) -> None:
        self.path = Path(path)
        self.branch = branch
        self.repo = _open(self.path, branch)
        self.git_dir = Path(self.repo.git_dir)
        self.objects = self.git_dir / "objects"
        self.ref_name = f"refs/heads/{branch}"
        self.ref = self.git_dir / self.ref_name
        self._owner_fd: int | None = _claim(self.git_dir / OWNER_FILE, self.path)
        self._packs: PackedDB | None = None
        self._commits: dict[str, CommitInfo] = {}
        self.journal: Journal | None = None
        try:
            self.spares = Spares(self.git_dir / SPARE_FOLDER)
            self.journal = Journal(self.git_dir)
            recover(self.git_dir, self.journal, self.spares, Path(f"{self.ref}.lock"), durable)
        except NotAJournal as exc:
            self.close()
            raise StoreError(str(exc), ErrorCode.CONFIG) from None
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Let go of the journal, the writer lock and GitPython's handles."""
        if self.journal is not None:
            self.journal.close()
        if self._owner_fd is not None:
            os.close(self._owner_fd)
            self._owner_fd = None
        self.repo.close()

    # -- the branch --------------------------------------------------------------

    def read_ref(self) -> str | None:
        """The branch's commit from its ref file (or packed-refs); None when it has none."""
        text = read_ref(self.git_dir, self.ref_name)
        if text is None:
            return None
        if not _FULL_SHA.match(text):
            raise StoreError(
                f"{self.ref} does not hold a commit SHA: {text[:60]!r}", ErrorCode.INTERNAL
            )
        return text

    # -- objects -----------------------------------------------------------------

    def object(self, hexsha: str) -> tuple[bytes, bytes] | None:
        """``(kind, data)`` of an object, loose or packed; None when absent."""
        found = read_loose(self.objects, hexsha)
        if found is not None:
            return found
        packs = self._pack_db()
        if packs is None:
            return None
        try:
            stream = packs.stream(bytes.fromhex(hexsha))
        except BadObject:
            return None
        except OSError:
            # An idle `git gc` replaced the pack between the listing and the read: list again.
            packs.update_cache(force=True)
            stream = packs.stream(bytes.fromhex(hexsha))
        return stream.type, stream.read()

    def _pack_db(self) -> PackedDB | None:
        # Packs appear when the idle store runs `git gc --auto` (``packing``); looking is cheap.
        folder = self.objects / "pack"
        if not any(folder.glob("pack-*.pack")):
            return None
        if self._packs is None:
            self._packs = PackedDB(str(folder))
        self._packs.update_cache()
        return self._packs

    def commit(self, sha: str) -> CommitInfo:
        """The parsed commit ``sha`` (a full SHA); StoreError ``unknown_commit`` if it is none."""
        info = self._commits.get(sha)
        if info is None:
            found = self.object(sha)
            if found is None or found[0] != b"commit":
                what = "not in the store" if found is None else f"a {found[0].decode()}"
                raise StoreError(f"{sha} is {what}, not a commit", ErrorCode.UNKNOWN_COMMIT)
            info = parse_commit(sha, found[1])
            remember(self._commits, sha, info)
        return info

    def learn(self, info: CommitInfo) -> None:
        """Cache a commit this process just wrote."""
        remember(self._commits, info.sha, info)

    def tree(self, hexsha: str | None) -> list[tuple[bytes, bytes, bytes]]:
        """The ``(mode, name, binsha)`` entries of a tree (none for None)."""
        if hexsha is None:
            return []
        found = self.object(hexsha)
        if found is None or found[0] != b"tree":
            raise StoreError(f"tree {hexsha} is missing from the store", ErrorCode.INTERNAL)
        return parse_tree(found[1])

    def blob(self, hexsha: str) -> bytes:
        """A file's content."""
        found = self.object(hexsha)
        if found is None or found[0] != b"blob":
            raise StoreError(f"blob {hexsha} is missing from the store", ErrorCode.INTERNAL)
        return found[1]

    # -- names of commits --------------------------------------------------------

    def resolve(self, text: object) -> str:
        """The full SHA of the commit ``text`` names (7 to 40 hex digits, unique)."""
        if not isinstance(text, str) or not _SHA.match(text):
            shown = repr(text[:60]) if isinstance(text, str) else type(text).__name__
            raise StoreError(f"{shown} is not a commit SHA (7 to 40 hex digits)")
        text = text.lower()
        if len(text) == 40:
            candidates = {text}
        else:
            candidates = self._loose_matches(text) | self._packed_matches(text)
        commits = sorted(sha for sha in candidates if self._is_commit(sha))
        if not commits:
            raise StoreError(f"unknown commit {text}", ErrorCode.UNKNOWN_COMMIT)
        if len(commits) > 1:
            raise StoreError(f"commit {text} is ambiguous: it starts {len(commits)} commits")
        return commits[0]

    def try_resolve(self, text: str) -> str | None:
        """``resolve`` that answers None instead of raising."""
        try:
            return self.resolve(text)
        except StoreError:
            return None

    def _is_commit(self, sha: str) -> bool:
        if sha in self._commits:
            return True
        found = self.object(sha)
        return found is not None and found[0] == b"commit"

    def _loose_matches(self, prefix: str) -> set[str]:
        try:
            names = os.listdir(self.objects / prefix[:2])
        except FileNotFoundError:
            return set()
        rest = prefix[2:]
        return {prefix[:2] + name for name in names if name.startswith(rest) and len(name) == 38}

    def _packed_matches(self, prefix: str) -> set[str]:
        packs = self._pack_db()
        if packs is None:
            return set()
        even = prefix + "0" * (len(prefix) % 2)
        try:
            return {packs.partial_to_complete_sha(bytes.fromhex(even), len(prefix)).hex()}
        except BadObject:
            return set()
        except AmbiguousObjectName:
            raise StoreError(f"commit {prefix} is ambiguous") from None


def _open(path: Path, branch: str) -> git.Repo:
    """Open the repository at ``path``, creating a bare one when the folder is new or empty."""
    try:
        return git.Repo(path)
    except git.NoSuchPathError:
        pass
    except git.InvalidGitRepositoryError:
        if not path.is_dir() or any(path.iterdir()):
            raise StoreError(
                f"{path} is not a git repository, nor a new or empty folder; "
                "point [snapshot_service] store somewhere else",
                "config",
            ) from None
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)  # a store holds the plans: its owner only
        git.Repo.init(path, bare=True, initial_branch=branch).close()
    except (OSError, git.GitCommandError) as exc:
        detail = exc.stderr.strip() if isinstance(exc, git.GitCommandError) else str(exc)
        raise StoreError(f"cannot create the store at {path}: {detail}", ErrorCode.CONFIG) from None
    log.info("created a new store at %s (branch %s)", path, branch)
    return git.Repo(path)


def _claim(owner: Path, store: Path) -> int:
    """Hold the store's writer lock (until close or the process ends), or refuse."""
    fd = os.open(owner, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip() or "?"
        os.close(fd)
        raise StoreError(
            f"the store {store} is in use by another snapshot service (pid {other})", "config"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd
