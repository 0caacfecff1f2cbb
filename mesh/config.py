"""config.ini: one section per component, typed getters, one-line errors.

Every value is read through a typed getter (``text``, ``integer``, ``number``,
``flag``, ``path``, ``endpoint``, ``names``, ``aliases``, ``size``). A key that
is absent from the file falls back to ``DEFAULTS`` (the one place defaults
live); a key with no default is required. Any problem raises ``ConfigError``
whose message names the file, the section and the key.

Overrides given on the command line (``--set section.key=value``) win over the
file.
"""

from __future__ import annotations

import configparser
import difflib
import math
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from mesh.errors import ConfigError

__all__ = ["Config", "DEFAULTS", "REQUIRED", "known_keys", "parse_override", "unknown"]

# Optional keys and their defaults. Keys not listed here must be in the file.
DEFAULTS: dict[str, dict[str, str]] = {
    "mesh": {
        "log_dir": "data/logs",
        "log_level": "INFO",
        "log_max_bytes": "1048576",
        "log_backups": "3",
        "heartbeat_interval": "1.0",
        "request_timeout": "5.0",
        "request_retries": "2",
        "resync_interval": "10.0",
        "curve": "yes",
        "key_dir": "data/keys",
    },
    "snapshot_service": {
        "datasets": "raw, conditioned, plan, forecast, scenarios, baselines",
        "max_payload": "64MiB",
        "durable": "yes",
        "branch": "main",
        "pack_after": "6700",
    },
    "condition_service": {
        "skills": "Apps, Native, Web, QA, UX",
        "skill_aliases": "",
        "track_aliases": "",
        "sizes": "S=1, M=2, L=3, XL=5, Q=13",
        "sheet_aliases": "",
        "triage_words": "",
    },
    "qplan_service": {
        "filter_command": "",
        "filter_timeout": "10.0",
        "whatif_forecast_runs": "100",
        "whatif_max_edits": "200",
        "whatif_max_people": "2000",
        "whatif_max_size": "20000000",
        "whatif_deadline": "20.0",
        "whatif_workers": "1",
        "whatif_queue": "20",
    },
    "forecast_service": {
        "runs": "1000",
        "spread": "1.0",
    },
    "web": {
        "host": "127.0.0.1",
        "allowed_hosts": "",
        "password": "",
        "missing_after": "3.0",
        "idle_after": "60.0",
    },
    "run_all": {
        "grace_period": "5.0",
        "backoff_initial": "1.0",
        "backoff_max": "10.0",
        "give_up_after": "5",
        "failure_window": "60.0",
        "pull_if_empty": "",
    },
    "pull_raw": {
        "http_timeout": "30.0",
        "sources": "",
    },
}

# Keys with no default: they must be in the file. With DEFAULTS they are every
# key config.ini may hold; anything else is a mistake (``unknown key``). A new
# key is added in one place: DEFAULTS when it has a default, REQUIRED when not.
REQUIRED: dict[str, tuple[str, ...]] = {
    "mesh": ("heartbeat_endpoint",),
    "snapshot_service": ("store", "request_endpoint", "publish_endpoint"),
    "qplan_service": ("request_endpoint",),
    "web": ("port",),
    "run_all": ("services",),
}

