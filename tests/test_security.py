"""Never let the wrong person in, and never hand a secret to anyone.

1. HTTP mode: unsigned, mis-signed, altered and stale (or future) requests get 401 before any work: no Web API
   call reaches the Slack stand-in and no request reaches the image API stand-in. The requests are raw httpx
   posts with hand-made signatures (tests/signing.py), so every byte is ours. The app's verifier reads the
   time through slack_sdk's `Clock`; it is frozen here (a clock seam, like `sleeps`), so the 5-minute edge is
   exact and no outcome depends on how long a request takes. (Hundreds more forged and malformed bodies:
   tests/test_hostile_bodies.py.)
2. Secrets stay secret: a whole scenario (a generation, an edit with an attachment fetched with the bot token,
   an image API 401 that quotes the key as OpenAI does) runs with every library logging at DEBUG, and no bot
   token, signing secret or API key (nor any 12-character piece of one, nor OpenAI's starred echo of a key)
   shows up in a log record or in anything sent to Slack. Run twice: with the stand-ins' own secrets, and with
   realistic ones. The log test installs bot.logs' redaction as `imagebot serve` does; the database (the
   ledger keeps the API's error text) is checked the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
from PIL import Image

from bot.logs import install_redaction, redact
from bot.settings import Settings
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace
from tests.conftest import WorkspaceFactory, token_checked
from tests.signing import NOW, freeze_clock, signature
from tests.slack_views import bot_replies

pytestmark = pytest.mark.anyio
CHANNEL = "C0GENERAL"
ALICE = "U0ALICE"
BOB = "U0BOB"
DEBUG_LOGGERS = ("slack_sdk", "slack_bolt", "httpx", "httpcore", "aiohttp", "asyncio", "imagebot", "bot",
                 "handlers", "storage")


def _fake(kind: str, length: int, alphabet: str = "0123456789abcdefghijklmnopqrstuvwxyz") -> str:
    """A deterministic credential-looking string, made at run time so no token-shaped literal is in the source."""
    digest = hashlib.sha256(kind.encode()).digest() * 4
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


# Two sets of secrets: the stand-ins' defaults, and realistic shapes (a 60-character xoxb- token, a 32-hex
# signing secret, an sk-proj- key long enough that OpenAI's 401 echoes it half-starred, not whole).
SECRET_SETS: dict[str, dict[str, str]] = {
    "standin": {},
    "realistic": {
        "bot_token": "xoxb-" + _fake("team", 13, "0123456789") + "-" + _fake("bot", 13, "0123456789") + "-"
                     + _fake("bot-secret", 24, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
        "signing_secret": _fake("signing", 32, "0123456789abcdef"),
        "app_token": "xapp-1-A0IMAGEBOT-" + _fake("app", 13, "0123456789") + "-" + _fake("app-secret", 64,
                                                                                         "0123456789abcdef"),
        "api_key": "sk-proj-" + _fake("openai", 48, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
    },
}


@pytest.fixture
def secret_set(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "standin")


@pytest.fixture
async def slack(secret_set: str) -> AsyncIterator[SlackStandIn]:
    """conftest's `slack`, with the chosen secrets (the `workspace` fixture picks this one up)."""
    values = SECRET_SETS[secret_set]
    kwargs = {k: values[k] for k in ("bot_token", "signing_secret", "app_token") if k in values}
    async with SlackStandIn(**kwargs) as standin:
        yield standin


@pytest.fixture
async def image_api(secret_set: str) -> AsyncIterator[ImageAPIStandIn]:
    values = SECRET_SETS[secret_set]
    async with ImageAPIStandIn(**({"api_key": values["api_key"]} if "api_key" in values else {})) as standin:
        yield standin


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> int:
    """Freeze the time the signature checks see (slack_sdk.signature.Clock) at NOW."""
    return freeze_clock(monkeypatch)


# 1. signed requests only ---------------------------------------------------------------------------------
def command_body(slack: SlackStandIn, text: str = "a lighthouse at dusk") -> tuple[str, str]:
    payload = {"token": slack.verification_token, "team_id": slack.team_id, "team_domain": slack.team_domain,
               "channel_id": CHANNEL, "channel_name": "general", "user_id": ALICE, "user_name": "alice",
               "command": "/image", "text": text, "api_app_id": slack.app_id, "is_enterprise_install": "false",
               "response_url": slack.new_response_url(ALICE, CHANNEL), "trigger_id": "1.2.3"}
    return urlencode(payload), "application/x-www-form-urlencoded"


