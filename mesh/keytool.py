"""``python -m mesh.keytool``: list, add, rotate, allow and revoke the mesh's CURVE keys.

The key folder is ``[mesh] key_dir`` of ``--config`` (see ``mesh.keys`` for its
layout). Nothing here prints a secret key: listings show public keys only.

    list               every key by folder, with its public key
    add NAME           a new client pair for a component (e.g. on a second host),
                       and its public key in allowed/
    rotate NAME        a new pair in place of NAME's (server and/or client; a binding
                       service's server pair is made if it is missing); the old one
                       stops working at once (allowed/ is read live); restart NAME
    allow FILE [--as NAME]   copy another host's public key file into allowed/
    revoke NAME        remove allowed/NAME.key: that key can no longer connect
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import zmq.auth

from mesh.cli import base_parser, load_config, report
from mesh.errors import ConfigError, QPlanError
from mesh.keys import FOLDER_MODE, SERVERS, write_pair

__all__ = ["main"]

PROG = "mesh.keytool"


def _public(path: Path) -> str:
    public, _ = zmq.auth.load_certificate(path)
    return public.decode("ascii")


def list_keys(folder: Path) -> list[str]:
    """One line per key file: folder, name, public key."""
    lines = []
    for part in ("servers", "clients", "allowed"):
        for path in sorted((folder / part).glob("*.key")):
            lines.append(f"{part}/{path.stem:<20} {_public(path)}")
    return lines


def _name(text: str) -> str:
    if not text or not all(c.isalnum() or c in "-_." for c in text) or text.startswith("."):
        raise ConfigError(f"{text!r} is not a key name (letters, digits, - _ .)")
    return text


def add(folder: Path, name: str) -> list[str]:
    """A new client pair ``clients/NAME`` allowed to connect here."""
    if (folder / "clients" / f"{name}.key_secret").exists():
        raise ConfigError(f"clients/{name} exists; use `rotate {name}` for a new pair")
    write_pair(folder / "clients", name)
    _allow(folder, folder / "clients" / f"{name}.key", name)
    return [
        f"made clients/{name}.key_secret (secret: stays on this host) and allowed/{name}.key",
        f"on another host's mesh, allow it with: python -m mesh.keytool allow "
        f"{folder / 'clients' / f'{name}.key'} --as {name}",
    ]


def rotate(folder: Path, name: str) -> list[str]:
    """New pairs in place of NAME's server and/or client pair."""
    done = []
    if (folder / "servers" / f"{name}.key_secret").exists() or name in SERVERS:
        write_pair(folder / "servers", name)
        done.append(
            f"new server pair servers/{name}: restart the mesh, and copy servers/{name}.key "
            "to every other host that connects to it"
        )
    if (folder / "clients" / f"{name}.key_secret").exists():
        write_pair(folder / "clients", name)
        _allow(folder, folder / "clients" / f"{name}.key", name)
        done.append(
            f"new client pair clients/{name} (allowed/{name}.key replaced; the old key is "
            f"refused from now on): restart {name}, and `allow` the new public key on other hosts"
        )
    if not done:
        raise ConfigError(f"no key named {name} in {folder}/servers or {folder}/clients")
    return done


def _allow(folder: Path, source: Path, name: str) -> None:
    try:
        public, secret = zmq.auth.load_certificate(source)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{source}: not a key file ({exc})") from None
    if not public:
        raise ConfigError(f"{source}: holds no public key")
    allowed = folder / "allowed"
    allowed.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    target = allowed / f"{name}.key"
    if secret:
        # Only the public half belongs in allowed/: copy the public file beside a secret one.
        partner = source.with_suffix(".key")
        if partner == source or not partner.exists():
            raise ConfigError(f"{source} holds a secret key; give the public .key file instead")
        source = partner
    temporary = allowed / f".{name}.key.new"
    shutil.copyfile(source, temporary)
    temporary.replace(target)


def allow(folder: Path, source: Path, name: str | None) -> list[str]:
    """Copy a public key file into allowed/."""
    name = _name(name or source.stem)
    _allow(folder, source, name)
    return [f"allowed/{name}.key: {_public(folder / 'allowed' / f'{name}.key')} may connect"]


def revoke(folder: Path, name: str) -> list[str]:
    """Remove allowed/NAME.key."""
    target = folder / "allowed" / f"{name}.key"
    if not target.exists():
        raise ConfigError(f"allowed/{name}.key does not exist")
    target.unlink()
    return [f"revoked {name}: its key is refused from now on (no restart needed)"]


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(PROG, __doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every key and its public part")
    for command in ("add", "rotate", "revoke"):
        commands.add_parser(command).add_argument("name")
    allowing = commands.add_parser("allow", help="copy a public key file into allowed/")
    allowing.add_argument("file", type=Path)
    allowing.add_argument("--as", dest="name", default=None)
    args = parser.parse_args(argv)
    try:
        config = load_config(args)
        folder = config.path("mesh", "key_dir")  # never filled here: see the README's hosts
        if args.command == "list":
            lines = list_keys(folder)
        elif args.command == "allow":
            lines = allow(folder, args.file, args.name)
        else:
            action = {"add": add, "rotate": rotate, "revoke": revoke}[args.command]
            lines = action(folder, _name(args.name))
    except QPlanError as exc:
        return report(PROG, exc)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
