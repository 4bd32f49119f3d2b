"""Slash commands: sent to the app, their ack bodies and response_url posts turned into replies. A press's
response_url (bound to its message by `AppDelivery.send_interaction`) also replaces or deletes that message
(`replace_original` / `delete_original`), as Slack's does."""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from standins.slack.delivery import AppDelivery
from standins.slack.faults import Faults
from standins.slack.payloads import ack_payload, decode_blocks, decode_json, truncate, truthy
from standins.slack.records import JSON, Delivery

RESPONSE_URL_MAX_USES = 5


class SlashCommands(AppDelivery, Faults):
    """send_command() and the response_url it comes with."""

    async def send_command(self, user_id: str, channel_id: str, text: str, *, command: str = "/image",
                           retry_num: int | None = None, headers: dict[str, str] | None = None,
                           team_id: str | None = None) -> Delivery:
        user, channel = self.users[user_id], self.channels[channel_id]
        response_url = self.new_response_url(user_id, channel_id)
        team = self.workspaces[team_id or self.team_id]
        payload = {
            "token": self.verification_token, "team_id": team["id"], "team_domain": team["domain"],
            "channel_id": channel_id, "channel_name": "directmessage" if channel["is_im"] else channel["name"],
            "user_id": user_id, "user_name": user["name"], "command": command, "text": text,
            "api_app_id": self.app_id, "is_enterprise_install": "false", "response_url": response_url,
            "trigger_id": f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}",
        }
        delivery = await self._deliver("command", urlencode(payload), "application/x-www-form-urlencoded",
                                       payload, retry_num=retry_num, extra_headers=headers)
        ack = ack_payload(delivery)
        if ack is not None:  # the ack body is Slack's first (ephemeral by default) reply to the user
            context = self._response_urls[response_url.rsplit("/", 1)[1]]
            self._reply_to_command(context, ack, source="ack")
        return delivery

    def new_response_url(self, user_id: str, channel_id: str) -> str:
        """A fresh response_url (sent with each slash command; useful when building interaction payloads)."""
        response_id = secrets.token_hex(8)
        self._response_urls[response_id] = {"user_id": user_id, "channel_id": channel_id, "uses": 0}
        return f"{self.base_url}response/{response_id}"

    def _reply_to_command(self, context: JSON, payload: JSON, *, source: str) -> None:
        """A response_url post or an ack body: in_channel posts as the bot, anything else is ephemeral (in the
        thread of the pressed message, for a press's response_url)."""
        if payload.get("response_type") == "in_channel":
            text, _ = truncate(payload.get("text") or "")
            thread_ts = payload.get("thread_ts")
            if thread_ts and self._find(context["channel_id"], thread_ts) is None:
                thread_ts = None
            self._bot_message(context["channel_id"], text, blocks=payload.get("blocks"), thread_ts=thread_ts)
        else:
            thread_ts = payload.get("thread_ts") or context.get("thread_ts")
            self._add_ephemeral(context["channel_id"], context["user_id"], {**payload, "thread_ts": thread_ts},
                                source)

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        raw = await request.text()
        payload = decode_json(raw)
        context = self._response_urls.get(request.match_info["response_id"])
        response = await self._take_fault("response_url") or self._respond(context, payload)
        self._record("response_url", payload if isinstance(payload, dict) else {"raw": raw}, request, None,
                     response.status)
        return response

    def _respond(self, context: JSON | None, payload: Any) -> web.Response:
        # The error answers (status and text) approximate Slack's; they are not verified against it.
        if context is None:
            return web.Response(status=404, text="expired_url")
        if context["uses"] >= RESPONSE_URL_MAX_USES:
            return web.Response(status=404, text="used_url")
        if not isinstance(payload, dict):
            return web.Response(status=400, text="invalid_payload")
        original = context.get("original")  # the pressed message (a slash command's response_url has none)
        if original is not None and truthy(payload.get("delete_original")):
            context["uses"] += 1
            return self._delete_original(original)
        if not (payload.get("text") or payload.get("blocks")):
            return web.Response(status=400, text="no_text")
        context["uses"] += 1
        if original is not None and truthy(payload.get("replace_original")):
            return self._replace_original(original, payload)
        self._reply_to_command(context, payload, source="response_url")
        return web.Response(text="ok")

    def _replace_original(self, original: JSON, payload: JSON) -> web.Response:
        """The pressed message becomes the reply, where it was (same ts, same thread; an ephemeral stays one)."""
        text, _ = truncate(payload.get("text") or "")
        blocks = decode_blocks(payload.get("blocks"))
        if original["ephemeral"]:
            found = self._original_ephemeral(original)
            if found is None:
                return web.Response(status=404, text="message_not_found")
            at = next(i for i, e in enumerate(self._ephemerals) if e is found)
            self._ephemerals[at] = {**found, "text": text, "blocks": blocks}
            self._changed()
            return web.Response(text="ok")
        previous = self._find(original["channel_id"], original["ts"])
        if previous is None:
            return web.Response(status=404, text="message_not_found")
        # A new record under the same ts: a copy of the message taken before (what a client still shows, and
        # may be pressed again) keeps its buttons.
        message = {k: v for k, v in copy.deepcopy(previous).items() if k != "blocks"}
        message["text"] = text
        if blocks is not None:
            message["blocks"] = blocks
        self._messages[original["channel_id"]][original["ts"]] = message
        self._changed()
        self._echo(self._changed_event(self.channels[original["channel_id"]], message, previous))
        return web.Response(text="ok")

    def _delete_original(self, original: JSON) -> web.Response:
        """The pressed message is gone (a thread reply from its thread's count too)."""
        if original["ephemeral"]:
            found = self._original_ephemeral(original)
            if found is not None:
                self._ephemerals.remove(found)
                self._changed()
            return web.Response(text="ok") if found is not None else web.Response(status=404,
                                                                                 text="message_not_found")
        message = self._messages.get(original["channel_id"], {}).pop(original["ts"], None)
        if message is None:
            return web.Response(status=404, text="message_not_found")
        parent = self._find(original["channel_id"], message.get("thread_ts"))
        if parent is not None and parent is not message:
            parent["reply_count"] = max(0, parent.get("reply_count", 1) - 1)
        self._changed()
        ts = self._next_ts()
        self._echo({"type": "message", "subtype": "message_deleted", "hidden": True, "channel":
                    original["channel_id"], "ts": ts, "event_ts": ts, "deleted_ts": message["ts"],
                    "previous_message": message})
        return web.Response(text="ok")

    def _original_ephemeral(self, original: JSON) -> JSON | None:
        return next((e for e in self._ephemerals if e["channel"] == original["channel_id"]
                     and e["ts"] == original["ts"]), None)
