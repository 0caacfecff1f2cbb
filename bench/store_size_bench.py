"""LOG, GET and DIFF on a store of 100 commits and on one of 100,000: the same speed?

Two stores are built the way the service leaves them once its idle packing has run
(one pack, made by ``git repack -a -d -f``): a history of pulls, each three commits —
``raw`` (a sheet with one line changed), ``conditioned`` (``Source: raw@…``) and
``plan`` (``Source: conditioned@…``), with the service's trailers (Dataset, Source,
Producer, Sequence). The commits are hashed here, so that each ``Source`` names its real
upstream SHA, and written with ``git fast-import`` (the SHAs it makes are checked
against ours).

A real ``python -m snapshot_service`` then serves each store, and one client times, per
store, ``--requests`` of each of: LOG plan (50 entries, each with its lineage), GET plan
(latest), GET plan 30 versions back (by SHA), DIFF raw between the latest and 10 versions
back. Printed: the p50 of each on both stores and their ratio (aim: within 2×), and the
service's start-up time. It never fails on time::

    .venv/bin/python bench/store_size_bench.py [--small 100] [--large 100000] [--requests 200]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import Proc, service_args, store_client, wait_for, write_config  # noqa: E402

DATASETS = ("raw", "conditioned", "plan")
FILES = {"raw": "work.tsv", "conditioned": "streams.txt", "plan": "plan.json"}
WHEN = 1_790_000_000  # commit times: one a minute from here
AIM = 2.0


def _hash(kind: bytes, data: bytes) -> bytes:
    return hashlib.sha1(kind + b" %d\0" % len(data) + data, usedforsecurity=False).digest()


def content(dataset: str, pull: int) -> bytes:
    """A file of about 1.5 KB whose content changes a little with every pull."""
    rows = [f"Item {n}\tTrack{n % 5}\tWeb:{(n * 7 + pull) % 11}" for n in range(60)]
    rows[pull % 60] = f"Item {pull % 60}\tTrack0\tWeb:{pull}"
    return (f"# {dataset} of pull {pull}\n" + "\n".join(rows) + "\n").encode()


class History:
    """Commits hashed as git would, and the fast-import stream that writes them (each on
    the branch's tip, so its parent is the commit before)."""

    def __init__(self) -> None:
        self.trees: dict[str, bytes] = {}  # dataset -> its folder's tree (binary SHA)
        self.head: str | None = None
        self.seq = 0
        self.stream: list[bytes] = []

    def commit(self, dataset: str, data: bytes, source: str) -> str:
        name = FILES[dataset].encode()
        self.trees[dataset] = _hash(b"tree", b"100644 " + name + b"\0" + _hash(b"blob", data))
        entries = b"".join(
            b"40000 " + folder.encode() + b"\0" + self.trees[folder]
            for folder in sorted(self.trees)
        )
        root = _hash(b"tree", entries).hex()
        self.seq += 1
        trailers = f"Dataset: {dataset}\n" + (f"Source: {source}\n" if source else "")
        trailers += f"Producer: bench\nSequence: {self.seq}\n"
        message = f"Update {dataset}\n\n{trailers}".encode()
        person = b"bench <bench@qplan.local> %d +0000" % (WHEN + 60 * self.seq)
        head = b"tree " + root.encode() + b"\n"
        if self.head:
            head += b"parent " + self.head.encode() + b"\n"
        body = head + b"author " + person + b"\ncommitter " + person + b"\n\n" + message
        sha = _hash(b"commit", body).hex()
        path = f"{dataset}/{FILES[dataset]}".encode()
        self.stream += [
            b"commit refs/heads/main\n",
            b"author " + person + b"\ncommitter " + person + b"\n",
            b"data %d\n" % len(message) + message + b"\n",
            b"M 100644 inline " + path + b"\n",
            b"data %d\n" % len(data) + data + b"\n",
        ]
        self.head = sha
        return sha


def build(store: Path, commits: int) -> tuple[float, str]:
    """A store of ``commits`` commits (one pack); (seconds, head SHA)."""
    started = time.perf_counter()
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(store)], check=True)
    history = History()
    pull = 0
    while history.seq < commits:
        raw = history.commit("raw", content("raw", pull), "/bench/plan.xlsx")
        if history.seq < commits:
            cond = history.commit("conditioned", content("conditioned", pull), f"raw@{raw}")
            if history.seq < commits:
                history.commit("plan", content("plan", pull), f"conditioned@{cond}")
        pull += 1
    subprocess.run(
        ["git", "--git-dir", str(store), "fast-import", "--quiet"],
        input=b"".join(history.stream),
        check=True,
    )
    made = subprocess.run(
        ["git", "--git-dir", str(store), "rev-parse", "main"], capture_output=True, text=True
    ).stdout.strip()
    assert made == history.head, f"fast-import made {made}, we hashed {history.head}"
    # Packed as the service's own idle repack leaves a store (git's deltas, not fast-import's).
    subprocess.run(["git", "--git-dir", str(store), "repack", "-a", "-d", "-f", "-q"], check=True)
    return time.perf_counter() - started, made


def p50_ms(call, requests: int) -> float:
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def measure(folder: Path, store: Path, requests: int) -> tuple[float, dict[str, float]]:
    """(start-up seconds, p50 ms per request kind) of a service on ``store``."""
    config = write_config(
        folder, {"snapshot_service": {"store": str(store)}, "mesh": {"log_level": "WARNING"}}
    )
    started = time.perf_counter()
    proc = Proc(service_args("snapshot_service", config), folder / "service.out")
    try:
        with store_client(config, timeout=60, retries=0) as client:
            wait_for(lambda: client.latest("plan").commit, 120, 0.05, "the snapshot service")
            startup = time.perf_counter() - started
            plans = client.log("plan", 50)
            raws = client.log("raw", 11)
            old_plan = plans[min(30, len(plans) - 1)]["commit"]
            calls = {
                "LOG plan, 50 entries": lambda: client.log("plan", 50),
                "GET plan, latest": lambda: client.get("plan"),
                "GET plan, 30 back": lambda: client.get("plan", old_plan),
                "DIFF raw, latest vs 10 back": lambda: client.diff(
                    "raw", raws[-1]["commit"], raws[0]["commit"]
                ),
            }
            for call in calls.values():  # warm: each path read once
                call()
            return startup, {name: p50_ms(call, requests) for name, call in calls.items()}
    finally:
        proc.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="store_size_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100, help="commits in the small store")
    parser.add_argument("--large", type=int, default=100_000, help="commits in the large store")
    parser.add_argument("--requests", type=int, default=200, help="requests of each kind")
    args = parser.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory(prefix="store_size_bench-") as tmp:
        for label, commits in (("small", args.small), ("large", args.large)):
            folder = Path(tmp) / label
            folder.mkdir()
            seconds, _ = build(folder / "store", commits)
            print(f"built a store of {commits:,} commits in {seconds:.1f} s", flush=True)
            results[label] = measure(folder, folder / "store", args.requests)
    (small_start, small), (large_start, large) = results["small"], results["large"]
    print(f"p50 of {args.requests} requests each, ms:")
    print(f"  {'':<30}{args.small:>12,}{args.large:>12,}   ratio (aim <= {AIM:.0f}x)")
    for name in small:
        ratio = large[name] / small[name]
        print(f"  {name:<30}{small[name]:>12.2f}{large[name]:>12.2f}   {ratio:.2f}x")
    print(f"  {'start-up (s)':<30}{small_start:>12.2f}{large_start:>12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
