"""manifest.yml is valid for Slack and agrees with what the app registers and the scopes it uses; `imagebot
manifest` prints the same manifest (or its HTTP variant with the URLs filled in) from handlers/manifest.py."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from PIL import Image

from handlers.manifest import WORKFLOW_STEP, base_url, build_manifest, workflow_step
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace

ROOT = Path(__file__).resolve().parents[2]
# Slack's manifest schema, kept in the repository with its provenance and licence (tests/schemas/README.md).
SCHEMA = ROOT / "tests" / "schemas" / "slack-app-manifest.schema.json"

# The scope each Slack surface imagebot touches requires (https://docs.slack.dev/reference/scopes).
SCOPE_OF_METHOD = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "reactions.add": "reactions:write",
    "reactions.remove": "reactions:write",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "download": "files:read",  # url_private
    "users.info": "users:read",  # who is an admin
    "files.info": "files:read",  # a workflow step's image permalink
    "functions.completeSuccess": None,  # a workflow step's run: no scope (docs.slack.dev/reference/methods)
    "functions.completeError": None,
}
SCOPE_OF_EVENT = {"message.channels": "channels:history", "message.groups": "groups:history",
                  "message.im": "im:history", "app_mention": "app_mentions:read",
                  # These need no scope: Slack sends them to every app that subscribes.
                  "app_home_opened": None, "app_uninstalled": None, "tokens_revoked": None, "function_executed": None}


def manifest() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))


def test_manifest_validates_against_slacks_schema() -> None:
    jsonschema.validate(manifest(), json.loads(SCHEMA.read_text(encoding="utf-8")))


def test_manifest_enables_socket_mode_and_interactivity() -> None:
    settings = manifest()["settings"]
    assert settings["socket_mode_enabled"] is True and settings["interactivity"]["is_enabled"] is True




@pytest.mark.anyio
async def test_every_manifest_command_is_handled_and_others_are_not(slack: SlackStandIn,
                                                                    workspace: LocalWorkspace) -> None:
    commands = [c["command"] for c in manifest()["features"]["slash_commands"]]
    assert commands == ["/image", "/image-admin"]
    for command in commands:
        before = len(slack.ephemerals(user_id="U0ALICE"))
        delivery = await slack.send_command("U0ALICE", "C0GENERAL", "help", command=command)
        await workspace.settle()
        assert delivery.status == 200, command
        assert len(slack.ephemerals(user_id="U0ALICE")) == before + 1, command  # answered, privately
    unknown = await slack.send_command("U0ALICE", "C0GENERAL", "help", command="/imagine")
    assert unknown.status == 404  # Bolt's answer for a command the app does not register
    await workspace.settle()


@pytest.mark.anyio
async def test_manifest_scopes_are_exactly_the_ones_used(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                         workspace: LocalWorkspace) -> None:
    """Run the core loop (generate, edit with an attachment) and map every Slack call to its scope."""
    await slack.send_command("U0ALICE", "C0GENERAL", "a lighthouse")
    await workspace.settle()
    card = next(m for m in slack.messages("C0GENERAL") if m.get("bot_id"))
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(out, format="PNG")
    await slack.post_message("U0ALICE", "C0GENERAL", "add this", thread_ts=card["ts"],
                             files=[("ref.png", out.getvalue(), "image/png")])
    await slack.send_command("U0ADMIN", "C0GENERAL", "report", command="/image-admin")
    slack.define_function(WORKFLOW_STEP, workflow_step())
    execution, _ = await slack.run_function(WORKFLOW_STEP, {"prompt": "a kite", "user_id": "U0ALICE"})
    assert (await slack.wait_for_execution(execution))["state"] == "completed"
    await workspace.settle()

    used = {SCOPE_OF_METHOD[c.method] for c in slack.calls if c.method in SCOPE_OF_METHOD} - {None}
    unexpected = {c.method for c in slack.calls} - set(SCOPE_OF_METHOD) - {"auth.test", "upload"}
    assert not unexpected, f"map these methods to scopes: {unexpected}"
    events = manifest()["settings"]["event_subscriptions"]["bot_events"]
    used |= {SCOPE_OF_EVENT[e] for e in events if SCOPE_OF_EVENT[e]} | {"commands"}
    assert set(manifest()["oauth_config"]["scopes"]["bot"]) == used


# -- handlers/manifest.py and `imagebot manifest` --------------------------------------------------------------------

def schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


def test_manifest_yml_is_build_manifest_with_comments() -> None:
    assert manifest() == build_manifest(None)


def test_manifest_has_the_app_home_and_the_lifecycle_events() -> None:
    built = build_manifest(None)
    assert built["features"]["app_home"]["home_tab_enabled"] is True
    assert {"app_home_opened", "app_uninstalled", "tokens_revoked"} <= set(
        built["settings"]["event_subscriptions"]["bot_events"])


def test_http_manifest_fills_in_every_url_and_validates() -> None:
    built = build_manifest("https://imagebot.example.com")
    jsonschema.validate(built, schema())
    events = "https://imagebot.example.com/slack/events"
    settings = built["settings"]
    assert settings["socket_mode_enabled"] is False
    assert settings["event_subscriptions"]["request_url"] == events
    assert settings["interactivity"] == {"is_enabled": True, "request_url": events}
    assert [c["url"] for c in built["features"]["slash_commands"]] == [events, events]
    assert built["oauth_config"]["redirect_urls"] == ["https://imagebot.example.com/slack/oauth_redirect"]
    # Everything else is the Socket Mode manifest's.
    socket = build_manifest(None)
    assert built["oauth_config"]["scopes"] == socket["oauth_config"]["scopes"]
    assert settings["event_subscriptions"]["bot_events"] == socket["settings"]["event_subscriptions"]["bot_events"]
    assert [{k: v for k, v in c.items() if k != "url"} for c in built["features"]["slash_commands"]] == \
        socket["features"]["slash_commands"]


@pytest.mark.parametrize(("given", "expected"), [
    ("https://imagebot.example.com", "https://imagebot.example.com"),
    ("https://imagebot.example.com/", "https://imagebot.example.com"),
    ("https://imagebot.example.com/slack/events", "https://imagebot.example.com"),  # pasted from the app's page
    ("https://example.com:8443/imagebot/", "https://example.com:8443/imagebot"),  # behind a reverse proxy
    ("  http://localhost:3000  ", "http://localhost:3000"),
])
def test_base_url_is_normalised(given: str, expected: str) -> None:
    assert base_url(given) == expected


@pytest.mark.parametrize("bad", ["imagebot.example.com", "ftp://example.com", "https://", "https://x.com/?a=1"])
def test_base_url_refuses_what_is_not_one(bad: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        base_url(bad)


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "", "HOME": str(cwd), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "imagebot", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)


def test_cli_prints_the_socket_mode_and_http_manifests(tmp_path: Path) -> None:
    socket = run_cli("manifest", cwd=tmp_path)
    assert socket.returncode == 0, socket.stderr
    assert socket.stdout.startswith("# ") and yaml.safe_load(socket.stdout) == build_manifest(None)
    http = run_cli("manifest", "--http", "https://imagebot.example.com/", cwd=tmp_path)
    assert http.returncode == 0, http.stderr
    printed = yaml.safe_load(http.stdout)
    jsonschema.validate(printed, schema())
    assert printed == build_manifest("https://imagebot.example.com")
    bad = run_cli("manifest", "--http", "imagebot.example.com", cwd=tmp_path)
    assert bad.returncode == 2 and "--http" in bad.stderr and not bad.stdout


def event_for(name: str) -> dict[str, Any]:
    """A minimal event of each subscribed type, as Slack sends it."""
    channel_type = {"message.channels": ("C0GENERAL", "channel"), "message.groups": ("C0GENERAL", "group"),
                    "message.im": ("D0ALICE", "im")}
    if name in channel_type:
        channel, kind = channel_type[name]
        return {"type": "message", "channel": channel, "channel_type": kind, "user": "U0ALICE", "text": "hello",
                "ts": "1700000000.000100"}
    return {
        "app_mention": {"type": "app_mention", "channel": "C0GENERAL", "user": "U0ALICE", "text": "<@U0IMAGEBOT>",
                        "ts": "1700000000.000200"},
        "app_home_opened": {"type": "app_home_opened", "user": "U0ALICE", "channel": "D0ALICE", "tab": "home"},
        "app_uninstalled": {"type": "app_uninstalled"},
        "tokens_revoked": {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["U0IMAGEBOT"]}},
    }[name]


@pytest.mark.anyio
async def test_every_manifest_event_is_handled(slack: SlackStandIn, workspace: LocalWorkspace) -> None:
    """Bolt answers 404 to an event no listener takes (Slack would then retry it): each subscribed one is taken."""
    unhandled = []
    slack.define_function(WORKFLOW_STEP, workflow_step())
    for name in manifest()["settings"]["event_subscriptions"]["bot_events"]:
        if name == "function_executed":  # Workflow Builder runs the step (with no inputs: it fails, answered)
            delivery = (await slack.run_function(WORKFLOW_STEP, {}))[1]
        else:
            delivery = await slack.deliver_event(event_for(name))
        await workspace.settle()
        if delivery.status != 200:
            unhandled.append((name, delivery.status))
    assert not unhandled
    stray = await slack.deliver_event({"type": "emoji_changed", "subtype": "add", "name": "imagebot"})
    assert stray.status == 404  # the check can fail: an event nobody handles is not answered 200
    await workspace.settle()
