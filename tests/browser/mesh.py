"""The real mesh for browser tests: run_all in a temp folder, pulls of sample variants, the web.

``MeshUnderTest`` starts ``run_all.py`` as a real process with a config of
random ports, pulls workbooks with ``pull_raw.py`` (variants of the sample
made with data/make_sample.py), and talks to the web's JSON API.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mesh.config import Config
from tests.support import PYTHON, ROOT, Proc, api_call, wait_for, write_config

__all__ = [
    "MeshUnderTest",
    "sample_mesh",
    "make_sample",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "SCREENSHOTS",
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


def make_sample() -> ModuleType:
    """data/make_sample.py, imported from its path (data/ is not a package)."""
    spec = importlib.util.spec_from_file_location("make_sample", ROOT / "data" / "make_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class MeshUnderTest:
    """run_all and everything it starts, in one temp folder."""

    def __init__(self, folder: Path, run_all: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.config_path = write_config(folder, {"run_all": run_all or {}})
        self.config = Config(self.config_path)
        self.base = f"http://127.0.0.1:{self.config.port('web', 'port')}"
        self.proc: Proc | None = None
        self.pulls = 0

    def start(self) -> None:
        """Start run_all and wait until the web answers."""
        args = [PYTHON, str(ROOT / "run_all.py"), "--config", str(self.config_path)]
        self.proc = Proc(args, self.folder / "run_all.out")
        wait_for(lambda: self.call("/api/health")[0] == 200, 30, 0.2, "the web to answer")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def call(self, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, JSON) of one API request; a POST when ``body`` is given."""
        return api_call(self.base, path, body)

    def pull(self, source: Path) -> str:
        """Pull a workbook with pull_raw.py; returns the raw commit SHA it printed."""
        done = subprocess.run(
            [PYTHON, str(ROOT / "pull_raw.py"), "--config", str(self.config_path), str(source)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"pull_raw failed: {done.stdout}{done.stderr}"
        self.pulls += 1
        return done.stdout.strip().splitlines()[-1].split()[-1]

    def pull_sheets(self, sheets: dict[str, list[list]], name: str) -> str:
        """Write ``sheets`` as a workbook and pull it; returns the raw SHA."""
        path = self.folder / f"{name}.xlsx"
        make_sample().write_xlsx(sheets, path)
        return self.pull(path)

    def plan_for(self, raw: str, timeout: float = 30) -> dict:
        """Wait until the web shows the plan built from raw commit ``raw``; returns its view."""

        def built() -> dict | None:
            status, view = self.call("/api/plan")
            return view if status == 200 and view["lineage"].get("raw") == raw else None

        return wait_for(built, timeout, 0.1, f"the plan of raw@{raw[:12]}")

    def health(self) -> dict[str, dict]:
        """The dashboard rows by component."""
        return {row["component"]: row for row in self.call("/api/health")[1]["components"]}


@contextlib.contextmanager
def sample_mesh(folder: Path, run_all: dict[str, str] | None = None):
    """run_all with every service, the sample pulled and planned (a test module's mesh);
    the module is skipped when Chromium is not installed."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (make test-install installs it)")
    mesh = MeshUnderTest(folder, run_all)
    mesh.start()
    try:
        mesh.sheets = make_sample().build_sheets()
        mesh.plan_for(mesh.pull_sheets(mesh.sheets, "sample"), timeout=60)
        yield mesh
    finally:
        mesh.stop()
