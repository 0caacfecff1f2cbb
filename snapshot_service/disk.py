"""The store's files on disk, written so that a crash at any moment leaves a valid repository.

A commit is a ``Transaction``: each new loose object is written to a temp
file in its fan-out folder (``objects/ab/tmp_obj_<pid>_cdef…``, the name
tells its SHA) and the branch's new value to ``refs/heads/<branch>.lock``
(created exclusively, as git does, so a git command moving the branch at the
same time is noticed). ``finish`` then, in order:

1. fsyncs every one of those files and the folders that hold them
   (durable mode), all at once;
2. renames the objects into place (``objects/ab/cdef…``), then the lock
   over the ref, and fsyncs the ref's folder.

A file under an object's final name is therefore always complete (an object
that exists never needs writing again). The renames of step 2 reach the
disk with the ref's journal commit at the latest; should power fail first,
the durable temp files are still there and ``recover`` finishes their
renames at the next start, so the ref never names a missing object. The
fsyncs of step 1 run in parallel threads: the kernel then serves them with
one journal commit and one disk flush instead of one each (fsync blocks; a
coroutine cannot overlap them).

A crash leaves at most temp files, a lock and unreferenced objects:
``recover`` puts every complete temp file in place and deletes the rest and
the lock; ``git fsck`` does not mind unreferenced objects.
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
    "recover",
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


def recover(objects: Path, lock: Path, durable: bool = True) -> tuple[list[Path], list[Path]]:
    """Finish or delete what a crashed writer left; returns (objects put in place, files deleted).

    A temp file whose content has the SHA its name tells is a complete object
    (it was fsync'ed before the branch could name it): it goes to its final
    name. Anything else, and the branch's lock, is deleted.
    """
    placed: list[Path] = []
    deleted: list[Path] = []
    for temp in sorted(objects.glob(f"{TEMP_PREFIX}*")):
        temp.unlink()  # a temp file outside the fan-out folders cannot be ours to finish
        deleted.append(temp)
    for temp in sorted(objects.glob(f"??/{TEMP_PREFIX}*")):
        hexsha = temp.parent.name + temp.name.rsplit("_", 1)[-1]
        final = temp.parent / hexsha[2:]
        if len(hexsha) == 40 and not final.exists() and _holds(temp, hexsha):
            os.replace(temp, final)
            placed.append(final)
        else:
            temp.unlink()
            deleted.append(temp)
    if lock.exists():
        lock.unlink()
        deleted.append(lock)
    if durable:
        for folder in sorted({path.parent for path in placed + deleted}):
            fsync_dir(folder)
    return placed, deleted


def _holds(path: Path, hexsha: str) -> bool:
    """True when ``path`` is a whole loose object whose SHA is ``hexsha``."""
    try:
        raw = zlib.decompress(path.read_bytes())
    except (OSError, zlib.error):
        return False
    header, nul, data = raw.partition(b"\0")
    kind, _, size = header.partition(b" ")
    if not nul or not size.isdigit() or int(size) != len(data):
        return False
    return object_sha(kind, data).hex() == hexsha


class Transaction:
    """The files of one commit, made durable in the order described in the module docstring."""

    def __init__(self, objects: Path, durable: bool, pool: ThreadPoolExecutor | None) -> None:
        self.objects = str(objects)
        self.durable = durable
        self.pool = pool
        self._pending: list[tuple[str, str]] = []  # (temp path, final path)
        self._staged: set[str] = set()
        self._fds: list[int] = []
        self._temp_name = f"{TEMP_PREFIX}{os.getpid()}_"
        self._folders: set[str] = set()

    def add_object(self, kind: bytes, data: bytes, binsha: bytes | None = None) -> bytes:
        """Stage one object unless it exists already; returns its 20-byte SHA."""
        binsha = binsha or object_sha(kind, data)
        hexsha = binsha.hex()
        final = loose_path(self.objects, hexsha)
        if hexsha in self._staged or os.path.exists(final):
            return binsha
        self._staged.add(hexsha)
        folder = os.path.dirname(final)
        temp = os.path.join(folder, self._temp_name + hexsha[2:])
        fd = self._create(temp, folder)
        self._fds.append(fd)
        self._folders.add(folder)
        self._pending.append((temp, final))
        _write_all(fd, zlib.compress(b"%s %d\0" % (kind, len(data)) + data, LOOSE_COMPRESSION))
        return binsha

    def _create(self, temp: str, folder: str) -> int:
        """Open a new temp file (read-only from birth, like git's objects; the fd can write)."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        try:
            return os.open(temp, flags, 0o444)
        except FileNotFoundError:
            # The fan-out folder is gone (`git prune` removes empty ones): make it again.
            os.mkdir(folder)
            self._folders.add(self.objects)
            return os.open(temp, flags, 0o444)

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
            self._sync_all(
                [(os.fsync, fd) for fd in self._fds]
                + [(fsync_dir, folder) for folder in sorted(self._folders)]
            )
            self._close_all()
            for temp, final in self._pending:
                os.replace(temp, final)
            self._pending = []
            os.replace(lock, ref)
            if self.durable:
                fsync_dir(ref.parent)
        except BaseException:
            self.abort()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock)
            raise

    def _sync_all(self, calls: list[tuple]) -> None:
        """Run every ``(fsync, target)`` at once (durable mode); the first failure is raised."""
        if not self.durable:
            return
        if self.pool is None or len(calls) < 2:
            for sync, target in calls:
                sync(target)
            return
        futures = [self.pool.submit(sync, target) for sync, target in calls]
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
