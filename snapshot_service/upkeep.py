"""The store's file work off the request path: spare files made, old refs freed, checkpoints.

One thread beside the request loop, rather than a coroutine: making a file, freeing one and
``syncfs`` are blocking system calls that release the GIL, so the thread runs them on the
machine's other core while the loop serves (a coroutine would run them on the loop's own
thread, in the requests' way). It wakes when a commit leaves fewer than half the spare files
(``poke``), when a full journal file is handed over (``checkpoint``), when the service is
idle (``poke(idle=True)``) and once at start, and then works until the pool is full and every
old ref is freed, a handed-over checkpoint first.

The thread runs at the lowest priority (``NICE``): when the CPU is short it waits, and commits
make their own files again once the pool is empty.

Without the thread (``background=False``) ``checkpoint`` runs inline and spare files are made
only when asked (``Spares.prepare``): what most tests use, one thing happening at a time.
"""

from __future__ import annotations

import logging
import os
import threading

from snapshot_service.disk import Spares
from snapshot_service.journal import Journal, JournalFile

__all__ = ["Upkeep"]

log = logging.getLogger(__name__)

NICE = 19  # the thread's priority (Linux nice): the request loop and its clients come first


class Upkeep:
    """The thread that keeps a store's spare files ready and checkpoints its full journals."""

    def __init__(self, spares: Spares, background: bool) -> None:
        self.spares = spares
        self.error: BaseException | None = None  # what a background checkpoint failed with
        self._changed = threading.Condition()
        self._full: JournalFile | None = None  # handed over, not yet checkpointed
        self._woken = background  # the pool is filled first
        self._closing = False
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._run, name="store-upkeep", daemon=True)
            self._thread.start()

    @property
    def busy(self) -> bool:
        """True while a checkpoint handed over runs."""
        return self._full is not None

    def poke(self, idle: bool = False) -> None:
        """Wake the thread when the spare files are low, or whenever the service is ``idle``."""
        if self._thread is not None and (idle or self.spares.low):
            with self._changed:
                self._woken = True
                self._changed.notify()

    def checkpoint(self, full: JournalFile) -> None:
        """Checkpoint ``full``, which ``Journal.switch`` returned, in the background."""
        if self._thread is None:
            self._checkpoint(full)
            self.check()
            return
        with self._changed:
            self._full = full
            self._changed.notify()

    def wait(self) -> None:
        """Return once no checkpoint is pending; raise what a failed one raised."""
        with self._changed:
            while self._full is not None:
                self._changed.wait()
        self.check()

    def check(self) -> None:
        """Raise what a background checkpoint failed with: its records wait for the next start."""
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Stop the thread, after the checkpoint it was handed."""
        if self._thread is None:
            return
        with self._changed:
            self._closing = True
            self._changed.notify()
        self._thread.join()
        self._thread = None

    def _run(self) -> None:
        try:
            # Making a file can cost 200 us of kernel time here (see disk.Spares): on two cores
            # that time is better taken from idle moments than from the commit being answered.
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
        except OSError as exc:
            log.debug("store thread keeps its priority: %s", exc)
        failing = False
        while True:
            with self._changed:
                while not (self._woken or self._full or self._closing):
                    self._changed.wait()
                full = self._full
                if full is None and self._closing:
                    return
                if full is None:
                    self._woken = False  # a wake-up during a checkpoint waits for its turn
            if full is not None:
                self._checkpoint(full)
                continue
            try:
                # One file at a time: a checkpoint handed over, or closing, goes first.
                while self._full is None and not self._closing and self.spares.prepare(1):
                    pass
            except OSError as exc:
                # Commits then make their files themselves, more slowly: worth a line, once.
                if not failing:
                    log.warning("cannot prepare spare files for commits: %s", exc)
                failing = True
            else:
                failing = False

    def _checkpoint(self, full: JournalFile) -> None:
        try:
            Journal.checkpoint_file(full)
        except BaseException as exc:  # noqa: BLE001 - handed to the request loop, which stops
            log.error("checkpoint of %s failed: %s", full.path, exc)
            self.error = exc
        with self._changed:
            self._full = None
            self._changed.notify_all()