def event_body(slack: SlackStandIn, text: str = "<@U0IMAGEBOT> a lighthouse") -> tuple[str, str]:
    event = {"type": "app_mention", "user": ALICE, "text": text, "ts": "1800000000.000100", "channel": CHANNEL,
             "event_ts": "1800000000.000100"}
    envelope = {"token": slack.verification_token, "team_id": slack.team_id, "api_app_id": slack.app_id,
                "event": event, "type": "event_callback", "event_id": "Ev0SECURITY", "event_time": NOW,
                "authorizations": [{"enterprise_id": None, "team_id": slack.team_id, "user_id": slack.bot_user_id,
                                    "is_bot": True, "is_enterprise_install": False}]}
    return json.dumps(envelope), "application/json"


BODIES = {"command": command_body, "event": event_body}


def forged_headers(case: str, slack: SlackStandIn, body: str) -> tuple[dict[str, str], str]:
    """Headers (and the body actually sent) for one way of getting the signature wrong."""
    secret, now = slack.signing_secret, str(NOW)
    if case == "unsigned":
        return {}, body
    if case == "signature only":  # a valid signature for `now`, but no timestamp header to check it against
        return {"X-Slack-Signature": signature(secret, now, body)}, body
    if case == "wrong secret":
        return {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": signature(secret + "x", now, body)}, body
    if case == "body altered":
        altered = body.replace("lighthouse", "lightHouse")
        assert altered != body
        return {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": signature(secret, now, body)}, altered
    if case == "timestamp altered":  # signed for one time, sent claiming another
        return {"X-Slack-Request-Timestamp": str(NOW - 1),
                "X-Slack-Signature": signature(secret, now, body)}, body
    if case == "stale":
        ts = str(NOW - 301)
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature(secret, ts, body)}, body
    if case == "future":
        ts = str(NOW + 301)
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature(secret, ts, body)}, body
    raise AssertionError(case)


async def post(slack: SlackStandIn, body: str, content_type: str, headers: dict[str, str]) -> httpx.Response:
    assert slack.app_request_url
    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        return await client.post(slack.app_request_url, content=body.encode(),
                                 headers={"Content-Type": content_type, **headers})


@pytest.mark.parametrize("kind", sorted(BODIES))
@pytest.mark.parametrize("case", ["unsigned", "signature only", "wrong secret", "body altered", "timestamp altered",
                                  "stale", "future"])
async def test_unsigned_mis_signed_and_stale_requests_get_401_before_any_work(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace, frozen_clock: int,
        kind: str, case: str) -> None:
    await token_checked(slack)  # imagebot's own check at start: the one Web API call there may be
    body, content_type = BODIES[kind](slack)
    headers, sent = forged_headers(case, slack, body)
    response = await post(slack, sent, content_type, headers)
    assert response.status_code == 401
    await workspace.settle()
    assert [call.method for call in slack.calls] == ["auth.test"]  # nothing ran past the signature check
    assert image_api.requests == []
    assert slack.messages(CHANNEL) == [] and slack.ephemerals() == []


@pytest.mark.parametrize("ts_offset", [-300, 0, 300])
async def test_correctly_signed_request_within_five_minutes_does_the_work(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace, frozen_clock: int,
        ts_offset: int) -> None:
    """The control: the same hand-made signing, right, is accepted up to exactly 300 s either way."""
    body, content_type = command_body(slack)
    ts = str(NOW + ts_offset)
    response = await post(slack, body, content_type,
                          {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature(slack.signing_secret,
                                                                                           ts, body)})
    assert response.status_code == 200
    await workspace.settle()
    assert slack.calls_to("chat.postMessage") and len(image_api.requests) == 1


async def test_malformed_timestamp_gets_401(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                            workspace: LocalWorkspace, frozen_clock: int) -> None:
    await token_checked(slack)
    body, content_type = command_body(slack)
    response = await post(slack, body, content_type, {"X-Slack-Request-Timestamp": "soon",
                                                      "X-Slack-Signature": signature(slack.signing_secret, "soon",
                                                                                     body)})
    await workspace.settle()
    assert [call.method for call in slack.calls] == ["auth.test"] and image_api.requests == []
    assert response.status_code == 401


# 2. secrets stay out of logs and messages ----------------------------------------------------------------
def png(color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), color).save(out, format="PNG")
    return out.getvalue()


def fragments(secret: str, size: int = 12) -> set[str]:
    """The secret and every `size`-character piece of it: a partial leak is a leak."""
    return {secret} | {secret[i:i + size] for i in range(len(secret) - size + 1)}


STARRED_KEY = re.compile(r"sk-[A-Za-z0-9_-]*\*")  # OpenAI's half-starred echo of a key: 'sk-proj-****…wxyz'


