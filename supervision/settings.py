"""The ``[run_all]`` section, checked before any process starts, and the command lines."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.machinery import PathFinder
from pathlib import Path

from mesh.config import Config
from mesh.errors import ConfigError

__all__ = [
    "Settings",
    "read_settings",
    "where_lines",
    "service_command",
    "pull_command",
    "ROOT",
    "PULL_NAME",
]

ROOT = Path(__file__).resolve().parent.parent
PULL_RAW = ROOT / "pull_raw.py"
STARTUP_SECONDS = 1.0  # a child younger than this shows as "starting"
PULL_WAIT = 30.0  # seconds the snapshot service gets to answer before pull_if_empty gives up
DRAIN_SECONDS = 1.0  # seconds a dead child's pipe may still deliver output
REAP_SECONDS = 5.0  # seconds SIGKILLed children get to be reaped
MAX_LINE = 65536  # bytes: a longer line is relayed in pieces
TAIL_LINES = 8  # lines of a child's last output shown when run_all gives up on it
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
PULL_NAME = "pull_raw"
SOURCES = "[pull_raw] sources"  # pull_if_empty = yes: what pull_raw.py pulls when given none


@dataclass(frozen=True)
class Settings:
    """The ``[run_all]`` section, checked, plus the paths run_all reports."""

    services: list[str]
    grace_period: float
    backoff_initial: float
    backoff_max: float
    give_up_after: int
    failure_window: float
    pull_if_empty: str | None  # SOURCES ([pull_raw] sources), an absolute path or a URL
    log_dir: Path
    store: Path | None
    web_address: str | None
    keys: Path | None = None  # None: [mesh] curve = no (plain text)


def _check_services(config: Config, names: list[str]) -> None:
    where = f"{config.file}: [run_all] services"
    if not names:
        raise ConfigError(f"{where}: empty; name at least one service package")
    for name in names:
        if not all(part.isidentifier() for part in name.split(".")):
            raise ConfigError(f"{where}: {name!r} is not a Python package name")
        if names.count(name) > 1:
            raise ConfigError(f"{where}: {name!r} is listed twice")
        # Children run from the project folder with the inherited PYTHONPATH.
        if PathFinder.find_spec(name.split(".")[0], [str(ROOT), *sys.path]) is None:
            raise ConfigError(f"{where}: no package {name!r} in {ROOT} or on PYTHONPATH")


def _pull_source(config: Config) -> str | None:
    text = config.text("run_all", "pull_if_empty")
    if not text or text.lower() in ("no", "false", "off", "0"):
        return None
    if text.lower() in ("yes", "true", "on", "1"):
        if not config.names("pull_raw", "sources"):
            raise ConfigError(
                f"{config.file}: [run_all] pull_if_empty: yes, but [pull_raw] sources is empty"
            )
        return SOURCES
    if text.startswith(("http://", "https://")):
        return text
    return str(config.path("run_all", "pull_if_empty"))


def read_settings(config: Config) -> Settings:
    """Read and check everything run_all needs, so errors come before any process starts."""
    services = config.names("run_all", "services")
    _check_services(config, services)
    initial = config.number("run_all", "backoff_initial", minimum=0.01)
    maximum = config.number("run_all", "backoff_max", minimum=0.01)
    if maximum < initial:
        raise ConfigError(
            f"{config.file}: [run_all] backoff_max: {maximum:g} is less than "
            f"backoff_initial ({initial:g})"
        )
    config.endpoint("mesh", "heartbeat_endpoint")
    config.number("mesh", "heartbeat_interval", minimum=0.05)
    has_store = config.raw("snapshot_service", "store") is not None
    web = None
    if "web" in services:
        web = f"http://{config.text('web', 'host')}:{config.port('web', 'port')}/"
    return Settings(
        services=services,
        grace_period=config.number("run_all", "grace_period", minimum=0),
        backoff_initial=initial,
        backoff_max=maximum,
        give_up_after=config.integer("run_all", "give_up_after", minimum=1),
        failure_window=config.number("run_all", "failure_window", minimum=0),
        pull_if_empty=_pull_source(config),
        log_dir=config.path("mesh", "log_dir"),
        store=config.path("snapshot_service", "store") if has_store else None,
        web_address=web,
        keys=config.path("mesh", "key_dir") if config.flag("mesh", "curve") else None,
    )


def where_lines(config_file: Path, settings: Settings) -> list[str]:
    """The lines run_all prints at start to tell the operator where things are."""
    lines = [
        f"QPlan mesh: starting {', '.join(settings.services)}",
        f"  config  {config_file}",
    ]
    if settings.store is not None:
        lines.append(f"  store   {settings.store}")
    lines.append(f"  logs    {settings.log_dir}")
    if settings.keys is not None:
        lines.append(f"  keys    {settings.keys} (CURVE; python -m mesh.keytool list)")
    else:
        lines.append("  keys    none: PLAIN TEXT ([mesh] curve = no), for tests only")
    if settings.web_address:
        lines.append(f"  web     {settings.web_address}")
    return lines


def service_command(package: str, config_file: Path, overrides: Iterable[str]) -> list[str]:
    """The command line of one service."""
    return [sys.executable, "-m", package, "--config", str(config_file), *_set_args(overrides)]


def pull_command(config_file: Path, overrides: Iterable[str], source: str) -> list[str]:
    """The command line of the one-off pull of ``pull_if_empty`` (SOURCES: [pull_raw] sources)."""
    args = [sys.executable, str(PULL_RAW), "--config", str(config_file)]
    return [*args, *_set_args(overrides), *([] if source == SOURCES else [source])]


def _set_args(overrides: Iterable[str]) -> list[str]:
    return [arg for item in overrides for arg in ("--set", item)]
