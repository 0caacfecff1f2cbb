"""The store's files on disk: loose objects, the branch ref and a write-ahead journal.

A commit is a ``Transaction``. None of its files is fsync'ed: one journal
record and one ``fdatasync`` of the journal's active file
(``<git dir>/qplan-journal`` or ``qplan-journal-b``) make it durable
instead. In order:

1. each new loose object is written, compressed, into a spare file
   (``<git dir>/qplan-spare/``, see ``Spares``);
2. the branch's new value is written into another and linked to
   ``refs/heads/<branch>.lock``: a link, like git's ``O_EXCL``, fails when
   the lock exists, so a git command moving the branch is noticed before
   anything is promised;
3. one record is appended to the journal: everything needed to redo the
   commit (every new object as stored, the ref's name, its old and new
   value);
4. durable mode: ``fdatasync`` of the journal. From here on the commit
   survives a power cut: the journal can redo it, so the service answers
   the PUT now (``write_ahead`` ends here);
5. the objects are renamed to their final names, then the lock over the
   ref (whose old file lives on under a spare name, see ``Spares``):
   ``place``, before the service reads its next request.

An object under its final name is therefore named by a journal record or
durable since a checkpoint: the journal rewrites it if a power cut left it
empty, a commit that fails deletes only its own files, and a later commit
may skip any object that exists. Taking the lock before the append means
that a branch held by git never leaves a record the next start would redo.

A checkpoint makes everything written before it durable with one
``syncfs(2)`` of the store's filesystem, then empties a journal file. When
the active file is long (``Journal.due``) or the service is idle, commits
go on in the other file and the full one is checkpointed, by the store's
thread (``upkeep``) after the last commit it holds was renamed into place;
both files are checkpointed at clean shutdown and at start. The journal's
format, and the order of its two files, are in ``journal``.

``recover`` runs at start, with the writer lock held: it deletes the stale
lock and the spare files a crash left written into, rewrites every
journaled object that is missing or not whole (a renamed file whose data
never reached the disk may be empty), moves the ref forward to the last
record's new value when it is behind along the journal's chain (a ref
someone else moved is left alone, with a warning), and checkpoints. With
``durable = no`` nothing is journaled or synced (a journal left by a durable
run is still redone, then synced once).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import zlib
from collections import deque
from pathlib import Path

from snapshot_service.journal import NO_COMMIT, Journal, Record
from snapshot_service.objects import object_sha

__all__ = [
    "BranchLocked",
    "LOOSE_COMPRESSION",
    "SPARE_FILES",
    "SPARE_FOLDER",
    "Spares",
    "Transaction",
    "prepare_objects",
    "read_loose",
    "read_ref",
    "recover",
]

log = logging.getLogger(__name__)

SPARE_FOLDER = "qplan-spare"
SPARE_FILES = 1024  # empty files kept ready: the objects and branch locks of ~200 commits
LOOSE_COMPRESSION = 1  # zlib level; git's core.looseCompression default (speed over size)
OBJECT_MODE = 0o444  # read-only, like git's loose objects
REF_MODE = 0o644


class BranchLocked(FileExistsError):
    """The branch's ``.lock`` file exists: another program is moving the branch."""


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


def read_ref(git_dir: Path, name: str) -> str | None:
    """The text of ref ``name`` (``refs/heads/main``): its file, else packed-refs; None if none."""
    try:
        fd = os.open(git_dir / name, os.O_RDONLY)  # os calls: a third of Path.read_text's time
    except FileNotFoundError:
        pass
    else:
        try:
            return os.read(fd, 4096).decode("ascii").strip()
        finally:
            os.close(fd)
    try:
        lines = (git_dir / "packed-refs").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    for line in lines:
        sha, _, found = line.partition(" ")
        if found.strip() == name:
            return sha
    return None


def prepare_objects(objects: Path) -> None:
    """Make the 256 fan-out folders now, so that a commit never waits for a mkdir."""
    for n in range(256):
        folder = objects / f"{n:02x}"
        if not folder.is_dir():
            folder.mkdir()


