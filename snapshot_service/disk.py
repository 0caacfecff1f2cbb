"""The store's files on disk: loose objects, the branch ref and a write-ahead journal.

A commit is a ``Transaction``. Nothing of it is fsync'ed; one append to the
journal (``<git dir>/qplan-journal``) and one ``fdatasync`` of it make it
durable instead. In order:

1. each new loose object is written to a temp file in its fan-out folder
   (``objects/ab/tmp_obj_<pid>_cdef…``);
2. the branch's lock, ``refs/heads/<branch>.lock``, is created exclusively
   (as git does, so a git command moving the branch at the same time is
   noticed before anything is promised) and holds the new commit's SHA;
3. one journal record is appended: everything needed to redo the commit
   (every new object as stored, the ref's name, its old and new value);
4. durable mode: ``fdatasync`` of the journal. From here on the commit
   survives a power cut: the journal can redo it;
5. the objects are renamed to their final names, then the lock over the ref.

A file under an object's final name is therefore whole unless power failed
before the data reached the disk, and then the journal holds the object.

A checkpoint makes everything written since the last one durable with one
``syncfs(2)`` of the store's filesystem, then empties the journal (truncate,
``fdatasync``). The store runs one when the journal holds ``JOURNAL_RECORDS``
records or ``JOURNAL_BYTES`` bytes, when the service is idle, at clean
shutdown, and at start.

Journal record: ``MAGIC``, the payload's length and its CRC-32 (``_FRAME``),
then the payload: the line ``<ref> <old sha or 40 zeros> <new sha> <count>``
and ``count`` objects, each a 20-byte SHA, a 4-byte length and the object as
stored (zlib). A power cut during an append leaves a torn last record: its
length or checksum does not match and it is ignored (that PUT was never
answered).

``recover`` runs at start, with the writer lock held: it deletes temp files
and the stale lock, rewrites every journaled object that is missing or not
whole (a renamed file whose data never reached the disk may be empty), moves
the ref forward to the last record's new value when it is behind along the
journal's chain (a ref someone else moved is left alone, with a warning),
and checkpoints. Without a journal (``durable = no``) nothing of this holds.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from snapshot_service.objects import object_sha

__all__ = [
    "BranchLocked",
    "JOURNAL_BYTES",
    "JOURNAL_FILE",
    "JOURNAL_RECORDS",
    "Journal",
    "LOOSE_COMPRESSION",
    "NotAJournal",
    "Record",
    "TEMP_PREFIX",
    "Transaction",
    "prepare_objects",
    "read_loose",
    "read_ref",
    "recover",
    "sync_filesystem",
]

log = logging.getLogger(__name__)

TEMP_PREFIX = "tmp_obj_"
LOOSE_COMPRESSION = 1  # zlib level; git's core.looseCompression default (speed over size)
JOURNAL_FILE = "qplan-journal"
JOURNAL_BYTES = 8 * 1024 * 1024  # a checkpoint is due once the journal is this long
JOURNAL_RECORDS = 256  # ... or holds this many commits
MAGIC = b"QPJ1"
NO_COMMIT = "0" * 40  # the old value of a branch that had no commit yet
_FRAME = struct.Struct(">4sII")  # magic, payload length, CRC-32 of the payload
_SIZE = struct.Struct(">I")

_libc = ctypes.CDLL(None, use_errno=True)
_syncfs = getattr(_libc, "syncfs", None)


class BranchLocked(FileExistsError):
    """The branch's ``.lock`` file exists: another program is moving the branch."""


class NotAJournal(ValueError):
    """The journal file holds something else: it is not ours to replay or delete."""


def sync_filesystem(fd: int) -> None:
    """Make every write to the filesystem that holds ``fd`` durable: syncfs(2), else sync(2)."""
    if _syncfs is None:
        os.sync()
        return
    if _syncfs(fd) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"syncfs: {os.strerror(err)}")


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
        return (git_dir / name).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
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


