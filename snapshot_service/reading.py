"""The store's read side: commits, lineage, and the GET, LATEST, LOG and DIFF verbs.

``StoreReads`` is the part of ``GitStore`` that only reads: the repository's objects,
the in-memory index of each dataset's latest commit, and each commit's lineage (cached:
commits never change). Answers are ``mesh.messages.Snapshot``, the class the clients
read them with.
"""

from __future__ import annotations

import re
from typing import Any

from mesh.checks import ErrorCode
from mesh.messages import MAX_LOG_LIMIT, Snapshot
from snapshot_service.diffs import dataset_diff
from snapshot_service.objects import TREE_MODE, CommitInfo, iso_time
from snapshot_service.repository import Repository, StoreError, remember

__all__ = ["StoreReads", "SOURCE_REF"]

SOURCE_REF = re.compile(r"^([A-Za-z0-9_.-]+)@([0-9a-fA-F]{7,40})$")


class StoreReads:
    """Reading the store; ``GitStore`` adds writing (see ``snapshot_service.store``)."""

    repository: Repository
    datasets: list[str]
    head: str | None
    index: dict[str, Any]
    _lineages: dict[str, tuple[dict[str, str], list[dict[str, Any]]]]

    def commit(self, sha: str) -> CommitInfo:
        """The parsed commit ``sha`` (a full SHA)."""
        return self.repository.commit(sha)

    def resolve(self, text: object) -> str:
        """The full SHA of the commit ``text`` names (7 to 40 hex digits, unique)."""
        return self.repository.resolve(text)

    def _dataset_tree(self, commit: str, dataset: str) -> str | None:
        """The SHA of ``dataset``'s folder in ``commit``'s tree (None: no folder)."""
        for mode, name, sha in self.repository.tree(self.commit(commit).tree):
            if name == dataset.encode() and mode == TREE_MODE:
                return sha.hex()
        return None

    def _blob_entries(self, tree: str | None) -> dict[str, str]:
        """File name -> blob SHA of a dataset folder."""
        return {
            name.decode("utf-8", errors="replace"): sha.hex()
            for mode, name, sha in self.repository.tree(tree)
            if mode.startswith(b"100")
        }

    def _files(self, tree: str | None) -> dict[str, bytes]:
        blob = self.repository.blob
        return {name: blob(sha) for name, sha in self._blob_entries(tree).items()}

    # -- names -------------------------------------------------------------------

    def check_dataset(self, dataset: object) -> str:
        """``dataset`` if the store takes it, else StoreError (code unknown_dataset)."""
        if not isinstance(dataset, str):
            raise StoreError(f"dataset must be a string, not {type(dataset).__name__}")
        if dataset not in self.datasets:
            known = ", ".join(self.datasets)
            raise StoreError(
                f"unknown dataset {dataset[:80]!r} (known: {known})", ErrorCode.UNKNOWN_DATASET
            )
        return dataset

    # -- lineage -----------------------------------------------------------------

    def lineage(self, sha: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
        """``(lineage, chain)`` of a commit, following ``Source: dataset@sha`` upstream."""
        cached = self._lineages.get(sha)
        if cached is not None:
            return cached
        info = self.commit(sha)
        chain = [_link(info.dataset or "", info)]
        lineage: dict[str, str] = {}
        seen = {sha}
        source = info.source
        while source:
            match = SOURCE_REF.match(source)
            upstream = self.repository.try_resolve(match.group(2)) if match else None
            if upstream is None:
                if match:
                    lineage.setdefault(match.group(1), match.group(2))  # gone from the store
                else:
                    lineage["origin"] = source
                break
            if upstream in seen:
                break  # a loop of sources: report what we have
            seen.add(upstream)
            lineage.setdefault(match.group(1), upstream)
            upstream_info = self.commit(upstream)
            chain.append(_link(match.group(1), upstream_info))
            source = upstream_info.source
        remember(self._lineages, sha, (lineage, chain))
        return lineage, chain

    def get(self, dataset: str, commit: str | None = None) -> Snapshot:
        """``dataset`` with its files as of ``commit`` (None or "latest": the newest)."""
        self.check_dataset(dataset)
        if commit is None or commit == "latest":
            current = self.index.get(dataset)
            if current is None:
                return Snapshot(dataset, None)
            return self._version(dataset, current.commit, self._files(current.tree))
        at = self.resolve(commit)
        made_by = self._dataset_commit_at(dataset, at)
        return self._version(dataset, made_by, self._files(self._dataset_tree(at, dataset)))

    def latest(self, dataset: str) -> Snapshot:
        """The newest commit of ``dataset``, without files (commit None when it has none)."""
        self.check_dataset(dataset)
        current = self.index.get(dataset)
        if current is None:
            return Snapshot(dataset, None)
        return self._version(dataset, current.commit)

    def _version(
        self, dataset: str, sha: str | None, files: dict[str, bytes] | None = None
    ) -> Snapshot:
        if sha is None:
            return Snapshot(dataset, None, files=files or {})
        info = self.commit(sha)
        lineage, chain = self.lineage(sha)
        return Snapshot(
            dataset,
            sha,
            info.seq,
            iso_time(info.time),
            info.source,
            info.producer,
            info.subject,
            dict(lineage),
            [dict(link) for link in chain],
            files or {},
        )

    def _dataset_commit_at(self, dataset: str, sha: str) -> str | None:
        """The last commit at or before ``sha`` (first parents) that changed ``dataset``."""
        current = self.index.get(dataset)
        if sha == self.head:
            return current.commit if current else None
        info: CommitInfo | None = self.commit(sha)
        while info is not None and info.dataset != dataset:
            info = self.commit(info.parent) if info.parent else None
        return info.sha if info else None

    def log(self, dataset: str, limit: int = 50) -> list[dict[str, Any]]:
        """The newest ``limit`` commits of ``dataset``, newest first."""
        self.check_dataset(dataset)
        limit = min(limit, MAX_LOG_LIMIT)
        current = self.index.get(dataset)
        entries: list[dict[str, Any]] = []
        info = self.commit(current.commit) if current else None
        while info is not None and len(entries) < limit:
            if info.dataset == dataset:
                entries.append(
                    {
                        "commit": info.sha,
                        "seq": info.seq,
                        "time": iso_time(info.time),
                        "message": info.subject,
                        "source": info.source,
                        "producer": info.producer,
                        "lineage": dict(self.lineage(info.sha)[0]),
                    }
                )
            info = self.commit(info.parent) if info.parent else None
        return entries

    def diff(self, dataset: str, old: str, new: str) -> tuple[str, str, str]:
        """``(old sha, new sha, unified diff)`` of ``dataset`` between two commits."""
        self.check_dataset(dataset)
        ends = []
        for text in (old, new):
            if text == "latest":
                if self.head is None:
                    raise StoreError("the store has no commits yet", ErrorCode.UNKNOWN_COMMIT)
                ends.append(self.head)
            else:
                ends.append(self.resolve(text))
        before = self._blob_entries(self._dataset_tree(ends[0], dataset))
        after = self._blob_entries(self._dataset_tree(ends[1], dataset))
        # Read only the blobs that differ; equal SHAs mean equal files.
        changed = {name for name in set(before) | set(after) if before.get(name) != after.get(name)}
        blob = self.repository.blob
        old_files = {n: blob(before[n]) for n in changed if n in before}
        new_files = {n: blob(after[n]) for n in changed if n in after}
        return ends[0], ends[1], dataset_diff(dataset, old_files, new_files)

    def heads(self) -> dict[str, dict[str, Any]]:
        """Every dataset's latest commit and sequence number (None and 0 when it has none)."""
        out = {}
        for name in self.datasets:
            current = self.index.get(name)
            out[name] = {
                "commit": current.commit if current else None,
                "seq": current.seq if current else 0,
            }
        return out


def _link(dataset: str, info: CommitInfo) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "commit": info.sha,
        "time": iso_time(info.time),
        "source": info.source,
    }
