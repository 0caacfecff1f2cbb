"""A full disk, for real: the store on a small tmpfs, filled to the last byte, then freed.

A PUT on the full disk gets ERR ``no_space`` and one log line (no traceback); every answered
PUT before it is still there; as soon as space frees, the next PUT works without a restart,
and ``git fsck --full`` is clean. Needs root (``mount``); skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mesh.errors import RemoteError
from tests.support import Proc, service_args, store_client, wait_for_store, write_config

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("mount") is None, reason="needs root to mount a tmpfs"
)


@pytest.fixture
def small_disk(tmp_path: Path):
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk is full; it."""
    filler = disk / "filler"
    block = b"\0" * (1 << 16)
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(block)
                out.flush()
        except OSError:
            pass
    # The last bytes too, one at a time.
    with open(disk / "crumbs", "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 512)
        except OSError:
            pass
    return filler


def test_a_full_disk_is_refused_in_one_line_and_the_store_works_once_space_frees(
    small_disk: Path, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path, {"snapshot_service": {"store": str(small_disk / "store"), "max_payload": "4MiB"}}
    )
    proc = Proc(service_args("snapshot_service", config), tmp_path / "store.out")
    try:
        wait_for_store(config)
        with store_client(config, timeout=10, retries=0) as store:
            kept = [store.put("raw", {"work.tsv": f"before {n}\n"})["commit"] for n in range(5)]
            fill(small_disk)
            refused = 0
            for _ in range(3):
                # Random bytes do not compress: each PUT needs real room for its blob.
                with pytest.raises(RemoteError) as caught:
                    store.put("raw", {"work.tsv": os.urandom(1 << 20).hex()[: 3 << 20]})
                assert caught.value.code == "no_space", caught.value
                assert "no space left" in str(caught.value)
                refused += 1
            assert store.get("raw").commit == kept[-1]
            for name in ("filler", "crumbs"):
                (small_disk / name).unlink()
            after = store.put("raw", {"work.tsv": "after the disk freed\n"})
            assert after["changed"]
            assert store.get("raw").text("work.tsv") == "after the disk freed\n"
            assert [store.get("raw", sha).commit for sha in kept] == kept
        output = proc.output()
        assert "Traceback" not in output
        assert output.count("no space left") == refused  # one line per refused PUT
        fsck = subprocess.run(
            ["git", "-C", str(small_disk / "store"), "fsck", "--full"],
            capture_output=True,
            text=True,
        )
        assert fsck.returncode == 0, fsck.stderr
    finally:
        proc.stop()
