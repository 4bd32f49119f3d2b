"""What people see in the Slack stand-in, for tests: cards, thread replies, their text; small fixtures."""

from __future__ import annotations

import hashlib
import io
from typing import Any

from PIL import Image

from standins.slack import SlackStandIn

CHANNEL = "C0GENERAL"


def cards(slack: SlackStandIn, channel: str = CHANNEL) -> list[dict[str, Any]]:
    """The bot's top-level messages: the cards /image posts."""
    return [m for m in slack.messages(channel) if m.get("bot_id") and m.get("thread_ts", m["ts"]) == m["ts"]]


def card_text(message: dict[str, Any]) -> str:
    """A message's Block Kit text as Slack shows it: sections and context lines."""
    parts = []
    for block in message.get("blocks") or []:
        if block["type"] == "section":
            parts.append(block["text"]["text"])
        elif block["type"] == "context":
            parts.extend(e["text"] for e in block["elements"])
    return "\n".join(parts)


def bot_replies(slack: SlackStandIn, thread_ts: str, channel: str = CHANNEL) -> list[dict[str, Any]]:
    return [m for m in slack.thread(channel, thread_ts)[1:] if m.get("bot_id")]


def image_replies(slack: SlackStandIn, thread_ts: str, channel: str = CHANNEL) -> list[dict[str, Any]]:
    return [m for m in bot_replies(slack, thread_ts, channel) if m.get("files")]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def png(color: str = "red", size: tuple[int, int] = (256, 256)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    """The image in `data`, fully decoded and detached from its file, with its format kept."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        copy = image.copy()
        copy.format = image.format
        return copy


def input_images(request: Any) -> list[tuple[str, str, bytes]]:
    """The input images of a recorded edit: one is sent as `image`, several as `image[]` (as the SDK sends them)."""
    return list(request.files.get("image[]") or request.files.get("image") or [])