@dataclass
class Record:
    """One journal record: a commit's new objects and the move of its ref."""

    ref: str  # relative to the git dir: refs/heads/main
    old: str  # NO_COMMIT when the branch had none
    new: str
    objects: list[tuple[str, bytes]] = field(default_factory=list)  # (hex sha, stored bytes)

    def pack(self) -> bytes:
        """The record as framed in the journal."""
        parts = [f"{self.ref} {self.old} {self.new} {len(self.objects)}\n".encode("ascii")]
        for hexsha, stored in self.objects:
            parts += [bytes.fromhex(hexsha), _SIZE.pack(len(stored)), stored]
        payload = b"".join(parts)
        return _FRAME.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload

    @classmethod
    def unpack(cls, payload: bytes) -> Record:
        """The record of a payload whose checksum matched; ValueError if it is malformed."""
        line, _, rest = payload.partition(b"\n")
        ref, old, new, count = line.decode("ascii").split(" ")
        record = cls(ref, old, new)
        at = 0
        for _ in range(int(count)):
            hexsha = rest[at : at + 20].hex()
            (size,) = _SIZE.unpack_from(rest, at + 20)
            record.objects.append((hexsha, rest[at + 24 : at + 24 + size]))
            at += 24 + size
        if at != len(rest) or len(ref) == 0 or len(old) != 40 or len(new) != 40:
            raise ValueError("a record's parts do not add up")
        return record


class Journal:
    """The write-ahead journal of one store, opened once and only appended to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        self.size = os.fstat(self.fd).st_size  # where the last whole record ends
        self.records = 0  # appended since the last checkpoint (recovery counts the old ones)
        self._tail = False  # True: a failed write may have left bytes after ``size``
        self._before_last = 0  # ``size`` before the last append

    def close(self) -> None:
        """Close the file (what it holds stays for the next start)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def read(self) -> tuple[list[Record], int]:
        """The whole records, and how many bytes follow them (a torn tail is ignored)."""
        data = os.pread(self.fd, self.size, 0)
        records: list[Record] = []
        at = 0
        while at + _FRAME.size <= len(data):
            magic, size, crc = _FRAME.unpack_from(data, at)
            if magic != MAGIC:
                break
            payload = data[at + _FRAME.size : at + _FRAME.size + size]
            if len(payload) < size or zlib.crc32(payload) != crc:
                break
            try:
                records.append(Record.unpack(payload))
            except (ValueError, struct.error) as exc:
                why = f"record {len(records) + 1} is malformed: {exc}"
                raise self._not_a_journal(why) from None
            at += _FRAME.size + size
        head = data[:4]
        if at == 0 and head and not MAGIC.startswith(head) and head.strip(b"\0"):
            # Not a torn first append (those are a prefix of MAGIC, or zeros): someone's file.
            raise self._not_a_journal(f"it starts with {head!r}, not {MAGIC!r}")
        self.records = len(records)
        return records, len(data) - at

    def _not_a_journal(self, why: str) -> NotAJournal:
        return NotAJournal(
            f"{self.path} is not a snapshot service journal ({why}); "
            "move it out of the store (or delete it if it holds nothing of value) and start again"
        )

    def append(self, record: Record) -> None:
        """Add a record at the end (not yet durable: see ``sync``)."""
        if self._tail:
            # Half a record would hide every later one from recovery: cut it off first.
            os.ftruncate(self.fd, self.size)
            self._tail = False
        data = record.pack()
        self._tail = True
        _write_all(self.fd, data)
        self._tail = False
        self._before_last = self.size
        self.size += len(data)
        self.records += 1

    def sync(self) -> None:
        """Make what was appended durable."""
        os.fdatasync(self.fd)

    def drop_last(self) -> None:
        """Remove the last record appended: its commit failed, recovery must not redo it."""
        self.size = self._before_last
        self.records -= 1
        self._tail = True
        os.ftruncate(self.fd, self.size)
        os.fdatasync(self.fd)
        self._tail = False

    def due(self) -> bool:
        """True when the journal is long enough for a checkpoint."""
        return self.records >= JOURNAL_RECORDS or self.size >= JOURNAL_BYTES

    def checkpoint(self) -> None:
        """Make every write since the last checkpoint durable, then empty the journal."""
        sync_filesystem(self.fd)
        os.ftruncate(self.fd, 0)
        os.fdatasync(self.fd)
        self.size = 0
        self.records = 0


