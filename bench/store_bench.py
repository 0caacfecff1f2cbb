"""Commits per second: the snapshot service against a `git add -A` + `git commit` loop.

Both sides commit the same sequence of contents: three TSV sheets of about
30, 15 and 10 KB (``raw/work.tsv``, ``raw/staff.tsv``, ``raw/holidays.tsv``)
where each step changes one to three lines of one sheet, as a pull of an
edited workbook does.

- service: a real ``python -m snapshot_service`` with its own config
  (``durable = yes``); one client PUTs each content and waits for the answer,
  so every commit is on disk (fsync'ed) before the next one starts.
- git loop: "the original way", a temp repository where each step writes the
  changed sheet and runs ``git add -A`` and ``git commit`` as subprocesses,
  once with git's default settings (which do not fsync loose objects or
  refs) and once with ``core.fsync=all`` (as durable as the service).

Both end on the same tree, which the bench checks. It prints figures and
never fails on time: ``.venv/bin/python bench/store_bench.py [--commits N]``.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mesh.config import Config  # noqa: E402
from mesh.snapshot import SnapshotClient  # noqa: E402
from tests.support import Proc, service_args, wait_for, write_config  # noqa: E402

SKILLS = ("Apps", "Native", "Web", "QA", "UX")
TRACKS = ("Checkout", "Growth", "Platform", "Search", "Mobile")
SIZES = ("", "S", "M", "L", "2M", "1.5", "3", "0.5")
SEED = 20261123
DATASET = "raw"


def work_sheet(rng: random.Random, rows: int) -> list[str]:
    """The ``work`` sheet: ranked items with per-skill estimates."""
    lines = ["Rank\tID\tName\tTrack\tTriage\t" + "\t".join(SKILLS)]
    for n in range(rows):
        estimates = "\t".join(rng.choice(SIZES) for _ in SKILLS)
        name = f"Item {n} {rng.choice(['checkout', 'search', 'onboarding', 'billing'])} work"
        lines.append(
            f"{10 * (n + 1)}\tQP-{1000 + n}\t{name}\t{rng.choice(TRACKS)}\t"
            f"{rng.choice(['1', '1.5', '2', '3'])}\t{estimates}"
        )
    return lines


def staff_sheet(rng: random.Random, rows: int) -> list[str]:
    """The ``staff`` sheet: one person a row, with vacations."""
    lines = ["ID\tName\tTeam\tTrack\tSkill\tVacation"]
    for n in range(rows):
        vacation = f"2026-{rng.randint(10, 12)}-{rng.randint(10, 28)}" if rng.random() < 0.5 else ""
        lines.append(
            f"p{n:04d}\tPerson {n}\tTeam {n % 7}\t{rng.choice(TRACKS)}\t"
            f"{rng.choice(SKILLS)}\t{vacation}"
        )
    return lines


def holiday_sheet(rng: random.Random, rows: int) -> list[str]:
    """A ``holidays`` sheet with many years of days off."""
    lines = ["Date\tName"]
    for n in range(rows):
        lines.append(f"{2000 + n // 12}-{n % 12 + 1:02d}-{rng.randint(10, 28)}\tHoliday {n}")
    return lines


def contents(commits: int) -> list[dict[str, bytes]]:
    """The sequence of contents both sides commit; each differs from the one before."""
    rng = random.Random(SEED)
    sheets = {
        "work.tsv": work_sheet(rng, 420),
        "staff.tsv": staff_sheet(rng, 330),
        "holidays.tsv": holiday_sheet(rng, 480),
    }
    out = []
    for step in range(commits):
        name = rng.choice(sorted(sheets))
        lines = sheets[name]
        for _ in range(rng.randint(1, 3)):
            row = rng.randrange(1, len(lines))
            lines[row] = lines[row].rsplit("\t", 1)[0] + f"\tedit {step}"
        out.append({sheet: ("\n".join(rows) + "\n").encode() for sheet, rows in sheets.items()})
    return out


def run_service(steps: list[dict[str, bytes]], folder: Path, durable: str) -> tuple[float, str]:
    """Seconds to PUT every step through a real snapshot service; and the final tree."""
    config_path = write_config(folder, {"snapshot_service": {"durable": durable}})
    config = Config(config_path)
    proc = Proc(service_args("snapshot_service", config_path), folder / "service.out")
    client = SnapshotClient(
        config.endpoint("snapshot_service", "request_endpoint"), timeout=10.0, retries=0
    )
    try:
        wait_for(lambda: client.latest(DATASET), timeout=30, what="the snapshot service")
        started = time.perf_counter()
        for files in steps:
            answer = client.put(DATASET, files, source="bench/plan.xlsx", producer="store_bench")
            if not answer["changed"]:
                raise SystemExit(f"store_bench: a PUT made no commit: {answer}")
        elapsed = time.perf_counter() - started
    finally:
        client.close()
        proc.stop()
    store = config.path("snapshot_service", "store")
    return elapsed, git(store, "rev-parse", "main^{tree}").strip()


def git(repo: Path, *args: str) -> str:
    """Run one git command in ``repo``; its output."""
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def run_git_loop(steps: list[dict[str, bytes]], folder: Path, *config: str) -> tuple[float, str]:
    """Seconds for the `git add -A` + `git commit` loop over every step; and the final tree."""
    repo = folder / "repo"
    (repo / DATASET).mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    options = ["-c", "user.name=store_bench", "-c", "user.email=store_bench@qplan.local"]
    for item in config:
        options += ["-c", item]
    before: dict[str, bytes] = {}
    started = time.perf_counter()
    for seq, files in enumerate(steps, 1):
        for name, data in files.items():
            if before.get(name) != data:  # write only what changed: the loop's best case
                (repo / DATASET / name).write_bytes(data)
        before = files
        git(repo, *options, "add", "-A")
        trailers = (
            f"Dataset: {DATASET}\nSource: bench/plan.xlsx\nProducer: store_bench\nSequence: {seq}"
        )
        git(repo, *options, "commit", "-q", "-m", f"Update {DATASET}", "-m", trailers)
    elapsed = time.perf_counter() - started
    return elapsed, git(repo, "rev-parse", "main^{tree}").strip()


def line(label: str, count: int, seconds: float) -> str:
    """One row of the result table."""
    return (
        f"  {label:<52} {count / seconds:8.1f} commits/s  {1000 * seconds / count:7.2f} ms/commit"
    )


def main(argv: list[str] | None = None) -> int:
    """Run both sides and print the figures."""
    parser = argparse.ArgumentParser(prog="store_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=300, metavar="N", help="commits per side")
    args = parser.parse_args(argv)
    if args.commits < 1:
        parser.error("--commits must be at least 1")
    steps = contents(args.commits)
    sizes = ", ".join(f"{name} {len(data) / 1024:.1f} KB" for name, data in steps[-1].items())
    print(f"store_bench: {args.commits} commits of {sizes}; 1-3 lines change per commit")
    print(f"  (machine: {os.cpu_count()} cores, shared; figures vary from run to run)")
    with tempfile.TemporaryDirectory(prefix="store_bench-") as tmp:
        folder = Path(tmp)
        for name in ("service", "service-nd", "git", "git-fsync"):
            (folder / name).mkdir()
        service_s, service_tree = run_service(steps, folder / "service", "yes")
        nd_s, nd_tree = run_service(steps, folder / "service-nd", "no")
        loop_s, loop_tree = run_git_loop(steps, folder / "git")
        fsync_s, fsync_tree = run_git_loop(steps, folder / "git-fsync", "core.fsync=all")
    print(line("snapshot service, PUT -> durable commit -> answer", args.commits, service_s))
    print(line("same, durable = no (no fsync at all)", args.commits, nd_s))
    print(line("git add -A + git commit loop (git defaults)", args.commits, loop_s))
    print(line("git add -A + git commit loop, core.fsync=all", args.commits, fsync_s))
    print(
        f"  service / git loop: {loop_s / service_s:.1f}x;  service / durable git loop: "
        f"{fsync_s / service_s:.1f}x"
    )
    same = service_tree == nd_tree == loop_tree == fsync_tree
    print(f"  same final tree on all four: {'yes' if same else 'NO'} ({service_tree[:12]})")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
