"""The bodies the probe sends to /slack/events: forged ones (bad or no signature) and signed malformed ones.

Pure builders, no I/O: each returns (name, body bytes, headers) or (category, body bytes, content type), so the
same cases can be read, counted and re-sent. What Slack itself sends is in
https://api.slack.com/interactivity/slash-commands (slash commands, form-encoded), https://api.slack.com/apis/events-api
(JSON envelopes) and https://api.slack.com/reference/interaction-payloads (form field `payload` holding JSON).
"""

from __future__ import annotations

import itertools
import json
import random
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from bench.probe_harness import ALICE, CHANNEL, RUN_AGAIN, signature, trigger
from standins.slack import SlackStandIn

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
COMMAND_FIELDS = ("user_id", "channel_id", "team_id", "command", "text", "trigger_id", "response_url")
# The app's own action ids and view callbacks (handlers/ui/modals.py, handlers/delivery/jobs.py,
# handlers/listeners/views.py), so the
# malformed payloads reach its listeners instead of stopping at "no listener".
ACTION_IDS = (RUN_AGAIN, "imagebot_upload_again", "imagebot_confirm", "imagebot_cancel", "imagebot_retry",
              "imagebot_undo", "imagebot_use", "imagebot_high_quality", "imagebot_variations")
VIEW_CALLBACKS = ("imagebot_image_modal", "imagebot_edit_modal")
ODD_VALUES: tuple[Any, ...] = ({}, [], None, 0, -1, 10**30, "", "x" * 5000, {"a": {"b": []}}, [None], True, "\x00",
                               "\u202e", "1e9")
NOT_OBJECTS: tuple[Any, ...] = ([], 1, "x", None)
# A view's state is {block_id: {action_id: {"value" | "selected_option" …}}}; these break that shape one level in.
ODD_STATES: tuple[dict[str, Any], ...] = ({"x": {}}, {"prompt": "x"}, {"prompt": {"value": {"a": 1}}},
                                          {"n": {"selected_option": 5}})


def command_form(slack: SlackStandIn, text: str = "a lighthouse", user: str = ALICE) -> dict[str, str]:
    """A slash command's form fields, as Slack sends them."""
    return {"token": slack.verification_token, "team_id": slack.team_id, "team_domain": slack.team_domain,
            "channel_id": CHANNEL, "channel_name": "general", "user_id": user, "user_name": "alice",
            "command": "/image", "text": text, "api_app_id": slack.app_id, "is_enterprise_install": "false",
            "response_url": slack.new_response_url(user, CHANNEL), "trigger_id": trigger()}


def event_envelope(slack: SlackStandIn, event: Any) -> dict[str, Any]:
    return {"token": slack.verification_token, "team_id": slack.team_id, "api_app_id": slack.app_id,
            "event": event, "type": "event_callback", "event_id": f"Ev0{secrets.token_hex(5).upper()}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": slack.team_id, "user_id": slack.bot_user_id, "is_bot": True}]}


def message_event(text: str = "hello", user: str = ALICE, **extra: Any) -> dict[str, Any]:
    ts = f"{time.time():.6f}"
    return {"type": "message", "user": user, "text": text, "ts": ts, "channel": CHANNEL, "event_ts": ts,
            "channel_type": "channel", **extra}


def block_actions(slack: SlackStandIn, action_id: str, value: str = "1", user: str = ALICE) -> dict[str, Any]:
    ts = f"{time.time():.6f}"
    return {"type": "block_actions", "user": {"id": user, "name": "alice", "team_id": slack.team_id},
            "api_app_id": slack.app_id, "token": slack.verification_token, "trigger_id": trigger(),
            "container": {"type": "message", "message_ts": ts, "channel_id": CHANNEL, "is_ephemeral": False},
            "team": {"id": slack.team_id, "domain": slack.team_domain}, "channel": {"id": CHANNEL, "name": "general"},
            "message": {"type": "message", "ts": ts, "text": "card", "bot_id": slack.bot_id},
            "response_url": slack.new_response_url(user, CHANNEL),
            "actions": [{"action_id": action_id, "block_id": "imagebot", "value": value, "type": "button",
                         "action_ts": ts}]}


