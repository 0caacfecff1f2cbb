"""How fast the planner plans, and how fast a what-if comes back through the mesh.

1. The filter process ``python -m qplan_service.filter`` (parse stdin, plan,
   print JSON; a big input on two cores) and the same with ``--serial`` (one
   core) on seeded random inputs (bench/planner_inputs.py) of 300 items / 30
   people, 2,000 / 200 and 20,000 / 2,000: wall time (median of a few runs)
   and peak memory (the child's ru_maxrss: the larger of its two processes),
   next to the day-by-day reference planner (bench/reference_planner.py) run
   the same way, and the ratios. The three plans must agree (the filter's two
   the same bytes), which is checked. For the largest input it also shows
   where the time goes on one core (parse, plan, JSON, in a fresh process).
2. A what-if on the sample workbook through the real mesh (snapshot_service,
   condition_service and qplan_service as subprocesses, the sample pulled
   with pull_raw.py): ~200 WHATIF requests adding two Web engineers back to
   back, and 30 with half a second between them (as a person asks: the spare
   worker is ready), p50 / p95 / max, next to the same what-if done the old
   way, as a filter run on edited streams.
3. A what-if on a plan of 20,000 items / 2,000 people through the mesh
   (snapshot_service and qplan_service; the streams committed as
   ``conditioned``): ``--big`` WHATIF requests adding two people to one track,
   asked as the web asks them (the plan as a delta against its base's plan commit,
   the forecast of the shown track, All, as a delta against the base's own: once per
   base the web asks for that); as many editing one item's estimate, moving one item
   up 1,000 rows, and moving one to another track, at ranks spread over the plan,
   asked the same way; then the plan alone, then 3 asking for the whole plan and
   every forecast as before; p50 and the answer's size, the answer decoded as the
   web decodes it; next to the filter run on the edited streams.

It prints figures and never fails on time:
``.venv/bin/python bench/planner_bench.py [--runs N] [--requests N] [--big N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.planner_inputs import make_streams  # noqa: E402
from bench.reference_planner import domain_fields  # noqa: E402
from formats.streams import format_streams, parse_streams  # noqa: E402
from harness import (  # noqa: E402
    PYTHON,
    Proc,
    planner_client,
    service_args,
    store_client,
    wait_for,
    write_config,
)
from mesh.messages import whatif_answer  # noqa: E402
from mesh.protocol import encode_json  # noqa: E402
from planning import planner  # noqa: E402
from planning.whatif import apply_edits  # noqa: E402

SIZES = ((300, 30), (2_000, 200), (20_000, 2_000))
FILTER = [PYTHON, "-m", "qplan_service.filter"]
REFERENCE = [PYTHON, str(ROOT / "bench" / "reference_planner.py")]
SAMPLE = ROOT / "data" / "sample" / "plan.xlsx"
AIM_FILTER = 0.25  # seconds for 20,000 items
AIM_RATIO = 12  # times faster than the reference on 20,000 items
AIM_WHATIF = 0.020  # seconds for a what-if round trip on the sample
AIM_BIG_WHATIF = 0.100  # seconds for a what-if round trip on 20,000 items
SPACED, PAUSE = 30, 0.5  # what-ifs asked with a pause between them (as a person asks)
PAGE = "as the page asks (All + forecast)"  # part 3's request kinds
WHOLE = "whole plan + every forecast"
ESTIMATE = "an estimate edited, as the page asks"
RANK = "a rank moved up 1,000 rows, as asked"
MOVE = "an item moved to another track, as asked"


def run_once(command: list[str], source: Path, out: Path) -> tuple[float, int]:
    """Run ``command`` with ``source`` on stdin; returns (wall seconds, peak KiB)."""
    with open(source, "rb") as stdin, open(out, "wb") as stdout:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=ROOT, stdin=stdin, stdout=stdout)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed with exit code {proc.returncode}")
    return elapsed, usage.ru_maxrss  # KiB on Linux


def measure(command: list[str], source: Path, out: Path, runs: int) -> tuple[float, int]:
    """Median wall time and largest peak memory over ``runs`` runs."""
    results = [run_once(command, source, out) for _ in range(runs)]
    return statistics.median(t for t, _ in results), max(m for _, m in results)


# What the filter does, step by step with a clock, in a fresh process like the filter's.
BREAKDOWN = """
import gc, sys, time
gc.disable()
from planning.planner import compute_plan, plan_to_json
from formats.streams import parse_streams
text = sys.stdin.read()
t0 = time.perf_counter()
model = parse_streams(text)
t1 = time.perf_counter()
plan = compute_plan(model)
t2 = time.perf_counter()
plan_to_json(plan)
t3 = time.perf_counter()
print(f"parse {t1 - t0:.3f} s, plan {t2 - t1:.3f} s, JSON {t3 - t2:.3f} s")
"""


def breakdown(source: Path) -> str:
    """Where the filter's time goes: parse, plan, JSON (a fresh process, as the filter)."""
    with open(source, "rb") as stdin:
        done = subprocess.run(
            [PYTHON, "-c", BREAKDOWN], cwd=ROOT, stdin=stdin, capture_output=True, check=True
        )
    return done.stdout.decode().strip()