def leaks(texts: dict[str, str], secrets: dict[str, str]) -> list[str]:
    found = []
    for name, secret in secrets.items():
        pieces = fragments(secret)
        for where, text in texts.items():
            hit = next((p for p in pieces if p in text), None)
            if hit is not None:
                found.append(f"{name} ({hit!r}) in {where}: {text[:300]!r}")
    for where, text in texts.items():
        if match := STARRED_KEY.search(text):
            found.append(f"a starred API key ({match[0]!r}) in {where}: {text[:300]!r}")
    return found


def log_texts(records: list[logging.LogRecord]) -> dict[str, str]:
    """Each record's message and what a handler would write for it (with the traceback, if any)."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    texts = {}
    for i, record in enumerate(records):
        where = f"log record {i} ({record.name}:{record.levelname})"
        texts[where] = record.getMessage()
        texts[where + " formatted"] = formatter.format(record)
    return texts


def slack_texts(slack: SlackStandIn) -> dict[str, str]:
    """Everything the app sent to Slack: every call's parameters, the messages and ephemerals, the acks."""
    texts = {f"{c.method} call {i}": json.dumps(c.params, default=str) for i, c in enumerate(slack.calls)}
    for channel_id in slack.channels:
        for message in slack.messages(channel_id):
            texts[f"message {channel_id}/{message['ts']}"] = json.dumps(message, default=str)
    for i, ephemeral in enumerate(slack.ephemerals()):
        texts[f"ephemeral {i}"] = json.dumps(ephemeral, default=str)
    for i, delivery in enumerate(slack.deliveries):
        texts[f"ack {i} ({delivery.kind})"] = delivery.response_text
    return texts


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Everything at DEBUG, set before the app is built: Bolt copies the root level into its loggers then."""
    caplog.set_level(logging.DEBUG)
    for name in DEBUG_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.fixture
async def redacted_workspace(slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory,
                             debug_logs: pytest.LogCaptureFixture) -> AsyncIterator[LocalWorkspace]:
    """The app as `imagebot serve` runs it: logging set up, redaction installed with the settings' secrets, then
    the app built. (The workspace's settings take their secrets from the stand-ins; checked below.)"""
    installed = [slack.bot_token, slack.app_token, slack.signing_secret, image_api.api_key, image_api.azure_api_key]
    with install_redaction(installed):
        workspace = await workspace_factory()
        settings = workspace.settings
        assert {settings.slack_bot_token, settings.slack_signing_secret, settings.openai_api_key} <= set(installed)
        yield workspace




async def run_scenario(slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    # A generation.
    assert (await slack.send_command(ALICE, CHANNEL, "a lighthouse at dusk")).status == 200
    await workspace.settle()
    [card] = [m for m in slack.messages(CHANNEL) if m.get("bot_id") and m.get("thread_ts", m["ts"]) == m["ts"]]
    thread_ts = card["ts"]
    # An edit with an attachment: url_private is fetched with the bot token.
    await slack.post_message(BOB, CHANNEL, "add this balloon", thread_ts=thread_ts,
                             files=[("balloon.png", png(), "image/png")])
    await workspace.settle()
    [download] = slack.calls_to("download")
    assert download.token == slack.bot_token and download.status == 200
    # The image API rejects the key, quoting it as OpenAI does, on an edit and on a generation.
    image_api.auth_error(times=2)
    await slack.post_message(ALICE, CHANNEL, "make it night", thread_ts=thread_ts)
    await workspace.settle()
    assert "rejected imagebot's API key" in bot_replies(slack, thread_ts)[-1]["text"]
    assert (await slack.send_command(ALICE, CHANNEL, "a fox")).status == 200
    await workspace.settle()
    assert [r.status for r in image_api.requests] == [200, 200, 401, 401]
    # A forged request (refused before Bolt, with one short log line), and a download Slack answers with an error.
    response = await post(slack, *command_body(slack), {"X-Slack-Request-Timestamp": str(int(time.time())),
                                                        "X-Slack-Signature": "v0=" + "0" * 64})
    assert response.status_code == 401
    slack.fail_next("download", status=200, error="invalid_auth")
    await slack.post_message(BOB, CHANNEL, "and this", thread_ts=thread_ts, files=[("b.png", png("blue"), "image/png")])
    await workspace.settle()


def secrets_of(slack: SlackStandIn, image_api: ImageAPIStandIn) -> dict[str, str]:
    return {"bot token": slack.bot_token, "signing secret": slack.signing_secret, "app token": slack.app_token,
            "OpenAI key": image_api.api_key, "Azure key": image_api.azure_api_key}


@pytest.mark.parametrize("secret_set", sorted(SECRET_SETS), indirect=True)
async def test_no_secret_in_any_log_record(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                           redacted_workspace: LocalWorkspace, debug_logs: pytest.LogCaptureFixture,
                                           secret_set: str) -> None:
    await run_scenario(slack, image_api, redacted_workspace)
    records = debug_logs.get_records("setup") + debug_logs.get_records("call")
    for prefix in ("slack_sdk", "slack_bolt", "httpx", "httpcore"):  # DEBUG really was on everywhere
        assert any(r.name.startswith(prefix) for r in records), prefix
    assert leaks(log_texts(records), secrets_of(slack, image_api)) == []


@pytest.mark.parametrize("secret_set", sorted(SECRET_SETS), indirect=True)
async def test_no_secret_in_anything_sent_to_slack(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                   workspace: LocalWorkspace, secret_set: str) -> None:
    await run_scenario(slack, image_api, workspace)
    assert leaks(slack_texts(slack), secrets_of(slack, image_api)) == []


@pytest.mark.parametrize("secret_set", sorted(SECRET_SETS), indirect=True)
async def test_no_secret_stored_in_the_database(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                workspace: LocalWorkspace, secret_set: str) -> None:
    await run_scenario(slack, image_api, workspace)
    texts = {}
    for path in sorted(workspace.settings.data_dir.rglob("*.db")):
        with contextlib.closing(sqlite3.connect(path)) as db:
            tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                for i, row in enumerate(db.execute(f'SELECT * FROM "{table}"')):
                    texts[f"{path.name} {table} row {i}"] = repr(row)
    assert texts  # the ledger and the jobs are there to look at
    assert leaks(texts, secrets_of(slack, image_api)) == []


def test_redact_applies_installed_secrets_and_token_shapes() -> None:
    key = "sk-proj-" + _fake("redact", 40)
    assert redact(f"Incorrect API key provided: {key[:8]}{'*' * 28}{key[-4:]}.") == (
        "Incorrect API key provided: [redacted].")
    assert redact("token xoxb-123-456-abcdef and xapp-1-A1-2-ff and xoxe.xoxp-1-abc") == (
        "token [redacted] and [redacted] and [redacted]")
    assert redact("a task-runner, sk-1, xoxb-1: not secrets") == "a task-runner, sk-1, xoxb-1: not secrets"
    with install_redaction(["0123456789abcdef0123456789abcdef", None, "", "short"]):
        assert redact("secret=0123456789abcdef0123456789abcdef short") == "secret=[redacted] short"
    assert redact("secret=0123456789abcdef0123456789abcdef") == "secret=0123456789abcdef0123456789abcdef"


def test_redaction_handle_restores_logging(caplog: pytest.LogCaptureFixture) -> None:
    """What the scenario test relies on to leave other tests alone; and redaction works from any logger."""
    factory = logging.getLogRecordFactory()
    token = "xoxb-" + _fake("loose", 30)
    with install_redaction(["not-a-token-but-secret"]):
        assert logging.getLogRecordFactory() is not factory
        caplog.set_level(logging.DEBUG)
        logging.getLogger("some.library").info("headers %s", {"Authorization": f"Bearer {token}"})
        logging.getLogger("imagebot").warning("secret is %s", "not-a-token-but-secret")
        settings = Settings(slack_bot_token=token, openai_api_key="sk-" + _fake("settings", 40))
        logging.getLogger("bot").debug("settings: %r", settings)  # a dataclass repr shows every field
        try:
            raise ValueError("Incorrect API key provided: sk-abcdef**********wxyz")
        except ValueError:
            logging.getLogger("x").exception("failed")
    assert logging.getLogRecordFactory() is factory
    messages = [r.getMessage() for r in caplog.records]
    assert messages[:2] == ["headers {'Authorization': 'Bearer [redacted]'}", "secret is [redacted]"]
    assert messages[3] == "failed" and messages[2].startswith("settings: Settings(")
    assert "slack_bot_token" not in messages[2]  # secrets are left out of the repr altogether
    assert token not in messages[2] and settings.openai_api_key not in messages[2]
    assert "sk-abcdef" not in caplog.text and "[redacted]" in caplog.text
    assert all("sk-abcdef" not in logging.Formatter().format(r) for r in caplog.records)
    logging.getLogger("imagebot").warning("after: %s", "not-a-token-but-secret")
    assert caplog.records[-1].getMessage() == "after: not-a-token-but-secret"
