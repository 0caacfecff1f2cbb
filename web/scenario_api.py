"""The JSON API of saved scenarios, and the exports (CSV, Excel) of any view.

- ``GET /api/scenarios``  every saved scenario: ``commit`` (of the dataset, null
  before the first save), ``scenarios`` [{name, edits (how many), saved,
  made_on, url}], ``problems`` (files of the dataset that could not be read)
- ``POST /api/scenarios`` ``{"name", "edits"}``  save (or replace) a scenario: every edit
  must apply to the shared plan on screen (400 names the one that does not); 201 new, 200
  replaced: ``created``, ``commit``, ``scenario``
- ``GET /api/scenarios/NAME?track=&triage=``  the scenario (``name``, ``edits``, ``made_on``,
  ``saved``, ``commit``) re-applied to the newest shared plan: ``applied`` (edit numbers),
  ``broken`` [{number, edit, reason}] (edits that no longer apply), ``view`` (as
  ``/api/plan``, rows with ``mark`` {before, after}), ``diff`` (against the shared plan, as
  ``/api/diff``), ``changes``, ``shared`` (that plan's version); ``&apply=0``: the saved
  scenario only
- ``DELETE /api/scenarios/NAME``  delete it (a commit too): ``deleted``, ``commit``
- ``GET /api/export?format=csv|xlsx&track=All&triage=3[&scenario=NAME][&table=work]``  the
  view as a file: xlsx has the sheets Work, Staffing and Version; csv one table (``table``
  work, staffing or version). ``web.exports`` says how text is kept from becoming formulas.

POST and DELETE pass the guard of every state-changing request (``web.guard``): the page's
own Origin and ``Content-Type: application/json``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from web.app import ApiError, ApiHandler
from web.exports import CSV_TYPE, XLSX_TYPE, content_disposition, csv_bytes, xlsx_bytes
from web.scenarios import Problem, Scenarios, marked_view
from web.tables import export_sheets, staffing_table, version_table, work_table
from web.views import ViewError, parse_triage, plan_view

__all__ = ["ScenariosApi", "ScenarioApi", "ExportApi", "routes"]

FORMATS = ("csv", "xlsx")
CSV_TABLES = {"work": work_table, "staffing": staffing_table, "version": version_table}


class _ScenarioHandler(ApiHandler):
    """A handler with the scenarios of the store (one ``Scenarios`` per application)."""

    def initialize(self, scenarios: Scenarios, **objects: Any) -> None:
        super().initialize(**objects)
        self.scenarios = scenarios

    def level(self) -> float:
        """The triage argument as a level; 400 when it is not one."""
        try:
            return parse_triage(self.get_argument("triage", None))
        except ViewError as exc:
            raise ApiError(exc.status, str(exc)) from None

    async def applied(self, scenario: dict[str, Any], track: str, level: float) -> dict:
        """A scenario re-applied to the newest shared plan: the API's fields for it."""
        try:
            applied = await self.scenarios.apply(scenario["edits"])
            view, diff = marked_view(applied.base, applied.plan, applied.forecast, track, level)
        except Problem as exc:
            raise ApiError(exc.status, exc.message) from None
        except ViewError as exc:
            raise ApiError(exc.status, str(exc)) from None
        except (AttributeError, TypeError, ValueError) as exc:
            raise ApiError(503, f"the scenario's plan is malformed: {exc}") from None
        return {
            "shared": applied.shared.version(),
            "applied": applied.applied,
            "broken": applied.broken,
            "changes": applied.changes,
            "diff": diff,
            "view": {**applied.shared.version(), **view},
        }

    async def saved(self, name: str) -> dict[str, Any]:
        """One saved scenario with the dataset's commit; 404 when there is none."""
        try:
            commit, scenario = await self.scenarios.one(name)
        except Problem as exc:
            raise ApiError(exc.status, exc.message) from None
        return {**scenario, "commit": commit}


