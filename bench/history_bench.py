"""History with 10,000 plan versions: LOG, the versions list, compare and blame stay fast.

Setup: a store of ``--versions`` pulls (raw -> conditioned -> plan, 3 commits each, 30,000
commits for 10,000 versions) over five weeks (one every five minutes). It is written
in-process by the store's own ``GitStore`` (the code behind every PUT, without sockets,
``durable = no``), so it is what the service would have written, only quicker to make.
The contents are the sample workbook and seven variants of it (an estimate doubled, a
person gone, an item added, a holiday added: seeded), each conditioned and planned by the
real conditioner and planner; every plan is the full sample plan (~200 KB of JSON).

Then a real ``snapshot_service`` and a real ``web`` run on that store, and the figures
are taken through them, as a browser or script would ask:

- the store's LOG of the newest 50 plan versions, and ``GET /api/versions?limit=100``;
- ``GET /api/compare`` of two versions never compared before (the two plans, their two
  conditioned commits and two raw commits read, compared, blamed), with and without
  causes (the difference is blame), and from a baseline near the start of the history;
- ``date:`` a week back and at the very start (the first reads up to 10,000 LOG entries
  once; later ones are answered from the web's memory of the log).

The baseline is the same run on a store of ``--small`` versions over the same five weeks
(the ratio says what a long history costs), and plain git on the big store (``git log -n
50 -- plan``, ``git diff`` of the two raw commits) for scale. Medians; it prints figures
and never fails on time::

    .venv/bin/python bench/history_bench.py [--versions 10000] [--small 200] [--runs 7]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime as dt
import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from condition_service.conditioner import condition  # noqa: E402
from condition_service.service import conditioned_files  # noqa: E402
from harness import Proc, api_call, service_args, store_client, wait_for, write_config  # noqa: E402
from mesh.config import Config  # noqa: E402
from planning.planner import compute_plan, plan_to_json  # noqa: E402
from puller.tsv import sheet_tsv  # noqa: E402
from snapshot_service.store import GitStore  # noqa: E402

SEED = 20261130
SPAN = 35 * 86400  # seconds the built history spans, whatever its length
START = int(dt.datetime(2026, 9, 1, tzinfo=dt.UTC).timestamp())
DATASETS = ("raw", "conditioned", "plan", "forecast", "baselines")
VARIANTS = 8
AIM = 1.0  # seconds: "well under a second"


class ClockedStore(GitStore):
    """The store's own writer, with commit times the bench sets (a history of weeks)."""

    clock = START

    def _commit_info(self, *args, **kwargs):
        return dataclasses.replace(super()._commit_info(*args, **kwargs), time=self.clock)


@dataclasses.dataclass
class Variant:
    """One workbook as the mesh stores it: raw files, conditioned files, plan text."""

    raw: dict[str, bytes]
    conditioned: dict[str, bytes]
    plan: str  # with RAW and CONDITIONED placeholders for the lineage
    summary: str


