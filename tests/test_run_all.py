"""run_all.py: the supervisor, run as a real process over fake services (tests/fake_services)."""

from __future__ import annotations

import configparser
import contextlib
import os
import shlex
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import zmq

from mesh.config import Config
from mesh.protocol import HEARTBEAT_TOPIC, Message
from run_all import (
    LineSplitter,
    RestartPolicy,
    failing_banner,
    prefix,
    read_settings,
    where_lines,
)
from supervision.policy import Restart
from tests.support import PYTHON, ROOT, serve_as, store_client, wait_for, write_config

FAKES = Path(__file__).resolve().parent / "fake_services"
RUN_ALL = ROOT / "run_all.py"
WAIT = 30.0  # seconds: generous, the machine is shared


# -- helpers -------------------------------------------------------------------------


def make_config(folder: Path, services: str, **run_all: str) -> Path:
    """A config.ini whose [run_all] starts ``services`` with quick back-off."""
    section = {
        "services": services,
        "grace_period": "2",
        "backoff_initial": "0.1",
        "backoff_max": "0.2",
        "give_up_after": "3",
        "failure_window": "30",
        "pull_if_empty": "",
    }
    section.update(run_all)
    return write_config(folder, {"run_all": section})


def recorded(folder: Path, name: str) -> list[int]:
    """The pids a fake service recorded, oldest first."""
    path = folder / "pids" / f"{name}.pids"
    if not path.exists():
        return []
    return [int(line) for line in path.read_text().split()]


def gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie waiting for init to reap it counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


class RunAllProc:
    """run_all.py as a child of the test, stdout and stderr in separate files."""

    def __init__(self, folder: Path, args: list[str], number: int = 0) -> None:
        self.out_path = folder / f"run_all-{number}.stdout"
        self.err_path = folder / f"run_all-{number}.stderr"
        path = os.pathsep.join(filter(None, [str(FAKES), os.environ.get("PYTHONPATH")]))
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.popen = subprocess.Popen(
                [PYTHON, str(RUN_ALL), *args],
                cwd=ROOT,
                stdout=out,
                stderr=err,
                env={**os.environ, "PYTHONPATH": path},
                start_new_session=True,
            )

    def out(self) -> str:
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    def err(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def signal(self, sig: int) -> None:
        self.popen.send_signal(sig)

    def wait(self, timeout: float = WAIT) -> int:
        return self.popen.wait(timeout)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL; run_all's children are in groups of their own."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(WAIT)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(5)


class Beats:
    """A SUB bound at the heartbeat endpoint, as the web binds it; keeps run_all's beats."""

    def __init__(self, config: Path, endpoint: str) -> None:
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.SUB)
        self.socket.linger = 0
        self.socket.subscribe(HEARTBEAT_TOPIC.encode())
        serve_as(config, "web", self.socket)
        self.socket.bind(endpoint)
        self.seen: list[dict] = []

    def _drain(self) -> None:
        while self.socket.poll(0):
            _, message = Message.from_frames(self.socket.recv_multipart(), topic=True)
            if message.header.get("component") == "run_all":
                self.seen.append(message.header)

    def wait(self, predicate: Callable[[dict], bool], what: str, state: str | None = None) -> dict:
        """The first beat whose children satisfy ``predicate`` (and run_all is in ``state``)."""

        def matches(beat: dict) -> bool:
            return predicate(beat["detail"]["children"]) and state in (None, beat["state"])

        def found():
            self._drain()
            return next((b for b in self.seen if matches(b)), None)

        return wait_for(found, timeout=WAIT, what=what)

    def close(self) -> None:
        self.socket.close(linger=0)
        self.context.term()


@pytest.fixture
def beats(tmp_path: Path):
    """Made by ``beats(config)``; closed after the test."""
    made: list[Beats] = []

    def make(config: Path) -> Beats:
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(config)
        made.append(Beats(config, parser["mesh"]["heartbeat_endpoint"]))
        return made[-1]

    yield make
    for item in made:
        item.close()


