"""Commits per second: the snapshot service against a `git add -A` + `git commit` loop.

Every side commits the same sequence of contents: three TSV sheets of about
25, 14 and 10 KB (``raw/work.tsv``, ``raw/staff.tsv``, ``raw/holidays.tsv``)
where each step changes one to three lines of one sheet, as a pull of an
edited workbook does.

- service: a real ``python -m snapshot_service`` with its own config
  (``durable = yes``); one client PUTs each content and waits for the answer,
  so every commit is durable (in the store's fdatasync'ed journal) before the
  next one starts. For scale, a second service runs with ``durable = no``.
- git loop: "the original way", a temp repository where each step writes the
  changed sheet and runs ``git add -A`` and ``git commit`` as subprocesses,
  once with git's default settings (which do not fsync loose objects or
  refs) and once with ``core.fsync=all`` (as durable as the service).

Two runs, printed side by side, each with the service's ratio to both git
loops; all sides must end on the same tree:

- rounds: the sides take turns, a chunk of the steps each (``--rounds``),
  so that the load other programs put on a shared machine falls on all of
  them alike. While the others take their turn the service is idle: its
  journal is checkpointed and its spare files topped up (see
  ``snapshot_service.disk``).
- sustained: then each side makes ``--sustained`` more commits back to back,
  in one go, one side after the other. That is longer than the service's
  spare files last (~200 commits) and fills a journal file twice, so the
  store's thread makes files and checkpoints while the commits go on.

Figures move with the machine's state: on its ext4 (no journal) creating a
file gets slower for minutes after many deletions, such as the last run's
cleanup, for the git loops and the service alike. It prints figures and
never fails on time::

    .venv/bin/python bench/store_bench.py [--commits N] [--rounds R] [--sustained S]
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

from harness import Proc, service_args, store_client, wait_for, write_config  # noqa: E402
from mesh.config import Config  # noqa: E402

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


def git(repo: Path, *args: str) -> str:
    """Run one git command in ``repo``; its output."""
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


class ServiceSide:
    """A real snapshot service with its own config, and one client that PUTs."""

    def __init__(self, folder: Path, durable: str) -> None:
        folder.mkdir()
        config_path = write_config(folder, {"snapshot_service": {"durable": durable}})
        config = Config(config_path)
        self.store = config.path("snapshot_service", "store")
        self.proc = Proc(service_args("snapshot_service", config_path), folder / "service.out")
        self.client = store_client(config_path, timeout=10.0, retries=0)
        wait_for(lambda: self.client.latest(DATASET), timeout=30, what="the snapshot service")

    def run(self, steps: list[dict[str, bytes]]) -> float:
        """Seconds to PUT each step and get its answer."""
        started = time.perf_counter()
        for files in steps:
            answer = self.client.put(DATASET, files, source="bench/plan.xlsx", producer="bench")
            if not answer["changed"]:
                raise SystemExit(f"store_bench: a PUT made no commit: {answer}")
        return time.perf_counter() - started

    def tree(self) -> str:
        """The tree the branch ends on."""
        return git(self.store, "rev-parse", "main^{tree}").strip()

    def close(self) -> None:
        """Stop the service."""
        self.client.close()
        self.proc.stop()


class GitLoopSide:
    """The original way: a repository where each step is `git add -A` + `git commit`."""

    def __init__(self, folder: Path, *config: str) -> None:
        self.repo = folder / "repo"
        (self.repo / DATASET).mkdir(parents=True)
        git(self.repo, "init", "-q", "-b", "main")
        self.options = ["-c", "user.name=bench", "-c", "user.email=bench@qplan.local"]
        for item in config:
            self.options += ["-c", item]
        self.before: dict[str, bytes] = {}
        self.seq = 0

    def run(self, steps: list[dict[str, bytes]]) -> float:
        """Seconds to write each step's changed sheets and commit them."""
        started = time.perf_counter()
        for files in steps:
            for name, data in files.items():
                if self.before.get(name) != data:  # write only what changed: the loop's best case
                    (self.repo / DATASET / name).write_bytes(data)
            self.before = files
            self.seq += 1
            git(self.repo, *self.options, "add", "-A")
            trailers = f"Dataset: {DATASET}\nSource: bench/plan.xlsx\nProducer: bench\n"
            trailers += f"Sequence: {self.seq}"
            git(self.repo, *self.options, "commit", "-q", "-m", f"Update {DATASET}", "-m", trailers)
        return time.perf_counter() - started

    def tree(self) -> str:
        """The tree the branch ends on."""
        return git(self.repo, "rev-parse", "main^{tree}").strip()

    def close(self) -> None:
        """Nothing to stop."""


