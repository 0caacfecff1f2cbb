"""The forecast dataset: forecast_service's Monte Carlo dates (``forecast/forecast.json``).

Shape::

    {"runs": 1000, "spread": 1.0, "seed": "<hex>", "model": {how factors are drawn},
     "by_track": {TRACK: {"items": {ITEM_ID: {"p50", "p85", "p95", "p_in_quarter"}}}},
     "lineage": {"conditioned": SHA, "raw": SHA}}

Tracks as in the plan, All first. ``p50``/``p85``/``p95`` are ISO dates, or null
when that share of the runs does not finish in the quarter; ``p_in_quarter`` is
the share that does (0 to 1). ``planning.montecarlo`` says how runs are drawn.
"""

from __future__ import annotations

import json
from typing import Any

FORECAST_DATASET = "forecast"
FORECAST_FILE = "forecast.json"

__all__ = ["FORECAST_DATASET", "FORECAST_FILE", "load_forecast", "dump_forecast"]


def dump_forecast(forecast: dict[str, Any], pretty: bool = True) -> str:
    """The forecast as committed: keys sorted, one key a line (git diffs read well)."""
    if pretty:
        return json.dumps(forecast, sort_keys=True, indent=1, allow_nan=False) + "\n"
    return json.dumps(forecast, sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n"


def load_forecast(data: bytes) -> dict[str, Any]:
    """The forecast JSON of a commit; ValueError when it is not one."""
    try:
        forecast = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{FORECAST_FILE} is not JSON: {exc}") from None
    if not isinstance(forecast, dict) or not isinstance(forecast.get("by_track"), dict):
        raise ValueError(f"{FORECAST_FILE} has no by_track object")
    return forecast
