"""Packing the store's loose objects while it is idle, in a git process of its own.

Every commit the service writes is a handful of loose objects (one file each). Left alone,
100,000 commits are half a million files. Once the store holds more than
``[snapshot_service] pack_after`` loose objects (counted, not estimated as ``git gc --auto``
does from one folder), the service packs them with ``git repack -d``: reachable loose
objects go into one new pack, then their loose copies are removed. When more than
``PACK_LIMIT`` packs have piled up, ``git repack -a -d`` makes them one. It runs:

- only after ``IDLE_FOR`` seconds without a request, and at most once per ``EVERY``
  seconds, so that a burst of pulls never meets it (less often, up to once an hour, while
  repacks fail or leave more than ``pack_after`` loose objects that no ref reaches);
- as a separate process at the lowest CPU priority (nice 19), awaited without blocking the
  request loop: a request that comes while it runs is answered at once. git is made for a
  writer beside a repack: objects are packed before their loose copies go, an object no
  ref reaches yet (a commit being placed) stays loose, and refs are never touched (the
  service moves its branch by its ref file);
- killed if the service stops meanwhile.

A failed run is a warning (a full disk, say): the store works on with loose objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from pathlib import Path

__all__ = ["Packer", "IDLE_FOR", "EVERY", "PACK_LIMIT", "loose_objects"]

log = logging.getLogger(__name__)

IDLE_FOR = 2.0  # seconds without a request before packing may start
EVERY = 30.0  # seconds between two repacks
LONGEST = 3600.0  # the wait doubles up to this while repacks leave too many loose objects
PACK_LIMIT = 20  # packs after which a repack makes them one
NICE = 19


def loose_objects(objects: Path) -> int:
    """How many loose objects the store holds (the files in objects/00 … objects/ff)."""
    count = 0
    with contextlib.suppress(OSError), os.scandir(objects) as folders:
        for folder in folders:
            if len(folder.name) == 2 and folder.is_dir():
                count += sum(1 for _ in os.scandir(folder.path))
    return count


class Packer:
    """Repacks one store when it is idle (see the module docstring)."""

    def __init__(self, git_dir: Path, pack_after: int) -> None:
        self.git_dir = git_dir
        self.pack_after = pack_after
        self._last: float | None = None
        self._wait = EVERY
        self._process: asyncio.subprocess.Process | None = None

    def due(self, now: float, idle_for: float) -> bool:
        """True when the store was idle long enough and the last run was long enough ago."""
        if self._process is not None or idle_for < IDLE_FOR:
            return False
        return self._last is None or now - self._last >= self._wait

    def command(self) -> list[str]:
        """The repack to run now: the loose objects into a pack, or every pack into one."""
        packs = len(list((self.git_dir / "objects" / "pack").glob("pack-*.pack")))
        everything = ["-a"] if packs >= PACK_LIMIT else []
        git = shutil.which("git") or "git"
        niced = ["nice", "-n", str(NICE), git, "--git-dir", str(self.git_dir)]
        return [*niced, "repack", *everything, "-d", "--quiet"]

    async def run(self, now: float) -> bool:
        """One repack when there are more than ``pack_after`` loose objects; True if it ran."""
        self._last = now
        before = loose_objects(self.git_dir / "objects")
        if before <= self.pack_after:
            return False
        try:
            self._process = await asyncio.create_subprocess_exec(
                *self.command(), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
            )
        except OSError as exc:
            log.warning("cannot start git repack: %s", exc)
            return False
        try:
            _, err = await self._process.communicate()
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            await self._process.wait()
            raise
        finally:
            code = self._process.returncode
            self._process = None
        if code != 0:
            text = err.decode("utf-8", "replace").strip().splitlines()
            log.warning("git repack failed (%s): %s", code, text[-1] if text else "no output")
            self._wait = min(self._wait * 2, LONGEST)
            return False
        after = loose_objects(self.git_dir / "objects")
        log.info("packed the store while idle: %d loose objects before, %d after", before, after)
        # Objects no ref reaches stay loose: when they alone are over the mark, try less often.
        self._wait = EVERY if after <= self.pack_after else min(self._wait * 2, LONGEST)
        return after < before
