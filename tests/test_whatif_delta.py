"""A what-if answered as a delta through a real qplan_service rebuilds the whole answer exactly.

The web holds the base's plan commit; it asks for what a what-if changes in it, and for the
shown track's forecast as what changed against the base's own what-if forecast. Applied,
both must equal the whole answer, for every kind of edit path (people only: lane by lane;
an item's rank: its views whole; the holidays: everything), with the rows' problems.
A worker primed with the base serves what-if after what-if, a bad edit included.
"""

from __future__ import annotations

import json
import re

import pytest

from mesh.errors import RemoteError
from mesh.messages import whatif_answer
from planning.delta import apply_delta, apply_forecast_delta
from tests.planner_mesh import WORKED, Mesh

PROBLEM = {
    "severity": "warning",
    "sheet": "work",
    "row": 4,
    "column": "Estimate",
    "value": "30",
    "message": "a big estimate",
    "item": "W40",
}
EDITS = {
    "people": [
        {"op": "add_people", "skill": "Apps", "track": "Track2", "count": 3},
        {"op": "remove_person", "person": "Carol"},
    ],
    "rank": [{"op": "set_rank", "item": "W40", "rank": 1}],
    "estimate": [{"op": "set_estimate", "item": "W10", "estimate": {"Apps": 1, "Web": 2}}],
    "track": [{"op": "set_track", "item": "W10", "track": "Track2"}],
    "holidays": [{"op": "set_holidays", "dates": ["2013-10-08"]}],
}


@pytest.fixture
def mesh(planner_mesh):
    return planner_mesh


def ask(mesh: Mesh, header: dict) -> dict:
    return whatif_answer(mesh.planner.call("WHATIF", header))


@pytest.mark.parametrize("kind", sorted(EDITS))
def test_a_delta_answer_rebuilds_the_whole_answer(mesh, kind):
    mesh.start()
    sha = mesh.put_conditioned(WORKED, [PROBLEM])
    committed = json.loads(mesh.plan_from(sha).text("plan.json"))
    edits = EDITS[kind]
    whole = mesh.whatif(edits)
    own = ask(mesh, {"base": sha, "edits": [], "delta": True, "forecast": "Track2"})
    reply = mesh.planner.call(
        "WHATIF",
        {"base": sha, "edits": edits, "delta": True, "forecast": "Track2", "forecast_delta": True},
    )
    assert "plan" not in reply.header and len(reply.bodies) == 1  # the big parts in the body
    answer = whatif_answer(reply)
    plan = apply_delta(committed, answer["delta"])
    assert plan == whole["plan"]
    marked = next(i for i in plan["by_track"]["Track2"]["work"] if i["id"] == "W40")
    assert marked["problems"] == [PROBLEM]
    assert answer["changes"] == whole["changes"] and answer["base"] == whole["base"]
    sent = answer["forecast"]["by_track"]["Track2"]
    assert "items" not in sent  # only what changed
    base_items = own["forecast"]["by_track"]["Track2"]
    rebuilt = apply_forecast_delta(base_items, sent)
    assert rebuilt == whole["forecast"]["by_track"]["Track2"]
    if kind == "people":
        assert answer["same"] == ["Track1"] and answer["delta"]["views"]["Track1"] is None


def test_one_primed_worker_serves_what_if_after_what_if(mesh):
    mesh.start()
    sha = mesh.put_conditioned(WORKED)
    mesh.plan_from(sha)
    for edits in EDITS.values():
        assert mesh.whatif(edits)["base"]["conditioned"] == sha
    with pytest.raises(RemoteError, match=r"edit 1 \(set_rank\): unknown item 'W99'"):
        mesh.whatif([{"op": "set_rank", "item": "W99", "rank": 1}])
    assert mesh.whatif(EDITS["people"])["changes"]
    given = re.findall(r"what-if given to worker pid (\d+)", mesh.service.output())
    asked = len(EDITS) + 2  # every kind, the bad edit, and people again
    assert len(given) == asked and len(set(given)) == 1  # a bad edit does not cost the worker