def filter_table(runs: int) -> None:
    """Part 1: the filter (on two cores, and with --serial on one) against the reference."""
    encoder = "orjson" if planner.orjson is not None else "json (standard library)"
    print(f"1. filter process, parse + plan + JSON (median of runs; JSON by {encoder})")
    print(
        f"   {'items/people':>14} {'filter':>9} {'peak':>8} {'one core':>10} "
        f"{'reference':>10} {'peak':>8} {'ratio':>7} {'one core':>9}  same plan"
    )
    with tempfile.TemporaryDirectory(prefix="planner_bench_") as tmp:
        folder = Path(tmp)
        for items, people in SIZES:
            source = folder / f"in_{items}.streams"
            source.write_text(make_streams(items, people, seed=1), encoding="utf-8")
            ours_out, serial_out, ref_out = (folder / f"{n}.json" for n in ("ours", "one", "ref"))
            run_once(FILTER, source, ours_out)  # warm-up: imports compiled, files cached
            ours, ours_mem = measure(FILTER, source, ours_out, runs)
            serial, _ = measure([*FILTER, "--serial"], source, serial_out, runs)
            ref_runs = max(1, runs // 2) if items >= 20_000 else runs
            ref, ref_mem = measure(REFERENCE, source, ref_out, ref_runs)
            same = ours_out.read_bytes() == serial_out.read_bytes() and domain_fields(
                json.loads(ours_out.read_bytes())
            ) == json.loads(ref_out.read_bytes())
            print(
                f"   {f'{items:,}/{people:,}':>14} {ours:>7.3f} s {ours_mem / 1024:>5.0f} MB "
                f"{serial:>8.3f} s {ref:>8.3f} s {ref_mem / 1024:>5.0f} MB {ref / ours:>6.1f}x "
                f"{ref / serial:>8.1f}x  {'yes' if same else 'NO'}"
            )
        print(f"   where the time goes on one core for {items:,} items: {breakdown(source)}")
        print(
            f"   aim: 20,000 items in <= {AIM_FILTER} s and >= {AIM_RATIO:g}x the reference;"
            f" measured {ours:.3f} s, {ref / ours:.1f}x"
        )


def percentiles(samples: list[float]) -> str:
    """p50 / p95 / max in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"p50 {statistics.median(ordered) * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms  "
        f"max {ordered[-1] * 1000:6.1f} ms"
    )


def start_mesh(folder: Path) -> tuple[Path, list[Proc]]:
    """snapshot_service, condition_service and qplan_service on a fresh config."""
    config = write_config(folder)
    procs = [
        Proc(service_args(name, config), folder / f"{name}.out")
        for name in ("snapshot_service", "condition_service", "qplan_service")
    ]
    return config, procs


def whatif_table(requests: int) -> None:
    """Part 2: WHATIF round trips on the sample through the mesh, and the filter way."""
    print(f"2. what-if on the sample ({SAMPLE.relative_to(ROOT)}): add 2 Web engineers")
    with tempfile.TemporaryDirectory(prefix="planner_bench_mesh_") as tmp:
        folder = Path(tmp)
        config, procs = start_mesh(folder)
        store = store_client(config, timeout=5)
        asker = planner_client(config, timeout=10, retries=0)
        try:
            wait_for(lambda: store.latest("raw"), timeout=30, what="the snapshot service")
            pulled = subprocess.run(
                [PYTHON, "pull_raw.py", "--config", str(config), str(SAMPLE)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            )
            raw = pulled.stdout.strip().splitlines()[-1]
            wait_for(
                lambda: store.latest("plan").lineage.get("raw") == raw,
                timeout=60,
                what="the plan of the sample",
            )
            conditioned = store.get("conditioned")
            plan = store.get("plan")
            tracks = [t for t in conditioned_tracks(conditioned.text("streams.txt"))]
            track = "Checkout" if "Checkout" in tracks else tracks[0]
            edits = [{"op": "add_people", "skill": "Web", "track": track, "count": 2}]
            header = {"base": None, "edits": edits}
            asker.call("WHATIF", header)  # the first one parses the base and fills the cache
            samples = []
            for _ in range(requests):
                started = time.perf_counter()
                answer = asker.call("WHATIF", header)
                samples.append(time.perf_counter() - started)
            # As a person asks: a pause between what-ifs, so the spare worker is ready.
            spaced = []
            for _ in range(SPACED):
                time.sleep(PAUSE)
                started = time.perf_counter()
                asker.call("WHATIF", header)
                spaced.append(time.perf_counter() - started)
            changes = len(answer.header["changes"])
            items = len(whatif_answer(answer)["plan"]["by_track"]["All"]["work"])
            old_way = filter_whatif(folder, conditioned.text("streams.txt"), edits)
        finally:
            store.close()
            asker.close()
            for proc in reversed(procs):
                proc.stop()
    print(f"   sample: {items} work items; plan@{plan.commit[:12]}; {changes} changes")
    print(f"   {'WHATIF back to back (' + str(requests) + ')':<34} {percentiles(samples)}")
    print(f"   {f'WHATIF {PAUSE:g} s apart ({SPACED})':<34} {percentiles(spaced)}")
    print(
        f"   {'filter run on edited streams (' + str(len(old_way)) + ')':<34} "
        f"{percentiles(old_way)}"
    )
    print(
        f"   aim: a what-if round trip on the sample < {AIM_WHATIF * 1000:.0f} ms; "
        f"measured p50 {statistics.median(samples) * 1000:.1f} ms"
    )


def big_whatif_table(requests: int) -> None:
    """Part 3: WHATIF round trips on a 20,000-item plan through the mesh."""
    items, people = SIZES[-1]
    print(f"3. what-if on {items:,} items / {people:,} people: add 2 people to one track")
    streams = make_streams(items, people)
    with tempfile.TemporaryDirectory(prefix="planner_bench_big_") as tmp:
        folder = Path(tmp)
        config = write_config(
            folder,
            {
                "qplan_service": {"whatif_deadline": "120"},
                "snapshot_service": {"max_payload": "64MiB"},  # the plan is about 12 MB
            },
        )
        procs = [
            Proc(service_args(name, config), folder / f"{name}.out")
            for name in ("snapshot_service", "qplan_service")
        ]
        store = store_client(config, timeout=60)
        asker = planner_client(config, timeout=120, retries=0)
        try:
            wait_for(lambda: store.latest("raw"), timeout=30, what="the snapshot service")
            raw = store.put("raw", {"work.tsv": "bench\n"}, source="bench")["commit"]
            status = {"stale": False, "streams_from": raw, "problems": {}}
            files = {"streams.txt": streams, "status.json": json.dumps(status)}
            cond = store.put("conditioned", files, source=f"raw@{raw}")["commit"]
            wait_for(
                lambda: store.latest("plan").lineage.get("conditioned") == cond,
                timeout=120,
                what="the plan of 20,000 items",
            )
            model = parse_streams(streams)
            track = sorted({p.track for p in model.staff})[0]
            skill = next(p.skill for p in model.staff if p.track == track)
            edits = [{"op": "add_people", "skill": skill, "track": track, "count": 2}]
            # As the web asks: once per base, the base's own forecast of the shown track
            # (All); then each what-if as a delta, its forecast of All as a delta too.
            asker.call("WHATIF", {"base": None, "edits": [], "delta": True, "forecast": "All"})
            asked = {"base": None, "edits": edits, "delta": True}
            page = {**asked, "forecast": "All", "forecast_delta": True}
            modes = {
                PAGE: page,
                ESTIMATE: page,
                RANK: page,
                MOVE: page,
                "the plan alone (forecast: false)": {**asked, "forecast": False},
                WHOLE: {"base": None, "edits": edits},
            }
            ranked = sorted(model.work, key=lambda item: item.rank)
            tracks = sorted({item.track for item in model.work})
            timings: dict[str, list[float]] = {}
            sizes: dict[str, int] = {}
            for label, header in modes.items():
                timings[label] = []
                for n in range(requests if label != WHOLE else 3):
                    # Other edits per request on the same plan (nothing can be answered
                    # from a cache of the last what-if): people in a team of their own;
                    # an item edited at ranks spread over the whole plan.
                    team = [{**edits[0], "team": f"{label[:3]}{n}"}]
                    at = (2 * n + 1) * len(ranked) // (2 * requests)
                    item = ranked[at]
                    if label == ESTIMATE:
                        team = [{"op": "set_estimate", "item": item.id, "estimate": {skill: 3}}]
                    elif label == RANK:  # moved up a thousand rows
                        rank = ranked[max(0, at - 1000)].rank - 0.5
                        team = [{"op": "set_rank", "item": item.id, "rank": rank}]
                    elif label == MOVE:  # to the track after its own
                        other = tracks[(tracks.index(item.track) + 1) % len(tracks)]
                        team = [{"op": "set_track", "item": item.id, "track": other}]
                    started = time.perf_counter()
                    reply = asker.call("WHATIF", {**header, "edits": team})
                    whatif_answer(reply)  # as the web reads it: header and body
                    timings[label].append(time.perf_counter() - started)
                sizes[label] = len(encode_json(reply.header)) + reply.size()
            old_way = filter_whatif(folder, streams, edits, runs=max(1, requests // 2))
        finally:
            store.close()
            asker.close()
            for proc in reversed(procs):
                proc.stop()
    for label, taken in timings.items():
        print(
            f"   {label + ' (' + str(len(taken)) + ')':<44} {percentiles(taken)}"
            f"  {sizes[label] / 1e6:.2f} MB"
        )
    print(
        f"   {'filter run on edited streams (' + str(len(old_way)) + ')':<44} "
        f"{percentiles(old_way)}"
    )
    measured = ", ".join(
        f"{statistics.median(timings[label]) * 1000:.0f} ms"
        for label in (PAGE, ESTIMATE, RANK, MOVE)
    )
    print(
        f"   aim: p50 <= {AIM_BIG_WHATIF * 1000:.0f} ms as the page asks; measured "
        f"(people, estimate, rank, track) {measured}"
    )


def conditioned_tracks(streams: str) -> list[str]:
    """The tracks of a streams text."""
    model = parse_streams(streams)
    return sorted({p.track for p in model.staff} | {i.track for i in model.work})


def filter_whatif(folder: Path, streams: str, edits: list[dict], runs: int = 20) -> list[float]:
    """The same what-if the old way: edit the streams, run the filter process on them."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        edited = format_streams(apply_edits(parse_streams(streams), edits))
        subprocess.run(FILTER, cwd=ROOT, input=edited.encode(), capture_output=True, check=True)
        samples.append(time.perf_counter() - started)
    return samples


def main(argv: list[str] | None = None) -> int:
    """Run both parts and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="filter runs per size (default 5)")
    parser.add_argument("--requests", type=int, default=200, help="WHATIF requests (default 200)")
    parser.add_argument(
        "--big", type=int, default=10, help="WHATIF requests on 20,000 items (default 10; 0: skip)"
    )
    args = parser.parse_args(argv)
    print(f"planner_bench (machine: {os.cpu_count()} cores, shared; figures vary run to run)")
    filter_table(max(1, args.runs))
    whatif_table(max(1, args.requests))
    if args.big > 0:
        big_whatif_table(args.big)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