COLUMN = 24  # characters per run in the table


def cells(values: list[str]) -> str:
    """Two right-aligned cells per run, a run's block ``COLUMN`` wide."""
    half = (COLUMN - 2) // 2
    pairs = zip(values[::2], values[1::2], strict=True)
    return "".join(f"{a:>{half}}{b:>{half}}  " for a, b in pairs)


def main(argv: list[str] | None = None) -> int:
    """Run every side over the same steps, in rounds and then sustained, and print the figures."""
    parser = argparse.ArgumentParser(prog="store_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=300, metavar="N", help="commits per side")
    parser.add_argument(
        "--rounds", type=int, default=5, metavar="R", help="interleave the sides in R rounds"
    )
    parser.add_argument(
        "--sustained",
        type=int,
        default=600,
        metavar="S",
        help="then S commits per side back to back (0: none)",
    )
    args = parser.parse_args(argv)
    if args.commits < 1 or args.rounds < 1 or args.sustained < 0:
        parser.error("--commits and --rounds must be at least 1, --sustained at least 0")
    steps = contents(args.commits + args.sustained)
    rounds, sustained = steps[: args.commits], steps[args.commits :]
    sizes = ", ".join(f"{name} {len(data) / 1024:.1f} KB" for name, data in steps[-1].items())
    print(f"store_bench: {sizes}; 1-3 lines change per commit")
    print(f"  (machine: {os.cpu_count()} cores, shared)")
    labels = {
        "service": "service: PUT -> durable commit -> answer",
        "service-nd": "same, durable = no (no fsync at all)",
        "git": "git add -A + git commit (git defaults)",
        "git-fsync": "git add -A + git commit, core.fsync=all",
    }
    seconds = {name: [0.0, 0.0] for name in labels}  # rounds, sustained
    with tempfile.TemporaryDirectory(prefix="store_bench-") as tmp:
        folder = Path(tmp)
        sides = {
            "service": ServiceSide(folder / "service", "yes"),
            "service-nd": ServiceSide(folder / "service-nd", "no"),
            "git": GitLoopSide(folder / "git"),
            "git-fsync": GitLoopSide(folder / "git-fsync", "core.fsync=all"),
        }
        try:
            # Taking turns, in a rotating order, spreads the shared machine's changing load
            # (and what one side leaves for the disk to write) over every side alike.
            size = -(-len(rounds) // args.rounds)
            order = list(sides)
            for start in range(0, len(rounds), size):
                for name in order:
                    seconds[name][0] += sides[name].run(rounds[start : start + size])
                order = order[1:] + order[:1]
            if sustained:
                for name, side in sides.items():
                    seconds[name][1] = side.run(sustained)
            trees = {side.tree() for side in sides.values()}
        finally:
            for side in sides.values():
                side.close()
    runs = [(f"{args.commits} in {args.rounds} rounds", args.commits)]
    if sustained:
        runs.append((f"{args.sustained} back to back", args.sustained))
    print(f"  {'':<42}" + "".join(f"{title:>{COLUMN - 2}}  " for title, _ in runs).rstrip())
    print(f"  {'':<42}" + cells(["commits/s", "ms/commit"] * len(runs)).rstrip())
    for name, label in labels.items():
        figures = []
        for n, (_, count) in enumerate(runs):
            figures += [f"{count / seconds[name][n]:.1f}", f"{1000 * seconds[name][n] / count:.2f}"]
        print(f"  {label:<42}" + cells(figures).rstrip())
    for side, label in (("git", "service / git loop"), ("git-fsync", "service / durable git loop")):
        ratios = [f"{seconds[side][n] / seconds['service'][n]:.1f}x" for n in range(len(runs))]
        print(f"  {label:<42}" + cells([cell for ratio in ratios for cell in (ratio, "")]).rstrip())
    print(f"  same final tree on every side: {'yes' if len(trees) == 1 else 'NO'}")
    return 0 if len(trees) == 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
