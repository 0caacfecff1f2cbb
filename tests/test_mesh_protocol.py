"""The wire protocol: frames built and parsed by the one Message class."""

from __future__ import annotations

import pytest

from mesh.errors import ProtocolError
from mesh.messages import ErrorAnswer, ErrorCode
from mesh.protocol import SIGNATURE, Message, split_envelope


def test_round_trip_with_topic_and_bodies() -> None:
    message = Message("PUT", {"dataset": "raw", "files": ["a.tsv"], "note": "é"}, [b"\x00\xff"])
    frames = message.frames(topic="raw")
    assert frames[:3] == [b"raw", SIGNATURE, b"PUT"]
    topic, back = Message.from_frames(frames, topic=True)
    assert topic == "raw"
    assert back == message


def test_envelope_is_split_at_the_empty_delimiter() -> None:
    envelope, rest = split_envelope([b"id1", b"", SIGNATURE, b"GET", b"{}"])
    assert envelope == [b"id1", b""]
    assert rest == [SIGNATURE, b"GET", b"{}"]
    with pytest.raises(ProtocolError, match="delimiter"):
        split_envelope([b"id1", SIGNATURE])


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        ([SIGNATURE, b"GET"], "expected at least 3 frames"),
        ([b"HTTP", b"GET", b"{}"], "bad signature"),
        ([SIGNATURE, b"", b"{}"], "kind frame is empty"),
        ([SIGNATURE, b"G\xffT", b"{}"], "kind frame is not valid UTF-8"),
        ([SIGNATURE, b"GET ME", b"{}"], "is not an ASCII word"),
        ([SIGNATURE, b"GET", b"\xff\xfe"], "header frame is not valid UTF-8"),
        ([SIGNATURE, b"GET", b"{not json"], "header is not valid JSON"),
        ([SIGNATURE, b"GET", b"[" * 5000], "JSON this service cannot read"),
        ([SIGNATURE, b"GET", b'{"n": ' + b"9" * 5000 + b"}"], "JSON this service cannot read"),
        ([SIGNATURE, b"GET", b"[1, 2]"], "header must be a JSON object"),
    ],
)
def test_garbage_is_a_protocol_error(frames, expected) -> None:
    with pytest.raises(ProtocolError, match=expected):
        Message.from_frames(frames)


def test_error_reply_names_the_problem() -> None:
    reply = ErrorAnswer("unknown dataset 'nope'", ErrorCode.UNKNOWN_DATASET).to_message()
    assert reply.kind == "ERR"
    assert not reply.ok
    assert reply.header == {"error": "unknown dataset 'nope'", "code": "unknown_dataset"}
