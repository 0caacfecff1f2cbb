"""End to end: from a raw commit to the plan built from it in the browsers' websockets.

The whole mesh runs as real processes (run_all with a temp config, the store
in a temp folder). Two variants of the sample workbook's raw sheets are PUT
alternately as dataset ``raw`` through ``mesh.snapshot.SnapshotClient``;
t0 is the moment the PUT is answered. For each pull the bench measures when
websocket clients hold the plan whose ``lineage.raw`` is that commit: with
one client, and with ``--clients`` (1,000) connected, where the figure is the
time until the LAST of them has it.

A client holds a message when its bytes reach the client's socket: the
kernel's receive time, not the moment this one process, reading 1,000
sockets on the mesh's own cores, gets round to it (that time is shown too,
as "read here"); the clients' loop looks at its sockets every millisecond
rather than sleeping on them, so that the server's writes do not pay for
waking the bench (``websocket_clients`` says why and how much).

Each pull starts once the one before is over, its forecast made and fanned
out too, as a person's pulls are; ``--back-to-back`` starts it as soon as the
last client has the plan before, while the forecast's work still runs.

In the same run a plain SUB on the store's notifications gives the baseline
(raw commit -> its NOTIFY: the transport floor) and the stage breakdown
(raw NOTIFY -> conditioned NOTIFY -> plan NOTIFY -> websocket), so it is
clear which stage the time goes to.

``.venv/bin/python bench/e2e_bench.py [--pulls 40] [--clients 1000] [--back-to-back]``.
It prints figures and never fails on time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import statistics
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from threading import Event, Thread

import zmq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from websocket_clients import TickingSelector, WsClient, kernel_times_work  # noqa: E402

import pull_raw  # noqa: E402
from harness import (  # noqa: E402
    PYTHON,
    Proc,
    store_client,
    tools_curve,
    wait_for,
    write_config,
)
from mesh.config import Config  # noqa: E402
from mesh.protocol import Message  # noqa: E402
from mesh.snapshot import SnapshotClient  # noqa: E402

SAMPLE = ROOT / "data" / "sample" / "plan.xlsx"
WAIT = 20.0  # seconds a pull may take before it counts as lost
LISTEN_POLL = 100  # ms the SUB thread waits for a NOTIFY before it looks at its stop flag
CONNECT_BATCH = 100  # connections opened at once (the listen backlog is 128)
SETTLE = 5.0  # seconds a pull's forecast may take to reach the clients before the next pull
PAUSE = 0.1  # seconds between a settled pull and the next (a person's pulls are much further apart)
RAW_SHA = re.compile(rb'"lineage":\{[^}]*"raw":"([0-9a-f]{40})"')
FORECAST = re.compile(rb'"forecast":"[0-9a-f]{40}"')  # a notice of the plan with its forecast
AIMS = {"p50_1": 50.0, "p99_1": 150.0, "last_of_many": 250.0, "fan_out_ratio": 1.5}  # ms, ratio


@dataclass
class Watch:
    """When each client (and the SUB) saw the results of each raw commit.

    Arrivals are kept per raw SHA from the moment they happen, because a plan
    can reach a client before the coroutine that sent the PUT has resumed. A
    client's arrival is (kernel arrival time, time this process read it).
    """

    kernel_times: bool = True
    sha: bytes = b""
    clients: int = 0
    arrivals: dict[bytes, dict[int, tuple[float, float]]] = field(default_factory=dict)
    settled: dict[bytes, set[int]] = field(default_factory=dict)
    notes: dict[bytes, dict[str, float]] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    quiet: asyncio.Event = field(default_factory=asyncio.Event)

    def start(self, sha: str, clients: int) -> None:
        """Wait for ``sha`` at ``clients`` clients (forgetting older commits)."""
        self.sha, self.clients = sha.encode(), clients
        self.arrivals = {self.sha: self.arrivals.get(self.sha, {})}
        self.settled = {self.sha: self.settled.get(self.sha, set())}
        self.notes = {self.sha: self.notes.get(self.sha, {})}
        self.done.clear()
        self.quiet.clear()
        if len(self.arrivals[self.sha]) >= clients:
            self.done.set()
        if len(self.settled[self.sha]) >= clients:
            self.quiet.set()

    def seen(self, client: WsClient, payload: bytes, arrived: float, read: float) -> None:
        """A client got a message: note when, per raw SHA of its plan."""
        match = RAW_SHA.search(payload)
        if match is None:
            return
        sha = match.group(1)
        got = self.arrivals.setdefault(sha, {})
        got.setdefault(id(client), (arrived, read))
        if FORECAST.search(payload):
            self.settled.setdefault(sha, set()).add(id(client))
        if sha == self.sha:
            if len(got) >= self.clients:
                self.done.set()
            if len(self.settled[sha]) >= self.clients:
                self.quiet.set()

    def noted(self, dataset: str, raw: str | None, when: float) -> None:
        """The SUB heard a NOTIFY whose lineage is raw commit ``raw`` at ``when``."""
        if raw:
            self.notes.setdefault(raw.encode(), {}).setdefault(dataset, when)

    def times(self) -> tuple[list[float], list[float], dict[str, float]]:
        """Arrival and read times at the clients, sorted, and NOTIFY times, of the awaited SHA."""
        got = self.arrivals.get(self.sha, {}).values()
        arrived = sorted(arrival for arrival, _ in got)
        read = sorted(read for _, read in got)
        return arrived, read, self.notes.get(self.sha, {})


def listen(config: Config, watch: Watch, loop: asyncio.AbstractEventLoop, stop: Event) -> None:
    """A plain SUB on the store's notifications: the baseline and the stage times.

    It runs in a thread of its own, so that each NOTIFY is timed as it arrives rather than
    on the clients' loop tick.
    """
    context = zmq.Context()
    sub = context.socket(zmq.SUB)
    sub.linger = 0
    curve = tools_curve(config.file, "snapshot_service")
    if curve is not None:
        curve.apply(sub)
    sub.connect(config.endpoint("snapshot_service", "publish_endpoint"))
    for topic in (b"raw", b"conditioned", b"plan"):
        sub.subscribe(topic)
    try:
        while not stop.is_set():
            if not sub.poll(LISTEN_POLL):
                continue
            frames = sub.recv_multipart()
            when = time.perf_counter()
            topic, message = Message.from_frames(frames, topic=True)
            head = message.header
            raw = head["commit"] if topic == "raw" else (head.get("lineage") or {}).get("raw")
            loop.call_soon_threadsafe(watch.noted, topic, raw, when)
    finally:
        sub.close(linger=0)
        context.term()


async def connect(host: str, port: int, count: int, watch: Watch) -> list[WsClient]:
    """Open ``count`` websocket clients, a batch at a time."""
    clients: list[WsClient] = []
    while len(clients) < count:
        batch = min(CONNECT_BATCH, count - len(clients))
        made = await asyncio.gather(
            *(WsClient.open(host, port, watch.seen, watch.kernel_times) for _ in range(batch)),
            return_exceptions=True,
        )
        clients += [client for client in made if isinstance(client, WsClient)]
        failed = [error for error in made if isinstance(error, BaseException)]
        if failed:
            for client in clients:
                client.close()
            raise failed[0]
    return clients


# -- the run ----------------------------------------------------------------------------------


def variants() -> list[dict[str, str]]:
    """Two versions of the sample's raw sheets that plan differently."""
    files = pull_raw.raw_files(pull_raw.read_sheets(pull_raw.resolve_source(str(SAMPLE))))
    work = files["work.tsv"].split("\n")
    other = work[:]
    cells = other[3].split("\t")
    cells[2] = cells[2] + " (re-estimated)"
    cells[5:8] = ["20", "20", "20"]
    other[3] = "\t".join(cells)
    return [files, {**files, "work.tsv": "\n".join(other)}]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass
class Phase:
    """The timings of one run of pulls, in milliseconds."""

    clients: int
    first: list[float] = field(default_factory=list)
    last: list[float] = field(default_factory=list)
    last_read: list[float] = field(default_factory=list)  # when this process read the last one
    stages: dict[str, list[float]] = field(default_factory=dict)
    lost: int = 0
    unsettled: int = 0  # pulls whose forecast had not reached every client within SETTLE

    def stage(self, name: str, value: float) -> None:
        self.stages.setdefault(name, []).append(value)


def _put(store: SnapshotClient, files: dict[str, str]) -> tuple[dict, float, float]:
    """PUT raw; the answer, how long the PUT took (ms) and the moment it was answered (t0)."""
    start = time.perf_counter()
    answer = store.put("raw", files, source="e2e_bench")
    t0 = time.perf_counter()
    return answer, (t0 - start) * 1000, t0


async def run_phase(
    store: SnapshotClient, clients: int, pulls: int, watch: Watch, files, settle: bool
) -> Phase:
    """PUT alternating raw variants and time each until every client has its plan.

    With ``settle``, each pull starts once the one before is over: its forecast has reached
    every client too. Otherwise the next pull starts as soon as the last client has the plan,
    while the forecast of the pull before is still being made and fanned out.
    """
    phase = Phase(clients)
    for n in range(pulls):
        answer, put_ms, t0 = await asyncio.to_thread(_put, store, files[n % 2])
        watch.start(answer["commit"], clients)
        try:
            await asyncio.wait_for(watch.done.wait(), WAIT)
        except TimeoutError:
            phase.lost += 1
            continue
        arrived, read, notes = watch.times()
        phase.first.append((arrived[0] - t0) * 1000)
        phase.last.append((arrived[-1] - t0) * 1000)
        phase.last_read.append((read[-1] - t0) * 1000)
        notes = {k: (v - t0) * 1000 for k, v in notes.items()}
        if {"raw", "conditioned", "plan"} <= notes.keys():
            phase.stage("(raw PUT round trip, before t0)", put_ms)
            phase.stage("raw NOTIFY (baseline)", notes["raw"])
            phase.stage(
                "condition: raw NOTIFY -> conditioned NOTIFY", notes["conditioned"] - notes["raw"]
            )
            phase.stage(
                "qplan: conditioned NOTIFY -> plan NOTIFY", notes["plan"] - notes["conditioned"]
            )
            phase.stage("web: plan NOTIFY -> first client", phase.first[-1] - notes["plan"])
            phase.stage("web: plan NOTIFY -> last client", phase.last[-1] - notes["plan"])
        if settle:
            try:
                await asyncio.wait_for(watch.quiet.wait(), SETTLE)
            except TimeoutError:
                phase.unsettled += 1
            await asyncio.sleep(PAUSE)
    return phase