def view_submission(slack: SlackStandIn, callback_id: str, values: Any, user: str = ALICE) -> dict[str, Any]:
    return {"type": "view_submission", "team": {"id": slack.team_id, "domain": slack.team_domain},
            "user": {"id": user, "name": "alice", "team_id": slack.team_id}, "api_app_id": slack.app_id,
            "token": slack.verification_token, "trigger_id": trigger(),
            "view": {"id": "V0PROBE", "type": "modal", "callback_id": callback_id, "team_id": slack.team_id,
                     "private_metadata": json.dumps({"channel_id": CHANNEL}), "state": {"values": values}}}


def interaction(payload: Any) -> bytes:
    return urlencode({"payload": payload if isinstance(payload, str) else json.dumps(payload)}).encode()


# ---------------------------------------------------------------------------------------------- forged

def signature_cases(slack: SlackStandIn) -> list[tuple[str, bytes, dict[str, str]]]:
    """About 40 requests that must each get a 401: no, stale, future or malformed timestamps; wrong, missing or
    foreign signatures; altered bodies; and bodies that are not what they claim to be, with a bad signature."""
    secret, now = slack.signing_secret, int(time.time())
    command = urlencode(command_form(slack)).encode()
    bad = "v0=" + secrets.token_hex(32)

    def headers(ts: str | None, sig: str | None, content_type: str = FORM) -> dict[str, str]:
        found = {"Content-Type": content_type}
        if ts is not None:
            found["X-Slack-Request-Timestamp"] = ts
        if sig is not None:
            found["X-Slack-Signature"] = sig
        return found

    def signed_at(ts: str, body: bytes = command) -> dict[str, str]:
        return headers(ts, signature(secret, ts, body))

    cases = [("no signature headers", command, headers(None, None)),
             ("timestamp, no signature", command, headers(str(now), None)),
             ("signature, no timestamp", command, headers(None, signature(secret, str(now), command)))]
    # Slack's window is five minutes either way; 30 s past it leaves room for the time the cases take to send.
    for label, ts in (("5 min 30 s old", now - 330), ("a day old", now - 86400), ("timestamp 0", 0),
                      ("5 min 30 s ahead", now + 330), ("a day ahead", now + 86400)):
        cases.append((f"correctly signed, {label}", command, signed_at(str(ts))))
    for ts_text in ("abc", "", "1.5e9", "-1", f"{now}abc", "9" * 40, f"{now}.5"):
        cases.append((f"timestamp {ts_text[:12]!r}", command, signed_at(ts_text)))
    timestamp = str(now)
    correct = signature(secret, timestamp, command)
    for label, sig in (("random signature", bad), ("empty v0=", "v0="), ("v1= scheme", "v1=" + correct[3:]),
                       ("upper-case scheme", "V0=" + correct[3:]), ("another secret", signature("x" * 20, timestamp,
                                                                                                 command)),
                       ("signed for another second", signature(secret, str(now - 1), command)),
                       ("not a signature", "not a signature")):
        cases.append((label, command, headers(timestamp, sig)))
    for label, altered in (("body with a field added", command + b"&x=1"), ("body with a newline", command + b"\n"),
                           ("body truncated", command[:-5]),
                           ("user_id changed", command.replace(ALICE.encode(), b"U0BOB"))):
        cases.append((f"altered: {label}", altered, headers(timestamp, correct)))
    not_json = [b"{not json", b"", b"\xff\xfe\x00\x01", b"[1, 2", b"[]", b"null", b'"a string"', b"{}",
                b'{"type": "url_verification", "challenge": "x"}',
                json.dumps(event_envelope(slack, message_event())).encode()]
    for body in not_json:
        cases.append((f"JSON body {body[:24]!r}, bad signature", body, headers(timestamp, bad, JSON)))
    for payload in ("[]", "1", "null", "not json", "", '"a string"', "{"):
        cases.append((f"payload={payload!r}, bad signature", interaction(payload), headers(timestamp, bad)))
    cases.append(("block_actions, bad signature", interaction(block_actions(slack, RUN_AGAIN)),
                  headers(timestamp, bad)))
    cases.append(("bad percent-encoding, bad signature", b"payload=%zz%&text=%", headers(timestamp, bad)))
    return cases


