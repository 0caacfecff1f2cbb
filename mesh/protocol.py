"""The QPlan mesh wire protocol: one message class, the only code that builds frames.

Every message, after any ZeroMQ routing envelope, is::

    frame 0   b"QPM1"       signature and protocol version
    frame 1   kind          ASCII: a verb (requests), OK or ERR (replies),
                            NOTIFY or HEARTBEAT (publications)
    frame 2   header        a UTF-8 JSON object: the arguments or the answer
    frame 3…  bodies        raw bytes, as the kind defines (PUT: one per file)

Publications on a PUB socket carry one more frame in front, the topic, so
that SUB prefix filtering works::

    frame 0   topic         the dataset name (b"raw", b"conditioned", b"plan")
                            for NOTIFY; b"heartbeat" for HEARTBEAT
    frame 1…  as above

Requests from a REQ or DEALER socket carry an empty delimiter frame before
frame 0; a ROUTER sees ``[identity…, b"", QPM1, …]`` and answers with the
same envelope.

Kinds: requests to the snapshot service (PUT, GET, LATEST, LOG, DIFF), to
qplan_service (WHATIF), their OK and ERR answers, and the publications
NOTIFY and HEARTBEAT. Each has one class in ``mesh.messages``, where its
header fields are documented and checked; this module only frames them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mesh.errors import ProtocolError

__all__ = [
    "SIGNATURE",
    "HEARTBEAT_TOPIC",
    "Message",
    "split_envelope",
    "encode_json",
]

SIGNATURE = b"QPM1"
HEARTBEAT_TOPIC = "heartbeat"
MAX_KIND_LENGTH = 32  # bytes
MAX_HEADER_LENGTH = 16 * 1024 * 1024  # bytes


def encode_json(value: Any) -> bytes:
    """Compact, key-sorted UTF-8 JSON, as every header is written (NaN/Infinity refused)."""
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode()


def split_envelope(frames: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """Split ROUTER frames into (envelope including the empty delimiter, message frames)."""
    try:
        cut = frames.index(b"")
    except ValueError:
        raise ProtocolError("no empty delimiter frame after the routing envelope") from None
    return frames[: cut + 1], frames[cut + 1 :]


@dataclass
class Message:
    """One protocol message: a kind, a JSON header and raw bodies."""

    kind: str
    header: dict[str, Any] = field(default_factory=dict)
    bodies: list[bytes] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True for an OK reply."""
        return self.kind == "OK"

    def frames(self, topic: str | None = None) -> list[bytes]:
        """The frames of this message, with the topic frame in front when given."""
        out = [] if topic is None else [topic.encode()]
        out += [SIGNATURE, self.kind.encode("ascii"), encode_json(self.header)]
        out += [bytes(body) for body in self.bodies]
        return out

    def send(self, socket, topic: str | None = None, envelope: list[bytes] | None = None):
        """Send on ``socket``; returns what ``send_multipart`` returns (await it on asyncio)."""
        return socket.send_multipart((envelope or []) + self.frames(topic), copy=False)

    def size(self) -> int:
        """Bytes in the bodies."""
        return sum(len(body) for body in self.bodies)

    @classmethod
    def from_frames(cls, frames: list[bytes], topic: bool = False) -> tuple[str | None, Message]:
        """Parse frames (without envelope); returns (topic or None, message)."""
        frames = [bytes(f) for f in frames]
        name = None
        if topic:
            if not frames:
                raise ProtocolError("empty publication")
            name = _decode_text(frames.pop(0), "topic")
        if len(frames) < 3:
            raise ProtocolError(
                f"expected at least 3 frames (signature, kind, header), got {len(frames)}"
            )
        if frames[0] != SIGNATURE:
            raise ProtocolError(f"bad signature {frames[0][:16]!r}, expected {SIGNATURE!r}")
        kind_bytes = frames[1]
        if not kind_bytes or len(kind_bytes) > MAX_KIND_LENGTH:
            raise ProtocolError("kind frame is empty or too long")
        kind = _decode_text(kind_bytes, "kind")
        if not kind.isascii() or not kind.replace("_", "").isalnum():
            raise ProtocolError(f"kind {kind[:32]!r} is not an ASCII word")
        if len(frames[2]) > MAX_HEADER_LENGTH:
            raise ProtocolError("header frame is too large")
        text = _decode_text(frames[2], "header")
        try:
            header = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"header is not valid JSON: {exc.msg}") from None
        except (ValueError, RecursionError) as exc:  # a 5,000-digit number, "[" * 5000
            raise ProtocolError(f"header is JSON this service cannot read: {exc}") from None
        if not isinstance(header, dict):
            raise ProtocolError("header must be a JSON object")
        return name, cls(kind, header, frames[3:])


def _decode_text(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(f"{what} frame is not valid UTF-8") from None
