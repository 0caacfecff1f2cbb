"""The history page's API: plan versions, baselines, and compare-with-blame (``web.history``).

- ``GET /api/versions?limit=100``  the newest plan versions (``limit`` 1-500), each with
  ``stale``, ``fatal``, ``problems`` {fatal, error, warning} and the ``baselines`` naming it
- ``GET /api/baselines``  ``{"baselines": [{name, plan, time, conditioned, raw, saved}]}``
- ``POST /api/baselines`` ``{"name", "plan"?, "replace"?}``  name a plan version (the latest
  by default; ``plan`` is any reference ``/api/compare`` takes): 201 with ``baseline``, 200
  when the name already names that plan, 400 a bad name, 404 an unknown plan, 409 a name
  that names another plan (unless ``replace``: true)
- ``GET /api/compare?from=X&to=Y&track=All[&causes=0]``  X and Y are a plan SHA,
  ``latest``, ``baseline:NAME``, ``date:YYYY-MM-DD`` or ``scenario:NAME`` (a saved what-if
  on the newest plan: its side also says ``scenario``, ``applied`` and ``broken`` edits,
  and the rows it moved name its edits as causes, kind ``scenario``). The answer: ``from``
  and ``to`` (each with ``ref`` and the version), ``track``, ``tracks``, ``rows`` (one per
  item: id, name, rank, track, before, after, dnf_before, dnf_after, days_slipped,
  shortage_before, shortage_after, status, causes), ``counts`` per status,
  ``unexplained`` (moved rows with no listed reason) and ``blame`` (a note when a side's
  data could not be read, else null); ``&format=csv`` or ``xlsx``: the same as a file
  (``web.tables.compare_sheets``)

The handlers build on ``web.app``'s (the guard, JSON errors); ``make_app`` adds them.
"""

from __future__ import annotations

from typing import Any

from mesh.errors import ProtocolError, RemoteError, RequestTimeout
from web.app import ApiError, ApiHandler
from web.exports import CSV_TYPE, XLSX_TYPE, content_disposition, csv_bytes, xlsx_bytes
from web.history import History, HistoryError
from web.scenarios import Scenarios
from web.tables import compare_sheets, compare_table

__all__ = ["history_handlers"]

MAX_VERSIONS = 500
MAX_TRACK = 100  # characters
STORE_ERRORS = (RemoteError, RequestTimeout, ProtocolError)


class HistoryHandler(ApiHandler):
    """An API handler with the ``History`` and its errors as API errors."""

    def initialize(self, history: History, **objects: Any) -> None:
        super().initialize(**objects)
        self.history = history

    async def answer(self, work) -> Any:
        """Await ``work``; a HistoryError or a failed store request becomes an ApiError."""
        try:
            return await work
        except HistoryError as exc:
            raise ApiError(exc.status, str(exc)) from None
        except STORE_ERRORS as exc:
            raise self.store_failed(exc) from None
        except ValueError as exc:  # Plans.at: the commit holds no readable plan
            raise ApiError(400, f"that commit does not hold a readable plan: {exc}") from None


class VersionsApi(HistoryHandler):
    """``GET /api/versions?limit=100``: plan versions with their status and baselines."""

    async def get(self) -> None:
        text = self.get_argument("limit", "100")
        try:
            limit = int(text)
        except ValueError:
            raise ApiError(400, f"limit {text[:20]!r} is not a whole number") from None
        if not 1 <= limit <= MAX_VERSIONS:
            raise ApiError(400, f"limit must be from 1 to {MAX_VERSIONS}")
        versions = await self.answer(self.history.versions(limit))
        current = self.plans.current
        self.send({"versions": versions, "latest": current.commit if current else None})


class BaselinesApi(HistoryHandler):
    """``GET /api/baselines`` lists them; ``POST /api/baselines`` names a plan version."""

    async def get(self) -> None:
        try:
            baselines = await self.answer(self.history.baselines())
        except ApiError as exc:
            if exc.status_code != 503:
                raise
            self.send({"baselines": [], "error": exc.message})
            return
        self.send({"baselines": baselines})

    async def post(self) -> None:
        body = self.json_body('{"name": "Q4 commit"}')
        unknown = sorted(set(body) - {"name", "plan", "replace"})
        if unknown:
            raise ApiError(400, f"unknown field {unknown[0][:40]!r}; send name, plan, replace")
        replace = body.get("replace", False)
        if not isinstance(replace, bool):
            raise ApiError(400, '"replace" must be true or false')
        work = self.history.save_baseline(body.get("name"), body.get("plan"), replace)
        baseline, made = await self.answer(work)
        self.set_status(201 if made else 200)
        self.send({"baseline": baseline, "created": made})


class CompareApi(HistoryHandler):
    """``GET /api/compare?from=X&to=Y&track=T``: one row per item, with causes."""

    async def get(self) -> None:
        old = self.get_argument("from", "")
        new = self.get_argument("to", "latest")
        track = self.get_argument("track", "All") or "All"
        if len(track) > MAX_TRACK:
            raise ApiError(400, f"track is longer than {MAX_TRACK} characters")
        if not old:
            raise ApiError(400, "from is missing: a plan SHA, latest, baseline:NAME or date:DAY")
        causes = self.get_argument("causes", "1") not in ("0", "no", "false")
        kind = self.get_argument("format", "json")
        if kind not in ("json", "csv", "xlsx"):
            raise ApiError(400, f"format {kind[:20]!r} is not one of json, csv, xlsx")
        result = await self.answer(self.history.compare(old, new, track, causes))
        if kind == "json":
            self.send(result)
            return
        if kind == "xlsx":
            data = xlsx_bytes(compare_sheets(result))
            self.set_header("Content-Type", XLSX_TYPE)
        else:
            data = csv_bytes(*compare_table(result))
            self.set_header("Content-Type", CSV_TYPE)
        ends = (str(result[side].get("commit") or "")[:12] for side in ("from", "to"))
        filename = f"qplan-compare-{track}-{'-'.join(ends)}.{kind}"
        self.set_header("Content-Disposition", content_disposition(filename))
        self.finish(data)


def history_handlers(ctx: dict[str, Any], scenarios: Scenarios | None = None) -> list[tuple]:
    """The routes of this module, sharing one ``History`` over ``ctx["plans"]`` (and the
    app's ``Scenarios``, for ``scenario:NAME``)."""
    objects = {**ctx, "history": History(ctx["plans"], scenarios)}
    return [
        (r"/api/versions", VersionsApi, objects),
        (r"/api/baselines", BaselinesApi, objects),
        (r"/api/compare", CompareApi, objects),
    ]