class Spares:
    """Empty files made ahead of the commits that write into them, and old refs freed later.

    Creating a file costs 6 us of kernel time on the ext4 this runs on when it is quiet, and
    up to 250 us after many deletions nearby (without a journal, ext4 passes over, one check
    each, every inode of the group freed in the last minutes), freeing one (a rename over the
    old ref) ~100 us, while opening a file that exists costs ~4 us and a rename or a link
    ~8 us. So a commit writes its objects and lock into spare empty files and renames them
    into place, and keeps the old ref's file alive under a spare name (``retire``), so that
    the rename over the ref frees nothing. ``prepare`` makes and frees those files, in the
    store's background thread (``upkeep``) or when asked; when no spare is left, ``open``
    creates one.

    The threads share only deques and a counter, whose single operations are atomic. A spare
    is created in ``new/`` and then renamed into the folder: creating a file holds its
    folder's lock, and a commit's rename out of that folder waited for it (7 us became ~100).
    """

    def __init__(self, folder: Path) -> None:
        folder.mkdir(exist_ok=True)
        self.folder = str(folder)
        self._making = os.path.join(self.folder, "new")
        self._free: deque[str] = deque()  # empty files, ready
        self._retired: deque[str] = deque()  # old refs, to be freed
        self._serial = itertools.count(1)
        with contextlib.suppress(FileExistsError):
            os.mkdir(self._making)
        for entry in os.scandir(self._making):
            os.unlink(entry.path)  # made by a writer that crashed, never handed over
        for entry in os.scandir(folder):
            if entry.path == self._making:
                continue
            if entry.is_file(follow_symlinks=False) and entry.stat().st_size == 0:
                self._free.append(entry.path)
            else:
                os.unlink(entry.path)  # written into by a writer that crashed, or retired
                log.debug("removed %s, left by the last writer", entry.path)
        self._taken = {os.path.basename(path) for path in self._free}  # names _name skips

    @property
    def low(self) -> bool:
        """True when fewer than half the spare files are left."""
        return len(self._free) < SPARE_FILES // 2

    @property
    def pending(self) -> int:
        """How many files ``prepare`` has to make or free."""
        return len(self._retired) + max(SPARE_FILES - len(self._free), 0)

    def prepare(self, count: int) -> int:
        """Free or make up to ``count`` files; returns how many are still to do."""
        for _ in range(min(count, self.pending)):
            try:
                os.unlink(self._retired.popleft())
                continue
            except IndexError:
                pass
            path = self._name()
            making = os.path.join(self._making, os.path.basename(path))
            os.close(os.open(making, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            os.rename(making, path)
            self._free.append(path)
        return self.pending

    def open(self) -> tuple[str, int]:
        """A spare file's path and a descriptor that writes it (the file is the caller's)."""
        while True:
            try:
                path = self._free.pop()
            except IndexError:
                return self._create()
            try:
                return path, os.open(path, os.O_WRONLY)
            except FileNotFoundError:
                continue  # removed by someone else: take the next

    def retire(self, path: Path | str) -> None:
        """Keep the file at ``path`` alive under a spare name, to be freed by ``prepare``."""
        name = self._name()
        try:
            os.link(path, name)
        except FileNotFoundError:
            return  # no file to keep (a branch with no ref file yet)
        self._retired.append(name)

    def _create(self) -> tuple[str, int]:
        path = self._name()
        return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)

    def _name(self) -> str:
        """A new name in the folder (the serial makes it this process's alone)."""
        while True:
            name = f"{os.getpid()}-{next(self._serial)}"
            if name not in self._taken:  # a spare kept from an earlier process with this pid
                return os.path.join(self.folder, name)


def recover(git_dir: Path, journal: Journal, spares: Spares, lock: Path, durable: bool) -> None:
    """Clear what a crashed writer left, redo what the journal holds, and checkpoint.

    ``Spares`` has already removed the temp files a crash left.
    """
    objects = git_dir / "objects"
    if lock.exists():
        lock.unlink()
        log.warning("removed %s, left by a crashed writer", lock)
    prepare_objects(objects)
    records = journal.read()
    for record in records:
        for hexsha, stored in record.objects:
            if not _whole(objects, hexsha, stored):
                _rename(_written(spares, stored, OBJECT_MODE), loose_path(objects, hexsha))
                log.warning("rewrote object %s from the journal", hexsha)
    _replay_refs(git_dir, records)
    if durable:
        journal.preallocate()
    if durable or records:
        journal.checkpoint()


def _replay_refs(git_dir: Path, records: list[Record]) -> None:
    """Move each journaled ref to its last new value when it is behind along the journal."""
    for ref in dict.fromkeys(record.ref for record in records):
        chain = [record for record in records if record.ref == ref]
        final = chain[-1].new
        behind = {record.old for record in chain} | {record.new for record in chain[:-1]}
        current = read_ref(git_dir, ref) or NO_COMMIT
        if current == final:
            continue
        if current not in behind:
            log.warning(
                "%s is at %s, outside the journal's commits: left there (the journal's last "
                "commit %s stays in the store, unreferenced)",
                ref,
                current[:12],
                final[:12],
            )
            continue
        lock = f"{git_dir / ref}.lock"
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            _write_all(fd, final.encode("ascii") + b"\n")
        finally:
            os.close(fd)
        os.replace(lock, git_dir / ref)
        log.warning("moved %s from %s to %s, as the journal says", ref, current[:12], final[:12])


def _whole(objects: Path, hexsha: str, stored: bytes) -> bool:
    """True when the loose object ``hexsha`` exists and is whole (its content has that SHA)."""
    try:
        with open(loose_path(objects, hexsha), "rb") as fh:
            found = fh.read()
    except FileNotFoundError:
        return False
    if found == stored:
        return True
    try:
        raw = zlib.decompress(found)  # git may have stored the same object its own way
    except zlib.error:
        return False
    header, nul, data = raw.partition(b"\0")
    kind, _, size = header.partition(b" ")
    if not nul or not size.isdigit() or int(size) != len(data):
        return False
    return object_sha(kind, data).hex() == hexsha


def _written(spares: Spares, data: bytes, mode: int) -> str:
    """The path of a spare file that now holds ``data``, with ``mode``."""
    path, fd = spares.open()
    try:
        _write_all(fd, data)
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)
    return path


