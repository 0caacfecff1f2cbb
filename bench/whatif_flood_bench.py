"""What-if flood: does the shared plan wait behind what-ifs? (issue 9)

Real processes: snapshot_service, condition_service and qplan_service on a
temp config (random ports, store in a temp folder). Two variants of the
sample workbook's raw sheets are PUT alternately; for each, the time from
the PUT's answer to the plan commit made from it (via the conditioned commit
made from that raw) is measured, first with no what-ifs, then while
``--whatifs`` (20) clients each keep one worst-case what-if in flight (as
many edits as ``whatif_max_edits`` allows, adding ``whatif_max_people``
people). It prints p50/max of both and their ratio (aim: flood / quiet ≤ 1.5).

``.venv/bin/python bench/whatif_flood_bench.py [--pulls 10] [--whatifs 20]``.
It prints figures and never fails on time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import zmq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from e2e_bench import variants  # noqa: E402

from harness import (  # noqa: E402
    Proc,
    service_args,
    store_client,
    tools_curve,
    wait_for,
    write_config,
)
from mesh.config import Config  # noqa: E402
from mesh.protocol import Message  # noqa: E402
from mesh.snapshot import SnapshotClient  # noqa: E402


def worst_edits(plan: dict, config: Config) -> list[dict]:
    """The costliest what-if the budget lets through on this plan."""
    max_edits = config.integer("qplan_service", "whatif_max_edits")
    max_people = config.integer("qplan_service", "whatif_max_people")
    track = next(t for t in plan["tracks"] if t != "All")
    skill = plan["skills"][0]
    adds = []
    left = max_people
    while left > 0 and len(adds) < max_edits:
        count = min(left, 1000)
        adds.append({"op": "add_people", "skill": skill, "track": track, "count": count})
        left -= count
    items = [str(w["id"]) for w in plan["by_track"]["All"]["work"]]
    ranks = [
        {"op": "set_rank", "item": items[n % len(items)], "rank": n + 1}
        for n in range(max_edits - len(adds))
    ]
    return adds + ranks


class Flood:
    """``count`` DEALERs, each keeping one what-if in flight until stopped."""

    def __init__(self, config: Config, edits: list[dict], count: int) -> None:
        self.endpoint = config.endpoint("qplan_service", "request_endpoint")
        self.curve = tools_curve(config.file, "qplan_service")
        self.edits, self.count = edits, count
        self.stop = threading.Event()
        self.answers: dict[str, int] = {}
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        context = zmq.Context.instance()
        sockets = []
        request = Message("WHATIF", {"base": None, "edits": self.edits}).frames()
        for _ in range(self.count):
            sock = context.socket(zmq.DEALER)
            sock.linger = 0
            if self.curve is not None:
                self.curve.apply(sock)
            sock.connect(self.endpoint)
            sock.send_multipart([b"", *request])
            sockets.append(sock)
        poller = zmq.Poller()
        for sock in sockets:
            poller.register(sock, zmq.POLLIN)
        while not self.stop.is_set():
            for sock, _ in poller.poll(100):
                frames = sock.recv_multipart()
                _, reply = Message.from_frames(frames[1:])
                key = reply.kind if reply.kind == "OK" else reply.header.get("code", "ERR")
                self.answers[key] = self.answers.get(key, 0) + 1
                if key == "busy":
                    time.sleep(0.05)
                sock.send_multipart([b"", *request])
        for sock in sockets:
            sock.close(linger=0)


def time_pulls(store: SnapshotClient, files: list[dict], pulls: int) -> list[float]:
    """Seconds from each raw PUT's answer to the plan made from it."""
    times = []
    for n in range(pulls):
        raw = store.put("raw", files[n % 2], source="whatif_flood_bench")["commit"]
        t0 = time.perf_counter()
        found: dict[str, str] = {}

        def conditioned_ready(raw=raw, found=found) -> bool:
            latest = store.latest("conditioned")
            if latest.source == f"raw@{raw}":
                found["c"] = latest.commit
                return True
            return False

        wait_for(conditioned_ready, 120, interval=0.005, what="conditioned")
        wait_for(
            lambda found=found: store.latest("plan").source == f"conditioned@{found['c']}",
            120,
            interval=0.005,
            what="plan",
        )
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pulls", type=int, default=10)
    parser.add_argument("--whatifs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="whatif-flood-") as tmp:
        folder = Path(tmp)
        path = write_config(folder, {"mesh": {"request_timeout": "10", "log_level": "WARNING"}})
        config = Config(path)
        procs = [
            Proc(service_args(name, path), folder / f"{name}.out")
            for name in ("snapshot_service", "condition_service", "qplan_service")
        ]
        store = store_client(path, timeout=10, retries=3)
        try:
            files = variants()
            time_pulls(store, files, 2)  # warm up: every service has planned once
            plan = json.loads(store.get("plan").text("plan.json"))
            edits = worst_edits(plan, config)
            quiet = time_pulls(store, files, args.pulls)
            flood = Flood(config, edits, args.whatifs)
            flood.thread.start()
            time.sleep(1.0)  # the flood is on
            busy = time_pulls(store, files, args.pulls)
            flood.stop.set()
            flood.thread.join(10)
        finally:
            store.close()
            for proc in reversed(procs):
                proc.stop()
    q50, f50 = statistics.median(quiet), statistics.median(busy)
    print(f"worst-case what-if: {len(edits)} edits, {args.whatifs} in flight at once")
    print(f"what-if answers during the flood: {flood.answers}")
    print(f"raw -> plan, no what-ifs:   p50 {q50 * 1000:7.1f} ms  max {max(quiet) * 1000:7.1f} ms")
    print(f"raw -> plan, what-if flood: p50 {f50 * 1000:7.1f} ms  max {max(busy) * 1000:7.1f} ms")
    print(f"ratio flood/quiet (p50): {f50 / q50:.2f}  (aim <= 1.5)")


if __name__ == "__main__":
    main()
