"""The payloads Slack would send for what someone does on the sandbox's page: a button pressed (on a message or
the App Home), a modal submitted or closed, the "Edit with imagebot" shortcut, mentions typed as ``@name``.
Pure builders over the Slack stand-in's records."""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from standins.slack import SlackStandIn

EDIT_SHORTCUT = "imagebot_edit_shortcut"
_AT_NAME = re.compile(r"(?<![\w<@])@([A-Za-z0-9][A-Za-z0-9._-]*)")


def trigger_id() -> str:
    return f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"


def mentions(slack: SlackStandIn, text: str) -> str:
    """``@imagebot`` (or ``@alice``) as typed becomes ``<@U…>``, as Slack's composer does."""
    by_name = {u["name"].lower(): uid for uid, u in slack.users.items()}
    return _AT_NAME.sub(lambda m: f"<@{by_name[m.group(1).lower()]}>" if m.group(1).lower() in by_name
                        else m.group(0), text)


def payload_user(slack: SlackStandIn, user: dict[str, Any]) -> dict[str, Any]:
    return {"id": user["id"], "username": user["name"], "name": user["name"], "team_id": slack.team_id}


def find_button(blocks: list[dict[str, Any]], action_id: Any,
                block_id: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The actions block and the element `action_id` names in `blocks` (in `block_id` when given), else no element."""
    for block in blocks:
        if block.get("type") != "actions" or (block_id and block.get("block_id") != block_id):
            continue
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return block, element
    return {}, None


def block_actions(slack: SlackStandIn, user: dict[str, Any], channel: dict[str, Any], message: dict[str, Any], *,
                  ephemeral: bool, block: dict[str, Any], element: dict[str, Any]) -> dict[str, Any]:
    """A press of `element` (in `block`) on `message`: Slack leaves the message out when it is an ephemeral."""
    container: dict[str, Any] = {"type": "message", "message_ts": message["ts"], "channel_id": channel["id"],
                                 "is_ephemeral": ephemeral}
    if message.get("thread_ts"):
        container["thread_ts"] = message["thread_ts"]
    action = {"action_id": element.get("action_id"), "block_id": block.get("block_id", ""),
              "type": element.get("type"), "value": element.get("value", ""), "text": element.get("text"),
              "action_ts": f"{time.time():.6f}"}
    payload: dict[str, Any] = {
        "type": "block_actions", "user": payload_user(slack, user), "api_app_id": slack.app_id,
        "token": slack.verification_token, "container": container, "trigger_id": trigger_id(),
        "team": {"id": slack.team_id, "domain": slack.team_domain}, "enterprise": None,
        "is_enterprise_install": False, "channel": {"id": channel["id"], "name": channel["name"]},
        "state": {"values": {}}, "response_url": slack.new_response_url(user["id"], channel["id"]),
        "actions": [action]}
    if not ephemeral:
        payload["message"] = message
    return payload


def home_block_actions(slack: SlackStandIn, user: dict[str, Any], view: dict[str, Any], *, block: dict[str, Any],
                       element: dict[str, Any]) -> dict[str, Any]:
    """A press of `element` on the user's App Home `view`: a view container, no channel, no message."""
    action = {"action_id": element.get("action_id"), "block_id": block.get("block_id", ""),
              "type": element.get("type"), "value": element.get("value", ""), "text": element.get("text"),
              "action_ts": f"{time.time():.6f}"}
    return {"type": "block_actions", "user": payload_user(slack, user), "api_app_id": slack.app_id,
            "token": slack.verification_token, "trigger_id": trigger_id(),
            "container": {"type": "view", "view_id": view["id"]}, "view": view,
            "team": {"id": slack.team_id, "domain": slack.team_domain}, "enterprise": None,
            "is_enterprise_install": False, "actions": [action]}


def view_closed(slack: SlackStandIn, user: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
    return {"type": "view_closed", "team": {"id": slack.team_id}, "user": payload_user(slack, user),
            "api_app_id": slack.app_id, "view": view, "is_cleared": False}


def view_submission(slack: SlackStandIn, user: dict[str, Any], view: dict[str, Any],
                    values: dict[str, Any]) -> dict[str, Any]:
    """`view` submitted with `values` (view.state.values: {block_id: {action_id: {...}}})."""
    return {"type": "view_submission", "team": {"id": slack.team_id, "domain": slack.team_domain},
            "user": payload_user(slack, user), "api_app_id": slack.app_id,
            "token": slack.verification_token, "trigger_id": trigger_id(),
            "view": {**view, "state": {"values": values}}, "response_urls": [],
            "is_enterprise_install": False, "enterprise": None}


def message_shortcut(slack: SlackStandIn, user: dict[str, Any], channel: dict[str, Any],
                     message: dict[str, Any]) -> dict[str, Any]:
    """The "Edit with imagebot" message shortcut on `message`."""
    return {"type": "message_action", "callback_id": EDIT_SHORTCUT, "trigger_id": trigger_id(),
            "team": {"id": slack.team_id, "domain": slack.team_domain},
            "user": payload_user(slack, user), "api_app_id": slack.app_id,
            "token": slack.verification_token, "action_ts": f"{time.time():.6f}",
            "channel": {"id": channel["id"], "name": channel["name"]}, "message": message,
            "message_ts": message["ts"], "response_url": slack.new_response_url(user["id"], channel["id"]),
            "is_enterprise_install": False, "enterprise": None}
