"""Chaos: the whole mesh under run_all, its services killed at random while pulls flow.

For about half a minute a service is SIGKILLed every 0.4–1.2 s while raw commits are
PUT; then the kills stop. Every answered PUT must be in the store, ``git fsck --full``
clean, and the latest plan must come from the latest raw commit: run_all brought every
service back, however often it died, and each caught up by itself.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

from mesh.errors import QPlanError
from tests.browser.mesh import MeshUnderTest
from tests.support import ROOT, store_client, wait_for

KILL_FOR = 25.0  # seconds of kills
SERVICES = ("snapshot_service", "condition_service", "qplan_service", "forecast_service", "web")


def _raw_variants() -> list[dict[str, str]]:
    """Two versions of the sample's raw sheets that plan differently."""
    import pull_raw

    source = pull_raw.resolve_source(str(ROOT / "data" / "sample" / "plan"))
    first = pull_raw.raw_files(pull_raw.read_sheets(source))
    second = dict(first)
    lines = second["work.tsv"].split("\n")
    lines[1] = lines[1].replace("\t", "\tchaos ", 1)
    second["work.tsv"] = "\n".join(lines)
    return [first, second]


def _children(mesh: MeshUnderTest) -> dict[str, int]:
    """The pid of every running service, from run_all's own heartbeat on the dashboard."""
    status, health = mesh.call("/api/health")
    if status != 200:
        return {}
    return {
        row["component"]: row["pid"]
        for row in health["components"]
        if row["component"] in SERVICES and isinstance(row.get("pid"), int)
    }


def test_the_mesh_survives_random_kills_and_catches_up(tmp_path: Path) -> None:
    settings = {"backoff_initial": "0.2", "backoff_max": "1", "give_up_after": "3"}
    mesh = MeshUnderTest(tmp_path, settings)
    mesh.start()
    variants = _raw_variants()
    answered: list[str] = []
    stop = threading.Event()

    def pulls() -> None:
        with store_client(mesh.config_path, timeout=2.0, retries=1) as store:
            n = 0
            while not stop.is_set():
                files = {**variants[n % 2], "notes.tsv": f"pull\t{n}\n"}
                # A store that is down does not answer: that pull is simply not counted.
                with contextlib.suppress(QPlanError):
                    answered.append(store.put("raw", files, source="chaos")["commit"])
                n += 1
                time.sleep(0.3)

    rng = random.Random(20261128)
    killed = 0
    writer = threading.Thread(target=pulls)
    try:
        wait_for(lambda: len(_children(mesh)) == len(SERVICES), 60, 0.2, "every service")
        writer.start()
        end = time.monotonic() + KILL_FOR
        while time.monotonic() < end:
            children = _children(mesh)
            if children:
                name = rng.choice(sorted(children))
                try:
                    os.kill(children[name], signal.SIGKILL)
                    killed += 1
                except ProcessLookupError:
                    pass
            time.sleep(rng.uniform(0.4, 1.2))
        stop.set()
        writer.join(30)
        assert killed >= 10 and len(answered) >= 10, (killed, len(answered))
        last = answered[-1]
        mesh.plan_for(last, timeout=60)  # the plan of the latest raw: everyone caught up
        store = mesh.config.path("snapshot_service", "store")
        for sha in answered:
            check = subprocess.run(["git", "-C", str(store), "cat-file", "-e", sha])
            assert check.returncode == 0, f"answered raw@{sha} is not in the store"
        fsck = subprocess.run(
            ["git", "-C", str(store), "fsck", "--full"], capture_output=True, text=True
        )
        assert fsck.returncode == 0 and "missing" not in fsck.stdout + fsck.stderr, fsck
    finally:
        stop.set()
        if writer.is_alive():
            writer.join(30)
        mesh.stop()
