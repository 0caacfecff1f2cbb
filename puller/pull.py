"""The one pull path, used by a single pull and by the watcher: read -> PUT -> log.

A pull reads every source of one call into the files of dataset raw. When any
source is a whole dataset (a workbook or a folder) or ``--replace`` is given,
those files are the new raw dataset. Otherwise (one sheet from a .csv/.tsv
file, a URL or ``--sheet``) the latest raw is fetched, the pulled sheets
replace theirs and every other sheet is kept, so pulling the tabs of a Google
Sheet one by one never shrinks the plan. One call is one raw commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from formats.raw import DATASET, sheet_name
from mesh.errors import RemoteError
from mesh.snapshot import AsyncSnapshotClient
from puller.budget import Budget
from puller.download import Download
from puller.readers import read_sheets
from puller.sources import PROG, Source, SourceError, redact
from puller.tsv import raw_files

__all__ = ["Batch", "pull", "put_fields", "read_batch", "refused", "summary"]

log = logging.getLogger(PROG)


@dataclass
class Batch:
    """What one call read: the raw files, and whether they replace the whole dataset."""

    sources: list[Source]
    files: dict[str, str]
    whole: bool
    kept: list[str] = field(default_factory=list)  # sheets of the latest raw kept as they were


def read_batch(
    sources: Sequence[Source],
    timeout: float = 30.0,
    budget: Budget | None = None,
    got: Mapping[int, Download] | None = None,
    replace: bool = False,
) -> Batch:
    """Read every source (``got``: downloads already made, by source index)."""
    files: dict[str, str] = {}
    owner: dict[str, str] = {}
    for index, source in enumerate(sources):
        sheets = read_sheets(source, timeout, (got or {}).get(index), budget)
        for name, text in raw_files(sheets).items():
            if name in files:
                raise SourceError(
                    f"{owner[name]} and {source.name} both give sheet {sheet_name(name)!r}; "
                    "name one of them differently (NAME=SOURCE)"
                )
            files[name] = text
            owner[name] = source.name
    whole = replace or any(source.whole for source in sources)
    return Batch(list(sources), files, whole)


def _location(source: Source) -> str:
    return redact(source.location) if source.kind == "url" else source.location


def put_fields(sources: Source | Sequence[Source], kept: Sequence[str] = ()) -> dict[str, str]:
    """The source, message and producer of the PUT for ``sources``."""
    if isinstance(sources, Source):
        sources = [sources]
    names = ", ".join(s.name for s in sources)
    message = f"pull {names}"
    if kept:
        message += f" (kept {', '.join(sheet_name(k) for k in kept)})"
    return {"source": " ".join(_location(s) for s in sources), "message": message, "producer": PROG}


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def summary(batch: Batch, answer: Mapping[str, Any]) -> str:
    """One line: what was pulled, what was kept, and whether the store's content changed."""
    counts = {sheet_name(name): text.count("\n") for name, text in batch.files.items()}
    detail = ", ".join(f"{name} {rows}" for name, rows in counts.items())
    state = "changed" if answer.get("changed") else "unchanged"
    kept = f"; kept {', '.join(sheet_name(k) for k in batch.kept)}" if batch.kept else ""
    return (
        f"pulled {', '.join(s.name for s in batch.sources)}: {_count(len(batch.files), 'sheet')}, "
        f"{_count(sum(counts.values()), 'row')} ({detail}){kept}; raw {state}, "
        f"seq {answer.get('seq')}"
    )


def refused(exc: RemoteError) -> RemoteError:
    """A store refusal, said as a refusal of the pull."""
    return RemoteError(f"the snapshot service refused the pull: {exc}", exc.code)


async def pull(
    client: AsyncSnapshotClient,
    sources: Sequence[Source],
    *,
    timeout: float = 30.0,
    budget_limit: int | None = None,
    replace: bool = False,
    got: Mapping[int, Download] | None = None,
) -> tuple[str, str, Batch]:
    """Read ``sources`` and PUT them as dataset raw: (summary line, commit SHA, batch)."""
    budget = Budget(budget_limit) if budget_limit is not None else None
    batch = await asyncio.to_thread(read_batch, sources, timeout, budget, got, replace)
    files: dict[str, str | bytes] = dict(batch.files)
    if not batch.whole:
        head = await client.latest(DATASET)
        if head.commit is not None:
            latest = await client.get(DATASET, head.commit)
            batch.kept = sorted(set(latest.files) - set(files))
            files = {**{name: latest.files[name] for name in batch.kept}, **files}
    try:
        answer = await client.put(DATASET, files, **put_fields(sources, batch.kept))
    except RemoteError as exc:
        raise refused(exc) from None
    sha = answer["commit"]
    log.info(
        "pulled %s as raw@%s (changed: %s)",
        ", ".join(s.name for s in sources),
        sha,
        answer["changed"],
    )
    return summary(batch, answer), sha, batch
