"""The forecast's random factors: one per item, scheduled skill and run (``planning.montecarlo``).

A factor is ``exp(sigma * Z)``, Z standard normal clipped to ±1.645 (log-normal
with median 1, between its P5 and P95); ``sigma`` follows how the sheet wrote
the estimate, times ``spread``. Each (item, skill) draws from a generator of its
own, seeded by the forecast's seed, the item's id (and which of that id it is,
for an id the sheet repeats) and the skill: what an item draws depends on
nothing else, so a what-if's items keep their base's draws.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from planning.planner import Layout

__all__ = ["SIGMA", "CLIP", "seed_from", "draw_keys", "factors_for", "item_factors"]

SIGMA = {"number": 0.2, "unit": 0.25, "size": 0.4}  # log-normal spread by how it was written
P10_P90 = 2 * 1.2815515655446004  # z-distance between a normal's P10 and P90
CLIP = 1.6448536269514722  # z of P95: factors stay between their P5 and P95


def seed_from(text: str) -> int:
    """A 64-bit seed from a commit SHA (or any hex text; other text is hashed)."""
    try:
        return int(text[:16], 16)
    except ValueError:
        return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:16], 16)


def _sigma(written: Mapping[str, Any] | None) -> float:
    """The spread of one estimate's factor, from how the sheet wrote it."""
    if not written:
        return SIGMA["number"]
    kind = written.get("kind")
    if kind == "range":
        low, high = written.get("low"), written.get("high")
        if isinstance(low, int | float) and isinstance(high, int | float) and 0 < low < high:
            return math.log(high / low) / P10_P90
        return SIGMA["size"]
    return SIGMA.get(kind, SIGMA["number"])


def draw_keys(works: list[Any]) -> list[tuple[str, int]]:
    """Each item's key to its draws: its id, and how many items of that id come before it
    (rank order; 0 but for an id the sheet repeats)."""
    seen: dict[str, int] = {}
    keys = []
    for work in works:
        before = seen.get(work.id, 0)
        seen[work.id] = before + 1
        keys.append((work.id, before))
    return keys


def _normals(seed: int, key: tuple[str, int], skill: str, runs: int) -> np.ndarray:
    """The standard normal draws of one item's skill: a generator of their own, seeded by
    ``seed``, the item's key and the skill (so they depend on nothing else)."""
    text = f"{seed}\x1f{key[0]}\x1f{key[1]}\x1f{skill}".encode()
    entropy = int.from_bytes(hashlib.blake2b(text, digest_size=16).digest(), "little")
    return np.random.default_rng(entropy).standard_normal(runs)


def factors_for(
    lay: Layout, estimates: Mapping[str, Any] | None, runs: int, spread: float, seed: int
) -> list[dict[str, np.ndarray]]:
    """Per item (rank order), per scheduled skill: its factor in each run.

    Each (item, skill) draws from its own generator (``_normals``), so an item's factors
    do not depend on the other items, their estimates or the rank order: a what-if's items
    keep their base's draws (``item_factors``).
    """
    return item_factors(lay.works, draw_keys(lay.works), estimates, runs, spread, seed)


def item_factors(
    works: list[Any],
    keys: list[tuple[str, int]],
    estimates: Mapping[str, Any] | None,
    runs: int,
    spread: float,
    seed: int,
    known: Mapping[tuple[str, int], dict[str, np.ndarray]] | None = None,
) -> list[dict[str, np.ndarray]]:
    """``factors_for`` of ``works`` whose ``draw_keys`` keys are ``keys``. ``known``: factors
    drawn before with the same estimates, runs, spread and seed, by key (a base's), taken
    instead of drawn again."""
    items = (estimates or {}).get("items") or {}
    known = known or {}
    out = []
    for work, key in zip(works, keys, strict=True):
        effort = work.effort or {}
        had = known.get(key)
        if had is not None and had.keys() == effort.keys():
            out.append(had)
            continue
        written = (items.get(work.id) or {}).get("skills") or {}
        factors: dict[str, np.ndarray] = {}
        for skill in effort:
            factor = had.get(skill) if had is not None else None
            if factor is None:
                sigma = _sigma(written.get(skill)) * spread
                if sigma > 0:
                    factor = _normals(seed, key, skill, runs)
                    factor.clip(-CLIP, CLIP, out=factor)
                    factor *= sigma
                    np.exp(factor, out=factor)
                else:
                    factor = np.ones(runs)
            factors[skill] = factor
        out.append(factors)
    return out
