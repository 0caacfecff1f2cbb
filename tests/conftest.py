"""Fixtures: a config per test and real processes that are always cleaned up."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import Proc, service_args, write_config


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    """A config.ini with random ports and a store inside this test's folder."""
    return write_config(tmp_path)


@pytest.fixture
def spawn(tmp_path: Path):
    """Start real processes: ``spawn(args)``, ``spawn.service(pkg, config)``; stopped after."""
    started: list[Proc] = []

    class Spawner:
        def __call__(self, args: list[str], name: str = "proc", env=None) -> Proc:
            proc = Proc(args, tmp_path / f"{name}-{len(started)}.out", env=env)
            started.append(proc)
            return proc

        def service(self, package: str, config: Path, *more: str) -> Proc:
            return self(service_args(package, config, *more), name=package)

    yield Spawner()
    for proc in reversed(started):
        proc.stop()


@pytest.fixture
def planner_mesh(spawn, tmp_path: Path):
    """A snapshot service and qplan_service on a fresh config (``tests.planner_mesh.Mesh``),
    closed after."""
    from tests.planner_mesh import Mesh

    folder = tmp_path / "mesh"
    folder.mkdir()
    started = Mesh(spawn, write_config(folder))
    yield started
    started.close()
