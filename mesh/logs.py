"""Logging set-up: one line per event to stderr and to a rotating file per component."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from mesh.config import Config
from mesh.errors import ConfigError, QPlanError

__all__ = ["setup_logging", "logging_from_config", "LOG_FORMAT"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def setup_logging(
    component: str,
    log_dir: Path | None,
    level: str = "INFO",
    max_bytes: int = 1_048_576,
    backups: int = 3,
) -> Path | None:
    """Log to stderr and, when ``log_dir`` is given, to ``log_dir/<component>.log``."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level.upper())
    formatter = logging.Formatter(LOG_FORMAT)
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(formatter)
    root.addHandler(stream)
    if log_dir is None:
        return None
    log_dir.mkdir(mode=0o750, parents=True, exist_ok=True)
    path = log_dir / f"{component}.log"
    rotating = logging.handlers.RotatingFileHandler(
        path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
    )
    rotating.setFormatter(formatter)
    root.addHandler(rotating)
    return path


def logging_from_config(component: str, config: Config) -> Path | None:
    """``setup_logging`` with the ``[mesh]`` log settings; bad values are ConfigErrors."""
    level = config.text("mesh", "log_level").upper()
    if level not in LEVELS:
        raise ConfigError(
            f"{config.file}: [mesh] log_level: {level!r} is not one of {', '.join(LEVELS)}"
        )
    log_dir = config.path("mesh", "log_dir")
    try:
        return setup_logging(
            component,
            log_dir,
            level=level,
            max_bytes=config.integer("mesh", "log_max_bytes", minimum=1024),
            backups=config.integer("mesh", "log_backups", minimum=0),
        )
    except OSError as exc:
        raise QPlanError(f"{log_dir}: cannot write the log: {exc.strerror or exc}") from None
