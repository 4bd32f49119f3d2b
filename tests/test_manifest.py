"""manifest.yml is valid for Slack and agrees with what the app registers and the scopes it uses."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from PIL import Image

from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT.parent / "shared" / "schemas" / "slack-app-manifest.schema.json"

# The scope each Slack surface imagebot touches requires (shared/reference/slack-platform.md).
SCOPE_OF_METHOD = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "reactions.add": "reactions:write",
    "reactions.remove": "reactions:write",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "download": "files:read",  # url_private
    "users.info": "users:read",  # who is an admin
}
SCOPE_OF_EVENT = {"message.channels": "channels:history", "message.groups": "groups:history",
                  "message.im": "im:history", "app_mention": "app_mentions:read"}


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
    await workspace.settle()

    used = {SCOPE_OF_METHOD[c.method] for c in slack.calls if c.method in SCOPE_OF_METHOD}
    unexpected = {c.method for c in slack.calls} - set(SCOPE_OF_METHOD) - {"auth.test", "upload"}
    assert not unexpected, f"map these methods to scopes: {unexpected}"
    events = manifest()["settings"]["event_subscriptions"]["bot_events"]
    used |= {SCOPE_OF_EVENT[e] for e in events} | {"commands"}
    assert set(manifest()["oauth_config"]["scopes"]["bot"]) == used
