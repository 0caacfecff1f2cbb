"""The history the web reads from the store: plan versions, baselines, comparisons with blame.

``History`` owns what the history page and its API need beyond the current
plan (``web.plans.Plans``, whose store client and plan cache it shares):

- the plan log, newest first, kept in memory and topped up with one small LOG
  per request; it reaches further back (up to the store's 10,000-entry LOG)
  only when a ``date:`` asks for it;
- the status of each version (stale, fatal problems) from its conditioned
  commit's message, which condition_service writes as
  ``Condition raw@SHA: ...; problems: N fatal, N error, N warning``;
- the baselines (dataset ``baselines``, ``formats.baselines``), written one
  commit per save;
- comparisons: ``resolve`` turns a SHA, ``latest``, ``baseline:NAME`` or
  ``date:YYYY-MM-DD`` (the plan current at the end of that day, UTC, the
  store's clock) into a plan commit; ``compare`` reads the two plans, their
  conditioned commits and their raw commits (six GETs, each cached: commits
  never change) and returns ``web.compare`` rows with ``web.blame`` causes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from collections import OrderedDict
from typing import Any

from formats.baselines import (
    BASELINES_FILE,
    DATASET,
    BaselineError,
    check_name,
    dump_baselines,
    load_baselines,
)
from formats.conditioned import STREAMS
from formats.streams import Model, StreamsError, parse_streams
from mesh.checks import BadRequest, ErrorCode, check_sha
from mesh.errors import RemoteError
from mesh.store_messages import MAX_LOG_LIMIT
from web.blame import BlameInputs, blame
from web.compare import CompareError, compare_plans
from web.plans import Plans, PlanVersion
from web.rawdiff import Sheet, read_sheets
from web.scenarios import Problem, Scenarios

__all__ = ["History", "HistoryError", "MAX_BASELINES", "REF_FORMS"]

LOG_STEP = 50  # plan versions a request's LOG asks for to catch up with the newest
MAX_BASELINES = 500
CACHE = 8  # parsed conditioned models, raw sheets and comparisons kept
REF_FORMS = "a plan SHA (7-40 hex digits), latest, baseline:NAME, date:YYYY-MM-DD or scenario:NAME"
MAX_SCENARIO_CAUSES = 5  # edits listed as the causes of one row
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PROBLEMS = re.compile(r"problems: (\d+) fatal, (\d+) error, (\d+) warning")


class HistoryError(ValueError):
    """A history request that cannot be answered; ``status`` is the HTTP code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _keep(cache: OrderedDict, key: Any, value: Any) -> Any:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > CACHE:
        cache.popitem(last=False)
    return value


def version_status(message: str) -> dict[str, Any]:
    """Stale and problem counts from a conditioned commit's message (None: not said)."""
    found = _PROBLEMS.search(message or "")
    counts = dict(zip(("fatal", "error", "warning"), map(int, found.groups()), strict=True))
    return {"stale": ": stale" in (message or ""), "problems": counts if found else None}


def _seconds(iso: str) -> float:
    return dt.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()


def _reach(entries: list[dict[str, Any]], cutoff: str) -> int:
    """How many log entries to ask for to reach back to ``cutoff``, at the pace seen so far.

    One LOG of about the right depth costs the store less than several growing ones (each
    walks again from the newest commit).
    """
    try:
        newest, oldest = _seconds(entries[0]["time"]), _seconds(entries[-1]["time"])
        pace = (newest - oldest) / max(len(entries) - 1, 1)  # seconds per version
        more = (oldest - _seconds(cutoff)) / pace if pace > 0 else 4 * len(entries)
    except (KeyError, TypeError, ValueError):  # a time the store did not write
        more = 4 * len(entries)
    wanted = max(2 * len(entries), int(len(entries) + 1.25 * more) + LOG_STEP)
    return min(MAX_LOG_LIMIT, wanted)


