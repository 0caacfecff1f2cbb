"""The write-ahead journal of a store: one record per commit, in two files used in turn.

Each file (``<git dir>/qplan-journal`` and ``qplan-journal-b``) is a
header, ``MAGIC`` and an epoch, then the records of that epoch, one after the
other. A record is ``RECORD``, a CRC-32 of the rest, the epoch, the
payload's length, then the payload: the line ``<ref> <old sha or 40 zeros>
<new sha> <count>`` and ``count`` objects, each a 20-byte SHA, a 4-byte
length and the object as stored (zlib). A file's records end at the first
one of another epoch or whose checksum fails: a record torn by a power cut
is one whose commit was never answered.

Commits append to the active file. Once it is long (``due``) the other one
becomes active and the full one is checkpointed, by the store's background
thread (``upkeep``): one ``syncfs(2)`` makes every write to the filesystem
durable, then the file's header is rewritten with the epoch it will have
when it is next used, two more than its last, and synced; records that
follow overwrite the old ones in place. A commit waits for a checkpoint only
when both files are full. Epochs only grow: the active file's is one more
than a full file's that waits for its checkpoint, and one less than a reset
file's. So the records still to redo are in the order of their files'
epochs, and ``read`` replays the older file first. A file whose reset a
crash cut short still holds its records: redoing them again is harmless,
their commits are on disk already.

A file is never shortened: ``fdatasync`` of a write into blocks the file
already has (zeros written at start, up to ``JOURNAL_BYTES``) needs no
filesystem journal commit, and costs half that of an append on the ext4
this runs on (~120 us against ~250).
"""

from __future__ import annotations

import ctypes
import logging
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "JOURNAL_BYTES",
    "JOURNAL_FILES",
    "JOURNAL_RECORDS",
    "NO_COMMIT",
    "Journal",
    "JournalFile",
    "NotAJournal",
    "Record",
    "sync_filesystem",
]

log = logging.getLogger(__name__)

JOURNAL_FILES = ("qplan-journal", "qplan-journal-b")  # appended to in turn
JOURNAL_BYTES = 8 * 1024 * 1024  # a file is due for a checkpoint once it is this long
JOURNAL_RECORDS = 256  # ... or holds this many commits
NO_COMMIT = "0" * 40  # the old value of a branch that had no commit yet
MAGIC = b"QPJ2"  # the journal's first bytes (QPJ1: records without a header or epochs)
RECORD = b"QPJR"  # each record's first bytes
_HEADER = struct.Struct(">4sQ")  # MAGIC, epoch
_FRAME = struct.Struct(">4sIQI")  # RECORD, CRC-32 of the rest, epoch, payload length
_SIZE = struct.Struct(">I")

_libc = ctypes.CDLL(None, use_errno=True)
_syncfs = getattr(_libc, "syncfs", None)


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


@dataclass
class Record:
    """One journal record: a commit's new objects and the move of its ref."""

    ref: str  # relative to the git dir: refs/heads/main
    old: str  # NO_COMMIT when the branch had none
    new: str
    objects: list[tuple[str, bytes]] = field(default_factory=list)  # (hex sha, stored bytes)

    def pack(self, epoch: int) -> bytes:
        """The record as framed in the journal during ``epoch``."""
        parts = [f"{self.ref} {self.old} {self.new} {len(self.objects)}\n".encode("ascii")]
        for hexsha, stored in self.objects:
            parts += [bytes.fromhex(hexsha), _SIZE.pack(len(stored)), stored]
        payload = b"".join(parts)
        rest = _FRAME.pack(RECORD, 0, epoch, len(payload))[8:] + payload
        return RECORD + _SIZE.pack(zlib.crc32(rest)) + rest

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