_ENDPOINT = re.compile(r"^(tcp://[A-Za-z0-9.\-\[\]:*]+:\d{1,5}|ipc://.+|inproc://.+)$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]i?B?|B)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "B": 1, "K": 1000, "M": 1000**2, "G": 1000**3}
_TRUE = {"1", "yes", "true", "on"}
_FALSE = {"0", "no", "false", "off"}


def parse_override(text: str) -> tuple[str, str, str]:
    """Split ``section.key=value`` into its three parts."""
    name, sep, value = text.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot or not section or not key:
        raise ConfigError(f"--set {text!r}: expected SECTION.KEY=VALUE")
    return section, key.strip(), value.strip()


def known_keys() -> dict[str, set[str]]:
    """Every section config.ini may hold and its keys: DEFAULTS and REQUIRED together."""
    known: dict[str, set[str]] = {}
    for table in (DEFAULTS, REQUIRED):
        for section, keys in table.items():
            known.setdefault(section, set()).update(keys)
    return known


def _did_you_mean(word: str, choices: Iterable[str], shown: Callable[[str], str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in choices}
        close = [lowered[word.lower()]] if word.lower() in lowered else []
    return f"; did you mean {shown(close[0])}?" if close else ""


def unknown(section: str, key: str | None = None) -> str | None:
    """Why ``[section] key`` (or the section alone) is not a config entry; None when it is."""
    known = known_keys()
    if section not in known:
        hint = _did_you_mean(section, known, lambda s: f"[{s}]")
        return f"unknown section [{section}]{hint}"
    if key is not None and key not in known[section]:
        hint = _did_you_mean(key, known[section], lambda k: k)
        return f"unknown key {key!r} in [{section}]{hint}"
    return None


class Config:
    """A loaded config.ini with typed, error-reporting getters."""

    def __init__(self, path: str | Path, overrides: Iterable[str] = ()) -> None:
        self.file = Path(path).resolve()
        self.root = self.file.parent
        self._parser = configparser.ConfigParser(
            interpolation=None, inline_comment_prefixes=(";", "#")
        )
        if not self.file.is_file():
            raise ConfigError(f"{path}: config file not found")
        try:
            with open(self.file, encoding="utf-8") as fh:
                self._parser.read_file(fh)
        except (configparser.Error, UnicodeDecodeError) as exc:
            first = str(exc).splitlines()[0]
            raise ConfigError(f"{self.file}: cannot parse: {first}") from exc
        self._check_names()
        for item in overrides:
            section, key, value = parse_override(item)
            problem = unknown(section, key.lower())
            if problem:
                raise ConfigError(f"--set {item}: {problem}")
            if not self._parser.has_section(section):
                self._parser.add_section(section)
            self._parser.set(section, key, value)

    def _check_names(self) -> None:
        """Refuse a section or key of the file that no component reads (a typo)."""
        for key in self._parser.defaults():
            raise ConfigError(f"{self.file}: [DEFAULT] {key}: keys belong in a component's section")
        for section in self._parser.sections():
            problem = unknown(section)
            if problem:
                raise ConfigError(f"{self.file}: {problem}")
            for key in self._parser.options(section):
                problem = unknown(section, key)
                if problem:
                    raise ConfigError(f"{self.file}: {problem}")

    def _where(self, section: str, key: str) -> str:
        return f"{self.file}: [{section}] {key}"

    def raw(self, section: str, key: str) -> str | None:
        """The text of a key, its default, or None when neither exists."""
        if self._parser.has_option(section, key):
            return self._parser.get(section, key).strip()
        return DEFAULTS.get(section, {}).get(key)

    def text(self, section: str, key: str) -> str:
        """A required string (it may come from DEFAULTS)."""
        value = self.raw(section, key)
        if value is None:
            if not self._parser.has_section(section):
                raise ConfigError(f"{self.file}: section [{section}] is missing")
            raise ConfigError(f"{self._where(section, key)}: missing key")
        return value

    def _bad(self, section: str, key: str, value: str, expected: str) -> ConfigError:
        return ConfigError(f"{self._where(section, key)}: {value!r} is not {expected}")

    def integer(self, section: str, key: str, minimum: int | None = None) -> int:
        """A whole number, optionally at least ``minimum``."""
        value = self.text(section, key)
        try:
            number = int(value)
        except ValueError:
            raise self._bad(section, key, value, "a whole number") from None
        if minimum is not None and number < minimum:
            raise self._bad(section, key, value, f"a whole number >= {minimum}")
        return number

    def number(self, section: str, key: str, minimum: float | None = None) -> float:
        """A decimal number, optionally at least ``minimum``."""
        value = self.text(section, key)
        try:
            number = float(value)
        except ValueError:
            raise self._bad(section, key, value, "a number") from None
        if not math.isfinite(number):
            raise self._bad(section, key, value, "a finite number")
        if minimum is not None and number < minimum:
            raise self._bad(section, key, value, f"a number >= {minimum}")
        return number

    def flag(self, section: str, key: str) -> bool:
        """A yes/no value (yes, no, true, false, on, off, 1, 0)."""
        value = self.text(section, key)
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise self._bad(section, key, value, "yes or no")

    def size(self, section: str, key: str) -> int:
        """A byte count such as ``65536``, ``64MiB`` or ``10 MB``."""
        value = self.text(section, key)
        match = _SIZE.match(value)
        if not match:
            raise self._bad(section, key, value, "a size such as 65536 or 64MiB")
        unit = (match.group(2) or "").upper()
        base = 1024 if "I" in unit else 1
        factor = _SIZE_UNITS[unit[:1]] if base == 1 else 1024 ** "BKMG".index(unit[0])
        return int(float(match.group(1)) * factor)

    def path(self, section: str, key: str) -> Path:
        """A filesystem path; relative paths are relative to the config file's folder."""
        value = self.text(section, key)
        if not value:
            raise self._bad(section, key, value, "a path")
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.root / path)

    def endpoint(self, section: str, key: str) -> str:
        """A ZeroMQ endpoint such as ``tcp://127.0.0.1:5550``."""
        value = self.text(section, key)
        if not _ENDPOINT.match(value):
            raise self._bad(section, key, value, "an endpoint like tcp://127.0.0.1:5550")
        return value

    def port(self, section: str, key: str) -> int:
        """A TCP port number (0 to 65535)."""
        value = self.integer(section, key, minimum=0)
        if value > 65535:
            raise self._bad(section, key, str(value), "a port number (0-65535)")
        return value

    def names(self, section: str, key: str) -> list[str]:
        """A comma-separated list; empty items are dropped."""
        return [item.strip() for item in self.text(section, key).split(",") if item.strip()]

    def aliases(self, section: str, key: str) -> dict[str, str]:
        """A comma-separated list of ``Alias=Name`` pairs, keyed by lower-case alias."""
        mapping: dict[str, str] = {}
        for item in self.names(section, key):
            alias, sep, name = item.partition("=")
            if not sep or not alias.strip() or not name.strip():
                raise self._bad(section, key, item, "a list of Alias=Name pairs")
            mapping[alias.strip().lower()] = name.strip()
        return mapping