def forged_command(slack: SlackStandIn, size: int, rng: random.Random) -> tuple[bytes, dict[str, str]]:
    """A /image command of about `size` bytes with a current timestamp and a random signature."""
    text = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz ", k=size))
    body = urlencode(command_form(slack, text)).encode()
    return body, {"Content-Type": FORM, "X-Slack-Request-Timestamp": str(int(time.time())),
                  "X-Slack-Signature": "v0=" + secrets.token_hex(32)}


# ---------------------------------------------------------------------------------------------- signed, malformed

def malformed_cases(slack: SlackStandIn, count: int, rng: random.Random) -> list[tuple[str, bytes, str]]:
    """`count` bodies Slack could not have sent, to be signed correctly: (category, body, content type). The named
    cases come first; random mutations of valid payloads fill up to `count`."""
    cases = _malformed_commands(slack) + _malformed_events(slack) + _malformed_interactions(slack)
    while len(cases) < count:
        cases.append(_mutation(slack, rng))
    return cases[:count]


def _malformed_commands(slack: SlackStandIn) -> list[tuple[str, bytes, str]]:
    cases = []
    for dropped in itertools.chain(itertools.combinations(COMMAND_FIELDS, 1),
                                   itertools.combinations(COMMAND_FIELDS[:4], 2)):
        form = {k: v for k, v in command_form(slack).items() if k not in dropped}
        cases.append((f"command without {'+'.join(dropped)}", urlencode(form).encode(), FORM))
    for name in COMMAND_FIELDS:
        for odd in ("", "x" * 10_000, "null", "U0ALICE\nU0BOB", "\u202eevil"):
            form = {**command_form(slack), name: odd}
            cases.append((f"command with an odd {name}", urlencode(form).encode(), FORM))
    for command, text in (("/image-admin", "budget user <@U0BOB> 5"), ("/image-admin", "x" * 4000),
                          ("/nope", "a lighthouse"), ("/image", "usage"), ("image", "a lighthouse")):
        form = {**command_form(slack, text), "command": command, "user_id": "", "team_id": ""}
        cases.append(("other command, no user or team", urlencode(form).encode(), FORM))
    cases.append(("command repeated fields", urlencode(command_form(slack)).encode() + b"&user_id=U0BOB&text=", FORM))
    return cases


def _malformed_events(slack: SlackStandIn) -> list[tuple[str, bytes, str]]:
    bodies: list[tuple[str, Any]] = [("event body not an object", value) for value in NOT_OBJECTS]
    bodies += [("event_callback without event", {k: v for k, v in event_envelope(slack, {}).items() if k != "event"}),
               ("url_verification without challenge", {"type": "url_verification", "token": "x"}),
               ("url_verification, challenge an object", {"type": "url_verification", "challenge": {"a": 1}}),
               ("envelope without type", {"event": message_event()}),
               ("envelope with unknown type", {"type": "nope", "event": message_event()})]
    bodies += [("event not an object", event_envelope(slack, value)) for value in NOT_OBJECTS]
    for dropped in ("channel", "user", "ts", "text", "type"):
        event = {k: v for k, v in message_event().items() if k != dropped}
        bodies.append((f"message event without {dropped}", event_envelope(slack, event)))
    for key in ("channel", "user", "ts", "text", "thread_ts", "files", "blocks", "subtype"):
        for odd in ODD_VALUES[:8]:
            bodies.append((f"message event with an odd {key}", event_envelope(slack, message_event(**{key: odd}))))
    bodies += [("thread reply to nowhere", event_envelope(slack, message_event(thread_ts="1.000001"))),
               ("files of strings", event_envelope(slack, message_event(thread_ts="1.000001", files=["x", "y"]))),
               ("file without url", event_envelope(slack, message_event(thread_ts="1.000001", files=[{"id": "F1"}]))),
               ("app_mention without channel", event_envelope(slack, {"type": "app_mention", "text": "<@U0IMAGEBOT>",
                                                                       "user": ALICE, "ts": "1.2"})),
               ("app_home_opened without user", event_envelope(slack, {"type": "app_home_opened", "tab": "home"})),
               ("authorizations not a list", {**event_envelope(slack, message_event()), "authorizations": "x"}),
               ("team_id an object", {**event_envelope(slack, message_event()), "team_id": {"id": "T"}})]
    cases = [(name, json.dumps(body).encode(), JSON) for name, body in bodies]
    cases += [("event body not JSON", b"{not json", JSON), ("event body empty", b"", JSON)]
    return cases