def summary(values: list[float]) -> str:
    if not values:
        return "no data"
    return (
        f"p50 {percentile(values, 50):7.1f}  p95 {percentile(values, 95):7.1f}  "
        f"p99 {percentile(values, 99):7.1f}  max {max(values):7.1f} ms"
    )


def report(phases: list[Phase], pulls: int, kernel_times: bool, settle: bool) -> None:
    when = "reached the client's socket" if kernel_times else "read by this process"
    how = "each on a settled mesh" if settle else "back to back"
    print(f"\nraw commit (PUT answered) -> plan {when}, {pulls} pulls per row, {how}")
    for phase in phases:
        label = "1 client" if phase.clients == 1 else f"{phase.clients} clients, last"
        trouble = [f"{phase.lost} lost"] if phase.lost else []
        trouble += [f"{phase.unsettled} not settled in {SETTLE:.0f} s"] if phase.unsettled else []
        print(
            f"  {label:<22} {summary(phase.last)}"
            + (f"  ({', '.join(trouble)})" if trouble else "")
        )
        if phase.clients > 1:
            print(f"  {f'{phase.clients} clients, first':<22} {summary(phase.first)}")
            if kernel_times:
                print(f"  {'last, read here':<22} {summary(phase.last_read)}")
    print("\nstage breakdown (same pulls):")
    for phase in phases:
        print(f"  with {phase.clients} client(s):")
        for name, values in phase.stages.items():
            print(
                f"    {name:<46} p50 {statistics.median(values):7.2f}  p99 "
                f"{percentile(values, 99):7.2f} ms"
            )
    one = phases[0]
    base = one.stages.get("raw NOTIFY (baseline)", [])
    if base and one.last:
        floor = max(statistics.median(base), 0.001)
        print(
            f"\nbaseline (raw commit -> NOTIFY at a plain SUB) p50 {floor:.2f} ms; "
            f"e2e/baseline p50 ratio {statistics.median(one.last) / floor:.0f}x"
        )
    aims = []
    if one.last:
        aims.append(f"1 client p50 {percentile(one.last, 50):.0f} ms (aim <= {AIMS['p50_1']:.0f})")
        aims.append(f"1 client p99 {percentile(one.last, 99):.0f} ms (aim <= {AIMS['p99_1']:.0f})")
    if len(phases) > 1 and phases[1].last:
        aims.append(
            f"last of {phases[1].clients} p50 {percentile(phases[1].last, 50):.0f} ms "
            f"(aim <= {AIMS['last_of_many']:.0f})"
        )
        lone = percentile(phases[0].last, 50)
        if lone > 0:
            ratio = percentile(phases[1].last, 50) / lone
            aims.append(
                f"last of {phases[1].clients} / 1 client p50 {ratio:.2f}x "
                f"(aim <= {AIMS['fan_out_ratio']:.1f}x)"
            )
    print("aims: " + "; ".join(aims))


