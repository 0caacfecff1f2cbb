"""Every message class: what it builds parses back the same, and each wrong field is named."""

from __future__ import annotations

import math

import pytest

from mesh.messages import (
    BadRequest,
    Beat,
    DiffAnswer,
    DiffRequest,
    ErrorAnswer,
    ErrorCode,
    GetRequest,
    LatestRequest,
    LogAnswer,
    LogRequest,
    Notify,
    PutAnswer,
    PutRequest,
    Snapshot,
    WhatIfRequest,
    check_sha,
)
from mesh.protocol import Message

SHA = "0123456789abcdef0123456789abcdef01234567"


def wire(message: Message) -> Message:
    """The message as the other side reads it: framed and parsed."""
    return Message.from_frames(message.frames())[1]


@pytest.mark.parametrize(
    "value",
    [
        PutRequest.build("raw", {"b.tsv": "x\ty", "a.tsv": b"\x00"}, source="s.xlsx", producer="p"),
        GetRequest("plan", SHA),
        GetRequest("plan"),
        LatestRequest("conditioned"),
        LogRequest("plan", 7),
        DiffRequest("raw", SHA[:7], "latest"),
        WhatIfRequest(SHA, [{"op": "add_people"}]),
        WhatIfRequest(None, []),
        WhatIfRequest(None, [], "r1", delta=True, forecast="Checkout"),
        WhatIfRequest(None, [], delta=True, forecast=False),
        WhatIfRequest(None, [], delta=True, forecast="All", forecast_delta=True),
        Notify("plan", 3, SHA, {"raw": SHA}, "2026-11-28T10:00:00Z"),
        Beat("web", 42, 1.5e9, 1.4e9, 10.0, 1, 2, 3, 0, SHA, None, "up", {"clients": 2}),
    ],
)
def test_requests_and_publications_round_trip(value) -> None:
    assert type(value).parse(wire(value.to_message())) == value


def test_answers_round_trip() -> None:
    snap = Snapshot("plan", SHA, 2, "t", "conditioned@" + SHA, "qplan", "m", {}, [], {"p": b"1"})
    assert Snapshot.parse(wire(snap.to_message())) == snap
    latest = Snapshot.parse(wire(snap.to_message(with_files=False)))
    assert latest.files == {} and latest.commit == SHA
    put = PutAnswer("raw", SHA, 4, True, {"origin": "x.xlsx"})
    assert PutAnswer.parse(wire(put.to_message())) == put
    log = LogAnswer("plan", [{"commit": SHA}])
    assert LogAnswer.parse(wire(log.to_message())) == log
    diff = DiffAnswer("raw", SHA, SHA, "@@ -1 +1 @@\n")
    assert DiffAnswer.parse(wire(diff.to_message())) == diff
    err = ErrorAnswer("full", ErrorCode.NO_SPACE)
    assert ErrorAnswer.parse(wire(err.to_message())) == err
    assert ErrorAnswer.parse(Message("ERR", {"code": "??"})).code is ErrorCode.INTERNAL


@pytest.mark.parametrize(
    ("message", "said"),
    [
        (Message("PUT", {"dataset": "raw", "files": ["a"]}), "names 1 files but carries 0"),
        (Message("PUT", {"dataset": "raw", "files": [1]}, [b""]), "list of strings"),
        (Message("PUT", {"dataset": "raw", "files": ["a", "a"]}, [b"", b""]), "twice"),
        (Message("PUT", {"files": []}), "needs the header field 'dataset'"),
        (Message("GET", {"dataset": "raw", "commit": "abc"}), "7 to 40 hex digits"),
        (Message("GET", {"dataset": 3}), "must be a string, not a whole number"),
        (Message("LOG", {"dataset": "raw", "limit": True}), "must be a whole number"),
        (Message("LOG", {"dataset": "raw", "limit": 0}), "positive"),
        (Message("DIFF", {"dataset": "raw", "from": "x" * 8, "to": "latest"}), "DIFF 'from'"),
        (Message("LATEST", {"dataset": "raw"}, [b"x"]), "takes no bodies"),
        (Message("WHATIF", {"base": "1234"}), "hex digits"),
        (Message("WHATIF", {"base": None}), 'no "edits"'),
        (Message("WHATIF", {"base": None, "edits": [], "delta": 1}), "'delta' must be bool"),
        (Message("WHATIF", {"base": None, "edits": [], "forecast": 3}), "a track's name"),
        (Message("NOTIFY", {"dataset": "raw", "seq": -1, "commit": SHA}), "negative"),
        (Message("NOTIFY", {"dataset": "raw", "seq": 1, "commit": "nope"}), "hex digits"),
    ],
)
def test_each_wrong_field_is_named(message: Message, said: str) -> None:
    kind = {
        "PUT": PutRequest,
        "GET": GetRequest,
        "LOG": LogRequest,
        "DIFF": DiffRequest,
        "LATEST": LatestRequest,
        "WHATIF": WhatIfRequest,
        "NOTIFY": Notify,
    }[message.kind]
    with pytest.raises(BadRequest, match=said.replace("(", r"\(")):
        kind.parse(message)


def _beat(**changes) -> Message:
    good = Beat("snapshot_service", 1234, 1.7e9).to_message()
    return Message("HEARTBEAT", {**good.header, **changes})


@pytest.mark.parametrize(
    "changes",
    [
        {"component": ""},
        {"component": "x" * 65},
        {"component": "evil\ncomponent"},
        {"pid": 0},
        {"pid": "1"},
        {"errors": -1},
        {"errors": 2**60},
        {"errors": 1.5},
        {"time": math.nan},
        {"time": "now"},
        {"last_work": -5},
        {"state": "pwned"},
        {"last_sha": "zz"},
        {"detail": []},
    ],
)
def test_a_heartbeat_out_of_type_or_range_is_refused(changes) -> None:
    with pytest.raises(BadRequest):
        Beat.parse(_beat(**changes))


def test_sha_check() -> None:
    assert check_sha(SHA.upper()) == SHA
    assert check_sha(SHA[:7]) == SHA[:7]
    for bad in (SHA[:6], SHA + "0", "g" * 8, None, 12345678):
        with pytest.raises(BadRequest, match="7 to 40 hex digits"):
            check_sha(bad)
