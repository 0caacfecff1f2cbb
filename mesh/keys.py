"""The mesh's CURVE keys: who may bind, who may connect, and the allow-list.

Every ZeroMQ endpoint of the mesh is encrypted and authenticated with CURVE
(libzmq's, through pyzmq's ``zmq.auth``: ZAP checks each connecting key; no
crypto of our own). ``[mesh] key_dir`` (default ``data/keys``, mode 0700) holds::

    servers/NAME.key, NAME.key_secret   the pair of each binding service
                                        (snapshot_service, qplan_service, web)
    clients/NAME.key, NAME.key_secret   the pair each component connects with
    allowed/*.key                       public keys that may connect (the allow-list)

A host that only connects needs the servers' public ``.key`` files and its own
client pairs; a binding host needs its server pairs and, in ``allowed/``, the
public key of every client that may reach it. ``allowed/`` is read again when it
changes, so a key added or removed there counts within a second, without a
restart. ``python -m mesh.keytool`` adds, rotates, allows, revokes and lists keys.

When the folder is empty (or absent) the first component that starts — run_all,
a service started alone, pull_raw, a test — makes the whole set for one host at
once (``create``), atomically, so components starting together agree.

``[mesh] curve = no`` turns CURVE off: plain text, for tests only, said loudly
by every component at start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth

from mesh.errors import ConfigError

__all__ = [
    "FOLDER_MODE",
    "SERVERS",
    "CLIENTS",
    "TOOLS",
    "ClientCurve",
    "Keys",
    "AllowList",
    "create",
    "write_pair",
    "plaintext_warning",
    "say_plaintext",
]

log = logging.getLogger(__name__)

# The services that bind endpoints, and every component that connects to one. TOOLS is
# the key of scripts, benchmarks and tests that talk to a running mesh.
SERVERS = ("snapshot_service", "qplan_service", "web")
TOOLS = "tools"
CLIENTS = (
    "snapshot_service",
    "condition_service",
    "qplan_service",
    "forecast_service",
    "web",
    "pull_raw",
    "run_all",
    TOOLS,
)
FOLDER_MODE = 0o700
SECRET_MODE = 0o600
DENIED_EVERY = 60.0  # seconds between two warnings about the same refused key
MAX_WARNED = 1000  # refused keys remembered for that


def plaintext_warning(component: str) -> str:
    """What a component says at start when CURVE is off."""
    return (
        f"{component}: PLAIN TEXT — [mesh] curve = no: ZeroMQ traffic is neither encrypted "
        "nor authenticated, and any process that reaches an endpoint can write the store. "
        "For tests only; never run a real mesh like this."
    )


@dataclass(frozen=True)
class ClientCurve:
    """What a connecting socket needs: its own pair and the server's public key."""

    public: bytes
    secret: bytes
    server: bytes
    source: str = "this client's key"  # which key file, for messages (never the secret)

    def apply(self, socket: zmq.Socket) -> None:
        """Make ``socket`` a CURVE client (before it connects)."""
        socket.curve_publickey = self.public
        socket.curve_secretkey = self.secret
        socket.curve_serverkey = self.server


def write_pair(folder: Path, name: str) -> None:
    """A new pair NAME.key (public) and NAME.key_secret (0600) in ``folder`` (made 0700)."""
    for made in (folder.parent, folder):
        made.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    _, secret = zmq.auth.create_certificates(folder, name)
    os.chmod(secret, SECRET_MODE)