class ScenariosApi(_ScenarioHandler):
    """``GET /api/scenarios``: the list; ``POST``: save one."""

    async def get(self) -> None:
        try:
            commit, found = await self.scenarios.read()
        except Problem as exc:
            raise ApiError(exc.status, exc.message) from None
        listed = [
            {
                "name": name,
                "edits": len(s["edits"]),
                "saved": s.get("saved"),
                "made_on": s.get("made_on") or {},
                "url": "/?" + f"scenario={quote(name, safe='')}",
            }
            for name, s in sorted(found.items(), key=lambda pair: pair[0].casefold())
        ]
        self.send({"commit": commit, "scenarios": listed})

    async def post(self) -> None:
        body = self.json_body('{"name": ..., "edits": [...]}')
        unknown = sorted(set(body) - {"name", "edits"})
        if unknown:
            raise ApiError(400, f"unknown field {unknown[0][:40]!r}; send name and edits")
        self.service.worked()
        try:
            answer = await self.scenarios.save(body.get("name"), body.get("edits"))
        except Problem as exc:
            raise ApiError(exc.status, exc.message) from None
        self.set_status(201 if answer["created"] else 200)
        self.send(answer)


class ScenarioApi(_ScenarioHandler):
    """``GET /api/scenarios/NAME``: one, re-applied; ``DELETE``: delete it."""

    async def get(self, name: str) -> None:
        scenario = await self.saved(name)
        if self.get_argument("apply", "1") in ("0", "no", "false"):
            self.send(scenario)
            return
        level = self.level()
        self.service.worked()
        applied = await self.applied(scenario, self.get_argument("track", "All"), level)
        self.send({**scenario, **applied})

    async def delete(self, name: str) -> None:
        try:
            self.send(await self.scenarios.delete(name))
        except Problem as exc:
            raise ApiError(exc.status, exc.message) from None


class ExportApi(_ScenarioHandler):
    """``GET /api/export?format=csv|xlsx&track=&triage=[&scenario=][&table=]``: a file."""

    async def get(self) -> None:
        kind = self.get_argument("format", "csv")
        if kind not in FORMATS:
            raise ApiError(400, f"format {kind[:20]!r} is not one of {', '.join(FORMATS)}")
        table = self.get_argument("table", "work")
        if table not in CSV_TABLES:
            raise ApiError(400, f"table {table[:20]!r} is not one of {', '.join(CSV_TABLES)}")
        track, level = self.get_argument("track", "All"), self.level()
        name = self.get_argument("scenario", "")
        scenario = None
        if name:
            scenario = await self.saved(name)
            self.service.worked()
            applied = await self.applied(scenario, track, level)
            view = applied["view"]
            scenario["broken"] = applied["broken"]
        else:
            current = self.current()
            try:
                view = {
                    **current.version(),
                    **plan_view(current.plan, track, level, current.forecast),
                }
            except ViewError as exc:
                raise ApiError(exc.status, str(exc)) from None
        if kind == "xlsx":
            data = xlsx_bytes(export_sheets(view, scenario))
            self.set_header("Content-Type", XLSX_TYPE)
        else:
            if table == "work":
                columns, rows = work_table(view, scenario is not None)
            elif table == "version":
                columns, rows = version_table(view, scenario)
            else:
                columns, rows = staffing_table(view)
            data = csv_bytes(columns, rows)
            self.set_header("Content-Type", CSV_TYPE)
        filename = _filename(view, name, table if kind == "csv" else "", kind)
        self.set_header("Content-Disposition", content_disposition(filename))
        self.finish(data)


def _filename(view: dict[str, Any], scenario: str, table: str, kind: str) -> str:
    """``qplan-Checkout-triage-2-1a2b3c4d[-scenario-NAME][-staffing].csv``."""
    level = f"{view.get('triage', 3):g}".replace(".", "_")
    parts = ["qplan", str(view.get("track", "All")), f"triage-{level}"]
    parts.append(str(view.get("commit") or "")[:8])
    if scenario:
        parts += ["scenario", scenario]
    if table and table != "work":
        parts.append(table)
    return re.sub(r"\s+", "_", "-".join(p for p in parts if p)) + f".{kind}"


def routes(ctx: dict[str, Any], scenarios: Scenarios) -> list[tuple]:
    """The handlers of this module, with the app's one ``Scenarios``."""
    own = {**ctx, "scenarios": scenarios}
    return [
        (r"/api/scenarios", ScenariosApi, own),
        (r"/api/scenarios/(.+)", ScenarioApi, own),
        (r"/api/export", ExportApi, own),
    ]