@pytest.fixture
def run_all(tmp_path: Path):
    """Start run_all.py: ``run_all(config, *more_args)``; stopped after the test."""
    started: list[RunAllProc] = []

    def start(config: Path, *more: str) -> RunAllProc:
        started.append(RunAllProc(tmp_path, ["--config", str(config), *more], len(started)))
        return started[-1]

    yield start
    for proc in started:
        proc.stop()
        # Shown by pytest when the test failed.
        print(f"--- {proc.out_path.name}:\n{proc.out()}--- {proc.err_path.name}:\n{proc.err()}")
    # Whatever a failing test left behind must not outlive it.
    for pid_file in (tmp_path / "pids").glob("*.pids"):
        for pid in recorded(tmp_path, pid_file.stem):
            with contextlib.suppress(OSError):
                if str(tmp_path) in Path(f"/proc/{pid}/cmdline").read_text() or (
                    pid_file.stem == "grandchild" and not gone(pid)
                ):
                    os.kill(pid, signal.SIGKILL)


def child(name: str, **expected) -> Callable[[dict], bool]:
    """A predicate on the heartbeat's children: ``name`` has every expected field value."""
    return lambda children: all(children[name].get(k) == v for k, v in expected.items())


# -- plain logic --------------------------------------------------------------------


def test_back_off_doubles_up_to_the_maximum_then_keeps_trying_at_the_maximum():
    policy = RestartPolicy(initial=1.0, maximum=3.0, give_up_after=5, window=60.0)
    restarts = [policy.exited(now=t, uptime=0.1) for t in (0, 1, 3, 6, 9, 12, 15)]
    assert [r.delay for r in restarts] == [1.0, 2.0, 3.0, 3.0, 3.0, 3.0, 3.0]
    assert [r.failing for r in restarts] == [False] * 4 + [True] * 3
    policy.reset()  # run_all.py restart NAME
    assert policy.exited(now=16, uptime=0.1) == Restart(1.0, False)


def test_back_off_starts_over_after_a_long_enough_run():
    policy = RestartPolicy(initial=1.0, maximum=30.0, give_up_after=3, window=10.0)
    assert [policy.exited(now=t, uptime=0.1).delay for t in (0, 1)] == [1.0, 2.0]
    assert policy.exited(now=20, uptime=15.0).delay == 1.0
    assert policy.exited(now=21, uptime=0.1).delay == 2.0


def test_failures_older_than_the_window_do_not_count():
    policy = RestartPolicy(initial=0.5, maximum=0.5, give_up_after=3, window=10.0)
    assert policy.exited(now=0, uptime=1) == Restart(0.5, False)
    assert policy.exited(now=5, uptime=1) == Restart(0.5, False)
    assert policy.exited(now=12, uptime=1) == Restart(0.5, False)  # 0 fell out of the window
    assert policy.exited(now=13, uptime=1) == Restart(0.5, True)


def test_line_splitter_joins_pieces_cuts_long_lines_and_keeps_the_last_partial_line():
    splitter = LineSplitter(max_line=4)
    assert splitter.feed(b"ab") == []
    assert splitter.feed(b"c\r\nabcdefghij\nxy") == [b"abc", b"abcd", b"efgh", b"ij"]
    assert splitter.feed(b"z123456") == [b"xyz1", b"2345"]
    assert splitter.finish() == [b"6"]


def test_line_splitter_flushes_what_is_left_at_the_end():
    splitter = LineSplitter(max_line=10)
    assert splitter.feed(b"one\ntwo") == [b"one"]
    assert splitter.finish() == [b"two"]
    assert splitter.finish() == []


def test_prefix_aligns_names():
    width = len("condition_service")
    assert prefix("snapshot_service", width) == b"snapshot_service  | "
    assert prefix("web", width) == b"web" + b" " * 14 + b" | "


def test_banner_names_the_service_the_count_the_exit_code_and_the_log(tmp_path: Path):
    log = tmp_path / "crasher.log"
    text = failing_banner("crasher", 4, 60.0, 30.0, 1, log, ["boom"])
    assert "crasher is FAILING" in text and "4 times within 60 s" in text
    assert "restarted every 30 s" in text and "run_all.py restart crasher" in text
    assert "last exit code 1" in text and str(log) in text and "boom" in text
    assert len(text.splitlines()) > 4
    repeated = failing_banner("crasher", 4, 60.0, 30.0, 1, log, ["a", "boom", "boom", "boom"])
    assert "    a\n    boom  (x3)\n" in repeated
    log.write_text("x")
    assert "not written" not in failing_banner("crasher", 4, 60.0, 30.0, 1, log, [])


# -- run_all as a process ------------------------------------------------------------


