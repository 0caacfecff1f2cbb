"""What every message of the mesh checks: error codes, SHAs, typed header fields."""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from mesh.errors import ProtocolError
from mesh.protocol import Message

__all__ = [
    "ErrorCode",
    "BadRequest",
    "check_sha",
    "SHA_PATTERN",
    "get_field",
    "expect_kind",
    "no_bodies",
]

SHA_PATTERN = re.compile(r"^[0-9a-fA-F]{7,40}$")


class ErrorCode(StrEnum):
    """The ``code`` of every ERR answer in the mesh."""

    BAD_REQUEST = "bad_request"  # frames, header fields, names, limits
    UNKNOWN_VERB = "unknown_verb"  # a kind the service does not answer
    UNKNOWN_DATASET = "unknown_dataset"  # not one of [snapshot_service] datasets
    UNKNOWN_COMMIT = "unknown_commit"  # no such commit (or a prefix of several)
    TOO_LARGE = "too_large"  # a PUT over [snapshot_service] max_payload
    NO_SPACE = "no_space"  # the store's disk is full
    LOCKED = "locked"  # a git command holds the branch lock
    UNAVAILABLE = "unavailable"  # a service this one needs did not answer
    OVER_BUDGET = "over_budget"  # a what-if over its budget, refused before work
    DEADLINE = "deadline"  # a what-if stopped at its deadline
    BUSY = "busy"  # every what-if worker is taken and the queue is full
    CONFIG = "config"  # the service's own configuration is wrong
    INTERNAL = "internal"  # a bug: logged with its traceback


class BadRequest(ProtocolError):
    """A message whose fields do not follow its class; ``code`` is the ERR code to answer."""

    def __init__(self, text: str, code: ErrorCode = ErrorCode.BAD_REQUEST) -> None:
        super().__init__(text)
        self.code = code


def check_sha(value: Any, what: str = "commit") -> str:
    """``value`` as a lower-case SHA of 7 to 40 hex digits; BadRequest naming ``what`` if not."""
    if not isinstance(value, str) or not SHA_PATTERN.match(value):
        shown = repr(value)[:50]
        raise BadRequest(f"{what} {shown} is not a commit SHA (7 to 40 hex digits)")
    return value.lower()


_TYPE_NAMES = {str: "a string", int: "a whole number", list: "a list", dict: "an object"}


def get_field(header: Mapping[str, Any], kind: str, key: str, typ: type, default: Any = ...) -> Any:
    """One header field of type ``typ`` (a bool is not an int); required unless a default."""
    if key not in header or (default is not ... and header[key] is None):
        if default is ...:
            raise BadRequest(f"{kind} needs the header field {key!r}")
        return default
    value = header[key]
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        wanted = _TYPE_NAMES.get(typ, typ.__name__)
        got = "null" if value is None else _TYPE_NAMES.get(type(value), type(value).__name__)
        raise BadRequest(f"{kind} header field {key!r} must be {wanted}, not {got}")
    return value


def expect_kind(message: Message, kind: str) -> None:
    if message.kind != kind:
        raise BadRequest(f"expected {kind}, got {message.kind}")


def no_bodies(message: Message) -> None:
    if message.bodies:
        raise BadRequest(f"{message.kind} takes no bodies, got {len(message.bodies)}")