def _malformed_interactions(slack: SlackStandIn) -> list[tuple[str, bytes, str]]:
    payloads: list[tuple[str, Any]] = [("payload not an object", value) for value in ("[]", "1", "null", '"x"', "{")]
    for action_id in ACTION_IDS:
        good = block_actions(slack, action_id)
        payloads += [(f"{action_id}: no actions", {k: v for k, v in good.items() if k != "actions"}),
                     (f"{action_id}: actions empty", {**good, "actions": []}),
                     (f"{action_id}: action an empty object", {**good, "actions": [{}]}),
                     (f"{action_id}: value not a number", block_actions(slack, action_id, "abc")),
                     (f"{action_id}: value a huge number", block_actions(slack, action_id, "9" * 40)),
                     (f"{action_id}: value negative", block_actions(slack, action_id, "-1")),
                     (f"{action_id}: no user", {k: v for k, v in good.items() if k != "user"}),
                     (f"{action_id}: user a string", {**good, "user": "U0ALICE"}),
                     (f"{action_id}: no container or channel",
                      {k: v for k, v in good.items() if k not in ("container", "channel", "message")})]
    for callback in VIEW_CALLBACKS:
        good = view_submission(slack, callback, {})
        view = good["view"]
        payloads += [(f"{callback}: no view", {k: v for k, v in good.items() if k != "view"}),
                     (f"{callback}: view without state", {**good, "view": {k: v for k, v in view.items()
                                                                           if k != "state"}}),
                     (f"{callback}: state not an object", {**good, "view": {**view, "state": "x"}}),
                     (f"{callback}: values a list", view_submission(slack, callback, [])),
                     (f"{callback}: private_metadata not JSON", {**good, "view": {**view, "private_metadata": "{"}}),
                     (f"{callback}: no user", {k: v for k, v in good.items() if k != "user"})]
        for block in ("imagebot_prompt", "imagebot_size", "imagebot_n", "imagebot_instruction", "imagebot_model"):
            for odd in ODD_STATES:
                payloads.append((f"{callback}: state value an object", view_submission(slack, callback, {block: odd})))
    payloads += [("shortcut without message", {"type": "message_action", "callback_id": "imagebot_edit_shortcut",
                                               "user": {"id": ALICE}, "team": {"id": slack.team_id},
                                               "trigger_id": trigger()}),
                 ("unknown interaction type", {"type": "nope", "user": {"id": ALICE}}),
                 ("view_closed without view", {"type": "view_closed", "user": {"id": ALICE}})]
    return [(name, interaction(payload), FORM) for name, payload in payloads]


def _mutation(slack: SlackStandIn, rng: random.Random) -> tuple[str, bytes, str]:
    """A valid payload with one key dropped or its value replaced by a value of another type, somewhere inside."""
    kind = rng.choice(("command", "event", "action", "view"))
    if kind == "command":
        form: dict[str, Any] = command_form(slack)
        key = rng.choice(list(form))
        if rng.random() < 0.5:
            del form[key]
        else:
            form[key] = str(rng.choice(ODD_VALUES))
        return f"mutated command ({key})", urlencode(form).encode(), FORM
    payload: dict[str, Any] = {"event": event_envelope(slack, message_event(thread_ts="1.000001")),
                               "action": block_actions(slack, rng.choice(ACTION_IDS)),
                               "view": view_submission(slack, rng.choice(VIEW_CALLBACKS),
                                                       {"imagebot_prompt": {"prompt": {"value": "a fox"}}})}[kind]
    path = _mutate(payload, rng)
    if kind == "event":
        return f"mutated event ({path})", json.dumps(payload).encode(), JSON
    return f"mutated {kind} ({path})", interaction(payload), FORM


