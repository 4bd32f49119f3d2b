"""Hostile bodies at POST /slack/events, against the real app over HTTP (and, for payloads, Socket Mode).

Three lists, built deterministically at import (their lengths are the counts the README quotes):

* SIGNATURE_CASES: requests that are not signed right (no, old, future or non-numeric timestamps; missing,
  empty, garbage or wrong signatures; altered bodies; a replay older than five minutes), over bodies that are
  valid payloads, not JSON at all, or `payload=` that is not an object. Every one gets 401, before parsing.
* MALFORMED_CASES: correctly signed bodies Slack could not have sent: each required field of each kind of
  payload dropped or given the wrong type, non-object payloads, wrong content types, invalid UTF-8, huge
  strings, control characters, unicode, deep nesting. Every one gets 400 (or 200 with nothing done).
* UNKNOWN_CASES: well-formed payloads of types imagebot does not handle: they pass the check (Slack adds
  types), and must not crash.

After each run: no 500, no job, ledger or any other row, no call to the image API, no message in Slack, and the
log stays small: no line longer than LINE_CAP, the whole under LOG_CAP, and no forged line.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.logs import log_handler
from bot.runtime.services import Services
from bot.settings import Settings
from handlers.ingress import MAX_BODY_BYTES
from handlers.payloads import check_shape
from handlers.ui import modals as views
from handlers.ui import results
from imagebot.compose import Imagebot
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace, settings_for
from tests.conftest import token_checked
from tests.signing import NOW, freeze_clock, post, signature, signed_headers

pytestmark = pytest.mark.anyio
TEAM, CHANNEL, ALICE = "T0STANDIN", "C0GENERAL", "U0ALICE"  # the stand-in's workspace, channel and user
SECRET = "standin-signing-secret"  # the stand-in's signing secret (checked against the fixture below)
FORGED = "x\n2026-12-01 12:00:00,000 INFO imagebot.requests: request_id=1 cost=$999.00"  # a forged log line
FORGED_MARK = "cost=$999.00"
HUGE = "x" * 100_000
UNICODE = "🦄\u202eevil"
NESTED: Any = {"a": [[{"b": [{"c": {"d": [1, {"e": None}]}}]}]]}
LINE_CAP = 1_000  # bytes in one log line
LOG_CAP = 64 * 1024  # bytes of log for a whole run


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes
    content_type: str | None
    payload: Any = None  # what a Socket Mode envelope would carry (None: nothing a socket could carry)


# Well-formed payloads, one of each kind imagebot reads ---------------------------------------------------------
FILE = {"id": "F0FILE", "name": "boat.png", "title": "boat", "mimetype": "image/png", "size": 1234,
        "url_private": "https://files.slack.com/files-pri/T0-F0/boat.png",
        "url_private_download": "https://files.slack.com/files-pri/T0-F0/download/boat.png"}
COMMAND = {"token": "tok", "team_id": TEAM, "team_domain": "standin", "channel_id": CHANNEL,
           "channel_name": "general", "user_id": ALICE, "user_name": "alice", "command": "/image",
           "text": "a lighthouse", "api_app_id": "A0IMAGEBOT", "is_enterprise_install": "false",
           "response_url": "https://hooks.slack.com/commands/T0/1/x", "trigger_id": "1.2.abc"}


def envelope(event: dict[str, Any]) -> dict[str, Any]:
    return {"token": "tok", "team_id": TEAM, "api_app_id": "A0IMAGEBOT", "type": "event_callback",
            "event_id": "Ev0HOSTILE", "event_time": NOW, "event": event,
            "authorizations": [{"enterprise_id": None, "team_id": TEAM, "user_id": "U0IMAGEBOT", "is_bot": True,
                                "is_enterprise_install": False}]}


MESSAGE = envelope({"type": "message", "user": ALICE, "text": "make it night", "ts": "1800000000.000200",
                    "thread_ts": "1800000000.000100", "channel": CHANNEL, "channel_type": "channel",
                    "event_ts": "1800000000.000200", "files": [FILE]})
MENTION = envelope({"type": "app_mention", "user": ALICE, "text": "<@U0IMAGEBOT> hi", "ts": "1800000000.000300",
                    "channel": CHANNEL, "event_ts": "1800000000.000300"})
HOME = envelope({"type": "app_home_opened", "user": ALICE, "channel": "D0ALICE", "tab": "home",
                 "event_ts": "1800000000.000400"})
USER = {"id": ALICE, "username": "alice", "name": "alice", "team_id": TEAM}
PRESS = {"type": "block_actions", "user": USER, "api_app_id": "A0IMAGEBOT", "token": "tok",
         "container": {"type": "message", "message_ts": "1800000000.000500", "channel_id": CHANNEL,
                       "is_ephemeral": False},
         "trigger_id": "1.2.abc", "team": {"id": TEAM, "domain": "standin"}, "channel": {"id": CHANNEL},
         "message": {"type": "message", "ts": "1800000000.000500", "text": "v1"},
         "actions": [{"action_id": results.RETRY, "block_id": "imagebot_result_v1", "type": "button",
                      "value": '{"image":"abc","v":"v1"}', "action_ts": "1800000000.000600",
                      "text": {"type": "plain_text", "text": "Retry"}}]}
STATE = {views.PROMPT_BLOCK: {views.PROMPT_ACTION: {"type": "plain_text_input", "value": "a fox"}},
         views.QUALITY_BLOCK: {views.QUALITY_ACTION: {"type": "static_select",
                                                      "selected_option": {"value": "low"}}},
         views.TRANSPARENT_BLOCK: {views.TRANSPARENT_ACTION: {"type": "checkboxes", "selected_options": []}}}
SUBMISSION = {"type": "view_submission", "team": {"id": TEAM}, "user": USER, "api_app_id": "A0IMAGEBOT",
              "trigger_id": "1.2.abc",
              "view": {"id": "V0FORM", "type": "modal", "callback_id": views.IMAGE_MODAL, "hash": "h",
                       "private_metadata": CHANNEL, "state": {"values": STATE}}}
EDIT_METADATA = json.dumps({"c": CHANNEL, "ts": "1800000000.000700", "thread": "1800000000.000700",
                            "files": [{"id": "F0FILE", "name": "boat.png", "url": FILE["url_private"],
                                       "size": 1234, "mimetype": "image/png"}]})
EDIT_SUBMISSION = {**SUBMISSION, "view": {**SUBMISSION["view"], "callback_id": views.EDIT_MODAL,
                                          "private_metadata": EDIT_METADATA}}
CLOSED = {"type": "view_closed", "team": {"id": TEAM}, "user": USER, "is_cleared": False,
          "view": {"id": "V0FORM", "type": "modal", "callback_id": views.IMAGE_MODAL, "private_metadata": ""}}
SHORTCUT_MESSAGE = {"type": "message", "user": "U0BOB", "ts": "1800000000.000800", "text": "look", "files": [FILE]}
MESSAGE_ACTION = {"type": "message_action", "callback_id": "imagebot_edit_shortcut", "trigger_id": "1.2.abc",
                  "team": {"id": TEAM}, "user": USER, "channel": {"id": CHANNEL, "name": "general"},
                  "message": SHORTCUT_MESSAGE, "message_ts": "1800000000.000800",
                  "response_url": "https://hooks.slack.com/app/T0/1/x"}
SHORTCUT = {"type": "shortcut", "callback_id": "some_global_shortcut", "trigger_id": "1.2.abc", "team": {"id": TEAM},
            "user": USER}
URL_VERIFICATION = {"token": "tok", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                    "type": "url_verification"}
WELL_FORMED: dict[str, dict[str, Any]] = {
    "command": COMMAND, "message": MESSAGE, "app_mention": MENTION, "app_home_opened": HOME, "block_actions": PRESS,
    "view_submission": SUBMISSION, "edit_submission": EDIT_SUBMISSION, "view_closed": CLOSED,
    "message_action": MESSAGE_ACTION, "shortcut": SHORTCUT, "url_verification": URL_VERIFICATION,
}


def encode(kind: str, payload: Any) -> tuple[bytes, str]:
    """The body Slack would send for `payload`: a form (commands; interactivity's payload=) or JSON (events)."""
    if kind == "command" and isinstance(payload, dict) and all(isinstance(v, str) for v in payload.values()):
        return urlencode(payload).encode(), "application/x-www-form-urlencoded"
    if kind in ("command", "message", "app_mention", "app_home_opened", "url_verification"):
        return json.dumps(payload).encode(), "application/json"
    return urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded"


# What is wrong with a field, by what it should be ---------------------------------------------------------------
NOT_STRINGS: list[Any] = [0, 1.5, True, [], {}, NESTED]
BAD_VALUES: dict[str, list[Any]] = {
    "id": [*NOT_STRINGS, "", FORGED, UNICODE, HUGE],  # ids, timestamps, trigger ids, types, the command name
    "name": [*NOT_STRINGS, FORGED, "\x1b[2J", HUGE],  # callback_id, action_id: any text on one line, bounded
    "text": [*NOT_STRINGS, "x" * 40_001],  # free text: anything a person could type, bounded
    "value": [0, True, [], {}, NESTED, "x" * 3_001],  # a button's or an input's value
    "object": ["a string", FORGED, 5, True, [], [NESTED]],
    "list": ["a string", 5, {}, NESTED, [5], ["x"], [[]]],
    "actions": ["a string", 5, {}, [], [5], ["x"]],
    "ref": [0, 1.5, True, [], [NESTED], FORGED, UNICODE, HUGE, {"id": 5}, {"id": FORGED}],  # a team, a channel
    "count": [-1, 1.5, True, "12", [], {}],
}
BAD_VALUES["channel object"] = [CHANNEL, *BAD_VALUES["ref"]]
REQUIRED = object()  # in place of a value: the field is dropped
# (payload kind, path to the field, what it should be, whether it is required)
FIELDS: list[tuple[str, tuple[str | int, ...], str, bool]] = [
    *[("command", (key,), "id", True) for key in ("command", "user_id", "channel_id", "team_id", "trigger_id")],
    ("command", ("text",), "text", True),
    ("command", ("response_url",), "id", False),
    *[(kind, ("team_id",), "id", True) for kind in ("message", "app_mention")],
    *[(kind, ("event",), "object", True) for kind in ("message", "app_home_opened")],
    *[("message", ("event", key), "id", True) for key in ("type", "channel", "ts")],
    ("message", ("event", "user"), "id", False),
    ("message", ("event", "thread_ts"), "id", False),
    ("message", ("event", "text"), "text", False),
    ("message", ("event", "files"), "list", False),
    *[("message", ("event", "files", 0, key), "id", False) for key in ("id", "url_private")],
    ("message", ("event", "files", 0, "size"), "count", False),
    ("message", ("authorizations",), "list", False),
    *[("app_mention", ("event", key), "id", True) for key in ("user", "channel", "ts")],
    ("app_home_opened", ("event", "user"), "id", True),
    *[("block_actions", (key,), "object", True) for key in ("user", "container")],
    ("block_actions", ("user", "id"), "id", True),
    ("block_actions", ("actions",), "actions", True),
    ("block_actions", ("actions", 0, "action_id"), "name", True),
    ("block_actions", ("actions", 0, "value"), "value", False),
    ("block_actions", ("actions", 0, "block_id"), "name", False),
    *[("block_actions", (key,), "ref", False) for key in ("team", "channel")],
    ("block_actions", ("container", "message_ts"), "id", False),
    *[("view_submission", (key,), "object", True) for key in ("user", "view")],
    *[("view_submission", ("user", key), "id", True) for key in ("id", "team_id")],
    ("view_submission", ("view", "id"), "id", True),
    ("view_submission", ("view", "callback_id"), "name", True),
    ("view_submission", ("view", "private_metadata"), "value", False),
    *[("view_submission", ("view", "state", *path), "object", True) for path in ((), ("values",))],
    # A block left out is a form with that field empty: modals.py answers with the form's errors, nothing done.
    *[("view_submission", ("view", "state", "values", *path), "object", False) for path in (
        (views.PROMPT_BLOCK,), (views.PROMPT_BLOCK, views.PROMPT_ACTION))],
    ("view_submission", ("view", "state", "values", views.PROMPT_BLOCK, views.PROMPT_ACTION, "value"), "value", False),
    ("view_submission", ("view", "state", "values", views.QUALITY_BLOCK, views.QUALITY_ACTION, "selected_option"),
     "object", False),
    ("view_submission", ("view", "state", "values", views.TRANSPARENT_BLOCK, views.TRANSPARENT_ACTION,
                         "selected_options"), "list", False),
    *[("view_closed", (key,), "object", True) for key in ("user", "view")],
    ("view_closed", ("view", "id"), "id", True),
    *[("message_action", (key,), "object", True) for key in ("user", "message")],
    ("message_action", ("channel",), "channel object", True),
    *[("message_action", path, "id", True) for path in (("channel", "id"), ("message", "ts"), ("trigger_id",))],
    ("message_action", ("callback_id",), "name", True),
    ("message_action", ("message", "files"), "list", False),
    ("shortcut", ("user", "id"), "id", True),
    ("shortcut", ("trigger_id",), "id", True),
    ("shortcut", ("callback_id",), "name", True),
    ("url_verification", ("challenge",), "name", True),
]
BAD_EDIT_METADATA = ["", "not json", "[]", "5", '{"c": "C1"}', json.dumps({**json.loads(EDIT_METADATA), "c": 5}),
                     json.dumps({**json.loads(EDIT_METADATA), "files": [{"id": "F1"}]}),
                     json.dumps({**json.loads(EDIT_METADATA), "files": "x"}), "[" * 5000]


def changed(payload: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """A deep copy of `payload` with the field at `path` set to `value` (or dropped, for REQUIRED)."""
    out = copy.deepcopy(payload)
    if not path:
        return value
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    if value is REQUIRED:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return out


def _label(value: Any) -> str:
    if value is REQUIRED:
        return "dropped"
    text = value if isinstance(value, str) else json.dumps(value)
    return f"{type(value).__name__} {text[:24]!r}"


def malformed_fields() -> Iterator[Case]:
    for kind, path, what, required in FIELDS:
        for value in ([REQUIRED] if required else []) + BAD_VALUES[what]:
            payload = changed(WELL_FORMED[kind], path, value)
            yield Case(f"{kind} {'.'.join(map(str, path))} {_label(value)}", *encode(kind, payload), payload)
    for i, metadata in enumerate(BAD_EDIT_METADATA):
        payload = changed(EDIT_SUBMISSION, ("view", "private_metadata"), metadata)
        yield Case(f"edit form private_metadata {i} {metadata[:24]!r}", *encode("edit_submission", payload), payload)


def malformed_bodies() -> Iterator[Case]:
    """Bodies that are not a payload at all, or not sent as Slack sends them."""
    json_type, form_type = "application/json", "application/x-www-form-urlencoded"
    for value in ([], "a string", 5, None, True, [COMMAND], {}, {"type": None}, {"type": 5}, {"type": FORGED},
                  {"type": HUGE}, {"no": "type"}, NESTED):
        yield Case(f"JSON {_label(value)}", json.dumps(value).encode(), json_type, value)
        yield Case(f"payload= {_label(value)}", urlencode({"payload": json.dumps(value)}).encode(), form_type,
                   value)
    raw = [("not JSON", b"this is not json", json_type), ("JSON cut short", b'{"type": "event_callback", ', json_type),
           ("payload= not JSON", b"payload=%7Bnot+json", form_type), ("payload= empty", b"payload=", form_type),
           ("invalid UTF-8 JSON", b'{"type": "\xff\xfe"}', json_type),
           ("invalid UTF-8 form", urlencode(COMMAND).encode() + b"&x=\xff", form_type),
           ("nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000, json_type),
           ("nested 100,000 deep in payload=", b"payload=" + b"%5B" * 100_000, form_type),
           ("an integer of 10,000 digits", b'{"type": "event_callback", "n": ' + b"9" * 10_000 + b"}", json_type),
           ("200 form fields", "&".join(f"f{i}=1" for i in range(200)).encode(), form_type),
           ("empty body", b"", json_type), ("empty form", b"", form_type),
           ("NUL bytes", b"\x00" * 1000, json_type), ("a form with no command", b"a=1&b=2", form_type)]
    for name, body, content_type in raw:
        yield Case(name, body, content_type)
    event, command = json.dumps(MESSAGE).encode(), urlencode(COMMAND).encode()
    for content_type in ("text/plain", None, "multipart/form-data; boundary=x", "application/xml", form_type):
        yield Case(f"an event sent as {content_type}", event, content_type)
    for content_type in ("text/plain", None, json_type, "application/octet-stream"):
        yield Case(f"a command sent as {content_type}", command, content_type)


MALFORMED_CASES: list[Case] = [*malformed_fields(), *malformed_bodies()]
UNKNOWN_CASES: list[Case] = [
    Case(name, *encode(kind, payload), payload) for name, kind, payload in [
        ("an unknown payload type", "block_actions", {"type": "future_payload", "user": USER, "team": {"id": TEAM}}),
        ("an unknown event type", "message", envelope({"type": "future_event", "user": ALICE})),
        ("a message edit", "message", envelope({**MESSAGE["event"], "subtype": "message_changed",
                                                "message": {"type": "message", "text": "x", "ts": "1.2"}})),
        ("a block_suggestion", "block_actions", {"type": "block_suggestion", "user": USER, "team": {"id": TEAM},
                                                 "action_id": "a", "block_id": "b", "value": "x"}),
        ("an unknown slash command", "command", {**COMMAND, "command": "/other"}),
        ("a press on an unknown button", "block_actions", changed(PRESS, ("actions", 0, "action_id"), "other")),
        ("an ssl_check", "command", {"ssl_check": "1", "token": "tok"}),
    ]
]


# Forged signatures ------------------------------------------------------------------------------------------
def _signature_variants(body: bytes) -> Iterator[tuple[str, dict[str, str], bytes]]:
    good = signature(SECRET, str(NOW), body)
    yield "unsigned", {}, body
    yield "no timestamp", {"X-Slack-Signature": good}, body
    for ts in ("", "soon", "1_800_000_000", "1800000000.5", "+1800000000", "١٨٠٠٠٠٠٠٠٠", "9" * 5000, "-1",
               "0x6b49d200"):
        yield f"timestamp {ts[:16]!r}", {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature(
            SECRET, ts, body)}, body
    for name, ts in (("301 s old", NOW - 301), ("301 s ahead", NOW + 301), ("a replay 10 minutes on", NOW - 600)):
        yield name, signed_headers(SECRET, body, ts), body
    for name, sig in (("empty", ""), ("v0= alone", "v0="), ("zeros", "v0=" + "0" * 64), ("garbage", "v0=garbage"),
                      ("v1", "v1=" + good[3:]), ("upper case", good.upper()), ("one digit more", good + "0"),
                      ("one digit less", good[:-1]), ("non-ASCII", "v0=é" + good[4:]),
                      ("two of them", good + ",v0=" + "0" * 64)):
        yield f"signature {name}", {"X-Slack-Request-Timestamp": str(NOW), "X-Slack-Signature": sig}, body
    yield "wrong secret", signed_headers(SECRET + "x", body), body
    yield "body altered", signed_headers(SECRET, body), body + b" "
    yield "timestamp altered", {"X-Slack-Request-Timestamp": str(NOW - 1), "X-Slack-Signature": good}, body


SIGNED_BODIES = {"command": encode("command", COMMAND), "event": encode("message", MESSAGE),
                 "interaction": encode("block_actions", PRESS),
                 "not JSON": (b"<xml>not json</xml>", "application/json"),
                 "payload= not an object": (b"payload=%5B1%2C2%5D", "application/x-www-form-urlencoded")}
SIGNATURE_CASES: list[tuple[str, bytes, str, dict[str, str]]] = [
    (f"{kind}: {name}", sent, content_type, headers)
    for kind, (body, content_type) in SIGNED_BODIES.items()
    for name, headers, sent in _signature_variants(body)
]
# 20 forged 900 KB bodies whose every line would read as a record if logged (finding: 18 MB of log).
BIG_FORGERIES = [(f"900 KB forgery {i}", ("\n".join([FORGED] * 11_000)).encode()[:900_000]) for i in range(20)]


# The run ------------------------------------------------------------------------------------------------------
@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> int:
    return freeze_clock(monkeypatch)


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    """Every record at INFO and above, as `imagebot serve` writes them in its default text format (and, as it
    does, httpx's at WARNING: here they would be the test's own requests)."""
    stream = io.StringIO()
    handler, root, httpx_logger = log_handler("text", stream), logging.getLogger(), logging.getLogger("httpx")
    previous = root.level, httpx_logger.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    httpx_logger.setLevel(logging.WARNING)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous[0])
        httpx_logger.setLevel(previous[1])


def row_counts(data_dir: Path) -> dict[str, int]:
    counts = {}
    for path in sorted(data_dir.rglob("*.db")):
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
                counts[f"{path.name}:{table}"] = db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    return counts


def assert_small_and_unforged(log: str) -> None:
    lines = log.splitlines()
    assert len(log.encode()) < LOG_CAP, f"{len(log.encode())} bytes of log"
    assert max((len(line.encode()) for line in lines), default=0) < LINE_CAP
    assert FORGED_MARK not in log
    assert all(line[:1].isdigit() or line.startswith(" ") for line in lines)  # a record, or its traceback


async def send_all(url: str, cases: list[tuple[str, bytes, str | None, dict[str, str]]]) -> dict[str, int]:
    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        return {name: (await post(client, url, body, content_type, headers)).status_code
                for name, body, content_type, headers in cases}


async def send_signed(url: str, cases: list[Case]) -> dict[str, int]:
    return await send_all(url, [(c.name, c.body, c.content_type, signed_headers(SECRET, c.body)) for c in cases])


async def assert_nothing_done(workspace: LocalWorkspace, slack: SlackStandIn, image_api: ImageAPIStandIn,
                              before: dict[str, int]) -> None:
    await workspace.settle()
    assert row_counts(workspace.settings.data_dir) == before
    # The one Web API call is imagebot's own token check at start (each test waits for it before sending).
    assert image_api.requests == [] and [call.method for call in slack.calls] == ["auth.test"]  # Bolt never saw them
    assert slack.messages(CHANNEL) == [] and slack.ephemerals() == [] and slack.views == []


def test_there_are_enough_cases() -> None:
    assert len(MALFORMED_CASES) >= 300 and len(SIGNATURE_CASES) >= 40
    assert len({c.name for c in MALFORMED_CASES}) == len(MALFORMED_CASES)
    assert len({name for name, *_ in SIGNATURE_CASES}) == len(SIGNATURE_CASES)


def test_the_readme_quotes_these_counts() -> None:
    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8").split())
    for quoted in (f"{len(SIGNATURE_CASES)} signature cases", f"{len(MALFORMED_CASES)} malformed signed bodies",
                   f"{len(UNKNOWN_CASES)} payloads of types", "twenty 900 KB forgeries"):
        assert quoted in readme
    assert len(BIG_FORGERIES) == 20


@pytest.mark.parametrize("kind", sorted(WELL_FORMED))
def test_the_well_formed_payloads_pass_the_check(kind: str) -> None:
    """The control: what the cases break is a payload the check accepts."""
    check_shape(WELL_FORMED[kind])


async def test_bad_signatures_get_401_without_being_parsed_or_logged_whole(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace, frozen_clock: int,
        log_text: io.StringIO) -> None:
    assert slack.signing_secret == SECRET
    await token_checked(slack)
    before = row_counts(workspace.settings.data_dir)
    assert slack.app_request_url
    forged = [(name, body, "application/json", {"X-Slack-Request-Timestamp": str(NOW),
                                                 "X-Slack-Signature": "v0=" + "1" * 64})
              for name, body in BIG_FORGERIES]
    statuses = await send_all(slack.app_request_url, [*SIGNATURE_CASES, *forged])
    assert {name: status for name, status in statuses.items() if status != 401} == {}
    await assert_nothing_done(workspace, slack, image_api, before)
    log = log_text.getvalue()
    assert_small_and_unforged(log)
    refusals = [line for line in log.splitlines() if "refused an unsigned request to /slack/events: 401, " in line]
    assert refusals and refusals[0].endswith("bytes from 127.0.0.1)")  # one short line each, rate-limited


async def test_malformed_signed_bodies_get_400_and_nothing_is_done(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace, frozen_clock: int,
        log_text: io.StringIO) -> None:
    assert slack.app_request_url
    await token_checked(slack)
    before = row_counts(workspace.settings.data_dir)
    statuses = await send_signed(slack.app_request_url, MALFORMED_CASES)
    assert {name: status for name, status in statuses.items() if status not in (400, 200)} == {}
    await assert_nothing_done(workspace, slack, image_api, before)
    assert_small_and_unforged(log_text.getvalue())


async def test_unknown_payload_types_pass_and_do_not_crash(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace, frozen_clock: int,
        log_text: io.StringIO) -> None:
    assert slack.app_request_url
    before = row_counts(workspace.settings.data_dir)
    statuses = await send_signed(slack.app_request_url, UNKNOWN_CASES)
    assert {name: status for name, status in statuses.items() if status >= 500 or status in (400, 401)} == {}
    await workspace.settle()
    assert row_counts(workspace.settings.data_dir) == before and image_api.requests == []
    assert_small_and_unforged(log_text.getvalue())


async def test_an_oversized_body_gets_413_unread(slack: SlackStandIn, workspace: LocalWorkspace,
                                                 frozen_clock: int) -> None:
    """Over MAX_BODY_BYTES: refused from Content-Length before any of it is read, or (sent in chunks, with no
    length given) as soon as the read passes the limit."""
    assert slack.app_request_url
    body = json.dumps({**MESSAGE, "padding": "x" * MAX_BODY_BYTES}).encode()
    statuses = await send_all(slack.app_request_url, [
        ("signed", body, "application/json", signed_headers(SECRET, body)),
        ("unsigned", body, "application/json", {})])

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start:start + 64 * 1024]

    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        chunked = await client.post(slack.app_request_url, content=chunks(),
                                    headers={"Content-Type": "application/json", **signed_headers(SECRET, body)})
    assert chunked.request.headers.get("Transfer-Encoding") == "chunked"
    assert {**statuses, "chunked": chunked.status_code} == {"signed": 413, "unsigned": 413, "chunked": 413}


async def test_a_command_saying_payload_is_still_a_command(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                           workspace: LocalWorkspace) -> None:
    """Bolt reads any form body containing the word "payload" as interactivity's payload= and found none."""
    delivery = await slack.send_command(ALICE, CHANNEL, "a payload of bricks")
    assert delivery.status == 200
    await workspace.settle()
    assert [r.json["prompt"] for r in image_api.requests] == ["a payload of bricks"]


@pytest.fixture
async def socket_app(slack: SlackStandIn, tmp_path: Path) -> AsyncIterator[tuple[Any, Services]]:
    """The app as `imagebot serve` builds it for Socket Mode (no signature check: the socket is authenticated)."""
    settings = settings_for(slack, tmp_path / "socket", Settings(provider="offline"))
    bot = Imagebot.build(settings, socket_mode=True)
    try:
        yield bot.app, bot.services
    finally:
        await bot.stop()


async def test_socket_mode_payloads_are_checked_by_the_first_middleware(
        slack: SlackStandIn, socket_app: tuple[Any, Services], log_text: io.StringIO) -> None:
    """Socket Mode has no HTTP layer: the same payloads, as envelopes carry them, straight into Bolt."""
    app, services = socket_app
    before = row_counts(services.settings.data_dir)
    statuses: dict[str, int | str] = {}
    unbuildable = []
    for case in MALFORMED_CASES:
        if isinstance(case.payload, dict):
            try:
                request = AsyncBoltRequest(body=case.payload, mode="socket_mode")
            except (TypeError, AttributeError, KeyError, IndexError):
                # Bolt's request reads team, user and channel off the payload when it is made, before any
                # middleware: handlers/socket_mode.py checks those envelopes first (the next test).
                unbuildable.append(case)
                continue
            statuses[case.name] = (await app.async_dispatch(request)).status
    assert len(statuses) >= 200
    assert {name: status for name, status in statuses.items() if status not in (400, 200)} == {}
    acked = await through_the_socket(app, unbuildable)
    assert acked == {case.name: 1 for case in unbuildable}  # each acked once, nothing raised
    assert await services.jobs.wait_idle(30)
    assert row_counts(services.settings.data_dir) == before
    assert_small_and_unforged(log_text.getvalue())


async def through_the_socket(app: Any, cases: list[Any]) -> dict[str, int]:
    """Each case as a Socket Mode envelope into handlers/socket_mode.py's handler (the socket itself stood in by
    a recorder of what would be sent back over it): how many acks each envelope got."""
    from slack_sdk.socket_mode.request import SocketModeRequest

    from handlers.socket_mode import SocketMode

    class Socket:  # what _handle sends over the websocket: the envelope's ack
        logger = logging.getLogger("tests.socket")

        def __init__(self) -> None:
            self.sent: list[Any] = []

        async def send_socket_mode_response(self, response: Any) -> None:
            self.sent.append(response)

    handler = SocketMode(app, "xapp-1-test", "http://127.0.0.1:9/api/")
    acked: dict[str, int] = {}
    try:
        for number, case in enumerate(cases):
            socket = Socket()
            kind = {"event_callback": "events_api"}.get(case.payload.get("type"), "interactive")
            if "command" in case.payload:
                kind = "slash_commands"
            await handler._handle(socket, SocketModeRequest(type=kind, envelope_id=f"e{number}",  # type: ignore
                                                            payload=case.payload))
            acked[case.name] = sum(r.envelope_id == f"e{number}" for r in socket.sent)
    finally:
        await handler.client.close()
    return acked


async def test_envelopes_bolt_cannot_even_read_are_acked_with_nothing_done(
        slack: SlackStandIn, socket_app: tuple[Any, Services], log_text: io.StringIO) -> None:
    app, services = socket_app
    before = row_counts(services.settings.data_dir)
    cases = [case for case in MALFORMED_CASES if isinstance(case.payload, dict)]
    acked = await through_the_socket(app, cases)
    assert len(acked) >= 200 and acked == {case.name: 1 for case in cases}
    assert await services.jobs.wait_idle(30)
    assert row_counts(services.settings.data_dir) == before
    assert_small_and_unforged(log_text.getvalue())
