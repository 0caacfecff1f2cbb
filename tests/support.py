"""What the tests share: the harness (free ports, a config.ini per test, real processes,
deadlines) and waiting on the snapshot service."""

from __future__ import annotations

from pathlib import Path

from harness import (
    PYTHON,
    ROOT,
    Proc,
    api_call,
    free_port,
    planner_client,
    serve_as,
    service_args,
    store_client,
    tools_curve,
    wait_for,
    write_config,
)
from mesh.snapshot import Snapshot, SnapshotClient

__all__ = [
    "PYTHON",
    "ROOT",
    "Proc",
    "free_port",
    "service_args",
    "wait_for",
    "write_config",
    "store_client",
    "planner_client",
    "tools_curve",
    "serve_as",
    "api_call",
    "wait_for_store",
    "made_from",
]


def wait_for_store(config: Path, timeout: float = 30.0, what: str = "the snapshot service") -> None:
    """Wait until the snapshot service ``config`` names answers (a probe that never retries)."""
    with store_client(config, timeout=0.5, retries=0) as probe:
        wait_for(lambda: probe.latest("raw"), timeout=timeout, what=what)


def made_from(client: SnapshotClient, dataset: str, source: str, timeout: float = 30) -> Snapshot:
    """Wait for ``dataset``'s latest commit to be made from ``source``; it, with its files."""
    wait_for(
        lambda: client.latest(dataset).source == source,
        timeout=timeout,
        what=f"{dataset} from {source}",
    )
    return client.get(dataset)
