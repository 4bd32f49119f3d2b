"""The chat.* Web API methods: postMessage, update, postEphemeral."""

from __future__ import annotations

import copy

from standins.slack.delivery import AppDelivery
from standins.slack.payloads import decode_blocks, message_content, truncate, truthy
from standins.slack.records import JSON, ApiError


class ChatMethods(AppDelivery):
    """chat.postMessage, chat.update and chat.postEphemeral, as the bot token calls them."""

    def _chat_post_message(self, p: JSON) -> JSON:
        channel = self._channel(p.get("channel"))
        self._require_bot_member(channel)
        text, blocks = message_content(p)
        text, truncated = truncate(text)
        thread_ts = self._thread_root(channel["id"], p.get("thread_ts"))
        message = self._bot_message(channel["id"], text, blocks=blocks, thread_ts=thread_ts,
                                    broadcast=bool(thread_ts) and truthy(p.get("reply_broadcast")))
        body = {"channel": channel["id"], "ts": message["ts"], "message": copy.deepcopy(message)}
        if truncated:
            body.update(warning="message_truncated", response_metadata={"warnings": ["message_truncated"]})
        return body

    def _chat_update(self, p: JSON) -> JSON:
        channel = self._channel(p.get("channel"), allow_user=False)  # DMs must be given as D… ids
        message = self._find(channel["id"], p.get("ts"))
        if message is None:
            raise ApiError("message_not_found")
        if message.get("bot_id") != self.bot_id:
            raise ApiError("cant_update_message")
        text, blocks = p.get("text"), decode_blocks(p.get("blocks"))
        if not text and blocks is None and not p.get("attachments"):
            raise ApiError("no_text")
        previous = copy.deepcopy(message)
        if text is not None:
            message["text"], _ = truncate(text)
        if blocks is not None:
            message["blocks"] = blocks
        elif text is not None:
            message.pop("blocks", None)  # text without blocks drops the old blocks (chat.update docs)
        if blocks is None:  # Slack shows "(edited)" only for text edits, not block edits
            message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        self._echo(self._changed_event(channel, message, previous))
        return {"channel": channel["id"], "ts": message["ts"], "text": message["text"],
                "message": copy.deepcopy(message)}

    def _chat_post_ephemeral(self, p: JSON) -> JSON:
        channel = self._channel(p.get("channel"))
        self._require_bot_member(channel)
        user_id = p.get("user", "")
        if user_id not in self.users or user_id not in channel["members"]:
            raise ApiError("user_not_in_channel")
        text, blocks = message_content(p)
        message_ts = self._next_ts()
        self._add_ephemeral(channel["id"], user_id, {"text": truncate(text)[0], "blocks": blocks,
                                                     "thread_ts": p.get("thread_ts")}, "chat.postEphemeral",
                            ts=message_ts)
        return {"message_ts": message_ts}
