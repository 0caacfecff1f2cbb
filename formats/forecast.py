"""The forecast dataset: forecast_service's Monte Carlo dates (``forecast/forecast.json``).

Shape::

    {"runs": 1000, "spread": 1.0, "seed": "<hex>",
     "by_track": {TRACK: {"items": {ITEM_ID: {"p50", "p85", "p95", "p_in_quarter"}}}},
     "lineage": {"conditioned": SHA, "raw": SHA}}
"""

from __future__ import annotations

import json
from typing import Any

FORECAST_DATASET = "forecast"
FORECAST_FILE = "forecast.json"

__all__ = ["FORECAST_DATASET", "FORECAST_FILE", "load_forecast"]


def load_forecast(data: bytes) -> dict[str, Any]:
    """The forecast JSON of a commit; ValueError when it is not one."""
    try:
        forecast = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{FORECAST_FILE} is not JSON: {exc}") from None
    if not isinstance(forecast, dict) or not isinstance(forecast.get("by_track"), dict):
        raise ValueError(f"{FORECAST_FILE} has no by_track object")
    return forecast
