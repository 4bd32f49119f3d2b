"""Pure helpers: requests read, message content checked against a few Slack limits, and the shapes Slack
gives messages and files."""

from __future__ import annotations

import copy
import io
import json
import re
import secrets
from typing import Any

from aiohttp import web

from standins.slack.records import JSON, ApiError, Delivery

MAX_TEXT = 40_000  # longer message text is truncated (api.slack.com changelog 2018-04)
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
_MENTION = re.compile(r"<@([UWB][A-Z0-9]+)(?:\|[^>]*)?>")


def bearer(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        return None
    return auth[len("Bearer "):].strip() or None


async def read_params(request: web.Request) -> JSON:
    """Query string merged with a JSON or form body (AsyncWebClient sends some methods' params in the query)."""
    params: dict[str, Any] = dict(request.query)
    if not request.body_exists:
        return params
    if request.content_type == "application/json":
        body = decode_json(await request.text())
        if not isinstance(body, dict):
            raise ApiError("invalid_json")
        params.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        params.update({k: v.filename if isinstance(v, web.FileField) else v for k, v in form.items()})
    return params


async def read_upload(request: web.Request) -> bytes:
    """Raw bytes, or the (single) file part of a multipart upload."""
    if not request.content_type.startswith("multipart/"):
        return await request.read()
    reader = await request.multipart()
    first = None
    async for part in reader:
        # A part may itself be multipart (MultipartReader has no read()); Slack's uploads never nest.
        data = await part.read()  # type: ignore[union-attr]
        if getattr(part, "filename", None):
            return bytes(data)
        first = bytes(data) if first is None else first
    return first or b""


def ack_payload(delivery: Delivery) -> JSON | None:
    if delivery.status != 200 or not delivery.response_text.strip():
        return None
    if delivery.transport == "socket":  # the ack's payload, always an object
        decoded = decode_json(delivery.response_text)
        return decoded if isinstance(decoded, dict) else None
    content_type = next((v for k, v in delivery.response_headers.items() if k.lower() == "content-type"), "")
    if content_type.startswith("application/json"):
        decoded = decode_json(delivery.response_text)
        if isinstance(decoded, dict):
            return decoded
    return {"text": delivery.response_text}


def message_content(p: JSON) -> tuple[str, list[JSON] | None]:
    text, blocks = p.get("text") or "", decode_blocks(p.get("blocks"))
    if not text and not blocks and not p.get("attachments"):
        raise ApiError("no_text")
    return text, blocks


def decode_blocks(value: Any) -> list[JSON] | None:
    """`blocks` as a JSON string (form posts) or a list (JSON posts), checked against a few Block Kit limits."""
    if value is None:
        return None
    blocks = decode_json(value) if isinstance(value, str) else value
    if not isinstance(blocks, list) or not all(isinstance(b, dict) and "type" in b for b in blocks):
        raise ApiError("invalid_blocks_format")
    problems = []
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"must be less than {MAX_BLOCKS + 1} items [json-pointer:/blocks]")
    for i, block in enumerate(blocks):
        text = block.get("text")
        if block["type"] == "section" and isinstance(text, dict) and len(text.get("text", "")) > MAX_SECTION_TEXT:
            problems.append(f"must be less than {MAX_SECTION_TEXT + 1} characters "
                            f"[json-pointer:/blocks/{i}/text/text]")
    if problems:
        raise ApiError("invalid_blocks", errors=problems,
                        response_metadata={"messages": [f"[ERROR] {m}" for m in problems]})
    return blocks


def decode_json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return None


def truncate(text: str) -> tuple[str, bool]:
    return (text[:MAX_TEXT], True) if len(text) > MAX_TEXT else (text, False)


def truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)


def rich_text(text: str) -> list[JSON]:
    """The rich_text block Slack clients attach to what a user types, with <@U…> as user elements."""
    elements, pos = [], 0
    for match in _MENTION.finditer(text):
        if match.start() > pos:
            elements.append({"type": "text", "text": text[pos:match.start()]})
        elements.append({"type": "user", "user_id": match.group(1)})
        pos = match.end()
    if pos < len(text):
        elements.append({"type": "text", "text": text[pos:]})
    return [{"type": "rich_text", "block_id": secrets.token_hex(2),
             "elements": [{"type": "rich_text_section", "elements": elements}]}]


def in_message(file: JSON) -> JSON:
    """A file object as embedded in messages and events (sharing details are only in files.info)."""
    return {k: copy.deepcopy(v) for k, v in file.items() if k not in ("channels", "groups", "ims", "shares")}


def sniff_mimetype(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:  # not an image Pillow can read: no original_w/original_h, like Slack
        return None


def short(params: JSON) -> str:
    text = json.dumps(params, default=str)
    return text if len(text) <= 160 else text[:157] + "..."