def _sample_sheets() -> dict[str, list[list]]:
    spec = importlib.util.spec_from_file_location("make_sample", ROOT / "data" / "make_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_sheets()


def _edit(sheets: dict[str, list[list]], rng: random.Random, n: int) -> None:
    """Three edits a planner makes: an estimate doubled, a person gone, an item added."""
    work, staff = sheets["work"], sheets["staff"]
    row = rng.choice(work[1:40])
    column = rng.choice([5, 6, 7])
    row[column] = 2 * (float(row[column]) if str(row[column]).replace(".", "").isdigit() else 2)
    staff.pop(rng.randrange(1, len(staff)))
    at = rng.randrange(1, 60)
    work.insert(at, [work[at][0] - 1, f"QP-B{n}", f"Bench item {n}", work[at][3], 1, 2, "", 1])
    if n % 2:
        sheets["holidays"].append([f"2026-10-{10 + n}", f"Bench day {n}"])


def make_variants() -> list[Variant]:
    """The sample and its variants, conditioned and planned by the real code."""
    rng = random.Random(SEED)
    base = _sample_sheets()
    variants = []
    for n in range(VARIANTS):
        sheets = copy.deepcopy(base)
        if n:
            _edit(sheets, rng, n)
        raw = {f"{name}.tsv": sheet_tsv(rows).encode() for name, rows in sheets.items()}
        result = condition(raw)
        files = conditioned_files(result, result.streams, "RAWSHA")
        plan = json.loads(plan_to_json(compute_plan(result.model)))
        plan.update(
            problems=[p.as_dict() for p in result.problems],
            lineage={"conditioned": "CONDSHA", "raw": "RAWSHA"},
            status={"stale": False, "streams_from": "RAWSHA"},
        )
        counts = result.counts()
        summary = (
            f"{len(result.model.work)} work items, {len(result.model.staff)} people; problems: "
            f"{counts['fatal']} fatal, {counts['error']} error, {counts['warning']} warning"
        )
        encoded = {k: v.encode() if isinstance(v, str) else v for k, v in files.items()}
        variants.append(Variant(raw, encoded, plan_to_json(plan), summary))
    return variants


def build_store(path: Path, versions: int, variants: list[Variant]) -> list[str]:
    """A store of ``versions`` pulls; the plan commits, oldest first."""
    plans = []
    with ClockedStore(path, DATASETS, durable=False) as store:
        for n in range(versions):
            variant = variants[n % len(variants)]
            store.clock = START + n * SPAN // versions
            raw = store.put("raw", variant.raw, source="bench.xlsx", producer="pull_raw").commit
            files = {
                name: data.replace(b"RAWSHA", raw.encode())
                for name, data in variant.conditioned.items()
            }
            cond = store.put(
                "conditioned",
                files,
                source=f"raw@{raw}",
                message=f"Condition raw@{raw[:12]}: {variant.summary}",
                producer="condition_service",
            ).commit
            text = variant.plan.replace("CONDSHA", cond).replace("RAWSHA", raw)
            plan = store.put(
                "plan",
                {"plan.json": text.encode()},
                source=f"conditioned@{cond}",
                message=f"Plan conditioned@{cond[:12]}",
                producer="qplan_service",
            ).commit
            plans.append(plan)
    return plans


class Mesh:
    """A snapshot service and a web on one store."""

    def __init__(self, folder: Path, store: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.config = write_config(folder, {"snapshot_service": {"store": str(store)}})
        self.base = f"http://127.0.0.1:{Config(self.config).port('web', 'port')}"
        self.procs = [
            Proc(service_args(name, self.config), folder / f"{name}.out")
            for name in ("snapshot_service", "web")
        ]
        wait_for(lambda: self.get("/api/plan")[0] == 200, 60, 0.2, "the web to show the plan")
        self.store = store_client(self.config, timeout=30)

    def get(self, path: str, body: dict | None = None) -> tuple[int, dict]:
        status, answer = api_call(self.base, path, body, timeout=60)
        return status, answer if answer is not None else {}

    def timed(self, path: str) -> float:
        """Seconds one API request takes (it must succeed)."""
        began = time.perf_counter()
        status, answer = self.get(path)
        took = time.perf_counter() - began
        assert status == 200, f"{path}: {answer}"
        return took

    def close(self) -> None:
        self.store.close()
        for proc in reversed(self.procs):
            proc.stop()


def compare_path(old: str, new: str = "latest", causes: bool = True) -> str:
    query = {"from": old, "to": new, "causes": "1" if causes else "0"}
    return "/api/compare?" + urllib.parse.urlencode(query)


def measure(mesh: Mesh, plans: list[str], runs: int) -> dict[str, float]:
    """Every figure on one mesh (seconds; medians unless named first)."""
    figures: dict[str, float] = {}
    last_day = dt.datetime.fromtimestamp(START + SPAN, dt.UTC).date()
    week_ago = (last_day - dt.timedelta(days=7)).isoformat()
    first_day = dt.datetime.fromtimestamp(START, dt.UTC).date().isoformat()
    # Cold first: the web has not read the log deeper than its start needed.
    figures["date: a week back, first"] = mesh.timed(compare_path(f"date:{week_ago}"))
    figures["date: the first day, first"] = mesh.timed(compare_path(f"date:{first_day}"))
    figures["date: a week back, again"] = _median(
        runs, lambda n: mesh.timed(compare_path(f"date:{week_ago}", plans[-2 - n]))
    )

    def log(n: int) -> float:
        began = time.perf_counter()
        mesh.store.log("plan", 50)
        return time.perf_counter() - began

    figures["store LOG, newest 50 plans"] = _median(runs, log)
    figures["GET /api/versions?limit=100"] = _median(
        runs, lambda n: mesh.timed("/api/versions?limit=100")
    )
    # Never compared before: a new pair each run (k not a multiple of the variants, so the
    # two plans differ and items move).
    pairs = [plans[-2 - (n * VARIANTS + 3) % len(plans)] for n in range(2 * runs)]
    figures["compare + blame, a new pair"] = _median(
        runs, lambda n: mesh.timed(compare_path(pairs[n]))
    )
    figures["compare without causes"] = _median(
        runs, lambda n: mesh.timed(compare_path(pairs[runs + n], causes=False))
    )
    status, answer = mesh.get("/api/baselines", {"name": "early", "plan": plans[len(plans) // 50]})
    assert status in (200, 201), answer
    figures["compare from baseline:early, first"] = mesh.timed(compare_path("baseline:early"))
    figures["compare from baseline:early, again"] = _median(
        runs, lambda n: mesh.timed(compare_path("baseline:early"))
    )
    status, answer = mesh.get(compare_path("baseline:early"))
    moved = sum(1 for row in answer["rows"] if row["causes"])
    print(
        f"    (baseline:early -> latest: {moved} items moved, {answer['unexplained']} unexplained)"
    )
    return figures


def git_figures(store: Path, plans: list[str], runs: int, mesh: Mesh) -> dict[str, float]:
    """The same questions asked of plain git, for scale."""
    old = mesh.store.get("plan", plans[-5]).lineage["raw"]
    new = mesh.store.get("plan", plans[-1]).lineage["raw"]
    commands = {
        "store LOG, newest 50 plans": ["log", "-n", "50", "--format=%H %ct %s", "--", "plan"],
        "compare + blame, a new pair": ["diff", old, new, "--", "raw"],
    }
    out = {}
    for name, args in commands.items():

        def run(n: int, args=args) -> float:
            began = time.perf_counter()
            subprocess.run(["git", "-C", str(store), *args], capture_output=True, check=True)
            return time.perf_counter() - began

        out[name] = _median(runs, run)
    return out


def _median(runs: int, once) -> float:
    return statistics.median(once(n) for n in range(runs))


def main(argv: list[str] | None = None) -> int:
    """Build both stores, measure through real services, print the figures."""
    parser = argparse.ArgumentParser(prog="history_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=10_000, help="plan versions (big store)")
    parser.add_argument("--small", type=int, default=200, help="plan versions (baseline store)")
    parser.add_argument("--runs", type=int, default=7, help="runs per median")
    args = parser.parse_args(argv)
    if args.small < 2 * args.runs * VARIANTS + 10 or args.versions < args.small:
        parser.error(
            f"--small must be at least {2 * args.runs * VARIANTS + 10}, and --versions more"
        )
    sizes = f"{args.versions:,} and {args.small:,} plan versions"
    print(f"history_bench: {sizes} ({os.cpu_count()} cores, shared)")
    began = time.perf_counter()
    variants = make_variants()
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="history_bench-") as tmp:
        folder = Path(tmp)
        for count in (args.small, args.versions):
            store = folder / f"store-{count}"
            made = time.perf_counter()
            plans = build_store(store, count, variants)
            took = time.perf_counter() - made
            print(f"  built {count:,} versions ({3 * count:,} commits) in {took:.1f} s")
            mesh = Mesh(folder / f"mesh-{count}", store)
            try:
                results[count] = measure(mesh, plans, args.runs)
                if count == args.versions:
                    git = git_figures(store, plans, args.runs, mesh)
            finally:
                mesh.close()
    big, small = results[args.versions], results[args.small]
    print(f"  {'':<40}{args.versions:>10,}{args.small:>10,}{'ratio':>8}{'plain git':>11}")
    for name, seconds in big.items():
        plain = f"{git[name] * 1000:9.1f}ms" if name in git else ""
        ratio = seconds / small[name] if small[name] else float("nan")
        flag = "" if seconds < AIM else "  (over 1 s)"
        print(
            f"  {name:<40}{seconds * 1000:8.1f}ms{small[name] * 1000:8.1f}ms{ratio:7.2f}x"
            f"{plain:>11}{flag}"
        )
    print(
        f"  (whole bench {time.perf_counter() - began:.0f} s; ratio: 10,000 over the small store)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
