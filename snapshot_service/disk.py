"""The store's files on disk, written so that a crash at any moment leaves a valid repository.

A commit is a ``Transaction``: each new loose object is written to a temp
file ``objects/tmp_obj_*`` and the branch's new value to
``refs/heads/<branch>.lock`` (created exclusively, as git does, so a git
command running at the same time is noticed). ``finish`` then, in order:

1. fsyncs every one of those files (durable mode);
2. renames the objects into place (``objects/ab/cdef…``) and fsyncs the
   folders that got new names;
3. renames the lock over the ref and fsyncs its folder.

So a file under an object's final name is always complete (an object that
exists never needs writing again), and the ref never names an object that
is not on disk. The fsyncs of steps 1 and 2 each run in parallel threads:
the kernel then serves them with one journal commit and one disk flush
instead of one each (fsync blocks; a coroutine cannot overlap them).

A crash leaves at most temp files, a lock and unreferenced objects:
``remove_leftovers`` clears the first two at start, and ``git fsck`` does
not mind the last.
"""

from __future__ import annotations

import contextlib
import os
import zlib
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

from snapshot_service.objects import object_sha

__all__ = [
    "BranchLocked",
    "TEMP_PREFIX",
    "LOOSE_COMPRESSION",
    "Transaction",
    "fsync_dir",
    "read_loose",
    "remove_leftovers",
    "prepare_objects",
]

TEMP_PREFIX = "tmp_obj_"
LOOSE_COMPRESSION = 1  # zlib level; git's core.looseCompression default (speed over size)


class BranchLocked(FileExistsError):
    """The branch's ``.lock`` file exists: another program is moving the branch."""


def fsync_dir(path: Path | str) -> None:
    """Make the names in a folder durable (new files, renames)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def loose_path(objects: Path | str, hexsha: str) -> str:
    """Where git keeps a loose object."""
    return os.path.join(objects, hexsha[:2], hexsha[2:])


def read_loose(objects: Path | str, hexsha: str) -> tuple[bytes, bytes] | None:
    """``(kind, data)`` of a loose object, or None when it is not stored loose."""
    try:
        with open(loose_path(objects, hexsha), "rb") as fh:
            raw = zlib.decompress(fh.read())
    except FileNotFoundError:
        return None
    header, _, data = raw.partition(b"\0")
    return header.split(b" ", 1)[0], data


def prepare_objects(objects: Path) -> None:
    """Make the 256 fan-out folders now, so that a commit never waits for a mkdir."""
    made = False
    for n in range(256):
        folder = objects / f"{n:02x}"
        if not folder.is_dir():
            folder.mkdir()
            made = True
    if made:
        fsync_dir(objects)


def remove_leftovers(objects: Path, lock: Path) -> list[Path]:
    """Delete the temp files and the ref lock a crashed writer left; returns what went."""
    found = [path for path in objects.glob(TEMP_PREFIX + "*") if path.is_file()]
    if lock.exists():
        found.append(lock)
    for path in found:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return found


class Transaction:
    """The files of one commit, made durable in the order described in the module docstring."""

    def __init__(self, objects: Path, durable: bool, pool: ThreadPoolExecutor | None) -> None:
        self.objects = str(objects)
        self.durable = durable
        self.pool = pool
        self._pending: list[tuple[str, str]] = []  # (temp path, final path)
        self._staged: set[str] = set()
        self._fds: list[int] = []
        self._temp_base = os.path.join(self.objects, f"{TEMP_PREFIX}{os.getpid()}_")

    def add_object(self, kind: bytes, data: bytes, binsha: bytes | None = None) -> bytes:
        """Stage one object unless it exists already; returns its 20-byte SHA."""
        binsha = binsha or object_sha(kind, data)
        hexsha = binsha.hex()
        final = loose_path(self.objects, hexsha)
        if hexsha in self._staged or os.path.exists(final):
            return binsha
        self._staged.add(hexsha)
        temp = self._temp_base + hexsha
        # Read-only from birth, like git's objects; the open descriptor can still write.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o444)
        self._fds.append(fd)
        self._pending.append((temp, final))
        _write_all(fd, zlib.compress(b"%s %d\0" % (kind, len(data)) + data, LOOSE_COMPRESSION))
        return binsha

    def finish(self, ref: Path, hexsha: str) -> None:
        """Put the staged objects in place, then point ``ref`` at ``hexsha``."""
        lock = f"{ref}.lock"
        try:
            # O_EXCL: a lock that exists belongs to someone else (stale ones go at start).
            lock_fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileNotFoundError:
            ref.parent.mkdir(parents=True, exist_ok=True)
            lock_fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            self.abort()
            raise BranchLocked(f"{lock} exists") from None
        self._fds.append(lock_fd)
        try:
            _write_all(lock_fd, hexsha.encode("ascii") + b"\n")
            self._sync_files()
            self._close_all()
            folders = {self._place(temp, final) for temp, final in self._pending}
            self._pending = []
            self._sync_all(fsync_dir, sorted(folders))
            os.replace(lock, ref)
            if self.durable:
                fsync_dir(ref.parent)
        except BaseException:
            self.abort()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock)
            raise

    def _place(self, temp: str, final: str) -> str:
        """Rename one object into place; returns the folder that changed."""
        folder = os.path.dirname(final)
        try:
            os.replace(temp, final)
        except FileNotFoundError:
            # The fan-out folder is gone (a `git prune` removes empty ones): make it again.
            os.mkdir(folder)
            if self.durable:
                fsync_dir(self.objects)
            os.replace(temp, final)
        return folder

    def _sync_files(self) -> None:
        """fsync every staged file (durable mode)."""
        self._sync_all(os.fsync, self._fds)

    def _sync_all(self, sync, items: list) -> None:
        """Apply ``sync`` to every item at once (durable mode); the first failure is raised."""
        if not self.durable:
            return
        if self.pool is None or len(items) < 2:
            for item in items:
                sync(item)
            return
        futures = [self.pool.submit(sync, item) for item in items]
        wait(futures)  # no descriptor may be closed while a thread still fsyncs it
        for future in futures:
            future.result()

    def abort(self) -> None:
        """Drop whatever is staged (objects not yet in place are deleted)."""
        self._close_all()
        for temp, _ in self._pending:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
        self._pending = []

    def _close_all(self) -> None:
        fds, self._fds = self._fds, []
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
