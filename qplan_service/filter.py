"""The planner as a filter: qplan streams text on stdin, plan JSON on stdout.

    python -m qplan_service.filter < streams.txt > plan.json

Text that is not qplan streams v1 gets one line on stderr naming the bad
line, and exit code 2; nothing is written to stdout then.
"""

from __future__ import annotations

import gc
import os
import sys

from formats.streams import StreamsError, parse_streams
from planning.planner import compute_plan, plan_to_json

__all__ = ["main", "EXIT_BAD_INPUT"]

EXIT_BAD_INPUT = 2


def main() -> int:
    """Read streams on stdin, write the plan on stdout; returns the exit code."""
    # A filter lives for one plan and builds no reference cycles: the cyclic
    # collector would only rescan the model's objects again and again.
    gc.disable()
    try:
        text = sys.stdin.buffer.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        print(f"qplan filter: input is not UTF-8 (byte {exc.start})", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        model = parse_streams(text)
    except StreamsError as exc:
        print(f"qplan filter: bad streams input: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    sys.stdout.buffer.write(plan_to_json(compute_plan(model)).encode("utf-8"))
    sys.stdout.buffer.write(b"\n")
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is written: skip the interpreter's teardown, which would free
    # the model and the plan object by object (a tenth of the run for big plans).
    os._exit(code)
