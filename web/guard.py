"""Who may talk to the web: the Host it answers for, the Origin that may change things, sign-in.

``Guard.check`` runs before every handler, the static files and the websocket included:

- **Host** must be one of ``[web] allowed_hosts`` (default: the address the web binds,
  ``localhost``, ``127.0.0.1``, ``[::1]``), or a page a user opens elsewhere could reach the
  web through a DNS name that points at it (DNS rebinding). Refused with 403.
- **Sign-in**, when ``[web] password`` is set: HTTP basic, any user name, that password
  (the browser asks once); without it, 401. Meant for a web bound beyond localhost; behind
  a reverse proxy that signs people in, leave it empty and bind 127.0.0.1.
- **State-changing requests** (anything but GET, HEAD, OPTIONS) must come from the page's
  own origin when the browser says where it comes from (``Origin``), and carry
  ``Content-Type: application/json``: a form or a ``text/plain`` fetch from another site
  cannot post to the API (403, 415).

The websocket's ``Origin`` is checked the same way (``origin_ok``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import tornado.httputil
import tornado.web

__all__ = ["Guard", "Refused", "SECURITY_HEADERS", "SecureStatic", "LOOPBACK"]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Resource-Policy": "same-origin",
}
LOOPBACK = ("localhost", "127.0.0.1", "::1")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Refused(Exception):
    """A request the guard turns away: its status, a sentence, and headers to send."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def answer(self, handler: tornado.web.RequestHandler) -> None:
        """Finish ``handler``'s request with this refusal as ``{"error", "status"}`` JSON."""
        handler.set_status(self.status)
        for name, value in self.headers.items():
            handler.set_header(name, value)
        handler.set_header("Content-Type", "application/json; charset=utf-8")
        handler.finish(json.dumps({"error": self.message, "status": self.status}))


def _host(text: str) -> str:
    """A host name as compared: lower case, no brackets, no trailing dot."""
    return text.strip().lower().strip("[]").rstrip(".")


@dataclass(frozen=True)
class Guard:
    """The web's rules for who may ask what; see the module docstring."""

    hosts: frozenset[str]
    password: str = ""

    @classmethod
    def from_config(cls, config) -> Guard:
        """``[web] allowed_hosts`` (empty: the bound address and loopback) and ``password``."""
        hosts = [_host(h) for h in config.names("web", "allowed_hosts")]
        if not hosts:
            hosts = [_host(config.text("web", "host")), *LOOPBACK]
        return cls(frozenset(h for h in hosts if h), config.text("web", "password"))

    def check(self, request: tornado.httputil.HTTPServerRequest) -> None:
        """Raise Refused unless ``request`` may be answered."""
        host = _host(request.host_name or "")
        if host not in self.hosts:
            raise Refused(
                403,
                f"this web does not answer for host {host[:80]!r} ([web] allowed_hosts: "
                f"{', '.join(sorted(self.hosts))})",
            )
        if self.password and not self._signed_in(request.headers.get("Authorization", "")):
            raise Refused(
                401,
                "sign in: this web needs the password in [web] password",
                {"WWW-Authenticate": 'Basic realm="QPlan", charset="UTF-8"'},
            )
        if request.method in SAFE_METHODS:
            return
        origin = request.headers.get("Origin")
        if origin is not None and not self.origin_ok(origin, request):
            raise Refused(403, f"requests from {origin[:80]!r} may not change anything here")
        kind = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise Refused(415, "send JSON with Content-Type: application/json")

    def origin_ok(self, origin: str, request: tornado.httputil.HTTPServerRequest) -> bool:
        """True when ``origin`` is the page's own: an allowed host on the request's port."""
        if origin == "null":
            return False
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or _host(parts.hostname or "") not in self.hosts:
            return False
        wanted = urlsplit(f"{request.protocol}://{request.host}")
        default = 443 if parts.scheme == "https" else 80
        return (parts.port or default) == (wanted.port or (443 if wanted.scheme == "https" else 80))

    def _signed_in(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        _, _, password = decoded.partition(":")
        return hmac.compare_digest(password.encode(), self.password.encode())


class SecureStatic(tornado.web.StaticFileHandler):
    """Static files with the guard and the security headers of every other answer."""

    def initialize(self, path: str, guard: Guard | None = None, **kwargs) -> None:
        super().initialize(path, **kwargs)
        self.guard = guard

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)

    def prepare(self) -> None:
        if self.guard is None:
            return
        try:
            self.guard.check(self.request)
        except Refused as exc:
            exc.answer(self)
