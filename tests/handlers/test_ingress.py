"""handlers/ingress.py's steps as pure functions: the signature over raw bytes, parsing, Bolt's request.

(The endpoint itself, against the real app over HTTP, is tests/test_hostile_bodies.py's.)"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from unittest import mock
from urllib.parse import urlencode

import pytest
from aiohttp import StreamReader
from aiohttp.test_utils import make_mocked_request
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import Clock, SignatureVerifier

from handlers.ingress import Refused, Signatures, bolt_request, parse, read_body
from handlers.payloads import CHECKED, Malformed
from tests.signing import NOW, signature

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # Slack's documentation example


class FrozenClock(Clock):
    def __init__(self, now: float) -> None:
        self.t = now

    def now(self) -> float:
        return self.t


def signed(body: bytes, ts: int = NOW, secret: str = SECRET) -> dict[str, str]:
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": signature(secret, str(ts), body)}


@pytest.mark.parametrize("body", ["", "token=x&command=%2Fimage", '{"type":"event_callback"}', "é 🦄 \n\x00",
                                  "a" * 2046, "b" * 2047, "c" * 2048, "d" * 4095, "e" * 70_001])
def test_signatures_match_slack_sdks_verifier(body: str) -> None:
    """The same computation as the one Bolt checks with, so ours can never pass what Bolt's would refuse."""
    ours = Signatures(SECRET).sign(str(NOW), body.encode())
    assert ours == SignatureVerifier(SECRET).generate_signature(timestamp=str(NOW), body=body)


def test_a_correct_signature_passes_within_five_minutes_either_way() -> None:
    clock = FrozenClock(NOW)
    signatures = Signatures(SECRET, clock)
    body = b"\xff\xfe not even UTF-8"  # verified as bytes: SignatureVerifier would raise decoding it
    for offset in (-300, 0, 300):
        clock.t = NOW + offset
        signatures.verify(body, signed(body))


