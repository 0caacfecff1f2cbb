"""The store's one durability seam: how a commit reaches the disk, and stays there.

``GitStore`` hands every commit to ``Durability.record`` — the one call per commit —
with the transaction that wrote its objects. What happens then is this module's:

- not durable: the objects are placed and the branch moved at once, nothing synced;
- durable, ``place_now``: the same, after the commit is in the fdatasync'ed write-ahead
  journal (``journal``, ``disk``);
- durable, not ``place_now`` (the service, answering a PUT): the commit is only journaled
  (it survives a power cut: the next start redoes it) and *pending*; ``settle`` places
  its files and moves the branch. The service calls ``after_request`` once per request,
  right after sending the answer: it settles the pending commit and, when the journal
  file is long, hands it to be checkpointed (one syncfs, then emptied).

``idle`` checkpoints what the journal holds and lets the ``upkeep`` thread make spare
files; ``checkpoint`` does both journal files at once (at close, and before building on
a branch that a git command moved). Nothing else in the store syncs, journals or
checkpoints. Until a pending commit is placed, every other call places it first (and
fails with it): the store never reads or builds on a state the disk does not have.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mesh.checks import ErrorCode
from snapshot_service.disk import Transaction
from snapshot_service.repository import Repository, StoreError
from snapshot_service.upkeep import Upkeep

__all__ = ["Durability", "Pending"]

log = logging.getLogger(__name__)


@dataclass
class Pending:
    """A recorded commit and what the store learns once it is in place."""

    txn: Transaction | None  # None: placed already
    commit: str
    payload: Any  # the store's own record of the commit (index entries), given back placed


class Durability:
    """The journal, the spare files and the checkpoints of one repository."""

    def __init__(
        self,
        repository: Repository,
        durable: bool,
        background: bool,
        placed: Callable[[Any], None],
    ) -> None:
        """``placed(payload)`` is called once a recorded commit is in place."""
        self.repository = repository
        self.journal = repository.journal if durable else None
        self.upkeep = Upkeep(repository.spares, background)
        self._placed = placed
        self._pending: Pending | None = None

    @property
    def durable(self) -> bool:
        return self.journal is not None

    def transaction(self) -> Transaction:
        """A transaction writing into this repository's spare files (and journal)."""
        return Transaction(self.repository.objects, self.repository.spares, self.journal)

    def record(self, txn: Transaction, old: str | None, new: str, payload: Any, place_now: bool):
        """Make commit ``new`` (its objects in ``txn``) durable: the one call per commit.

        ``place_now`` False (durable mode only): journal it and leave it pending for
        ``settle``; otherwise put it in place before returning.
        """
        repo = self.repository
        if place_now or self.journal is None:
            txn.finish(repo.ref, repo.ref_name, old, new)
            self._pending = Pending(None, new, payload)
            self.settle()
        else:
            txn.write_ahead(repo.ref, repo.ref_name, old, new)
            self._pending = Pending(txn, new, payload)

    def settle(self) -> None:
        """Put the pending commit's files in place and move the branch (no-op without one)."""
        pending = self._pending
        if pending is None:
            return
        if pending.txn is not None:
            try:
                pending.txn.place()
            except BaseException as exc:
                raise StoreError(
                    f"commit {pending.commit} is in the journal but could not be put in place "
                    f"({exc}); the next call tries again, and the next start redoes it",
                    ErrorCode.INTERNAL,
                ) from exc
        self._pending = None
        self._placed(pending.payload)
        self.upkeep.poke()

    def after_request(self) -> bool:
        """What follows each answer: the pending commit placed, a long journal checkpointed.

        True when a checkpoint was started.
        """
        self.settle()
        return self._checkpoint_if_due(idle=False)

    def idle(self) -> bool:
        """Checkpoint what the journal holds and top up spare files; True if one was started."""
        self.settle()
        return self._checkpoint_if_due(idle=True)

    def _checkpoint_if_due(self, idle: bool) -> bool:
        """Switch journal files and have the full one checkpointed when it is due, or ``idle``.

        Raises what a background checkpoint failed with: the service stops, and its next
        start redoes the records.
        """
        upkeep = self.upkeep
        upkeep.check()
        if idle:
            upkeep.poke(idle=True)
        journal = self.journal
        if journal is None or not journal.active.records or not (idle or journal.due()):
            return False
        if idle and upkeep.busy:
            return False  # the last one still runs: the next idle moment will do
        upkeep.wait()  # both files full: the commit waits (correctness first)
        upkeep.checkpoint(journal.switch())
        return True

    def checkpoint(self) -> None:
        """Make every commit durable without the journal (one syncfs), then empty the journal."""
        if self.journal is None:
            return
        self.settle()  # never empty the journal of a commit not yet in place
        self.upkeep.wait()
        started = time.perf_counter()
        records = self.journal.records
        self.journal.checkpoint()
        took = 1e3 * (time.perf_counter() - started)
        log.debug("checkpoint: %d commits synced in %.1f ms", records, took)

    def prepare_files(self, count: int) -> int:
        """Make or free up to ``count`` files for commits (``disk.Spares``); how many remain."""
        return self.repository.spares.prepare(count)

    def close(self) -> None:
        """Settle, stop the thread, checkpoint what the journal holds."""
        try:
            self.settle()
            self.upkeep.close()
            if self.journal is not None and self.journal.records:
                self.checkpoint()
        finally:
            self.upkeep.close()
            self.journal = None
