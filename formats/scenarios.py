"""The scenarios dataset: what-ifs saved under a name (``scenarios/<name>.json``, ``index.tsv``).

One file per scenario, named after it (``quote``d: ``Two%20more%20Web.json``), so
that ``git log -p`` of the dataset reads one scenario at a time::

    {"name": "Two more Web", "edits": [edit...],
     "made_on": {"plan": SHA, "conditioned": SHA, "raw": SHA},
     "saved": "2026-11-23T10:00:00Z"}

``edits`` are what-if edits (``planning.whatif``, README "Edits"), as the page
sends them; ``made_on`` is the plan they were checked against when saved (the
commit's ``Source:`` is ``plan@<that SHA>``). ``index.tsv`` lists every
scenario, one a line (name, file, saved, plan), for people reading the store
with plain git; it is always there, so that deleting the last scenario is a
commit like any other (a PUT needs at least one file). The web is the only
writer.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

__all__ = [
    "SCENARIOS_DATASET",
    "INDEX_FILE",
    "MAX_NAME",
    "MAX_SCENARIO_EDITS",
    "ScenarioError",
    "check_name",
    "check_edits",
    "file_name",
    "dump_scenario",
    "load_scenario",
    "load_scenarios",
    "dataset_files",
]

SCENARIOS_DATASET = "scenarios"
INDEX_FILE = "index.tsv"
MAX_NAME = 60  # characters
MAX_FILE = 250  # bytes of the file name (the store takes 255)
MAX_SCENARIO_EDITS = 200  # as qplan_service's default whatif_max_edits
# A letter or digit first; then letters, digits, spaces and a few marks people use in names.
NAME = re.compile(r"^[^\W_][\w .,()'&+#-]*$")


class ScenarioError(ValueError):
    """A scenario name, edit list or file that is not one; the message names the problem."""


def check_name(name: Any) -> str:
    """The name (NFC) if it may name a scenario; raises ScenarioError saying why not."""
    if not isinstance(name, str):
        raise ScenarioError('"name" must be text, like "Two more Web engineers"')
    name = unicodedata.normalize("NFC", name)
    if not name.strip():
        raise ScenarioError("the name is empty")
    if len(name) > MAX_NAME:
        raise ScenarioError(f"the name is {len(name)} characters long; at most {MAX_NAME}")
    if name != name.strip() or "  " in name:
        raise ScenarioError("the name must not start or end with a space, nor hold two in a row")
    if len(file_name(name).encode("utf-8")) > MAX_FILE:
        raise ScenarioError("the name is too long once written as a file name; shorten it")
    if not NAME.match(name):
        raise ScenarioError(
            f"the name {name!r} must start with a letter or digit and hold only letters, "
            "digits, spaces and . , ( ) ' & + # - _"
        )
    return name


def check_edits(edits: Any) -> list[dict[str, Any]]:
    """The edits if they have the shape of what-if edits; raises ScenarioError naming one.

    Only the shape: whether each edit applies to a plan is the planner's to say.
    """
    if not isinstance(edits, list):
        raise ScenarioError('"edits" must be a list of what-if edits')
    if len(edits) > MAX_SCENARIO_EDITS:
        raise ScenarioError(f"{len(edits)} edits; a scenario holds at most {MAX_SCENARIO_EDITS}")
    for number, edit in enumerate(edits, start=1):
        if not isinstance(edit, dict) or not isinstance(edit.get("op"), str):
            raise ScenarioError(f'edit {number} must be an object with an "op"')
    return [dict(edit) for edit in edits]


def file_name(name: str) -> str:
    """The file of a scenario in the dataset: its name, percent-encoded, + ``.json``."""
    return quote(name, safe="") + ".json"


def dump_scenario(scenario: Mapping[str, Any]) -> bytes:
    """A scenario as committed: keys sorted, one key a line (git diffs read well)."""
    text = json.dumps(scenario, sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


def load_scenario(data: bytes) -> dict[str, Any]:
    """One scenario file; raises ScenarioError when it is not one."""
    try:
        scenario = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ScenarioError(f"not JSON: {exc}") from None
    if not isinstance(scenario, dict):
        raise ScenarioError("not a JSON object")
    scenario["name"] = check_name(scenario.get("name"))
    scenario["edits"] = check_edits(scenario.get("edits"))
    if not isinstance(scenario.get("made_on"), dict):
        scenario["made_on"] = {}
    return scenario


def load_scenarios(files: Mapping[str, bytes]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Every scenario of a snapshot by name, and a line per file that could not be read."""
    found: dict[str, dict[str, Any]] = {}
    problems = []
    for name, data in sorted(files.items()):
        if name == INDEX_FILE or not name.endswith(".json"):
            continue
        try:
            scenario = load_scenario(data)
        except ScenarioError as exc:
            problems.append(f"{name}: {exc}")
            continue
        if file_name(scenario["name"]) != name:
            problems.append(f"{name}: holds the scenario {scenario['name']!r}, filed elsewhere")
            continue
        found[scenario["name"]] = scenario
    return found, problems


def _cell(value: Any) -> str:
    return str(value or "").replace("\t", " ").replace("\n", " ").replace("\r", " ")


def dataset_files(scenarios: Mapping[str, Mapping[str, Any]]) -> dict[str, bytes]:
    """The dataset's files for these scenarios: one file each, and the index."""
    files = {file_name(name): dump_scenario(s) for name, s in scenarios.items()}
    lines = ["name\tfile\tsaved\tplan"]
    for name in sorted(scenarios, key=str.casefold):
        scenario = scenarios[name]
        plan = (scenario.get("made_on") or {}).get("plan")
        lines.append(
            "\t".join(_cell(v) for v in (name, file_name(name), scenario.get("saved"), plan))
        )
    files[INDEX_FILE] = ("\n".join(lines) + "\n").encode("utf-8")
    return files
