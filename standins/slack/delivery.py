"""Slack calling the app: Events API envelopes (signed POSTs to app_request_url, or Socket Mode envelopes), events
about the bot's own messages echoed back, and what users do (post, open the Home tab, interact)."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import secrets
import time
import uuid
from collections.abc import Sequence
from urllib.parse import urlencode

import aiohttp

from standins.slack.payloads import rich_text
from standins.slack.records import JSON, Delivery
from standins.slack.socket_mode import SocketMode

DELIVERY_TIMEOUT = 30.0  # generous on purpose; Slack's own 3 s limit shows up in Delivery.elapsed_ms


class AppDelivery(SocketMode):
    """Sending to the app, over HTTP (signed with the signing secret, as Slack does) or Socket Mode."""

    async def _deliver(self, kind: str, body: str, content_type: str, payload: JSON, *,
                       retry_num: int | None = None, retry_reason: str = "http_timeout",
                       extra_headers: dict[str, str] | None = None) -> Delivery:
        if self._socket_mode():  # no signature there: the connection itself is authenticated (extra_headers unused)
            return await self._deliver_over_socket(kind, payload, retry_num=retry_num, retry_reason=retry_reason)
        if not self.app_request_url or self._session is None:
            raise RuntimeError("start() the stand-in and set app_request_url before sending to the app")
        timestamp = str(int(time.time()))
        signature = self._verifier.generate_signature(timestamp=timestamp, body=body)
        assert signature is not None  # None only without a timestamp or a body
        headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
                   "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}
        if retry_num is not None:
            headers.update({"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason})
        headers.update(extra_headers or {})
        status, text, response_headers, error = 0, "", {}, None
        started = time.perf_counter()
        try:
            async with self._session.post(self.app_request_url, data=body.encode(), headers=headers) as response:
                status, text, response_headers = response.status, await response.text(), dict(response.headers)
        except (aiohttp.ClientError, TimeoutError) as e:
            error = f"{type(e).__name__}: {e}"
        elapsed_ms = (time.perf_counter() - started) * 1000
        delivery = Delivery(kind, body, payload, headers, status, text, response_headers, elapsed_ms, error)
        self.deliveries.append(delivery)
        self._changed()
        return delivery

    async def deliver_event(self, event: JSON, *, event_id: str | None = None, retry_num: int | None = None,
                            retry_reason: str = "http_timeout", team_id: str | None = None) -> Delivery:
        """POST an Events API envelope around `event`; reuse an event_id with retry_num to act out a retry.
        `team_id`: the workspace it happens in (default: the constructor's; see `add_workspace`)."""
        team_id = team_id or event.get("team") or self.team_id
        envelope = {
            "token": self.verification_token, "team_id": team_id, "context_team_id": team_id,
            "context_enterprise_id": None, "api_app_id": self.app_id, "event": event, "type": "event_callback",
            "event_id": event_id or f"Ev0{next(self._ids):08d}{secrets.token_hex(2).upper()}",
            "event_time": int(time.time()),
            "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": self.bot_user_id,
                                "is_bot": True, "is_enterprise_install": False}],
            "is_ext_shared_channel": False, "event_context": self._event_context(event),
        }
        return await self._deliver("event", json.dumps(envelope), "application/json", envelope,
                                   retry_num=retry_num, retry_reason=retry_reason)

    def _event_context(self, event: JSON) -> str:
        # An opaque token in real payloads; this one has the same "4-<base64 json>" look.
        context = {"et": event.get("type"), "tid": self.team_id, "aid": self.app_id, "cid": event.get("channel")}
        return "4-" + base64.urlsafe_b64encode(json.dumps(context).encode()).decode().rstrip("=")

    async def send_interaction(self, payload: JSON) -> Delivery:
        """POST `payload=<json>` (block_actions, view_submission, ...) as Slack's interactivity does."""
        self._bind_response_url(payload)
        body = urlencode({"payload": json.dumps(payload)})
        return await self._deliver("interaction", body, "application/x-www-form-urlencoded", payload)

    def _bind_response_url(self, payload: JSON) -> None:
        """A press's response_url belongs to the message the press was in (its `container`), as Slack's does: a
        reply through it with `replace_original` / `delete_original` acts on that message, ephemeral or not, and
        an ephemeral reply to a press in a thread shows in that thread
        (https://docs.slack.dev/interactivity/handling-user-interaction#message_responses)."""
        url, container = payload.get("response_url"), payload.get("container") or {}
        if not isinstance(url, str) or not url.startswith(f"{self.base_url}response/") or not isinstance(
                container, dict) or container.get("type") != "message":
            return
        context = self._response_urls.get(url.rsplit("/", 1)[1])
        channel_id, ts = container.get("channel_id"), container.get("message_ts")
        if context is None or "original" in context or channel_id != context["channel_id"] or not isinstance(ts, str):
            return
        ephemeral = bool(container.get("is_ephemeral"))
        original = (next((e for e in self._ephemerals if e["channel"] == channel_id and e["ts"] == ts), None)
                    if ephemeral else self._find(channel_id, ts))
        if original is None:
            return
        thread_ts = original.get("thread_ts")
        context.update(original={"channel_id": channel_id, "ts": ts, "ephemeral": ephemeral},
                       thread_ts=thread_ts if thread_ts != ts else None)

    def _message_event(self, channel: JSON, message: JSON) -> JSON:
        event = {**copy.deepcopy(message), "channel": channel["id"], "event_ts": message["ts"],
                 "channel_type": "im" if channel["is_im"] else "channel"}
        if message.get("files"):
            event["subtype"] = "file_share"  # events carry the subtype for uploads, bot's included
        return event

    def _changed_event(self, channel: JSON, message: JSON, previous: JSON) -> JSON:
        ts = self._next_ts()
        return {"type": "message", "subtype": "message_changed", "hidden": True, "channel": channel["id"],
                "ts": ts, "event_ts": ts, "channel_type": "im" if channel["is_im"] else "channel",
                "message": copy.deepcopy(message), "previous_message": previous}

    def _app_mention_event(self, channel: JSON, message: JSON) -> JSON:
        keys = ("user", "text", "ts", "team", "blocks", "client_msg_id", "thread_ts", "files")
        event = {"type": "app_mention", **{k: copy.deepcopy(message[k]) for k in keys if k in message}}
        return {**event, "channel": channel["id"], "event_ts": message["ts"]}

    def _echo(self, event: JSON) -> None:
        """Deliver an event about the bot's own action in the background, like Slack does."""
        if self.echo_bot_messages and self._session is not None and (self.app_request_url or self._socket_mode()):
            task = asyncio.get_running_loop().create_task(self.deliver_event(event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _bot_message(self, channel_id: str, text: str, *, blocks: list[JSON] | None = None,
                     thread_ts: str | None = None, files: list[JSON] | None = None, broadcast: bool = False) -> JSON:
        """Store a message from the app's bot and echo it to the app, as Slack does."""
        message: JSON = {"type": "message", "text": text, "user": self.bot_user_id, "bot_id": self.bot_id,
                   "app_id": self.app_id, "ts": self._next_ts(), "team": self.team_id,
                   "bot_profile": {"id": self.bot_id, "app_id": self.app_id, "name": "imagebot",
                                   "team_id": self.team_id, "deleted": False}}
        if blocks is not None:
            message["blocks"] = blocks
        if broadcast:
            message["subtype"] = "thread_broadcast"
        self._store(channel_id, message, thread_ts, files or [])
        self._echo(self._message_event(self.channels[channel_id], message))
        return message

    async def post_message(self, user_id: str, channel_id: str, text: str, *, thread_ts: str | None = None,
                           files: Sequence[tuple[str, bytes, str]] = (), subtype: str | None = None,
                           bot_id: str | None = None, team_id: str | None = None) -> JSON:
        """A user (or, with bot_id, another bot) posts; the app gets the event(s). files: (name, bytes, mimetype)."""
        channel = self.channels[channel_id]
        if user_id not in self.users:
            raise KeyError(f"unknown user {user_id}")
        if not self.app_request_url and not self._socket_mode():
            raise RuntimeError("set app_request_url (or connect a Socket Mode app) before post_message: "
                               "it delivers the event to the app")
        if thread_ts and self._find(channel_id, thread_ts) is None:
            raise ValueError(f"no message {thread_ts} in {channel_id} to reply to")
        root = self._thread_root(channel_id, thread_ts)
        stored = [self._store_file(self._new_id("F"), name, data, user=user_id, mimetype=mimetype or None)
                  for name, data, mimetype in files]
        message: JSON = {"type": "message", "text": text, "user": user_id, "ts": self._next_ts(),
                   "team": team_id or self.team_id,
                   "client_msg_id": str(uuid.uuid4())}
        if text:
            message["blocks"] = rich_text(text)
        if subtype:
            message["subtype"] = subtype
        if bot_id:
            message["bot_id"] = bot_id
        self._store(channel_id, message, root, stored)
        await self.deliver_event(self._message_event(channel, message))
        if f"<@{self.bot_user_id}>" in text and not channel["is_im"]:  # DMs never produce app_mention
            await self.deliver_event(self._app_mention_event(channel, message))
        return message

    async def open_home(self, user_id: str, *, tab: str = "home") -> Delivery:
        """The user opens the app's Home tab (or, with tab="messages", its Messages tab): `app_home_opened`.
        As from Slack, the event names the app's DM with the user and carries the Home view published before."""
        event = {"type": "app_home_opened", "user": user_id, "channel": self._channel(user_id)["id"], "tab": tab,
                 "event_ts": self._next_ts()}
        if user_id in self.home_views:
            event["view"] = copy.deepcopy(self.home_views[user_id])
        return await self.deliver_event(event)
