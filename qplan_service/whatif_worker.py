"""One what-if, computed in a process of its own: ``python -m qplan_service.whatif_worker``.

qplan_service starts one of these per what-if (at most ``[qplan_service]
whatif_workers`` at a time; one is started ahead and waits on stdin, already
imported: ``qplan_service.workers``), so a what-if never holds up the shared plan, and
kills it (its whole process group) at the what-if's deadline or when the
client gave up. The worker lowers its own CPU priority first so that the
committed planning of the service wins any contest for a core.

stdin: a pickle ``{"model", "edits", "base_plan" (or None), "sizes", "estimates", "runs",
"spread", "seed"}``
from qplan_service (its own child; never from the network). stdout: a pickle
``{"plan": the what-if plan, "changes": [...], "forecast"}`` and, when it was not given
one, ``"base_plan"`` (plans as ``compute_plan`` makes them, without
problems/lineage/status).
Exit code 3 with the message on stderr: an edit is bad (``EditError``).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys

NICENESS = 10


def main() -> int:
    with contextlib.suppress(OSError):  # not allowed here: run at the same priority
        os.nice(NICENESS)
    from planning.montecarlo import forecast
    from planning.planner import compute_plan
    from planning.whatif import EditError, apply_edits, compare_plans

    data = sys.stdin.buffer.read()
    if not data:
        return 0  # a spare whose service stopped (or died) before giving it a what-if
    job = pickle.loads(data)  # noqa: S301 - written by our parent only
    try:
        scenario = apply_edits(job["model"], job["edits"], job["sizes"])
    except EditError as exc:
        sys.stderr.write(str(exc))
        return 3
    base_plan = job["base_plan"] or compute_plan(job["model"])
    plan = compute_plan(scenario)
    predicted = forecast(scenario, job["estimates"], job["runs"], job["spread"], job["seed"])
    answer = {"plan": plan, "changes": compare_plans(base_plan, plan), "forecast": predicted}
    if job["base_plan"] is None:
        answer["base_plan"] = base_plan  # the service keeps it: not sent again next time
    sys.stdout.buffer.write(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
