"""How much a forecast costs, next to one deterministic plan and to the naive per-run loop.

1. On the sample workbook's streams, whole process against whole process:
   ``python -m forecast_service.filter --runs 1000`` against one
   ``python -m qplan_service.filter`` (aim: at most 25×), and against the naive
   forecast — the deterministic schedule run once per run in a Python loop over
   the same drawn estimates (``naive_forecast`` below) — in the same run.
2. 2,000 items / 200 people (bench/planner_inputs.py), 1,000 runs: wall time and
   peak memory of the filter process.

Medians of a few runs; it prints figures and never fails on time:
``.venv/bin/python bench/forecast_bench.py [--runs N]``.
"""

from __future__ import annotations

import argparse
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
from harness import PYTHON  # noqa: E402

AIM_RATIO = 25.0  # a 1,000-run forecast against one deterministic filter run
FORECAST = [PYTHON, "-m", "forecast_service.filter", "--runs", "1000"]
PLAN = [PYTHON, "-m", "qplan_service.filter"]

# The naive forecast in a fresh process: the same draws, one deterministic schedule per run.
NAIVE = """
import sys, dataclasses, json
from formats.streams import parse_streams
from planning.draws import factors_for, seed_from
from planning.planner import ALL, layout, people_per_skill, schedule
runs = int(sys.argv[1])
model = parse_streams(sys.stdin.read())
lay = layout(model)
factors = factors_for(lay, None, runs, 1.0, seed_from("naive"))
groups = {ALL: (lay.works, list(model.staff))}
groups.update({t: (lay.works_by_track[t], lay.people_by_track[t]) for t in lay.tracks})
index = {id(w): n for n, w in enumerate(lay.works)}
ends = {}
for track, (works, people) in groups.items():
    capacity = people_per_skill(people, lay.scheduled, lay.calendar.days)
    per_run = []
    for run in range(runs):
        efforts = [
            None if w.effort is None
            else {s: e * float(factors[index[id(w)]][s][run]) for s, e in w.effort.items()}
            for w in works
        ]
        per_run.append(schedule(len(lay.calendar.days), capacity, efforts).ends)
    ends[track] = per_run
print(json.dumps({t: len(v) for t, v in ends.items()}))
"""


def run_once(command: list[str], source: Path) -> tuple[float, int]:
    """Run ``command`` with ``source`` on stdin; (wall seconds, peak KiB of the child)."""
    with open(source, "rb") as stdin:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=ROOT, stdin=stdin, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed with status {status}")
    return elapsed, usage.ru_maxrss


def median(command: list[str], source: Path, runs: int) -> tuple[float, int]:
    results = [run_once(command, source) for _ in range(runs)]
    return statistics.median(t for t, _ in results), max(m for _, m in results)


def sample_streams(folder: Path) -> Path:
    """The sample workbook conditioned, as streams text."""
    import pull_raw
    from condition_service.conditioner import Settings, condition

    source = pull_raw.resolve_source(str(ROOT / "data" / "sample" / "plan"))
    files = pull_raw.raw_files(pull_raw.read_sheets(source))
    streams = condition(files, Settings(skills=("Apps", "Native", "Web", "QA", "UX"))).streams
    path = folder / "sample.streams"
    path.write_text(streams, encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions per figure (median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sample = sample_streams(folder)
        plan, plan_mem = median(PLAN, sample, args.runs)
        fc, fc_mem = median(FORECAST, sample, args.runs)
        naive, naive_mem = median([PYTHON, "-c", NAIVE, "1000"], sample, max(1, args.runs // 2))
        print("sample workbook, whole process, median of", args.runs)
        print(f"  deterministic filter        {plan * 1000:8.0f} ms  {plan_mem // 1024:4d} MB")
        print(
            f"  forecast, 1,000 runs        {fc * 1000:8.0f} ms  {fc_mem // 1024:4d} MB"
            f"   {fc / plan:5.1f}x the filter (aim <= {AIM_RATIO:.0f}x)"
        )
        print(
            f"  naive loop, 1,000 runs      {naive * 1000:8.0f} ms  {naive_mem // 1024:4d} MB"
            f"   vectorised is {naive / fc:5.1f}x faster"
        )
        big = folder / "2000.streams"
        big.write_text(make_streams(2_000, 200), encoding="utf-8")
        wall, mem = median(FORECAST, big, max(1, args.runs // 2))
        one, _ = median(PLAN, big, max(1, args.runs // 2))
        print("2,000 items / 200 people, 1,000 runs")
        print(
            f"  forecast                    {wall * 1000:8.0f} ms  {mem // 1024:4d} MB"
            f"   {wall / one:5.1f}x one filter run ({one * 1000:.0f} ms)"
        )


if __name__ == "__main__":
    main()
