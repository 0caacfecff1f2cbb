"""CURVE on the mesh's endpoints: keys made on first start, strangers refused, a live allow-list.

Through real processes: a PUT or a HEARTBEAT from a key the mesh does not allow gets nothing
in (the store does not change, the dashboard shows no such component), a plain-text client is
refused too, a key allowed with ``mesh.keytool`` works at once and a revoked one stops.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import zmq
import zmq.auth

from mesh.client import Client
from mesh.config import Config
from mesh.errors import RequestTimeout
from mesh.keys import CLIENTS, SERVERS, ClientCurve, Keys, create
from mesh.messages import Beat
from mesh.protocol import HEARTBEAT_TOPIC
from mesh.snapshot import SnapshotClient
from tests.support import (
    PYTHON,
    ROOT,
    free_port,
    service_args,
    store_client,
    wait_for,
    wait_for_store,
    write_config,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def keytool(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "mesh.keytool", "--config", str(config), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


def stranger(config: Path, server: str) -> ClientCurve:
    """A fresh key pair nobody allowed, aimed at ``server``."""
    public, secret = zmq.curve_keypair()
    keys = Keys(Config(config).path("mesh", "key_dir"), "tools")
    return ClientCurve(public, secret, keys.client(server).server)


# -- the key folder ---------------------------------------------------------------------------


def test_the_first_start_makes_one_private_key_set(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "keys"
    assert create(folder) is True
    assert mode(folder) == 0o700
    for part in ("servers", "clients", "allowed"):
        assert mode(folder / part) == 0o700
    assert sorted(p.stem for p in (folder / "servers").glob("*.key_secret")) == sorted(SERVERS)
    assert sorted(p.stem for p in (folder / "clients").glob("*.key_secret")) == sorted(CLIENTS)
    for secret in folder.rglob("*.key_secret"):
        assert mode(secret) == 0o600, secret
    # allowed/ holds public keys only, one per client.
    allowed = zmq.auth.load_certificates(folder / "allowed")
    assert len(allowed) == len(CLIENTS)
    assert not list((folder / "allowed").glob("*secret*"))
    before = (folder / "servers" / "web.key").read_bytes()
    assert create(folder) is False  # never made twice
    assert (folder / "servers" / "web.key").read_bytes() == before


def test_components_starting_together_agree_on_one_set(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    script = (
        "import sys; from pathlib import Path; from mesh.keys import create; "
        "create(Path(sys.argv[1])); "
        "print(open(Path(sys.argv[1]) / 'servers' / 'snapshot_service.key').read())"
    )
    procs = [
        subprocess.Popen(
            [PYTHON, "-c", script, str(folder)], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    seen = {proc.communicate(timeout=30)[0] for proc in procs}
    assert all(proc.returncode == 0 for proc in procs)
    assert len(seen) == 1 and "public-key" in next(iter(seen))
    assert not [p for p in tmp_path.iterdir() if p.name != "keys"]  # no staging left behind


def test_the_keytool_adds_rotates_and_revokes_without_printing_a_secret(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    folder = Config(config).path("mesh", "key_dir")
    create(folder)
    added = keytool(config, "add", "hostb-condition")
    assert added.returncode == 0, added.stderr
    assert (folder / "allowed" / "hostb-condition.key").exists()
    again = keytool(config, "add", "hostb-condition")
    assert again.returncode != 0 and "use `rotate hostb-condition`" in again.stderr
    old = (folder / "allowed" / "hostb-condition.key").read_text()
    rotated = keytool(config, "rotate", "hostb-condition")
    assert rotated.returncode == 0 and "restart hostb-condition" in rotated.stdout
    assert (folder / "allowed" / "hostb-condition.key").read_text() != old
    listed = keytool(config, "list")
    secrets = [zmq.auth.load_certificate(p)[1].decode() for p in folder.rglob("*.key_secret")]
    everything = listed.stdout + added.stdout + rotated.stdout
    assert "servers/snapshot_service" in listed.stdout
    assert not any(secret in everything for secret in secrets)
    assert keytool(config, "revoke", "hostb-condition").returncode == 0
    assert not (folder / "allowed" / "hostb-condition.key").exists()
    bad = keytool(config, "add", "../escape")
    assert bad.returncode != 0 and "not a key name" in bad.stderr


# -- through a running store and web --------------------------------------------------------------


@pytest.fixture
def store(spawn, tmp_path: Path):
    config = write_config(tmp_path)
    proc = spawn.service("snapshot_service", config)
    wait_for_store(config)
    yield config, proc


def test_a_stranger_s_put_gets_nothing_in(store) -> None:
    config, proc = store
    endpoint = Config(config).endpoint("snapshot_service", "request_endpoint")
    for curve, said in (
        (stranger(config, "snapshot_service"), "refused the connection: it does not allow"),
        (None, "did not answer PUT"),  # plain text: nothing tells it apart from silence
    ):
        with (
            SnapshotClient(endpoint, timeout=1.0, retries=0, curve=curve) as evil,
            pytest.raises(RequestTimeout, match=said),
        ):
            evil.put("plan", {"plan.json": "{}"}, producer="qplan_service")
    with store_client(config) as good:
        assert good.log("plan") == []
    wait_for(lambda: "refused a connection" in proc.output(), what="the refusal in the log")
    key_dir = str(Config(config).path("mesh", "key_dir"))
    assert "secret" not in proc.output().replace(key_dir, "")


def test_a_key_allowed_with_the_keytool_counts_at_once_and_a_revoked_one_stops(store) -> None:
    config, _ = store
    curve = stranger(config, "snapshot_service")
    folder = Config(config).path("mesh", "key_dir")
    public_file = folder.parent / "newcomer.key"
    public_file.write_text(f'curve\n    public-key = "{curve.public.decode()}"\n')
    endpoint = Config(config).endpoint("snapshot_service", "request_endpoint")
    assert keytool(config, "allow", str(public_file)).returncode == 0
    with SnapshotClient(endpoint, timeout=3.0, retries=0, curve=curve) as newcomer:
        assert newcomer.put("raw", {"work.tsv": "x\n"}, source="newcomer")["changed"]
    assert keytool(config, "revoke", "newcomer").returncode == 0
    with (
        SnapshotClient(endpoint, timeout=1.0, retries=0, curve=curve) as gone,
        pytest.raises(RequestTimeout),
    ):
        gone.latest("raw")


def _health(base: str) -> dict:
    with urllib.request.urlopen(f"{base}/api/health", timeout=5) as response:
        return {row["component"]: row for row in json.loads(response.read())["components"]}


def test_a_stranger_s_heartbeat_never_reaches_the_dashboard(spawn, tmp_path: Path) -> None:
    config = write_config(tmp_path)
    loaded = Config(config)
    spawn.service("web", config)
    base = f"http://127.0.0.1:{loaded.port('web', 'port')}"
    wait_for(lambda: _health(base), timeout=30, what="the web")
    context = zmq.Context()
    sockets = []
    try:
        for name, curve in (
            ("evil_component", stranger(config, "web")),
            ("plain_component", None),
            ("tools_component", Keys.of(loaded, "tools").client("web")),  # the control
        ):
            sock = context.socket(zmq.PUB)
            sock.linger = 0
            if curve is not None:
                curve.apply(sock)
            sock.connect(loaded.endpoint("mesh", "heartbeat_endpoint"))
            sockets.append((name, sock))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "tools_component" not in _health(base):
            for name, sock in sockets:
                beat = Beat(component=name, pid=1, state="up", detail={}, errors=999, time=0)
                beat.to_message().send(sock, topic=HEARTBEAT_TOPIC)
            time.sleep(0.1)
        rows = _health(base)
        assert "tools_component" in rows  # an allowed key beats through
        assert "evil_component" not in rows and "plain_component" not in rows
    finally:
        for _, sock in sockets:
            sock.close(linger=0)
        context.term()


def test_plain_text_mode_says_so_loudly_and_still_works(spawn, tmp_path: Path) -> None:
    config = write_config(tmp_path, {"mesh": {"curve": "no"}})
    proc = spawn.service("snapshot_service", config)
    endpoint = Config(config).endpoint("snapshot_service", "request_endpoint")
    with SnapshotClient(endpoint, timeout=1.0, retries=0) as plain:
        wait_for(lambda: plain.latest("raw") is not None, timeout=30, what="the store")
    wait_for(lambda: "PLAIN TEXT" in proc.output(), what="the warning")
    assert "tests only" in proc.output()
    assert not os.path.exists(Config(config).path("mesh", "key_dir"))
    with Client(endpoint, timeout=1.0, retries=0) as client:
        assert client.call("LATEST", {"dataset": "raw"}).kind == "OK"


def test_a_client_that_reopens_again_and_again_leaves_nothing_open(tmp_path: Path) -> None:
    """Each reopened socket gets a monitor address of its own, and every socket and monitor
    is closed: the context terminates (a leaked socket would keep a service from exiting)."""
    config = write_config(tmp_path)
    curve = Keys.of(Config(config), "tools").client("snapshot_service")
    context = zmq.Context()
    endpoint = f"tcp://127.0.0.1:{free_port()}"  # nothing listens: every try times out
    with (
        Client(endpoint, timeout=0.01, retries=80, curve=curve, context=context) as client,
        pytest.raises(RequestTimeout, match="81 tries"),
    ):
        client.call("LATEST", {"dataset": "raw"})
    ended = threading.Thread(target=context.term, daemon=True)
    ended.start()
    ended.join(10)
    assert not ended.is_alive(), "the context did not terminate: a socket was left open"


def test_a_missing_key_stops_a_component_with_one_line_that_says_what_to_do(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    folder = Config(config).path("mesh", "key_dir")
    create(folder)
    (folder / "servers" / "snapshot_service.key_secret").unlink()
    (folder / "servers" / "qplan_service.key").unlink()  # a second host skipped step 4
    store = subprocess.run(
        service_args("snapshot_service", config),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert store.returncode == 2 and "Traceback" not in store.stderr
    assert "snapshot_service.key_secret is missing" in store.stderr
    assert "python -m mesh.keytool rotate snapshot_service" in store.stderr
    web = subprocess.run(
        service_args("web", config), cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert web.returncode == 2 and "Traceback" not in web.stderr
    assert "no public key of qplan_service (copy qplan_service.key" in web.stderr
