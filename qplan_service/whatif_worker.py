"""What-ifs computed in a process of their own: ``python -m qplan_service.whatif_worker``.

qplan_service keeps one of these started (``qplan_service.workers``) and *primes* it with
the base it will be asked about: the conditioned commit's parsed model, planned and
forecast once (``planning.replan.prepare``). A what-if then sends only its edits, and
the worker replans only the views they change. A worker serves what-if after what-if on
its base; qplan_service kills it (its whole process group) at a what-if's deadline or
when the client gave up, and primes a fresh one. The worker lowers its own CPU priority
first, so that the committed planning of the service wins any contest for a core.

stdin and stdout carry frames: an 8-byte big-endian length, then a pickle (from and to
qplan_service, its parent; never from the network). In, one of::

    {"op": "base", "key": conditioned SHA, "raw", "status", "model", "sizes", "estimates",
     "problems", "runs", "spread", "seed"}           -> {"ok": "base", "key"}
    {"op": "whatif", "edits", "delta": bool, "forecast": True | False | a track,
     "forecast_delta": bool (each track's forecast against the base's)}
        -> {"ok": "whatif", "same": [track…], "changes": [...],
            "body": the WHATIF answer's body, JSON ready to send: {"delta"
            (``planning.delta``, its rows marked), or "plan" (whole, as the service
            finishes a plan: marked, with the base's problems, lineage and status);
            "forecast" (every track, one, or None) with its lineage}}

The answer is finished and encoded here, at the worker's low priority: the service
only forwards it, so a flood of big what-ifs does not take its CPU from planning.

A bad edit answers ``{"error": "edit", "message"}`` (``EditError``'s, naming the edit) and
the worker goes on; anything else that fails answers ``{"error": "internal", "message"}``
and the worker exits (qplan_service starts another). End of stdin: the worker exits 0.
"""

from __future__ import annotations

import gc
import importlib
import pickle
import struct
import sys
import traceback
from typing import Any, BinaryIO

from mesh.priority import lower_priority

NICENESS = 10
WARM = ("mesh.messages", "planning.delta", "planning.replan", "qplan_service.bases")
LENGTH = struct.Struct(">Q")


def read_frame(stream: BinaryIO) -> Any | None:
    """The next pickled frame of ``stream``; None at its end."""
    head = stream.read(LENGTH.size)
    if len(head) < LENGTH.size:
        return None
    (size,) = LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)  # noqa: S301 - written by our parent only


def frame(value: Any) -> bytes:
    """``value`` as one frame."""
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return LENGTH.pack(len(data)) + data


