"""Who may talk to the web: allowed Host names, the page's own Origin, optional sign-in.

- Host: every request and the websocket must name an allowed host (DNS
  rebinding: a page of evil.example that resolves to 127.0.0.1 still sends
  ``Host: evil.example``). Allowed: ``[web] allowed_hosts`` (comma separated
  names, ``*`` allows any) plus always the bound address, ``localhost`` and
  ``127.0.0.1`` (and ``[::1]``).
- Origin: a state-changing request (anything but GET/HEAD/OPTIONS) and the
  websocket, when they carry an Origin, must come from the page's own origin
  (the same host and port the request is addressed to). Browsers always send
  Origin on such requests; a script or curl without one is not a browser.
- Sign-in: with ``[web] password`` set, every request (pages, API, static
  files, websocket) needs HTTP basic authentication with that password (any
  user name) — what browsers, curl and reverse proxies all support. Use it
  (behind TLS) when the web is bound beyond localhost.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["WebAccess", "web_access", "is_loopback", "host_name"]


def is_loopback(host: str) -> bool:
    """Whether the bound address is only reachable from this machine."""
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(host: str) -> str:
    """The host part of a Host header or netloc, lower case, without the port."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


@dataclass(frozen=True)
class WebAccess:
    """The allowed host names and the sign-in password (None: no sign-in)."""

    allowed_hosts: frozenset[str]
    password: str | None = None

    def host_allowed(self, host_header: str | None) -> bool:
        if not host_header:
            return False
        return "*" in self.allowed_hosts or host_name(host_header) in self.allowed_hosts

    def origin_allowed(self, origin: str | None, host_header: str | None) -> bool:
        """An absent Origin passes (not a browser); else it must be the page's own."""
        if origin is None:
            return True
        try:
            netloc = urlsplit(origin).netloc.lower()
        except ValueError:
            return False
        return bool(host_header) and netloc == host_header.strip().lower()

    def signed_in(self, authorization: str | None) -> bool:
        if self.password is None:
            return True
        if not authorization or not authorization.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        _, _, password = decoded.partition(":")
        return hmac.compare_digest(password.encode(), self.password.encode())


def web_access(config, bound: str) -> WebAccess:
    """The ``[web] allowed_hosts`` and ``password`` of ``config`` for a web bound at ``bound``."""
    listed = {host_name(h) for h in config.text("web", "allowed_hosts").split(",") if h.strip()}
    hosts = listed | {host_name(bound), "localhost", "127.0.0.1", "[::1]"}
    if ":" in bound and not bound.startswith("["):
        hosts.add(f"[{bound.lower()}]")
    password = config.text("web", "password")
    return WebAccess(frozenset(hosts), password or None)