def _populated(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


def create(folder: Path) -> bool:
    """Make a fresh set of keys in ``folder`` when it is empty or absent; True if made here.

    The set is built in a temporary folder beside it and renamed into place, so that
    components starting at the same moment all end up with the one set that won.
    """
    if _populated(folder):
        return False
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        for name in SERVERS:
            write_pair(staging / "servers", name)
        for name in CLIENTS:
            write_pair(staging / "clients", name)
        (staging / "allowed").mkdir(mode=FOLDER_MODE)
        for name in CLIENTS:
            public = f"{name}.key"
            shutil.copyfile(staging / "clients" / public, staging / "allowed" / public)
        os.chmod(staging, FOLDER_MODE)
        try:
            os.rename(staging, folder)  # replaces an empty folder; fails on a populated one
        except OSError:
            if _populated(folder):
                return False  # another component made the set first: use theirs
            raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return True


class AllowList:
    """ZAP's check of a connecting key against ``allowed/``, read again when it changes.

    Used as ``configure_curve_callback``'s credentials provider. A refused key is
    logged (a warning, at most once a minute per key, with its public part only).
    """

    def __init__(self, folder: Path, component: str) -> None:
        self.folder = folder
        self.component = component
        self._keys: frozenset[bytes] = frozenset()
        self._stamp: frozenset | None = None
        self._warned: dict[bytes, float] = {}

    def _stamp_now(self) -> frozenset | None:
        """Name, size and time of each file: any change to the folder or a key in it shows."""
        try:
            with os.scandir(self.folder) as entries:
                return frozenset(
                    (entry.name, entry.stat().st_size, entry.stat().st_mtime_ns)
                    for entry in entries
                )
        except OSError:
            return None

    def keys(self) -> frozenset[bytes]:
        """The allowed public keys (z85), reloaded when the folder changed."""
        stamp = self._stamp_now()
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self._keys = frozenset(zmq.auth.load_certificates(self.folder))
            except (OSError, ValueError) as exc:
                log.error("%s: cannot read the allow-list %s: %s", self.component, self.folder, exc)
                self._keys = frozenset()
        return self._keys

    def callback(self, domain: str, key: bytes) -> bool:
        """True when ``key`` (z85) may connect."""
        if key in self.keys():
            return True
        now = time.monotonic()
        if len(self._warned) >= MAX_WARNED:  # a flood of made-up keys: forget, do not grow
            self._warned.clear()
        if now - self._warned.get(key, -DENIED_EVERY) >= DENIED_EVERY:
            self._warned[key] = now
            log.warning(
                "%s refused a connection: its key %s is not in %s",
                self.component,
                key.decode("ascii", "replace"),
                self.folder,
            )
        return False


class Keys:
    """One component's view of the key folder."""

    def __init__(self, folder: Path, component: str) -> None:
        self.folder = folder
        self.component = component
        self._loaded: dict[Path, tuple[bytes, bytes | None]] = {}

    @classmethod
    def of(cls, config, component: str) -> Keys | None:
        """The keys ``config`` names for ``component`` (made if the folder is empty); None
        when ``[mesh] curve = no``."""
        if not config.flag("mesh", "curve"):
            return None
        folder = config.path("mesh", "key_dir")
        try:
            if create(folder):
                log.info("made the mesh's CURVE keys in %s", folder)
        except OSError as exc:
            raise ConfigError(f"[mesh] key_dir {folder}: cannot make the keys: {exc}") from None
        return cls(folder, component)

    def _load(self, path: Path, what: str, secret: bool) -> tuple[bytes, bytes | None]:
        if path not in self._loaded:
            try:
                pair = zmq.auth.load_certificate(path)
            except (OSError, ValueError):
                raise ConfigError(f"{what}: {path} is missing or unreadable") from None
            if secret and not pair[1]:
                raise ConfigError(f"{what}: {path} holds no secret key")
            self._loaded[path] = pair
        return self._loaded[path]

    def allow_list(self) -> AllowList:
        """The allow-list a binding service checks clients against."""
        return AllowList(self.folder / "allowed", self.component)

    def serve(self, socket: zmq.Socket) -> None:
        """Make ``socket`` a CURVE server with this service's pair (before it binds)."""
        path = self.folder / "servers" / f"{self.component}.key_secret"
        public, secret = self._load(
            path,
            f"{self.component} binds an endpoint but has no server key "
            f"(make one: python -m mesh.keytool rotate {self.component})",
            secret=True,
        )
        socket.curve_secretkey = secret
        socket.curve_publickey = public
        socket.curve_server = True

    def client(self, server: str) -> ClientCurve:
        """What this component needs to connect to ``server``."""
        mine = self.folder / "clients" / f"{self.component}.key_secret"
        public, secret = self._load(
            mine,
            f"{self.component} has no client key "
            f"(make one: python -m mesh.keytool add {self.component})",
            secret=True,
        )
        theirs = self.folder / "servers" / f"{server}.key"
        server_public, _ = self._load(
            theirs,
            f"no public key of {server} (copy {server}.key from the host that runs it)",
            secret=False,
        )
        return ClientCurve(public, secret, server_public, f"the key {mine.with_suffix('.key')}")


def say_plaintext(component: str) -> None:
    """Warn on stderr and in the log that CURVE is off."""
    text = plaintext_warning(component)
    log.warning(text)
    with contextlib.suppress(OSError):
        print(f"WARNING: {text}", file=sys.stderr, flush=True)
