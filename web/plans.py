"""The plans the web shows: the current one, recent ones by commit, the forecast, what-ifs.

``Plans`` is the one owner of that state. The web service feeds it (a plan
or forecast commit it followed); the request handlers read it (``current``,
``at``, ``whatif``). It talks to the store and to qplan_service through the
mesh's async clients, made on first use and closed with ``close``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from formats.plan import PLAN_FILE
from mesh.client import AsyncClient
from mesh.errors import QPlanError, RequestTimeout
from mesh.messages import CancelRequest, WhatIfRequest, whatif_answer
from mesh.protocol import encode_json
from mesh.snapshot import AsyncSnapshotClient, Snapshot
from planning.delta import apply_delta, apply_forecast_delta
from web.views import plan_view

__all__ = ["Plans", "PlanVersion", "load_plan", "prepare", "same_source"]

log = logging.getLogger(__name__)

PLAN_CACHE = 32  # plans by commit kept for the history page's diffs
BASE_FORECASTS = 8  # (base, track) what-if forecasts kept to apply forecast deltas to


@dataclass
class PlanVersion:
    """One plan and where it comes from."""

    commit: str
    seq: int
    time: str | None
    chain: list[dict[str, Any]]
    lineage: dict[str, Any]
    plan: dict[str, Any]
    forecast: dict[str, Any] | None = None  # the forecast of the same conditioned commit
    document: bytes = b""  # the plan as compact JSON, made once
    notice: bytes = field(default=b"", repr=False)  # the websocket "plan" message, made once
    views: dict[str, bytes] = field(default_factory=dict, repr=False)  # track -> /api/plan

    def version(self) -> dict[str, Any]:
        """The version fields every API answer about this plan carries."""
        return {
            "commit": self.commit,
            "seq": self.seq,
            "time": self.time,
            "chain": self.chain,
            "lineage": self.lineage,
        }


def load_plan(snapshot: Snapshot) -> PlanVersion:
    """Parse the plan of a GET answer; raises ValueError for a missing or broken plan.json."""
    data = snapshot.files.get(PLAN_FILE)
    if data is None:
        found = [name for name in snapshot.files if name.endswith(".json")]
        if len(found) != 1:
            raise ValueError(f"plan@{snapshot.commit} has no {PLAN_FILE}")
        data = snapshot.files[found[0]]
    try:
        plan = json.loads(data)
    except RecursionError:
        raise ValueError(f"plan@{snapshot.commit}: {PLAN_FILE} is nested too deeply") from None
    if not isinstance(plan, dict):
        raise ValueError(f"plan@{snapshot.commit}: {PLAN_FILE} is not a JSON object")
    lineage = dict(snapshot.lineage or plan.get("lineage") or {})
    return PlanVersion(
        commit=snapshot.commit or "",
        seq=snapshot.seq,
        time=snapshot.time,
        chain=snapshot.chain,
        lineage=lineage,
        plan=plan,
    )


def prepare(version: PlanVersion) -> None:
    """Make what the browsers get of a plan about to be shown; ValueError if the web can't.

    Every track's view at the default triage (what most ``/api/plan`` requests ask for, a
    thousand times after each push) and the websocket notice are made once. Making the views
    is also the check that the plan has the shape the pages read. The notice says only that
    a new version is there: each page fetches its own view.
    """
    try:
        for track in version.plan.get("by_track") or {}:
            view = plan_view(version.plan, track, forecast=version.forecast)
            version.views[track] = encode_json({**version.version(), **view})
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        version.views = {}
        why = f"{type(exc).__name__}: {exc}"
        raise ValueError(
            f"plan@{version.commit[:12]} is not a plan the pages can show ({why})"
        ) from None
    version.document = encode_json(version.plan)
    forecast = (version.forecast or {}).get("lineage", {}).get("conditioned")
    version.notice = encode_json({"type": "plan", **version.version(), "forecast": forecast})


def same_source(forecast: dict[str, Any], plan: dict[str, Any]) -> bool:
    """True when a forecast and a plan come from the same conditioned commit."""
    made_from = (forecast.get("lineage") or {}).get("conditioned")
    return bool(made_from) and made_from == (plan.get("lineage") or {}).get("conditioned")


class Plans:
    """The current plan, recent plans by commit, the newest forecast and the what-if client."""

    def __init__(
        self,
        store: Callable[[], AsyncSnapshotClient],
        planner: Callable[[], AsyncClient],
        dataset: str = "plan",
    ) -> None:
        self.current: PlanVersion | None = None
        self.forecast: dict[str, Any] | None = None  # the newest forecast JSON
        self.forecast_commit: str | None = None
        self.dataset = dataset
        self._recent: OrderedDict[str, PlanVersion] = OrderedDict()
        self._make_store, self._make_planner = store, planner
        self._store: AsyncSnapshotClient | None = None
        self._planner: AsyncClient | None = None
        self._cancels: set[asyncio.Task] = set()
        self._base_forecasts: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()

    @property
    def store(self) -> AsyncSnapshotClient:
        """The store client of API requests (made on first use)."""
        if self._store is None:
            self._store = self._make_store()
        return self._store

    def close(self) -> None:
        """Close the clients."""
        for client in (self._store, self._planner):
            if client is not None:
                client.close()

    def take_plan(self, snapshot: Snapshot) -> PlanVersion | None:
        """Make a followed plan commit the current one; None if it is older than the shown one.

        Raises ValueError for a plan the pages cannot show: the last good one stays.
        """
        version = load_plan(snapshot)
        if self.forecast is not None and same_source(self.forecast, version.plan):
            version.forecast = self.forecast
        prepare(version)
        self._remember(version)
        if self.current is not None and version.seq and version.seq < self.current.seq:
            return None
        self.current = version
        return version

    def take_forecast(self, commit: str, forecast: dict[str, Any]) -> PlanVersion | None:
        """Keep a forecast; the current plan again, with it, if they come from the same data."""
        self.forecast, self.forecast_commit = forecast, commit
        current = self.current
        if current is None or not same_source(forecast, current.plan):
            return None
        version = replace(current, forecast=forecast, views={})
        prepare(version)
        self._remember(version)
        self.current = version
        return version

    def _remember(self, version: PlanVersion) -> None:
        self._recent[version.commit] = version
        self._recent.move_to_end(version.commit)
        while len(self._recent) > PLAN_CACHE:
            self._recent.popitem(last=False)

    async def at(self, commit: str) -> PlanVersion:
        """The plan of one commit (cached: a commit never changes)."""
        cached = [v for sha, v in self._recent.items() if sha.startswith(commit.lower())]
        if len(cached) == 1:  # else the store says which commit it is, or that it is ambiguous
            return cached[0]
        version = load_plan(await self.store.get(self.dataset, commit))
        self._remember(version)
        return version

    async def whatif(
        self, base: str | None, edits: list[dict[str, Any]], forecast: bool | str = True
    ) -> dict[str, Any]:
        """Ask qplan_service for the plan with ``edits`` applied to ``base``.

        The answer's ``plan`` is whole: qplan_service sends what the what-if changes in the
        base's plan commit (``planning.delta``) and it is applied here to that plan, which
        the web holds (or reads once). ``forecast``: the what-if's forecast of every track
        (True), of one track (its name: sent as what changed against the base's own
        what-if forecast of that track, which is asked for once), or none (False).
        Cancelled (the browser went away) or timed out, it sends CANCEL so that
        qplan_service stops the worker computing it.
        """
        known = None
        if isinstance(forecast, str) and base:
            known = await self._base_forecast(base, forecast)
        request = WhatIfRequest(base, edits, None, True, forecast, known is not None)
        answer = await self._ask(request)
        delta = answer.pop("delta", None)
        if delta is not None:
            made = (answer.get("base") or {}).get("plan")
            try:
                if not isinstance(made, str) or not made:
                    raise ValueError("the answer names no base plan")
                answer["plan"] = apply_delta((await self.at(made)).plan, delta)
            except (QPlanError, ValueError) as exc:
                log.info("what-if delta not applied (%s); asking for the whole plan", exc)
                return await self._ask(WhatIfRequest(base, edits, None, False, forecast))
        predicted = answer.get("forecast")
        if known is not None and isinstance(predicted, dict):
            tracks = predicted.get("by_track") or {}
            for track, spec in tracks.items():
                if isinstance(spec, dict) and "changed" in spec:
                    if track != forecast:  # the what-if has not that track: All, whole
                        return await self._ask(replace(request, forecast_delta=False))
                    tracks[track] = apply_forecast_delta(known, spec)
        return answer

    async def _base_forecast(self, base: str, track: str) -> dict[str, Any] | None:
        """The base's own what-if forecast of one track (asked for once, then kept)."""
        key = (base, track)
        if key in self._base_forecasts:
            self._base_forecasts.move_to_end(key)
            return self._base_forecasts[key]
        answer = await self._ask(WhatIfRequest(base, [], None, True, track))
        found = ((answer.get("forecast") or {}).get("by_track") or {}).get(track)
        if not isinstance(found, dict) or not isinstance(found.get("items"), dict):
            return None  # no forecast of that track: what-ifs get theirs whole
        self._base_forecasts[key] = found
        while len(self._base_forecasts) > BASE_FORECASTS:
            self._base_forecasts.popitem(last=False)
        return found

    async def _ask(self, request: WhatIfRequest) -> dict[str, Any]:
        """One WHATIF round trip, cancelled at qplan_service when it is cancelled here."""
        if self._planner is None:
            self._planner = self._make_planner()
        request.id = uuid.uuid4().hex
        try:
            reply = await self._planner.request(request.to_message())
        except (asyncio.CancelledError, RequestTimeout):
            self._spawn_cancel(request.id)
            raise
        return whatif_answer(reply)

    async def marked_against(self, base: Any, current: PlanVersion) -> dict[str, Any]:
        """The shared plan a what-if answer is marked against: the one its ``base`` produced
        (the plan itself, or its commit), else ``current``'s when that one cannot be read."""
        made = base.get("plan") if isinstance(base, dict) else None
        if isinstance(made, dict):
            return made
        if isinstance(made, str) and made and made != current.commit:
            try:
                return (await self.at(made)).plan
            except (QPlanError, ValueError) as exc:
                log.info(
                    "what-if base plan@%s not read (%s); marking against the shown plan",
                    made[:12],
                    exc,
                )
        return current.plan

    def _spawn_cancel(self, request_id: str) -> None:
        """Send CANCEL for one what-if on a fresh socket, in the background."""

        async def cancel() -> None:
            client = self._make_planner()
            try:
                await client.request(CancelRequest(request_id).to_message())
            except QPlanError as exc:
                log.info("could not cancel what-if %s: %s", request_id, exc)
            finally:
                client.close()

        task = asyncio.get_running_loop().create_task(cancel())
        self._cancels.add(task)
        task.add_done_callback(self._cancels.discard)