class History:
    """Plan versions, baselines and comparisons, read through ``plans``' store client."""

    def __init__(self, plans: Plans, scenarios: Scenarios | None = None) -> None:
        self.plans = plans
        self.scenarios = scenarios  # for scenario:NAME, a saved what-if on the newest plan
        self._log: list[dict[str, Any]] = []  # plan commits, newest first, no gaps
        self._complete = False  # the log holds every plan commit
        self._status: dict[str, dict[str, Any]] = {}  # conditioned sha -> version_status
        self._models: OrderedDict[str, Model | None] = OrderedDict()
        self._sheets: OrderedDict[str, dict[str, Sheet]] = OrderedDict()
        self._results: OrderedDict[tuple[str, str, str], dict[str, Any]] = OrderedDict()
        self._saving = asyncio.Lock()

    @property
    def store(self):
        return self.plans.store

    # -- the plan log -------------------------------------------------------------

    async def log(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` plan commits (one small LOG, more only when not yet read)."""
        if self._log and (limit <= len(self._log) or self._complete):
            head = await self.store.log(self.plans.dataset, LOG_STEP)
            known = {entry["commit"]: n for n, entry in enumerate(head)}
            if self._log[0]["commit"] in known:
                self._log = head[: known[self._log[0]["commit"]]] + self._log
            else:  # more new versions than one LOG_STEP: start again from the newest
                self._log, self._complete = head, len(head) < LOG_STEP
        if limit > len(self._log) and not self._complete:  # one LOG reads new and old alike
            wanted = min(MAX_LOG_LIMIT, max(limit, LOG_STEP, 2 * len(self._log)))
            self._log = await self.store.log(self.plans.dataset, wanted)
            self._complete = len(self._log) < wanted
        return self._log[:limit]

    async def at_date(self, day: str) -> dict[str, Any]:
        """The plan commit current at the end of ``day`` (UTC): the newest made by then."""
        cutoff = f"{day}T23:59:59Z"
        await self.log(LOG_STEP)  # up to date with the newest
        entries = self._log  # and every older entry read before
        while True:
            for entry in entries:
                if str(entry.get("time") or "") <= cutoff:
                    return entry
            if self._complete or len(entries) >= MAX_LOG_LIMIT:
                break
            entries = await self.log(_reach(entries, cutoff))
        oldest = entries[-1]["time"] if entries else None
        if entries and not self._complete:
            raise HistoryError(404, f"no plan by {day} among the newest {len(entries)} versions")
        after = f" (the first is of {oldest[:10]})" if oldest else ""
        raise HistoryError(404, f"there was no plan yet at the end of {day}{after}")

    async def versions(self, limit: int) -> list[dict[str, Any]]:
        """The newest plan versions, each with its status and the baselines naming it."""
        entries = await self.log(limit)
        sources = [(e.get("lineage") or {}).get("conditioned") for e in entries]
        missing = [n for n, sha in enumerate(sources) if sha and sha not in self._status]
        if missing:  # usually only the newest few: read the conditioned log that deep
            depth = min(MAX_LOG_LIMIT, 2 * (missing[-1] + 1) + LOG_STEP)
            for entry in await self.store.log("conditioned", depth):
                self._status[entry["commit"]] = version_status(entry.get("message", ""))
        names: dict[str, list[str]] = {}
        for baseline in await self.baselines(missing_ok=True):
            names.setdefault(baseline["plan"], []).append(baseline["name"])
        out = []
        for entry in entries:
            status = self._status.get((entry.get("lineage") or {}).get("conditioned"), {})
            problems = status.get("problems") or {}
            out.append(
                {
                    **entry,
                    "stale": bool(status.get("stale")),
                    "fatal": bool(problems.get("fatal")),
                    "problems": status.get("problems"),
                    "baselines": names.get(entry["commit"], []),
                }
            )
        return out

    # -- baselines ----------------------------------------------------------------

    async def baselines(self, missing_ok: bool = False) -> list[dict[str, Any]]:
        """Every baseline, by name (none when the store keeps none and ``missing_ok``)."""
        try:
            snapshot = await self.store.get(DATASET)
        except RemoteError as exc:
            if exc.code != ErrorCode.UNKNOWN_DATASET:
                raise
            if missing_ok:
                return []
            raise HistoryError(
                503,
                f"the store keeps no {DATASET}: add {DATASET} to [snapshot_service] datasets "
                "in config.ini and restart the mesh",
            ) from None
        try:
            return load_baselines(snapshot.files.get(BASELINES_FILE))
        except BaselineError as exc:
            raise HistoryError(503, f"{DATASET}@{snapshot.commit}: {exc}") from None

    async def save_baseline(
        self, name: Any, plan: Any = None, replace: bool = False
    ) -> tuple[dict[str, Any], bool]:
        """Name a plan version (the latest by default); ``(baseline, made)``.

        Saving a name again for the plan it already names changes nothing; for another plan
        it is refused (409) unless ``replace``.
        """
        try:
            name = check_name(name)
        except BaselineError as exc:
            raise HistoryError(400, str(exc)) from None
        if plan is not None and not isinstance(plan, str):
            raise HistoryError(400, f'"plan" must be {REF_FORMS}')
        async with self._saving:  # read, change, write: one save at a time
            version = await self.plans.at(await self.resolve(plan or "latest", "plan"))
            baselines = await self.baselines()
            same = [b for b in baselines if b["name"] == name]
            if same and same[0]["plan"] == version.commit:
                return same[0], False
            if same and not replace:
                was = same[0]["plan"][:12]
                why = f"baseline {name!r} already names plan {was}; send replace: true to move it"
                raise HistoryError(409, why)
            if not same and len(baselines) >= MAX_BASELINES:
                raise HistoryError(400, f"there are {MAX_BASELINES} baselines already")
            entry = {
                "name": name,
                "plan": version.commit,
                "time": version.time,
                "conditioned": version.lineage.get("conditioned"),
                "raw": version.lineage.get("raw"),
                "saved": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            kept = [b for b in baselines if b["name"] != name] + [entry]
            await self.store.put(
                DATASET,
                {BASELINES_FILE: dump_baselines(kept)},
                source=f"plan@{version.commit}",
                message=f"Baseline {name!r}: plan@{version.commit[:12]}",
                producer="web",
            )
            return entry, True

    # -- comparisons --------------------------------------------------------------

    async def resolve(self, ref: Any, what: str = "from") -> str:
        """The plan commit (maybe abbreviated) a reference names; HistoryError if none."""
        if not isinstance(ref, str) or not ref:
            raise HistoryError(400, f"{what} must be {REF_FORMS}")
        if ref == "latest":
            current = self.plans.current
            if current is not None:
                return current.commit
            newest = await self.log(1)
            if not newest:
                raise HistoryError(503, "waiting for data: no plan has been computed yet")
            return newest[0]["commit"]
        kind, _, rest = ref.partition(":")
        if kind == "baseline" and rest:
            for baseline in await self.baselines():
                if baseline["name"] == rest:
                    return baseline["plan"]
            names = ", ".join(repr(b["name"]) for b in await self.baselines()) or "none yet"
            raise HistoryError(404, f"no baseline named {rest[:70]!r} (baselines: {names})")
        if kind == "date" and rest:
            try:
                if not _DAY.match(rest):
                    raise ValueError(rest)
                dt.date.fromisoformat(rest)
            except ValueError:
                why = f"{what} {ref[:40]!r}: the date must be YYYY-MM-DD"
                raise HistoryError(400, why) from None
            return (await self.at_date(rest))["commit"]
        try:
            return check_sha(ref, what)
        except BadRequest:
            raise HistoryError(400, f"{what} {ref[:50]!r} is not {REF_FORMS}") from None

    async def compare(
        self, old_ref: str, new_ref: str, track: str = "All", causes: bool = True
    ) -> dict[str, Any]:
        """The comparison of two plan references, one row per item of ``track``.

        ``scenario:NAME`` on either side is that saved what-if re-applied to the newest
        shared plan; the rows it moved name its edits as their causes.
        """
        before, old_scenario = await self._side(old_ref, "from")
        after, new_scenario = await self._side(new_ref, "to")
        scenarios = [s for s in (old_scenario, new_scenario) if s is not None]
        key = (before.commit, after.commit, f"{track}\n{causes}")
        result = None if scenarios else self._results.get(key)
        if result is None:
            try:
                result = compare_plans(before.plan, after.plan, track)
            except CompareError as exc:
                raise HistoryError(exc.status, str(exc)) from None
            except (AttributeError, TypeError) as exc:  # a plan of another shape
                raise HistoryError(400, f"a plan this page cannot read: {exc}") from None
            result["unexplained"] = 0
            result["blame"] = None
            if causes and any(r["status"] != "unchanged" for r in result["rows"]):
                inputs, note = await self._blame_inputs(before, after)
                result["blame"] = note
                result["unexplained"] = blame(result["rows"], inputs, track)
                if scenarios:
                    result["unexplained"] = scenario_causes(result["rows"], scenarios)
            if not scenarios:
                _keep(self._results, key, result)
        tracks = list(after.plan.get("tracks") or [])
        tracks += [t for t in before.plan.get("tracks") or [] if t not in tracks]
        return {
            "from": {"ref": old_ref, **before.version(), **_scenario_fields(old_scenario)},
            "to": {"ref": new_ref, **after.version(), **_scenario_fields(new_scenario)},
            "tracks": tracks,
            **result,
        }

    async def _side(self, ref: Any, what: str) -> tuple[PlanVersion, dict[str, Any] | None]:
        """The plan a reference names; for ``scenario:NAME`` also the scenario as applied."""
        kind, _, name = ref.partition(":") if isinstance(ref, str) else ("", "", "")
        if kind != "scenario" or not name:
            return await self.plans.at(await self.resolve(ref, what)), None
        if self.scenarios is None:
            raise HistoryError(404, f"{what}: this web keeps no saved scenarios")
        try:
            _, saved = await self.scenarios.one(name)
            applied = await self.scenarios.apply(saved["edits"])
        except Problem as exc:
            raise HistoryError(exc.status, f"{what} {ref[:80]!r}: {exc.message}") from None
        version = PlanVersion(
            commit=applied.shared.commit,
            seq=applied.shared.seq,
            time=applied.shared.time,
            chain=applied.shared.chain,
            lineage=applied.shared.lineage,
            plan=applied.plan,
        )
        edits = saved["edits"]
        return version, {
            "name": name,
            "edits": edits,
            "applied": applied.applied,
            "broken": applied.broken,
        }

    async def _blame_inputs(self, before, after) -> tuple[BlameInputs, str | None]:
        """Both conditioned models and raw sheets; a note when a side could not be read."""
        notes = []
        models, sheets = [], []
        for version in (before, after):
            lineage = version.lineage
            model = await self._model(lineage.get("conditioned"))
            status = version.plan.get("status") if isinstance(version.plan, dict) else None
            raw = (status or {}).get("streams_from") or lineage.get("raw")
            if model is None:
                notes.append(f"plan {version.commit[:12]} has no readable conditioned data")
            models.append(model)
            sheets.append(await self._raw(raw))
        note = "; ".join(notes) or None
        return BlameInputs(before.plan, after.plan, models[0], models[1], *sheets), note

    async def _model(self, sha: str | None) -> Model | None:
        if not sha:
            return None
        if sha not in self._models:
            snapshot = await self.store.get("conditioned", sha)
            try:
                model = parse_streams(snapshot.text(STREAMS)) if STREAMS in snapshot.files else None
            except (StreamsError, UnicodeDecodeError):
                model = None
            _keep(self._models, sha, model)
        return self._models[sha]

    async def _raw(self, sha: str | None) -> dict[str, Sheet]:
        if not sha:
            return {}
        if sha not in self._sheets:
            snapshot = await self.store.get("raw", sha)
            _keep(self._sheets, sha, read_sheets(snapshot.files))
        return self._sheets[sha]


def _scenario_fields(scenario: dict[str, Any] | None) -> dict[str, Any]:
    """What a compare says of a scenario side: its name, applied and broken edits."""
    if scenario is None:
        return {}
    return {k: scenario[k] for k in ("applied", "broken")} | {"scenario": scenario["name"]}


def _edit_text(number: int, edit: dict[str, Any]) -> str:
    details = ", ".join(f"{key} {value}" for key, value in edit.items() if key != "op")
    return f"edit {number}: {edit.get('op')} ({details})"


def scenario_causes(rows: list[dict[str, Any]], scenarios: list[dict[str, Any]]) -> int:
    """Add the scenarios' applied edits to the causes of every moved row, those naming the
    item first; a what-if's own edits explain what it moved. How many moved rows are still
    without a reason (none: every moved row gets the edits)."""
    unexplained = 0
    for row in rows:
        if row.get("status") == "unchanged":
            continue
        found = []
        for scenario in scenarios:
            for number in scenario["applied"]:
                edit = scenario["edits"][number - 1]
                text = f"scenario {scenario['name']!r}, {_edit_text(number, edit)}"
                direct = edit.get("item") == row.get("id")
                found.append((not direct, {"kind": "scenario", "text": text, "cells": []}))
        found.sort(key=lambda pair: pair[0])
        listed = [cause for _, cause in found[:MAX_SCENARIO_CAUSES]]
        kept = [c for c in row.get("causes") or [] if c.get("kind") != "unexplained"]
        row["causes"] = listed + kept if listed else row.get("causes") or []
        unexplained += bool(row["causes"]) and row["causes"][0].get("kind") == "unexplained"
    return unexplained