def test_restarts_a_killed_service_and_counts_the_restart(tmp_path, run_all, beats):
    config = make_config(tmp_path, "steady", backoff_initial="1", backoff_max="1")
    heart = beats(config)
    # A slow regular beat: state changes must be told at once, not at the next interval.
    proc = run_all(config, "--set", "mesh.heartbeat_interval=5")
    first = wait_for(lambda: recorded(tmp_path, "steady"), timeout=WAIT, what="steady's pid")[0]
    heart.wait(child("steady", state="running", pid=first, restarts=0), "steady running")

    os.kill(first, signal.SIGKILL)

    pids = wait_for(lambda: recorded(tmp_path, "steady")[1:], timeout=WAIT, what="a new pid")
    second = pids[0]
    assert second != first
    beat = heart.wait(child("steady", pid=second, restarts=1), "the restart in the heartbeat")
    assert beat["detail"]["children"]["steady"]["last_exit"] == -signal.SIGKILL
    backoff = heart.wait(child("steady", state="backoff"), "a back-off beat")
    assert backoff["detail"]["children"]["steady"]["pid"] is None
    assert isinstance(backoff["detail"]["children"]["steady"]["next_start_in"], float)
    heart.wait(child("steady", state="running", pid=second), "steady running again")
    assert not gone(second)

    proc.signal(signal.SIGTERM)
    assert proc.wait() == 0


def test_a_crashing_service_is_failing_loudly_and_still_retried(tmp_path, run_all, beats):
    config = make_config(tmp_path, "steady, crasher", give_up_after="3", backoff_max="1")
    heart = beats(config)
    proc = run_all(config)

    wait_for(lambda: "crasher is FAILING" in proc.err(), timeout=WAIT, what="the banner")
    banner = proc.err()
    assert "exited 3 times within 30 s" in banner
    assert "last exit code 1" in banner
    assert str(tmp_path / "logs" / "crasher.log") in banner
    assert "crasher: cannot work today" in banner  # its last words
    assert "FAILING" not in proc.out()
    steady = recorded(tmp_path, "steady")
    heart.wait(
        lambda c: (
            c["crasher"]["state"] == "failing"
            and c["crasher"]["last_exit"] == 1
            and c["crasher"]["pid"] is None
            and c["steady"]["state"] == "running"
            and c["steady"]["pid"] == steady[0]
        ),
        "crasher failing, steady running",
    )
    # run_all never gives up: it keeps starting the crasher, at the back-off ceiling.
    wait_for(lambda: len(recorded(tmp_path, "crasher")) >= 5, WAIT, 0.2, "more tries")
    assert proc.err().count("restarted every") == 1  # the banner once, not at every try
    assert len(steady) == 1 and not gone(steady[0])
    assert proc.popen.poll() is None


def test_restart_resets_the_back_off_at_once(tmp_path, run_all, beats):
    config = make_config(
        tmp_path, "steady, crasher", give_up_after="2", backoff_initial="20", backoff_max="60"
    )
    proc = run_all(config)
    wait_for(lambda: "crasher is FAILING" in proc.err(), timeout=WAIT * 3, what="failing")
    tries = len(recorded(tmp_path, "crasher"))
    path = os.pathsep.join(filter(None, [str(FAKES), os.environ.get("PYTHONPATH")]))

    def restart(name: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [PYTHON, str(RUN_ALL), "restart", name, "--config", str(config)],
            capture_output=True, text=True, timeout=30, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": path},
        )  # fmt: skip

    done = restart("crasher")
    assert done.returncode == 0, done.stderr
    assert "restart crasher" in done.stdout
    # Without the request the next try would be 60 s away.
    wait_for(lambda: len(recorded(tmp_path, "crasher")) > tries, 10, 0.1, "a try at once")
    steady = recorded(tmp_path, "steady")[0]
    done = restart("steady")
    assert done.returncode == 0, done.stderr
    wait_for(lambda: len(recorded(tmp_path, "steady")) == 2, 15, 0.1, "steady restarted")
    assert gone(steady)
    bad = restart("nope")
    assert bad.returncode == 1 and "no service 'nope'" in bad.stderr

    proc.signal(signal.SIGTERM)
    assert proc.wait() == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stopping_leaves_no_process_behind(tmp_path, run_all, beats, sig):
    config = make_config(tmp_path, "steady, stubborn, forker", grace_period="1")
    heart = beats(config)
    proc = run_all(config)
    names = ["steady", "stubborn", "forker", "grandchild"]
    pids = wait_for(
        lambda: (
            all(recorded(tmp_path, n) for n in names) and [recorded(tmp_path, n)[0] for n in names]
        ),
        timeout=WAIT,
        what="every pid",
    )
    heart.wait(
        lambda c: all(c[n]["state"] == "running" for n in names[:3]), "every service running"
    )
    assert not any(gone(pid) for pid in pids)

    proc.signal(sig)

    assert proc.wait() == 0
    for name, pid in zip(names, pids, strict=True):
        wait_for(lambda pid=pid: gone(pid), timeout=WAIT, what=f"{name} (pid {pid}) gone")
    out = proc.out()
    assert "steady   | steady stopping" in out  # it got SIGTERM, not only SIGKILL
    assert out.rstrip().endswith("every service stopped")
    assert f"pid {pids[1]} did not stop within 1s; killing it" in proc.err()
    # run_all's own state, not only its children's: its first beat, before any child was
    # started, also lists every child as stopped.
    last = heart.wait(lambda c: c["steady"]["state"] == "stopped", "the last beat", "stopping")
    assert last["state"] == "stopping"
    assert all(
        c == {**c, "state": "stopped", "pid": None} for c in last["detail"]["children"].values()
    )