def recover(git_dir: Path, journal: Journal, lock: Path, durable: bool) -> None:
    """Clear what a crashed writer left, redo what the journal holds, and checkpoint."""
    objects = git_dir / "objects"
    for temp in sorted([*objects.glob(f"{TEMP_PREFIX}*"), *objects.glob(f"??/{TEMP_PREFIX}*")]):
        temp.unlink()
        log.warning("removed %s, left by a crashed writer", temp)
    if lock.exists():
        lock.unlink()
        log.warning("removed %s, left by a crashed writer", lock)
    prepare_objects(objects)
    records, torn = journal.read()
    if torn:
        log.warning("%s: ignored a torn last record (%d bytes): never answered", journal.path, torn)
    for record in records:
        for hexsha, stored in record.objects:
            if not _whole(objects, hexsha, stored):
                _write_object(objects, hexsha, stored)
                log.warning("rewrote object %s from the journal", hexsha)
    _replay_refs(git_dir, records)
    if durable or journal.size:
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


def _write_object(objects: Path | str, hexsha: str, stored: bytes) -> None:
    """Write a loose object through a temp file, so its final name never holds half of it."""
    final = loose_path(objects, hexsha)
    temp = os.path.join(os.path.dirname(final), f"{TEMP_PREFIX}{os.getpid()}_{hexsha[2:]}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o444)
    try:
        _write_all(fd, stored)
    finally:
        os.close(fd)
    os.replace(temp, final)


class Transaction:
    """The files of one commit, written in the order the module docstring describes."""

    def __init__(self, objects: Path, journal: Journal | None) -> None:
        """``journal`` None: not durable, nothing journaled or synced."""
        self.objects = str(objects)
        self.journal = journal
        self._objects: list[tuple[str, bytes]] = []  # (hex sha, stored bytes)
        self._pending: list[tuple[str, str]] = []  # (temp path, final path)
        self._placed: list[str] = []  # objects renamed into place before the ref moved
        self._temp_name = f"{TEMP_PREFIX}{os.getpid()}_"

    def add_object(self, kind: bytes, data: bytes, binsha: bytes | None = None) -> bytes:
        """Write one object to a temp file unless it exists already; returns its 20-byte SHA."""
        binsha = binsha or object_sha(kind, data)
        hexsha = binsha.hex()
        final = loose_path(self.objects, hexsha)
        if os.path.exists(final) or any(hexsha == sha for sha, _ in self._objects):
            return binsha
        stored = zlib.compress(b"%s %d\0" % (kind, len(data)) + data, LOOSE_COMPRESSION)
        folder = os.path.dirname(final)
        temp = os.path.join(folder, self._temp_name + hexsha[2:])
        fd = self._create(temp, folder)
        self._pending.append((temp, final))
        try:
            _write_all(fd, stored)
        finally:
            os.close(fd)
        self._objects.append((hexsha, stored))
        return binsha

    @staticmethod
    def _create(temp: str, folder: str) -> int:
        """Open a new temp file (read-only from birth, like git's objects; the fd can write)."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        try:
            return os.open(temp, flags, 0o444)
        except FileNotFoundError:
            # The fan-out folder is gone (`git prune` removes empty ones): make it again.
            os.mkdir(folder)
            return os.open(temp, flags, 0o444)

    def finish(self, ref: Path, name: str, old: str | None, new: str) -> None:
        """Journal the commit, then put the objects in place and move ``ref`` (``name``)."""
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
        journaled = False
        try:
            try:
                _write_all(lock_fd, new.encode("ascii") + b"\n")
            finally:
                os.close(lock_fd)
            if self.journal is not None:
                self.journal.append(Record(name, old or NO_COMMIT, new, self._objects))
                journaled = True
                self.journal.sync()
            for temp, final in self._pending:
                os.replace(temp, final)
                self._placed.append(final)
            os.replace(lock, ref)
            self._pending, self._placed = [], []
        except BaseException:
            self.abort()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock)
            if journaled:
                # The PUT fails: the journal must not redo it at the next start.
                with contextlib.suppress(OSError):
                    self.journal.drop_last()
            raise

    def abort(self) -> None:
        """Delete what this commit wrote, unless the ref names it: nothing else can."""
        for path in [temp for temp, _ in self._pending] + self._placed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        self._pending = []
        self._placed = []


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