@pytest.mark.parametrize(("headers", "reason"), [
    ({}, "no timestamp"),
    ({"X-Slack-Request-Timestamp": "soon"}, "timestamp is not a number"),
    ({"X-Slack-Request-Timestamp": "١٨٠٠٠٠٠٠٠٠"}, "timestamp is not a number"),  # int() would take it
    ({"X-Slack-Request-Timestamp": "1_800_000_000"}, "timestamp is not a number"),  # and this
    ({"X-Slack-Request-Timestamp": "9" * 5000}, "timestamp is not a number"),  # int() raises on this one
    ({"X-Slack-Request-Timestamp": str(NOW)}, "no signature"),
    ({"X-Slack-Request-Timestamp": str(NOW), "X-Slack-Signature": "v0=é" + "0" * 63},
     "signature is not a v0 signature"),  # hmac.compare_digest raises on non-ASCII text
    ({"X-Slack-Request-Timestamp": str(NOW), "X-Slack-Signature": "v0=" + "0" * 64}, "signature does not match"),
    (signed(b"body", NOW - 301), "timestamp more than five minutes from now"),
    (signed(b"body", NOW + 301), "timestamp more than five minutes from now"),
    (signed(b"body", secret=SECRET + "x"), "signature does not match"),
    (signed(b"other body"), "signature does not match"),
])
def test_each_way_of_failing_the_signature_is_a_401_with_its_reason(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(Refused) as refused:
        Signatures(SECRET, FrozenClock(NOW)).verify(b"body", headers)
    assert (refused.value.status, refused.value.reason) == (401, reason)


def test_without_a_signing_secret_nothing_passes() -> None:
    with pytest.raises(Refused, match="no signing secret"):
        Signatures("", FrozenClock(NOW)).verify(b"body", signed(b"body", secret=""))


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(("raw", "content_type", "expected"), [
    (b'{"type": "event_callback", "event": {}}', "application/json", {"type": "event_callback", "event": {}}),
    (urlencode({"command": "/image", "text": "a fox"}).encode(), FORM, {"command": "/image", "text": "a fox"}),
    (urlencode({"payload": json.dumps({"type": "block_actions"})}).encode(), FORM, {"type": "block_actions"}),
    # Bolt reads any form holding the word "payload" as interactivity's, and finds {}.
    (urlencode({"command": "/image", "text": "a payload of bricks"}).encode(), FORM,
     {"command": "/image", "text": "a payload of bricks"}),
])
def test_parse_reads_json_and_forms_as_slack_sends_them(raw: bytes, content_type: str,
                                                        expected: dict[str, Any]) -> None:
    assert parse(raw, content_type) == expected


@pytest.mark.parametrize(("raw", "content_type", "reason"), [
    (b'{"a": "\xff"}', "application/json", "body is not UTF-8"),
    (b"not json", "application/json", "body is not JSON"),
    (b"[1, 2]", "application/json", "body is not a JSON object"),
    (b"[" * 100_000 + b"]" * 100_000, "application/json", "body is not JSON"),  # RecursionError
    (b'{"n": ' + b"9" * 5000 + b"}", "application/json", "body is not JSON"),  # over Python's int digits
    (b"payload=%5B1%5D", FORM, "payload is not a JSON object"),
    (b"payload=%7Bnope", FORM, "payload is not JSON"),
    ("&".join(f"f{i}=1" for i in range(101)).encode(), FORM, "form has too many fields"),
    (b'{"type": "x"}', "text/plain", "content type is neither JSON nor a form"),
    (b'{"type": "x"}', "application/octet-stream", "content type is neither JSON nor a form"),  # no header
])
def test_parse_refuses_what_slack_does_not_send(raw: bytes, content_type: str, reason: str) -> None:
    with pytest.raises(Malformed) as malformed:
        parse(raw, content_type)
    assert str(malformed.value) == reason


def test_bolts_request_carries_the_body_read_here_when_bolt_reads_it_wrong() -> None:
    fields = {"command": "/image", "text": "a payload of bricks", "user_id": "U0ALICE", "team_id": "T0",
              "channel_id": "C0"}
    text = urlencode(fields)
    request = make_mocked_request("POST", "/slack/events", headers={"Content-Type": FORM})
    assert AsyncBoltRequest(body=text, headers={"content-type": FORM}).body == {}  # Bolt alone
    req = bolt_request(text, parse(text.encode(), FORM), request)
    assert req.body == fields and req.raw_body == text  # raw_body is what Bolt's own check verifies
    assert req.context[CHECKED] is req.body  # checked here: the WellFormed middleware does not walk it again
    assert (req.context.user_id, req.context.team_id, req.context.channel_id) == ("U0ALICE", "T0", "C0")


def body_stream(chunks: list[bytes], *, finished: bool = True) -> StreamReader:
    stream = StreamReader(mock.Mock(_reading_paused=False), 2**16, loop=asyncio.get_running_loop())
    for chunk in chunks:
        stream.feed_data(chunk)
    if finished:
        stream.feed_eof()
    return stream


@pytest.mark.anyio
async def test_read_body_stops_at_the_limit_and_at_the_deadline() -> None:
    def request(stream: StreamReader, length: int | None = None) -> Any:
        headers = {"Content-Length": str(length)} if length is not None else {}
        return make_mocked_request("POST", "/slack/events", headers=headers, payload=stream)

    assert await read_body(request(body_stream([b"a" * 6, b"b" * 4])), limit=10) == b"a" * 6 + b"b" * 4
    with pytest.raises(Refused) as refused:  # all of it here already, no Content-Length: refused all the same
        await read_body(request(body_stream([b"a" * 6, b"b" * 5])), limit=10)
    assert refused.value.status == 413
    with pytest.raises(Refused) as refused:  # no Content-Length: refused as the read passes the limit
        await read_body(request(body_stream([b"a" * 6, b"b" * 6], finished=False)), limit=10)
    assert refused.value.status == 413
    with pytest.raises(Refused) as refused:  # a Content-Length over the limit: refused before reading
        await read_body(request(body_stream([], finished=False), length=11), limit=10)
    assert refused.value.status == 413
    with pytest.raises(Refused) as refused:  # a body that never ends: the deadline, whatever it is, ends it
        await read_body(request(body_stream([b"a"], finished=False)), limit=10, timeout=0.01)
    assert refused.value.status == 408