class Worker:
    """The base a worker holds and the what-ifs it computes on it."""

    def __init__(self) -> None:
        self.prepared = None
        self.held = None  # the base as qplan_service holds it (bases.Base), but its model
        self.sizes: dict[str, float] = {}

    def base(self, job: dict[str, Any]) -> dict[str, Any]:
        from planning.replan import prepare
        from qplan_service.bases import Base

        self.prepared = None
        gc.unfreeze()
        gc.collect()
        self.sizes = job["sizes"]
        self.held = Base(
            job["key"], job.get("raw"), None, job["problems"], job.get("status") or {},
            estimates=job["estimates"],
        )  # fmt: skip
        self.prepared = prepare(
            job["model"], job["estimates"], job["runs"], job["spread"], job["seed"]
        )
        gc.freeze()  # the base lives as long as the worker: the collector need not walk it
        return {"ok": "base", "key": job["key"]}

    def whatif(self, job: dict[str, Any]) -> dict[str, Any]:
        from mesh.messages import encode_body
        from planning.delta import changes_between, plan_delta
        from planning.replan import replan, scenario_views
        from planning.whatif import EditError, apply_edits

        prepared = self.prepared
        if prepared is None:
            raise RuntimeError("a what-if before the worker was given its base")
        try:
            names = (prepared.lay.skills, prepared.lay.tracks)
            scenario = apply_edits(prepared.model, job["edits"], self.sizes, names)
        except EditError as exc:
            return {"error": "edit", "message": str(exc)}
        start = scenario_views(prepared, scenario)
        replanned = replan(prepared, scenario, start)
        same = replanned.same
        told = replanned.aligned, replanned.reordered  # the rows that may differ
        delta, moved = plan_delta(prepared.plan, replanned.plan, same, *told)
        answer: dict[str, Any] = {
            "ok": "whatif",
            "same": sorted(same),
            "changes": changes_between(prepared.plan, replanned.plan, same, moved, *told),
        }
        predicted = None
        if job.get("forecast", True) is not False:
            predicted = self.forecast(scenario, start, job)
        if predicted is not None:
            predicted["lineage"] = {"conditioned": self.held.conditioned}
        if job.get("delta"):
            body = {"delta": self.marked(delta), "forecast": predicted}
        else:
            body = {"plan": self.finished(replanned.plan), "forecast": predicted}
        answer["body"] = encode_body(body)
        return answer

    def forecast(self, scenario, start, job: dict[str, Any]) -> dict[str, Any]:
        """The what-if's forecast as asked: every track, one, each as a delta or whole."""
        from planning.delta import forecast_delta
        from planning.planner import ALL
        from planning.replan import reforecast

        prepared = self.prepared
        wanted = job.get("forecast", True)
        remade: dict[str, list[str] | None] = {}
        if wanted is True:
            predicted = reforecast(prepared, scenario, start, None, remade)
        else:
            tracks = {ALL, *(start.lay.tracks if start.lay is not None else _tracks(scenario))}
            if wanted not in tracks:
                wanted = ALL  # as the page does for a track the what-if has not
            predicted = reforecast(prepared, scenario, start, {wanted}, remade)
        if job.get("forecast_delta"):
            base = prepared.forecast or {}
            predicted["by_track"] = {
                track: forecast_delta(base.get(track), own, remade.get(track, []))
                if track in start.same or track in remade
                else forecast_delta(base.get(track), own)
                for track, own in predicted["by_track"].items()
            }
        return predicted

    def finished(self, plan: dict[str, Any]) -> dict[str, Any]:
        """The whole what-if plan as qplan_service finishes a plan (``finish_plan``), its
        rows copied first: many are the base's own."""
        from qplan_service.bases import finish_plan

        views = plan.get("by_track") or {}
        copied = {
            track: {**view, "work": [dict(row) for row in view.get("work") or []]}
            for track, view in views.items()
        }
        return finish_plan({**plan, "by_track": copied}, self.held)

    def marked(self, delta: dict[str, Any]) -> dict[str, Any]:
        """The delta's whole rows marked as qplan_service marks a plan's items (copies)."""
        from qplan_service.bases import mark_rows

        for spec in delta["views"].values():
            if spec:
                rows = spec["work"]["rows"]
                rows[:] = [[position, dict(row)] for position, row in rows]
                mark_rows((row for _, row in rows), self.held.problems, self.held.estimates)
        return delta


def _tracks(scenario) -> list[str]:
    """The data tracks of a model (as the planner lists them, All left out)."""
    return sorted(({p.track for p in scenario.staff} | {i.track for i in scenario.work}) - {"All"})


def main() -> int:
    lower_priority(NICENESS)  # what cannot be done: run at the same priority
    for module in WARM:  # imported while the worker waits, not during its first what-if
        importlib.import_module(module)

    worker = Worker()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        job = read_frame(stdin)
        if job is None:
            return 0  # the service stopped, or let this worker go
        try:
            gc.disable()  # a what-if makes many objects and keeps few: collect after
            answer = worker.base(job) if job.get("op") == "base" else worker.whatif(job)
        except Exception as exc:  # noqa: BLE001 - reported to the service, which logs it
            said = traceback.format_exception_only(type(exc), exc)[-1].strip()
            stdout.write(frame({"error": "internal", "message": said}))
            stdout.flush()
            return 1
        finally:
            gc.enable()
        stdout.write(frame(answer))
        stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