def test_a_second_signal_skips_the_grace_period(tmp_path, run_all):
    config = make_config(tmp_path, "stubborn", grace_period="600")
    proc = run_all(config)
    pid = wait_for(lambda: recorded(tmp_path, "stubborn"), timeout=WAIT, what="stubborn's pid")[0]
    wait_for(lambda: "stubborn up" in proc.out(), timeout=WAIT, what="stubborn's first line")

    proc.signal(signal.SIGINT)
    wait_for(lambda: "run_all stopping" in proc.err(), timeout=WAIT, what="the stop")
    proc.signal(signal.SIGINT)

    assert proc.wait() == 0  # well before the 600 s grace period is over
    wait_for(lambda: gone(pid), timeout=WAIT, what="stubborn gone")


def test_a_sigkilled_run_all_takes_its_services_along(tmp_path, run_all):
    config = make_config(tmp_path, "steady")
    proc = run_all(config)
    pid = wait_for(lambda: recorded(tmp_path, "steady"), timeout=WAIT, what="steady's pid")[0]
    wait_for(lambda: "steady up" in proc.out(), timeout=WAIT, what="steady's first line")

    proc.signal(signal.SIGKILL)

    wait_for(lambda: gone(pid), timeout=WAIT, what="steady gone with run_all")


def test_output_is_relayed_line_by_line_with_the_service_name(tmp_path, run_all):
    config = make_config(tmp_path, "steady, chatty")
    proc = run_all(config)
    wait_for(lambda: "chatty done" in proc.out(), timeout=WAIT, what="chatty's output")
    wait_for(lambda: "hello on stderr" in proc.out(), timeout=WAIT, what="steady's output")
    lines = proc.out().splitlines()
    assert "chatty | first part, second part" in lines  # the pieces joined, CR dropped
    assert "steady | steady says hello on stderr" in lines  # stderr merged
    assert (
        f"steady | steady up, pid {recorded(tmp_path, 'steady')[0]}, args --config {config}"
        in lines
    )
    long = [line for line in lines if line.startswith("chatty | xxx")]
    assert [len(line) - len("chatty | ") for line in long] == [65536, 70000 - 65536]
    assert lines[:4] == [
        "QPlan mesh: starting steady, chatty",
        f"  config  {config}",
        f"  store   {tmp_path / 'store'}",
        f"  logs    {tmp_path / 'logs'}",
    ]
    assert (tmp_path / "logs" / "run_all.log").exists()


def test_says_where_the_web_is_when_web_is_a_service(tmp_path):
    config = make_config(tmp_path, "snapshot_service")
    port = Config(config).port("web", "port")
    without = read_settings(Config(config))
    assert not any(line.startswith("  web") for line in where_lines(config, without))
    settings = read_settings(Config(config, ["run_all.services=snapshot_service, web"]))
    assert where_lines(config, settings)[-1] == f"  web     http://127.0.0.1:{port}/"


def test_children_get_the_config_and_the_overrides(tmp_path, run_all):
    config = make_config(tmp_path, "steady")
    proc = run_all(config, "--set", "web.host=127.0.0.2")
    wait_for(lambda: "steady up" in proc.out(), timeout=WAIT, what="steady's first line")
    assert f"args --config {config} --set web.host=127.0.0.2" in proc.out()


