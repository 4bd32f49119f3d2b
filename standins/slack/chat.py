"""The chat.* Web API methods: postMessage, update, postEphemeral."""

from __future__ import annotations

import copy

from standins.slack.delivery import AppDelivery
from standins.slack.payloads import decode_blocks, message_content, truncate, truthy
from standins.slack.records import JSON, ApiError

DRAWN = ("image/png", "image/jpeg", "image/gif")  # what an image block draws (no WEBP, no SVG)


class ChatMethods(AppDelivery):
    """chat.postMessage, chat.update and chat.postEphemeral, as the bot token calls them."""

    def _chat_post_message(self, p: JSON) -> JSON:
        channel = self._channel(p.get("channel"))
        self._require_bot_member(channel)
        text, blocks = message_content(p)
        self._check_images(blocks)
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
        self._check_images(blocks)
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

    def _check_images(self, blocks: list[JSON] | None) -> None:
        """Image blocks with `slack_file`, as Slack checks them: an uploaded PNG, JPEG or GIF the bot can see, named
        by id or by url (url_private or permalink), not both; and not one Slack is still processing (see
        `delay_file_processing`). Else invalid_blocks, "invalid slack file", with a pointer to the block."""
        problems = []
        for i, block in enumerate(blocks or []):
            if block.get("type") != "image":
                continue
            if not block.get("alt_text"):
                problems.append(f"missing required field: alt_text [json-pointer:/blocks/{i}]")
            if "slack_file" in block and not self._drawable(block["slack_file"]):
                problems.append(f"invalid slack file [json-pointer:/blocks/{i}/slack_file]")
        if problems:
            raise ApiError("invalid_blocks", errors=problems,
                           response_metadata={"messages": [f"[ERROR] {m}" for m in problems]})

    def _drawable(self, ref: object) -> bool:
        if not isinstance(ref, dict) or ("id" in ref) == ("url" in ref):
            return False
        file = self._files.get(ref["id"]) if "id" in ref else next(
            (f for f in self._files.values() if ref["url"] in (f["url_private"], f["permalink"])), None)
        if file is None or file["mimetype"] not in DRAWN or not self._bot_sees(file):
            return False
        if self._unprocessed.get(file["id"]):  # just uploaded: Slack has not processed it yet
            self._unprocessed[file["id"]] -= 1
            return False
        return True

    def _bot_sees(self, file: JSON) -> bool:
        """The bot's own upload (shared or not), or a file shared in a conversation the bot is in."""
        shared = [*file["channels"], *file["groups"], *file["ims"]]
        return file["user"] == self.bot_user_id or any(
            self.bot_user_id in self.channels[c]["members"] for c in shared if c in self.channels)
