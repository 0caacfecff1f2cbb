"""The supervisord configuration that runs the same services the same way."""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterable

from mesh.config import Config
from supervision.settings import ROOT, STARTUP_SECONDS, Settings, service_command

__all__ = ["supervisord_config"]


def _ini(value: str) -> str:
    # supervisord expands %(name)s in values; a literal % must be doubled.
    return value.replace("%", "%%")


def supervisord_config(config: Config, settings: Settings, overrides: Iterable[str]) -> str:
    """A supervisord configuration that runs the same services the same way."""
    overrides = list(overrides)
    out = [
        f"; supervisord equivalent of `run_all.py --config {config.file}`.",
        "; [run_all] pull_if_empty has no equivalent here: run pull_raw.py once by hand.",
        "",
    ]
    for name in settings.services:
        command = shlex.join(service_command(name, config.file, overrides))
        out += [
            f"[program:{name}]",
            f"command={_ini(command)}",
            f"directory={_ini(str(ROOT))}",
            "autostart=true",
            "autorestart=true",
            f"startsecs={math.ceil(STARTUP_SECONDS)}",
            f"startretries={settings.give_up_after}",
            "stopsignal=TERM",
            f"stopwaitsecs={math.ceil(settings.grace_period)}",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={_ini(str(settings.log_dir / f'{name}.stdout.log'))}",
            'environment=PYTHONUNBUFFERED="1"',
            "",
        ]
    out += ["[group:qplan]", f"programs={','.join(settings.services)}", ""]
    return "\n".join(out)
