"""The store's files on disk, written so that a crash at any moment leaves a valid repository.

A commit is a ``Transaction``: each new loose object is written to a temp
file ``objects/tmp_obj_*`` and the branch's new value to
``refs/heads/<branch>.lock`` (created exclusively, as git does, so a git
command running at the same time is noticed). ``finish`` then, in order:

1. fsyncs every one of those files (durable mode), all at once;
2. renames the objects into place (``objects/ab/cdef…``) and fsyncs the
   folders that got new names;
3. renames the lock over the ref and fsyncs its folder.

So a file under an object's final name is always complete (an object that
exists never needs writing again), and the ref never names an object that
is not on disk. The fsyncs of one step run in parallel threads because the
kernel then flushes them in one journal commit instead of one each; a
coroutine cannot do that, fsync blocks. A crash leaves at most temp files,
a lock and unreferenced objects: ``remove_leftovers`` clears the first two
at start, and ``git fsck`` does not mind the last.
"""

from __future__ import annotations

import contextlib
import os
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from snapshot_service.objects import object_sha

__all__ = [
    "TEMP_PREFIX",
    "LOOSE_COMPRESSION",
    "Transaction",
    "fsync_dir",
    "read_loose",
    "remove_leftovers",
]

TEMP_PREFIX = "tmp_obj_"
LOOSE_COMPRESSION = 1  # zlib level; git's core.looseCompression default (speed over size)


def fsync_dir(path: Path | str) -> None:
    """Make the names in a folder durable (new files, renames)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def loose_path(objects: Path, hexsha: str) -> Path:
    """Where git keeps a loose object."""
    return objects / hexsha[:2] / hexsha[2:]


def read_loose(objects: Path, hexsha: str) -> tuple[bytes, bytes] | None:
    """``(kind, data)`` of a loose object, or None when it is not stored loose."""
    try:
        with open(loose_path(objects, hexsha), "rb") as fh:
            raw = zlib.decompress(fh.read())
    except FileNotFoundError:
        return None
    header, _, data = raw.partition(b"\0")
    return header.split(b" ", 1)[0], data


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
        self.objects = objects
        self.durable = durable
        self.pool = pool
        self._pending: list[tuple[int, Path, Path]] = []  # (open fd, temp path, final path)
        self._fds: list[int] = []
        self._serial = 0

    def add_object(self, kind: bytes, data: bytes, binsha: bytes | None = None) -> bytes:
        """Stage one object unless it exists already; returns its 20-byte SHA."""
        binsha = binsha or object_sha(kind, data)
        hexsha = binsha.hex()
        final = loose_path(self.objects, hexsha)
        if final.exists() or any(p[2] == final for p in self._pending):
            return binsha
        self._serial += 1
        temp = self.objects / f"{TEMP_PREFIX}{os.getpid()}_{self._serial}_{hexsha[:12]}"
        # Read-only from birth, like git's objects; the open descriptor can still write.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o444)
        self._fds.append(fd)
        self._pending.append((fd, temp, final))
        body = zlib.compress(b"%s %d\0" % (kind, len(data)) + data, LOOSE_COMPRESSION)
        _write_all(fd, body)
        return binsha

    def finish(self, ref: Path, hexsha: str) -> None:
        """Put the staged objects in place, then point ``ref`` at ``hexsha``."""
        lock = ref.with_name(ref.name + ".lock")
        try:
            ref.parent.mkdir(parents=True, exist_ok=True)
            # O_EXCL: a lock that exists belongs to someone else (stale ones go at start).
            lock_fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            self.abort()
            raise
        self._fds.append(lock_fd)
        try:
            _write_all(lock_fd, hexsha.encode("ascii") + b"\n")
            self._sync_each(os.fsync, self._fds)
            self._close_all()
            folders: set[Path] = set()
            for _, temp, final in self._pending:
                if not final.parent.is_dir():
                    final.parent.mkdir()
                    folders.add(self.objects)
                os.replace(temp, final)
                folders.add(final.parent)
            self._sync_each(fsync_dir, sorted(folders))
            os.replace(lock, ref)
            if self.durable:
                fsync_dir(ref.parent)
        except BaseException:
            self.abort()
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
            raise
        self._pending = []

    def abort(self) -> None:
        """Drop whatever is staged (objects not yet in place are deleted)."""
        self._close_all()
        for _, temp, _ in self._pending:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        self._pending = []

    def _sync_each(self, sync, items: list) -> None:
        if not self.durable or not items:
            return
        if self.pool is None or len(items) == 1:
            for item in items:
                sync(item)
        else:
            list(self.pool.map(sync, items))

    def _close_all(self) -> None:
        fds, self._fds = self._fds, []
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