async def bench(config: Config, pulls: int, many: int, settle: bool) -> list[Phase]:
    """Connect the clients and the SUB, then run the phases."""
    watch = Watch(kernel_times=kernel_times_work())
    host, port = config.text("web", "host"), config.port("web", "port")
    stop = Event()
    listener = Thread(
        target=listen, args=(config, watch, asyncio.get_running_loop(), stop), daemon=True
    )
    listener.start()
    files = variants()
    phases = []
    connections: list[WsClient] = []
    try:
        with store_client(config.file, timeout=10) as store:
            connections = await connect(host, port, 1, watch)
            await run_phase(store, 1, 4, watch, files, settle)  # warm-up: every stage ran once
            phases.append(await run_phase(store, 1, pulls, watch, files, settle))
            if many > 1:
                connections += await connect(host, port, many - 1, watch)
                print(f"{len(connections)} websocket clients connected", flush=True)
                await run_phase(store, many, 2, watch, files, settle)
                phases.append(await run_phase(store, many, pulls, watch, files, settle))
    finally:
        for client in connections:
            client.close()
        stop.set()
        await asyncio.to_thread(listener.join)
    return phases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pulls", type=int, default=40, help="pulls per phase (default 40)")
    parser.add_argument("--clients", type=int, default=1000, help="clients in the big phase")
    parser.add_argument(
        "--back-to-back",
        action="store_true",
        help="start each pull once the last client has the plan of the one before, not once "
        "that pull's forecast has reached the clients too",
    )
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory(prefix="e2e_bench-") as tmp:
        folder = Path(tmp)
        path = write_config(
            folder, {"mesh": {"log_level": "WARNING", "request_timeout": "5"}, "run_all": {}}
        )
        config = Config(path)
        mesh = Proc(
            [PYTHON, str(ROOT / "run_all.py"), "--config", str(path)], folder / "run_all.out"
        )
        try:
            status = f"http://{config.text('web', 'host')}:{config.port('web', 'port')}/api/health"
            wait_for(lambda: _get(status), 60, 0.2, "the web to answer")
            print(f"mesh up (run_all pid {mesh.pid}); {args.pulls} pulls per phase", flush=True)
            loop = lambda: asyncio.SelectorEventLoop(TickingSelector())  # noqa: E731
            with asyncio.Runner(loop_factory=loop) as runner:
                phases = runner.run(bench(config, args.pulls, args.clients, not args.back_to_back))
        finally:
            mesh.stop()
    report(phases, args.pulls, kernel_times_work(), not args.back_to_back)
    return 0


def _get(url: str) -> bool:
    """True when ``url`` answers 200 with JSON."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200 and bool(json.loads(response.read()))
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