class JournalFile:
    """One of the two journal files, opened once; see the module docstring."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        self.epoch = 0
        self.size = _HEADER.size  # where the last record of the epoch ends
        self.records = 0  # records of the epoch
        self._before_last = self.size  # ``size`` before the last append

    def close(self) -> None:
        """Close the file (what it holds stays for the next start)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def read(self) -> list[Record]:
        """The records of the file's epoch (those after a torn or stale one are not)."""
        data = os.pread(self.fd, os.fstat(self.fd).st_size, 0)
        magic, self.epoch = _HEADER.unpack_from(data) if len(data) >= _HEADER.size else (b"", 0)
        if magic != MAGIC:
            if data[:4].strip(b"\0") and not MAGIC.startswith(data[:4]):
                raise self._not_a_journal(f"it starts with {data[:4]!r}, not {MAGIC!r}")
            self.epoch = 0  # new, or its first write was lost: nothing to replay
        records: list[Record] = []
        at = _HEADER.size
        while at + _FRAME.size <= len(data):
            mark, crc, epoch, size = _FRAME.unpack_from(data, at)
            if mark != RECORD or epoch != self.epoch:
                break  # zeros, or what is left of an earlier epoch
            end = at + _FRAME.size + size
            if zlib.crc32(data[at + 8 : end]) != crc:
                log.warning("%s: ignored a torn last record (never answered)", self.path)
                break
            try:
                records.append(Record.unpack(data[at + _FRAME.size : end]))
            except (ValueError, struct.error) as exc:
                why = f"record {len(records) + 1} is malformed: {exc}"
                raise self._not_a_journal(why) from None
            at = end
        self.size = self._before_last = at
        self.records = len(records)
        return records

    def _not_a_journal(self, why: str) -> NotAJournal:
        return NotAJournal(
            f"{self.path} is not a snapshot service journal ({why}); "
            "move it out of the store (or delete it if it holds nothing of value) and start again"
        )

    def preallocate(self) -> None:
        """Write zeros up to ``JOURNAL_BYTES``, so that records overwrite blocks the file has."""
        have = os.fstat(self.fd).st_size
        if have < JOURNAL_BYTES:
            _pwrite_all(self.fd, bytes(JOURNAL_BYTES - have), have)

    def append(self, record: Record) -> None:
        """Add a record after the last one (not yet durable: see ``sync``)."""
        data = record.pack(self.epoch)
        _pwrite_all(self.fd, data, self.size)
        self._before_last = self.size
        self.size += len(data)
        self.records += 1

    def sync(self) -> None:
        """Make what was appended durable."""
        os.fdatasync(self.fd)

    def drop_last(self) -> None:
        """Remove the last record appended: its commit failed, recovery must not redo it."""
        self.size = self._before_last  # the next record goes there, even if what follows fails
        self.records -= 1
        _pwrite_all(self.fd, bytes(4), self.size)  # no RECORD mark, no record
        os.fdatasync(self.fd)

    def due(self) -> bool:
        """True when the file is long enough for a checkpoint."""
        return self.records >= JOURNAL_RECORDS or self.size >= JOURNAL_BYTES

    def reset(self, epoch: int) -> None:
        """Start ``epoch``, empty (its records must be durable without the journal by now)."""
        _pwrite_all(self.fd, _HEADER.pack(MAGIC, epoch), 0)
        os.fdatasync(self.fd)
        self.epoch = epoch
        self.size = self._before_last = _HEADER.size
        self.records = 0


class Journal:
    """The two journal files of one store; commits append to ``active``.

    The request loop appends and switches; the file ``switch`` returned is the store's
    thread's (``upkeep``) until its ``checkpoint_file`` is done, and the loop waits for that
    before it switches again.
    """

    def __init__(self, folder: Path) -> None:
        self.files: list[JournalFile] = []
        try:
            for name in JOURNAL_FILES:
                self.files.append(JournalFile(folder / name))
        except BaseException:
            self.close()
            raise
        self.active = self.files[0]

    @property
    def standby(self) -> JournalFile:
        """The file not appended to: reset, or full and waiting for its checkpoint."""
        return self.files[self.active is self.files[0]]

    @property
    def records(self) -> int:
        """Records not yet checkpointed, in both files."""
        return sum(file.records for file in self.files)

    def close(self) -> None:
        """Close both files."""
        for file in self.files:
            file.close()

    def read(self) -> list[Record]:
        """Every record to redo, in commit order: the older epoch's file first."""
        batches = sorted(((file, file.read()) for file in self.files), key=lambda b: b[0].epoch)
        return [record for _, records in batches for record in records]

    def preallocate(self) -> None:
        """Zeros up to ``JOURNAL_BYTES`` in both files."""
        for file in self.files:
            file.preallocate()

    def append(self, record: Record) -> None:
        """Add a record to the active file (not yet durable: see ``sync``)."""
        self.active.append(record)

    def sync(self) -> None:
        """Make what was appended durable."""
        self.active.sync()

    def drop_last(self) -> None:
        """Remove the last record appended (its commit failed)."""
        self.active.drop_last()

    def due(self) -> bool:
        """True when the active file is long enough to switch to the other one."""
        return self.active.due()

    def switch(self) -> JournalFile:
        """Append to the other file from now on (it must be reset); returns the full one."""
        full = self.active
        if self.standby.records:
            raise RuntimeError(f"{self.standby.path} still holds records: wait for its checkpoint")
        self.active = self.standby
        return full

    @staticmethod
    def checkpoint_file(file: JournalFile) -> None:
        """Make every write so far durable (one syncfs), then empty ``file`` for its next turn."""
        sync_filesystem(file.fd)
        file.reset(file.epoch + 2)

    def checkpoint(self) -> None:
        """Make every write so far durable, then empty both files; A is active after."""
        sync_filesystem(self.active.fd)
        top = max(file.epoch for file in self.files)
        self.active = self.files[0]
        self.active.reset(top + 1)
        self.standby.reset(top + 2)


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        done = os.pwrite(fd, view, offset)
        view, offset = view[done:], offset + done
