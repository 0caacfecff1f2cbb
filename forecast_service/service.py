"""The forecast stage: conditioned commits in, forecast commits out."""

from __future__ import annotations

import time
from typing import Any

from formats.conditioned import ESTIMATES, STREAMS, load_estimates
from formats.forecast import FORECAST_DATASET, FORECAST_FILE, dump_forecast
from formats.streams import StreamsError, parse_streams
from mesh.priority import lower_priority
from mesh.snapshot import Snapshot
from mesh.stage import Stage
from planning.draws import seed_from
from planning.montecarlo import forecast

__all__ = ["ForecastService", "forecast_of"]

NICE = 10  # the forecast runs behind the planner and the web


def forecast_of(snapshot: Snapshot, runs: int, spread: float) -> dict[str, Any]:
    """The forecast of one conditioned snapshot, lineage included; ValueError for bad streams."""
    lineage = {"conditioned": snapshot.commit, "raw": snapshot.lineage.get("raw")}
    seed = seed_from(snapshot.commit or "")
    if STREAMS not in snapshot.files:
        note = "no streams yet: the first pull could not be read (see its problems)"
        return {"runs": runs, "spread": spread, "seed": f"{seed:016x}", "by_track": {},
                "lineage": lineage, "note": note}  # fmt: skip
    try:
        model = parse_streams(snapshot.text(STREAMS))
    except StreamsError as exc:
        raise ValueError(f"{STREAMS} of conditioned@{snapshot.commit}: {exc}") from None
    estimates = load_estimates(snapshot.files.get(ESTIMATES))
    return {**forecast(model, estimates, runs, spread, seed), "lineage": lineage}


class ForecastService(Stage):
    """Forecasts every conditioned commit."""

    name = "forecast_service"
    upstream = "conditioned"
    output = FORECAST_DATASET

    def __init__(self, config) -> None:
        super().__init__(config)
        self.runs = config.integer("forecast_service", "runs", minimum=1)
        self.spread = config.number("forecast_service", "spread", minimum=0.0)
        self.last: dict[str, Any] = {}

    async def setup(self) -> None:
        """Yield the CPU to the planning stages, then follow ``conditioned``."""
        # A forecast is many plans' worth of work; on a small machine the shared plan and
        # what-ifs must not wait for it.
        for failed in lower_priority(NICE):
            self.log.warning("could not lower this process's priority: %s", failed)
        await super().setup()

    def heartbeat_detail(self) -> dict[str, Any]:
        """Runs and spread, and how long the last forecast took."""
        return {"runs": self.runs, "spread": self.spread, **self.last}

    async def process(self, snapshot: Snapshot) -> None:
        """Forecast one conditioned snapshot and commit it."""
        started = time.monotonic()
        result = forecast_of(snapshot, self.runs, self.spread)
        seconds = round(time.monotonic() - started, 3)
        items = sum(len(t["items"]) for t in result["by_track"].values())
        reply = await self.snapshot.put(
            self.output,
            {FORECAST_FILE: dump_forecast(result)},
            source=f"{self.upstream}@{snapshot.commit}",
            message=f"Forecast conditioned@{snapshot.commit[:12]}: {self.runs} runs, "
            f"spread {self.spread:g}",
            producer=self.name,
        )
        self.counters.messages_out += 1
        self.last = {"seconds": seconds, "items": items}
        self.log.info(
            "conditioned@%s -> forecast@%s (seq %s%s): %d runs in %.2f s",
            snapshot.commit[:12],
            str(reply.get("commit"))[:12],
            reply.get("seq"),
            "" if reply.get("changed", True) else ", unchanged",
            self.runs,
            seconds,
        )
