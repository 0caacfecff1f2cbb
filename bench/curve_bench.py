"""What CURVE costs a request: the snapshot service with ``[mesh] curve = yes`` and ``no``.

A real ``python -m snapshot_service`` (``durable = no``, so that the disk does not drown the
difference) is started once per mode and round, the modes taking turns; one client times
``--requests`` LATEST and ``--requests`` PUTs (a 300-byte file that changes every time).
Printed: the p50 of each per mode, and CURVE's ratio to plain text. It never fails on time::

    .venv/bin/python bench/curve_bench.py [--requests 400] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import Proc, service_args, store_client, wait_for, write_config  # noqa: E402

MODES = ("yes", "no")


def one_round(folder: Path, curve: str, requests: int) -> dict[str, list[float]]:
    """Seconds per LATEST and per PUT against a fresh service in one mode."""
    config = write_config(folder, {"mesh": {"curve": curve}, "snapshot_service": {"durable": "no"}})
    proc = Proc(service_args("snapshot_service", config), folder / "service.out")
    times: dict[str, list[float]] = {"LATEST": [], "PUT": []}
    try:
        with store_client(config, timeout=10, retries=0) as client:
            wait_for(lambda: client.latest("raw"), 30, what="the snapshot service")
            for _ in range(requests):
                started = time.perf_counter()
                client.latest("raw")
                times["LATEST"].append(time.perf_counter() - started)
            for n in range(requests):
                started = time.perf_counter()
                client.put("raw", {"work.tsv": f"{n}\n" * 60})
                times["PUT"].append(time.perf_counter() - started)
    finally:
        proc.stop()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="curve_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="requests of each kind")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per mode, taking turns")
    args = parser.parse_args(argv)
    found = {mode: {"LATEST": [], "PUT": []} for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="curve_bench-") as tmp:
        for round_ in range(args.rounds):
            for mode in MODES:
                folder = Path(tmp) / f"{mode}-{round_}"
                folder.mkdir()
                for kind, values in one_round(folder, mode, args.requests).items():
                    found[mode][kind] += values
    print(f"p50 of {args.requests * args.rounds} requests each, ms (durable = no):")
    print(f"  {'':<8}{'CURVE':>10}{'plain':>10}   ratio")
    for kind in ("LATEST", "PUT"):
        curve, plain = (1000 * statistics.median(found[m][kind]) for m in MODES)
        print(f"  {kind:<8}{curve:>10.3f}{plain:>10.3f}   {curve / plain:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
