"""config.ini loading: typed getters and one-line errors naming file, section and key."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mesh.config import DEFAULTS, REQUIRED, Config, known_keys
from mesh.errors import ConfigError
from tests.support import PYTHON, ROOT, write_config


def test_values_are_typed_and_paths_relative_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.ini"
    path.write_text(
        "[snapshot_service]\nstore = rel/store\nmax_payload = 2MiB\n"
        "request_endpoint = tcp://127.0.0.1:5000\n"
        "[mesh]\nrequest_timeout = 1.5\nrequest_retries = 3\n"
        "[condition_service]\nskill_aliases = Server=Apps, iOS = Native\n"
        "[web]\nport = 8080\n",
        encoding="utf-8",
    )
    config = Config(path)
    assert config.path("snapshot_service", "store") == tmp_path / "rel" / "store"
    assert config.size("snapshot_service", "max_payload") == 2 * 1024 * 1024
    assert config.number("mesh", "request_timeout") == 1.5
    assert config.integer("mesh", "request_retries") == 3
    assert config.aliases("condition_service", "skill_aliases") == {
        "server": "Apps",
        "ios": "Native",
    }
    assert config.port("web", "port") == 8080
    assert config.endpoint("snapshot_service", "request_endpoint") == "tcp://127.0.0.1:5000"
    # A key absent from the file falls back to DEFAULTS.
    assert config.names("snapshot_service", "datasets") == [
        "raw",
        "conditioned",
        "plan",
        "forecast",
        "scenarios",
        "baselines",
    ]
    assert config.flag("snapshot_service", "durable") is True


def test_overrides_win_over_the_file(tmp_path: Path) -> None:
    config = Config(write_config(tmp_path), ["web.port=1234", "mesh.log_level=DEBUG"])
    assert config.port("web", "port") == 1234
    assert config.text("mesh", "log_level") == "DEBUG"


@pytest.mark.parametrize(
    ("body", "getter", "section", "key", "expected"),
    [
        ("[web]\n", "port", "web", "port", "[web] port: missing key"),
        (
            "[mesh]\n",
            "endpoint",
            "snapshot_service",
            "request_endpoint",
            "[snapshot_service] is missing",
        ),
        (
            "[web]\nport = eighty\n",
            "port",
            "web",
            "port",
            "[web] port: 'eighty' is not a whole number",
        ),
        ("[web]\nport = 70000\n", "port", "web", "port", "not a port number"),
        ("[mesh]\nrequest_timeout = inf\n", "number", "mesh", "request_timeout", "finite"),
        ("[mesh]\nrequest_timeout = nan\n", "number", "mesh", "request_timeout", "finite"),
        (
            "[mesh]\nheartbeat_endpoint = localhost\n",
            "endpoint",
            "mesh",
            "heartbeat_endpoint",
            "is not an endpoint",
        ),
        (
            "[snapshot_service]\ndurable = maybe\n",
            "flag",
            "snapshot_service",
            "durable",
            "yes or no",
        ),
        (
            "[snapshot_service]\nmax_payload = lots\n",
            "size",
            "snapshot_service",
            "max_payload",
            "is not a size",
        ),
        (
            "[condition_service]\nskill_aliases = Server\n",
            "aliases",
            "condition_service",
            "skill_aliases",
            "Alias=Name",
        ),
    ],
)
def test_errors_name_file_section_and_key(tmp_path, body, getter, section, key, expected) -> None:
    path = tmp_path / "c.ini"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        getattr(Config(path), getter)(section, key)
    message = str(info.value)
    assert str(path) in message
    assert expected in message
    assert "\n" not in message


def test_missing_file_and_unparsable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        Config(tmp_path / "absent.ini")
    bad = tmp_path / "bad.ini"
    bad.write_text("no section header\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot parse"):
        Config(bad)


def test_bad_override_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SECTION.KEY=VALUE"):
        Config(write_config(tmp_path), ["webport=1"])


def test_a_service_with_a_missing_key_exits_with_one_line(tmp_path: Path, spawn) -> None:
    path = write_config(tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("heartbeat_endpoint")),
        encoding="utf-8",
    )
    proc = spawn([PYTHON, "-m", "snapshot_service", "--config", str(path)], name="snap")
    code = proc.popen.wait(30)
    output = proc.output().strip().splitlines()
    assert code == 2
    assert output[-1] == (
        f"snapshot_service: error: {path}: [mesh] heartbeat_endpoint: missing key"
    )


def test_a_bad_log_level_is_a_config_error(tmp_path: Path, spawn) -> None:
    path = write_config(tmp_path, {"mesh": {"log_level": "LOUD"}})
    proc = spawn([PYTHON, "-m", "snapshot_service", "--config", str(path)], name="snap")
    assert proc.popen.wait(30) == 2
    assert proc.output().strip().splitlines()[-1] == (
        f"snapshot_service: error: {path}: [mesh] log_level: 'LOUD' is not one of "
        "DEBUG, INFO, WARNING, ERROR"
    )


def test_the_shipped_config_has_only_known_keys() -> None:
    config = Config(ROOT / "config.ini")
    known = known_keys()
    assert config.names("pull_raw", "sources") == ["data/sample/plan.xlsx"]
    # Every key a component reads is a key config.ini may hold (DEFAULTS or REQUIRED).
    assert set(DEFAULTS) | set(REQUIRED) == set(known)


@pytest.mark.parametrize(
    ("body", "overrides", "expected"),
    [
        ("[web]\nprot = 8080\n", [], "{file}: unknown key 'prot' in [web]; did you mean port?"),
        ("[wbe]\nport = 1\n", [], "{file}: unknown section [wbe]; did you mean [web]?"),
        ("[DEFAULT]\nport = 1\n", [], "{file}: [DEFAULT] port: keys belong in"),
        ("[web]\n", ["web.prot=8080"], "--set web.prot=8080: unknown key 'prot' in [web]; did"),
        ("[web]\n", ["mseh.log_dir=x"], "--set mseh.log_dir=x: unknown section [mseh]; did"),
        ("[web]\n", ["web.zzzz=1"], "--set web.zzzz=1: unknown key 'zzzz' in [web]"),
    ],
)
def test_unknown_sections_and_keys_are_refused(tmp_path, body, overrides, expected) -> None:
    path = tmp_path / "c.ini"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Config(path, overrides)
    assert str(info.value).startswith(expected.format(file=path.resolve()))
    assert "\n" not in str(info.value)


ENTRY_POINTS = [
    ["-m", "snapshot_service"],
    ["-m", "condition_service"],
    ["-m", "qplan_service"],
    ["-m", "web"],
    ["run_all.py"],
    ["pull_raw.py", "data/sample/plan.xlsx"],
]


@pytest.mark.parametrize("command", ENTRY_POINTS, ids=lambda c: c[-1])
def test_every_entry_point_refuses_a_typo_with_exit_2(tmp_path: Path, command) -> None:
    path = write_config(tmp_path)
    args = [PYTHON, *command, "--config", str(path), "--set", "web.prot=8080"]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].endswith(
        ": error: --set web.prot=8080: unknown key 'prot' in [web]; did you mean port?"
    )
    assert not (tmp_path / "store").exists()  # nothing started
