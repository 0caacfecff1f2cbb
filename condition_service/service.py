"""The condition_service stage: every ``raw`` commit becomes a ``conditioned`` commit.

For each raw snapshot (``mesh.stage.Stage`` decides which, catching up by
itself) it conditions the sheets and PUTs dataset ``conditioned`` with
``Source: raw@<sha>`` and these files:

- ``streams.txt``: the qplan streams v1 text; after a fatal problem, the
  last good streams (or no file when there never were any);
- ``problems.jsonl``: one problem a line, keys sorted, in sheet/row order;
- ``estimates.json``: each item's estimate as written (a range's low and high, a
  T-shirt size, unsized items), for the forecast (``formats.conditioned``);
- ``status.json``: ``{"stale", "streams_from", "problems": {"fatal",
  "error", "warning"}}``, where ``streams_from`` is the raw commit the
  streams come from.
"""

from __future__ import annotations

import json
from typing import Any

from condition_service.conditioner import Conditioned, Settings, condition
from condition_service.problems import to_jsonl
from formats.conditioned import ESTIMATES, PROBLEMS, STATUS, STREAMS, dump_estimates
from mesh.snapshot import Snapshot
from mesh.stage import Stage

__all__ = ["ConditionService", "conditioned_files", "last_good"]


def conditioned_files(
    result: Conditioned,
    streams: str | bytes | None,
    streams_from: str | None,
    kept_estimates: bytes | None = None,
) -> dict[str, str | bytes]:
    """The files of one conditioned commit (``streams`` None: no streams.txt).

    ``estimates.json`` goes with the streams: this workbook's, or after a fatal problem
    ``kept_estimates``, those of the last good streams.
    """
    status = {
        "stale": result.fatal,
        "streams_from": streams_from,
        "problems": result.counts(),
    }
    files: dict[str, str | bytes] = {
        PROBLEMS: to_jsonl(result.problems),
        STATUS: json.dumps(status, indent=2, sort_keys=True) + "\n",
    }
    if streams is not None:
        files[STREAMS] = streams
        if not result.fatal:
            files[ESTIMATES] = dump_estimates(result.estimates)
        elif kept_estimates is not None:
            files[ESTIMATES] = kept_estimates
    return files


def last_good(previous: Snapshot) -> tuple[bytes | None, str | None, bytes | None]:
    """The streams of a conditioned snapshot, the raw commit they come from, their estimates."""
    streams = previous.files.get(STREAMS)
    if streams is None:
        return None, None, None
    try:
        streams_from = json.loads(previous.files[STATUS])["streams_from"]
    except (KeyError, TypeError, ValueError):
        # No readable status: the streams were made from the commit's own source.
        streams_from = previous.source.partition("@")[2] or None
    return streams, streams_from, previous.files.get(ESTIMATES)


def _message(result: Conditioned, sha: str, streams_from: str | None) -> str:
    """The commit message: what came in and what came out."""
    counts = result.counts()
    tally = ", ".join(f"{counts[s]} {s}" for s in ("fatal", "error", "warning"))
    if result.model is not None:
        made = f"{len(result.model.work)} work items, {len(result.model.staff)} people"
    elif streams_from:
        made = f"stale: the streams stay those of raw@{streams_from[:12]}"
    else:
        made = "stale: no streams yet"
    return f"Condition raw@{sha[:12]}: {made}; problems: {tally}"


class ConditionService(Stage):
    """Conditions every raw workbook snapshot into qplan streams and a list of problems."""

    name = "condition_service"
    upstream = "raw"
    output = "conditioned"

    def __init__(self, config) -> None:
        super().__init__(config)
        self.settings = Settings.from_config(config)
        self.status: dict[str, Any] = {}

    def heartbeat_detail(self) -> dict[str, Any]:
        """The last commit's status: stale or not, and its problem counts."""
        return dict(self.status)

    async def last_good(self) -> tuple[bytes | None, str | None, bytes | None]:
        """The current conditioned streams, their raw commit and estimates (Nones when none)."""
        latest = await self.snapshot.latest(self.output)
        if latest.commit is None:
            return None, None, None
        return last_good(await self.snapshot.get(self.output, latest.commit))

    async def process(self, snapshot: Snapshot) -> None:
        """Condition one raw snapshot and commit the result."""
        sha = snapshot.commit
        result = condition(snapshot.files, self.settings)
        streams: str | bytes | None = result.streams
        streams_from: str | None = sha
        kept = None
        if streams is None:
            streams, streams_from, kept = await self.last_good()
        files = conditioned_files(result, streams, streams_from, kept)
        reply = await self.snapshot.put(
            self.output,
            files,
            source=f"{self.upstream}@{sha}",
            message=_message(result, sha, streams_from),
            producer=self.name,
        )
        self.counters.messages_out += 1
        counts = result.counts()
        self.status = {"stale": result.fatal, "streams_from": streams_from, "problems": counts}
        self.log.info(
            "raw@%s -> conditioned@%s (seq %s%s): %d fatal, %d error, %d warning%s",
            sha[:12],
            str(reply.get("commit"))[:12],
            reply.get("seq"),
            "" if reply.get("changed", True) else ", unchanged",
            counts["fatal"],
            counts["error"],
            counts["warning"],
            "; stale" if result.fatal else "",
        )
