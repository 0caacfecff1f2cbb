"""The mesh across two hosts: two Linux network namespaces joined by a veth pair, over TCP+CURVE.

Host A runs the snapshot service; host B pulls a workbook and runs condition_service. B's
keys are set up exactly as README "Adding a host" says (``mesh.keytool add`` on B, ``allow``
of B's public keys on A, A's server public keys copied to B), and a third key folder — a
stranger on B's network with keys A never allowed — gets nothing in.

Needs root (``ip netns``); skipped otherwise.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import PYTHON, ROOT, Proc, wait_for, write_config

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None, reason="needs root and iproute2 (ip netns)"
)


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def hosts():
    """Two namespaces, A (10.231.n.1) and B (10.231.n.2), joined by a veth pair."""
    tag = secrets.token_hex(3)
    a, b = f"qpA{tag}", f"qpB{tag}"
    subnet = f"10.231.{int(tag[:2], 16)}"
    ip("netns", "add", a)
    try:
        ip("netns", "add", b)
        ip("link", "add", f"va{tag}", "type", "veth", "peer", "name", f"vb{tag}")
        ip("link", "set", f"va{tag}", "netns", a)
        ip("link", "set", f"vb{tag}", "netns", b)
        for ns, dev, address in ((a, f"va{tag}", f"{subnet}.1"), (b, f"vb{tag}", f"{subnet}.2")):
            ip("-n", ns, "addr", "add", f"{address}/24", "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
            ip("-n", ns, "link", "set", "lo", "up")
        yield a, b, f"{subnet}.1"
    finally:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def host_config(folder: Path, address: str) -> Path:
    """One host's config.ini: every endpoint on host A's address, keys and logs local."""
    folder.mkdir()
    return write_config(
        folder,
        {
            "mesh": {"heartbeat_endpoint": f"tcp://{address}:5753", "request_timeout": "3"},
            "snapshot_service": {
                "request_endpoint": f"tcp://{address}:5750",
                "publish_endpoint": f"tcp://{address}:5751",
            },
        },
    )


def run_in(ns: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ip", "netns", "exec", ns, PYTHON, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )


def service_in(ns: str, package: str, config: Path) -> Proc:
    """A service started inside namespace ``ns``; its output beside its config."""
    args = ["ip", "netns", "exec", ns, PYTHON, "-m", package, "--config", str(config)]
    return Proc(args, config.parent / f"{package}.out")


def keytool(ns: str, config: Path, *args: str) -> None:
    done = run_in(ns, "-m", "mesh.keytool", "--config", str(config), *args)
    assert done.returncode == 0, done.stderr


def git_store(config: Path, *args: str) -> str:
    store = config.parent / "store"
    done = subprocess.run(["git", "-C", str(store), *args], capture_output=True, text=True)
    return done.stdout


def test_a_second_host_pulls_and_conditions_over_curve_and_a_stranger_is_refused(
    hosts, tmp_path: Path
) -> None:
    a, b, address = hosts
    config_a = host_config(tmp_path / "host-a", address)
    config_b = host_config(tmp_path / "host-b", address)
    config_c = host_config(tmp_path / "stranger", address)
    procs: list[Proc] = []
    try:
        store = service_in(a, "snapshot_service", config_a)
        procs.append(store)
        keys_a = tmp_path / "host-a" / "keys"
        wait_for(lambda: (keys_a / "servers").is_dir(), 30, what="host A's keys")

        # Adding host B, as the README says.
        for name in ("pull_raw", "condition_service"):
            keytool(b, config_b, "add", name)
            public = tmp_path / "host-b" / "keys" / "clients" / f"{name}.key"
            keytool(a, config_a, "allow", str(public), "--as", f"host-b-{name}")
        for folder in (tmp_path / "host-b", tmp_path / "stranger"):
            (folder / "keys" / "servers").mkdir(parents=True, exist_ok=True)
            for public in (keys_a / "servers").glob("*.key"):
                shutil.copy(public, folder / "keys" / "servers" / public.name)
        keytool(b, config_c, "add", "pull_raw")  # the stranger's own key, never allowed on A
        assert not list((tmp_path / "host-b" / "keys" / "servers").glob("*secret*"))

        sample = str(ROOT / "data" / "sample" / "plan.xlsx")
        pulled = run_in(b, "pull_raw.py", "--config", str(config_b), sample)
        assert pulled.returncode == 0, pulled.stdout + pulled.stderr
        raw = pulled.stdout.split()[-1]
        procs.append(service_in(b, "condition_service", config_b))
        last_conditioned = ("log", "-1", "--format=%B", "--", "conditioned")
        wait_for(
            lambda: f"raw@{raw}" in git_store(config_a, *last_conditioned),
            60,
            0.2,
            "host B's conditioned commit in host A's store",
        )

        refused = run_in(b, "pull_raw.py", "--config", str(config_c), sample)
        assert refused.returncode != 0
        assert "refused the connection" in refused.stderr and "pull_raw.key" in refused.stderr
        commits = git_store(config_a, "log", "--format=%H", "--", "raw").split()
        assert commits == [raw]  # the stranger got nothing in
        wait_for(lambda: "refused a connection" in store.output(), 10, what="the refusal")
    finally:
        for proc in reversed(procs):
            proc.stop()