def test_print_supervisord_is_a_valid_equivalent_config(tmp_path):
    config = make_config(tmp_path, "steady, crasher", grace_period="2.5", give_up_after="4")
    result = subprocess.run(
        [
            PYTHON,
            str(RUN_ALL),
            "--config",
            str(config),
            "--set",
            "web.port=1",
            "--print-supervisord",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(FAKES)},
        timeout=WAIT,
    )
    assert result.returncode == 0, result.stderr
    parser = configparser.ConfigParser()
    parser.read_string(result.stdout)
    assert parser.sections() == ["program:steady", "program:crasher", "group:qplan"]
    assert parser["group:qplan"]["programs"] == "steady,crasher"
    program = parser["program:crasher"]
    assert shlex.split(program["command"]) == [
        PYTHON,
        "-m",
        "crasher",
        "--config",
        str(config),
        "--set",
        "web.port=1",
    ]
    assert Path(PYTHON).is_absolute()
    assert program["directory"] == str(ROOT)
    assert program["startretries"] == "4"
    assert program["stopwaitsecs"] == "3"
    assert program["stdout_logfile"] == str(tmp_path / "logs" / "crasher.stdout.log")
    assert program["environment"] == 'PYTHONUNBUFFERED="1"'
    for key in ("autostart", "autorestart", "stopasgroup", "killasgroup", "redirect_stderr"):
        assert program[key] == "true"
    assert program["stopsignal"] == "TERM" and int(program["startsecs"]) >= 1
    assert not (tmp_path / "pids").exists()  # nothing was started


def _without(config: Path, *lines: str) -> None:
    text = config.read_text().splitlines()
    config.write_text("\n".join(line for line in text if not line.startswith(lines)) + "\n")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda c: _without(c, "services"), "[run_all] services: missing key"),
        (
            lambda c: _without(
                c, "[run_all]", "services", "grace", "backoff", "give_up", "fail", "pull"
            ),
            "section [run_all] is missing",
        ),
        (
            lambda c: c.write_text(
                c.read_text().replace("backoff_initial = 0.1", "backoff_initial = soon")
            ),
            "[run_all] backoff_initial: 'soon' is not a number",
        ),
        (
            lambda c: c.write_text(c.read_text().replace("steady", "steady, no_such_service")),
            "[run_all] services: no package 'no_such_service'",
        ),
        (
            lambda c: c.write_text(
                c.read_text().replace("backoff_max = 0.2", "backoff_max = 0.05")
            ),
            "[run_all] backoff_max: 0.05 is less than backoff_initial",
        ),
        (lambda c: c.unlink(), "config file not found"),
    ],
    ids=["missing-key", "missing-section", "bad-value", "unknown-service", "backoff", "no-file"],
)
def test_a_config_error_is_one_line_naming_file_section_and_key(tmp_path, edit, expected):
    config = make_config(tmp_path, "steady")
    edit(config)
    result = subprocess.run(
        [PYTHON, str(RUN_ALL), "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(FAKES)},
        timeout=WAIT,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"run_all: error: {config}")
    assert expected in result.stderr
    assert not (tmp_path / "pids").exists()  # nothing was started


# -- with the real snapshot service and pull_raw.py -----------------------------------


@pytest.mark.skipif(
    not (ROOT / "snapshot_service" / "__main__.py").exists() or not (ROOT / "pull_raw.py").exists(),
    reason="needs snapshot_service and pull_raw.py",
)
def test_pull_if_empty_pulls_once_into_an_empty_store(tmp_path, run_all):
    (tmp_path / "work.csv").write_text("Name,Track,Estimate\nLogin,Web,Web:2\n", encoding="utf-8")
    config = make_config(tmp_path, "snapshot_service", pull_if_empty="work.csv")
    first = run_all(config)
    wait_for(lambda: "pulled " in first.err(), timeout=WAIT, what="the pull")
    with store_client(config) as store:
        raw = store.get("raw")
        assert raw.text("work.tsv") == "Name\tTrack\tEstimate\nLogin\tWeb\tWeb:2\n"
        assert len(store.log("raw")) == 1
    assert raw.commit in [
        line.split("| ", 1)[1] for line in first.out().splitlines() if line.startswith("pull_raw ")
    ]
    first.signal(signal.SIGTERM)
    assert first.wait() == 0

    second = run_all(config)
    wait_for(lambda: "store has raw data" in second.err(), timeout=WAIT, what="the check")
    assert f"store has raw data ({raw.commit[:12]})" in second.err()
    assert "pull_raw " not in second.out()
    second.signal(signal.SIGTERM)
    assert second.wait() == 0
