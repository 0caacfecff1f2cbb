"""The forecast as a filter: qplan streams v1 on stdin, forecast JSON on stdout.

    python -m forecast_service.filter [--runs 1000] [--spread 1.0] [--seed HEX] < streams.txt

Without ``--seed`` the seed comes from the input text, so the same input
gives the same output. Exit 2 with one line on stderr for bad input.
"""

from __future__ import annotations

import argparse
import hashlib
import sys

from formats.forecast import dump_forecast
from formats.streams import StreamsError, parse_streams
from planning.draws import seed_from
from planning.montecarlo import forecast

EXIT_BAD_INPUT = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m forecast_service.filter", description=__doc__)
    parser.add_argument("--runs", type=int, default=1000, help="runs (default 1000)")
    parser.add_argument("--spread", type=float, default=1.0, help="spread (default 1.0; 0: none)")
    parser.add_argument("--seed", help="hex seed (default: from the input)")
    args = parser.parse_args(argv)
    data = sys.stdin.buffer.read()
    try:
        model = parse_streams(data.decode("utf-8"))
    except (UnicodeDecodeError, StreamsError) as exc:
        print(f"forecast_service.filter: bad input: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    seed = seed_from(args.seed or hashlib.sha1(data, usedforsecurity=False).hexdigest())
    try:
        result = forecast(model, None, args.runs, args.spread, seed)
    except ValueError as exc:
        print(f"forecast_service.filter: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    sys.stdout.write(dump_forecast(result, pretty=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
