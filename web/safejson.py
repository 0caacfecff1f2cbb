"""JSON for browsers: NaN and Infinity never appear (they are not JSON).

``browser_json(value)`` is compact, key-sorted UTF-8 JSON like
``mesh.protocol.encode_json``, but a float that is NaN or infinite becomes
``null`` (a peer or a stored file may hold one: Python's json reads them).
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["browser_json", "finite"]


def finite(value: Any) -> Any:
    """``value`` with every NaN/Infinity float (at any depth) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def _dumps(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def browser_json(value: Any) -> bytes:
    """Compact, key-sorted UTF-8 JSON with no NaN or Infinity in it."""
    try:
        return _dumps(value)
    except ValueError:  # a non-finite float somewhere: replace it (rare, so walk only then)
        return _dumps(finite(value))