def _mutate(node: dict[str, Any], rng: random.Random) -> str:
    path = []
    while True:
        key = rng.choice(list(node))
        path.append(key)
        child = node[key]
        if isinstance(child, dict) and child and rng.random() < 0.6:
            node = child
            continue
        if isinstance(child, list) and child and isinstance(child[0], dict) and rng.random() < 0.6:
            node = child[0]
            continue
        if rng.random() < 0.4:
            del node[key]
        else:
            node[key] = rng.choice(ODD_VALUES)
        return ".".join(path)


# ---------------------------------------------------------------------------------------------- fuzzed /image text

_GOOD_OPTIONS = ("--size square", "--size portrait", "--size landscape", "--size 1024x1024", "--size=1536x1024",
                 "--size auto", "--quality low", "--quality medium", "--quality high", "--quality auto",
                 "--quality xhigh", "--quality max", "--n 1", "--n 2", "--n=3", "--n 4", "--transparent",
                 "--format png", "--format jpeg", "--format webp", "--format gif", "--format svg", "--frames 3",
                 "--frame-ms 150", "--complexity low", "--moderation low", "--fidelity high", "--fidelity low")
_BAD_OPTIONS = ("--size 0x0", "--size 99999x99999", "--size 1024x", "--size x1024", "--size 1024×1024",
                "--size -1024x1024", "--size", "--size=", "--n 0", "--n -1", "--n 99999999999999999999999", "--n 1e3",
                "--n four", "--n", "--n=", "--quality ultra", "--format bmp", "--model gpt-4", "--model ../../etc",
                "--frames 0", "--frames 100000", "--frame-ms -5", "--foo", "--foo=bar", "---", "-x", "--=", "--",
                "--transparent=yes", "—size portrait", "--SIZE PORTRAIT", "--n=2 --n=3", "--size ５１２x５１２",
                "--model", "--format", "--quality")
_WORDS = ("a", "lighthouse", "at dusk", "fox", "in snow", "🦊", "שלום", "灯台", "e\u0301", "\u200b", "\u202eevil",
          "<@U0BOB>", "<!channel>", "<https://example.com|a link>", "&lt;b&gt;", "'; DROP TABLE jobs; --",
          "%s %d {0}", "${HOME}", "\\x00", "`code`", "*bold*", "> quote", "\"quoted\"", "Ω≈ç√", "🏳️‍🌈")
MAX_TEXT = 40_000  # Slack cuts message text at 40,000 characters (api.slack.com changelog, 2018-04)
_CONTROLS = ("\x00", "\x1b[31m", "\r", "\n", "\t", "\x7f", "\x08", "\u2028", "\x0c")


def fuzz_text(rng: random.Random, models: tuple[str, ...]) -> str:
    """Random /image text: prompt words, good and bad options, unicode and control characters, now and then a
    very long prompt (up to what Slack sends), a help word or nothing at all."""
    roll = rng.random()
    if roll < 0.02:
        return rng.choice(("", " ", "\t", "help", "usage", "?", "--help", "-h"))
    pieces: list[str] = []
    for _ in range(rng.randint(1, 7)):
        pool = rng.random()
        if pool < 0.4:
            pieces.append(rng.choice(_WORDS))
        elif pool < 0.7:
            pieces.append(rng.choice(_GOOD_OPTIONS))
        elif pool < 0.8:
            pieces.append(rng.choice(_BAD_OPTIONS))
        elif pool < 0.9:
            pieces.append(rng.choice(_CONTROLS) + rng.choice(_WORDS))
        else:
            pieces.append(f"--model {rng.choice(models)}")
    if roll > 0.97:
        pieces.append(" ".join(rng.choice(_WORDS) for _ in range(rng.choice((1_000, 8_000)))))
    elif roll > 0.96:
        pieces.append("x" * rng.choice((4_001, 33_000, 39_990)))
    return rng.choice((" ", "  ", "\t", " \n ")).join(pieces)[:MAX_TEXT]