class Transaction:
    """The files of one commit, written in the order the module docstring describes."""

    def __init__(self, objects: Path, spares: Spares, journal: Journal | None) -> None:
        """``journal`` None: not durable, nothing journaled or synced."""
        self.objects = str(objects)
        self.spares = spares
        self.journal = journal
        self._objects: list[tuple[str, bytes]] = []  # (hex sha, stored bytes)
        self._pending: list[tuple[str, str]] = []  # (spare file, final path)
        self._placed: list[str] = []  # objects renamed into place before the ref moved
        self._ref = Path()  # the ref ``write_ahead`` locked

    def add_object(self, kind: bytes, data: bytes, binsha: bytes | None = None) -> bytes:
        """Write one object to a spare file unless it exists already; returns its 20-byte SHA."""
        binsha = binsha or object_sha(kind, data)
        hexsha = binsha.hex()
        final = loose_path(self.objects, hexsha)
        if os.path.exists(final) or any(hexsha == sha for sha, _ in self._objects):
            return binsha
        stored = zlib.compress(b"%s %d\0" % (kind, len(data)) + data, LOOSE_COMPRESSION)
        self._pending.append((_written(self.spares, stored, OBJECT_MODE), final))
        self._objects.append((hexsha, stored))
        return binsha

    def write_ahead(self, ref: Path, name: str, old: str | None, new: str) -> None:
        """Take the lock over ``ref`` (``name``) and journal the commit: steps 2 to 4."""
        self._ref, lock = ref, f"{ref}.lock"
        self._lock(_written(self.spares, new.encode("ascii") + b"\n", REF_MODE), lock, ref)
        journaled = False
        try:
            if self.journal is not None:
                self.journal.append(Record(name, old or NO_COMMIT, new, self._objects))
                journaled = True
                self.journal.sync()
        except BaseException:
            self._undo(journaled)
            raise

    def place(self) -> None:
        """Rename the objects to their names, then the lock over the ref: step 5.

        Run again after a failure, it goes on where it stopped.
        """
        while self._pending:
            spare, final = self._pending[-1]
            _rename(spare, final)
            self._placed.append(final)
            self._pending.pop()
        self.spares.retire(self._ref)
        os.replace(f"{self._ref}.lock", self._ref)
        self._placed = []

    def finish(self, ref: Path, name: str, old: str | None, new: str) -> None:
        """``write_ahead`` and ``place``; a commit that fails is undone, journal record and all."""
        self.write_ahead(ref, name, old, new)
        try:
            self.place()
        except BaseException:
            self._undo(self.journal is not None)
            raise

    def _undo(self, journaled: bool) -> None:
        self.abort()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{self._ref}.lock")
        if journaled:
            # The PUT fails: the journal must not redo it at the next start.
            with contextlib.suppress(OSError):
                self.journal.drop_last()

    def _lock(self, spare: str, lock: str, ref: Path) -> None:
        """Make ``spare`` the branch's lock file, unless the lock exists: BranchLocked."""
        try:
            # A link, like O_EXCL, fails when the name exists: a lock there belongs to someone
            # else (stale ones go at start).
            _link(spare, lock)
        except FileExistsError:
            self.abort()
            raise BranchLocked(f"{lock} exists") from None
        except BaseException:
            self.abort()
            raise
        finally:
            os.unlink(spare)

    def abort(self) -> None:
        """Delete what this commit wrote, unless the ref names it: nothing else can."""
        for path in [spare for spare, _ in self._pending] + self._placed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        self._pending = []
        self._placed = []


def _rename(spare: str, final: str) -> None:
    """Rename a spare file to a loose object's name, making the fan-out folder if it is gone."""
    try:
        os.replace(spare, final)
    except FileNotFoundError:
        if not os.path.exists(spare):
            raise
        os.mkdir(os.path.dirname(final))  # `git prune` removes empty fan-out folders
        os.replace(spare, final)


def _link(spare: str, lock: str) -> None:
    """Give ``spare`` the name ``lock`` too, making the ref's folder if it is missing."""
    try:
        os.link(spare, lock)
    except FileNotFoundError:
        if not os.path.exists(spare):
            raise
        os.makedirs(os.path.dirname(lock), exist_ok=True)
        os.link(spare, lock)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
