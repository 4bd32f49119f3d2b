"""`imagebot demo`: a scripted conversation through the real app, offline.

It starts the Slack stand-in and the real imagebot app (HTTP mode, signed requests, the offline image
renderer), then plays what people would do in Slack: a /image request, an edit by thread reply, an edit
with an attached reference image, and a mistyped option. It prints the channel as a user would see it
and writes the images and an HTML transcript to a folder.
"""

from __future__ import annotations

import asyncio
import html
import io
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from bot.settings import Settings
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace, settings_for

CHANNEL = "C0GENERAL"


def _reference_image() -> bytes:
    """A red balloon on white, the reference image the demo attaches to a reply."""
    image = Image.new("RGB", (512, 512), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((156, 60, 356, 300), fill=(220, 30, 40), outline=(120, 0, 0), width=6)
    draw.line((256, 300, 236, 480), fill=(60, 60, 60), width=4)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _fresh_folder(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    (out / "images").mkdir(parents=True)


async def run_demo(settings: Settings, out: Path) -> int:
    await asyncio.to_thread(_fresh_folder, out)
    slack = SlackStandIn(signing_secret=secrets.token_hex(16))
    await slack.start()
    demo_settings = settings_for(slack, out / "data", settings, provider="offline")
    workspace = LocalWorkspace(demo_settings, slack)
    try:
        await workspace.start()
        print(f"imagebot demo: the real app on {slack.app_request_url}, a local Slack stand-in, offline images.\n")

        await slack.send_command("U0ALICE", CHANNEL, "a lighthouse at dusk, oil painting --size landscape")
        await workspace.settle()
        card = _first_bot_card(slack)
        thread_ts = card["ts"]

        await slack.post_message("U0ALICE", CHANNEL, "make the sky purple", thread_ts=thread_ts)
        await workspace.settle()

        await slack.post_message("U0BOB", CHANNEL, "add this red balloon above the lighthouse", thread_ts=thread_ts,
                                 files=[("balloon.png", _reference_image(), "image/png")])
        await workspace.settle()

        # A region edit (the top-right quarter of a 4x4 grid), then undo: the context goes back to v3.
        await slack.post_message("U0ALICE", CHANNEL, "C1-D2: add a full moon", thread_ts=thread_ts)
        await workspace.settle()
        await slack.post_message("U0ALICE", CHANNEL, "undo", thread_ts=thread_ts)
        await workspace.settle()

        # Bob presses Variations under v4: three more of that request, as v5a, v5b, v5c.
        await slack.send_interaction(_press(slack, thread_ts, "v4", "imagebot_variations", "U0BOB"))
        await workspace.settle()

        await slack.send_command("U0BOB", CHANNEL, "a cat --size enormous")
        await workspace.settle()

        # An admin (a workspace admin in the stand-in) asks where the money went.
        await slack.send_command("U0ADMIN", CHANNEL, "report today", command="/image-admin")
        await workspace.settle()

        lines, html_body = _transcript(slack, out)
        print("\n".join(lines))
        (out / "transcript.html").write_text(_page(html_body), encoding="utf-8")
        print(f"\nWrote the images to {out / 'images'} and the transcript to {out / 'transcript.html'}")
        print(f"imagebot's own data (SQLite ledger, stored images) is in {out / 'data'}")
        return 0
    finally:
        await workspace.stop()
        await slack.stop()


def _press(slack: SlackStandIn, thread_ts: str, version: str, action_id: str, user: str) -> dict[str, Any]:
    """The block_actions payload Slack sends when `user` presses a result button under `version`."""
    for message in slack.thread(CHANNEL, thread_ts):
        for block in message.get("blocks") or []:
            named = block.get("block_id", "").split(":")[1:2]  # imagebot_result:v4 (or v5a,v5b,v5c)[:image id]
            if block.get("type") == "actions" and named and version in named[0].split(","):
                button = next(b for b in block["elements"] if b["action_id"] == action_id)
                return {"type": "block_actions", "user": {"id": user, "team_id": slack.team_id},
                        "team": {"id": slack.team_id}, "channel": {"id": CHANNEL}, "trigger_id": f"demo-{version}",
                        "container": {"type": "message", "message_ts": message["ts"], "channel_id": CHANNEL,
                                      "thread_ts": thread_ts},
                        "message": message, "response_url": slack.new_response_url(user, CHANNEL),
                        "actions": [{"action_id": action_id, "value": button["value"], "type": "button",
                                     "block_id": block["block_id"], "action_ts": "1.0"}]}
    raise RuntimeError(f"no buttons under {version}")


def _first_bot_card(slack: SlackStandIn) -> dict[str, Any]:
    for message in slack.messages(CHANNEL):
        if message.get("bot_id") and message.get("thread_ts", message["ts"]) == message["ts"]:
            return message
    raise RuntimeError("imagebot posted no card: see the log above")


def _name(slack: SlackStandIn, message: dict[str, Any]) -> str:
    if message.get("bot_id"):
        return "imagebot"
    user = slack.users.get(message.get("user", ""), {})
    return str(user.get("name") or message.get("user") or "someone")


def _plain(text: str, slack: SlackStandIn | None = None) -> str:
    """Mentions as Slack shows them (@alice, #general), Slack's escapes undone."""
    users = slack.users if slack else {}
    channels = slack.channels if slack else {}
    text = re.sub(r"<@([A-Z0-9]+)>", lambda m: "@" + str(users.get(m.group(1), {}).get("name", m.group(1))), text)
    text = re.sub(r"<#([A-Z0-9]+)(?:\|([^>]*))?>",
                  lambda m: "#" + (m.group(2) or str(channels.get(m.group(1), {}).get("name", m.group(1)))), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


EMOJI = {"white_check_mark": "\u2705", "warning": "\u26a0\ufe0f", "leftwards_arrow_with_hook": "\u21a9\ufe0f",
         "hourglass": "\u231b", "hourglass_flowing_sand": "\u23f3", "moneybag": "\U0001f4b0", "x": "\u274c",
         "no_entry": "\u26d4", "no_entry_sign": "\U0001f6ab", "frame_with_picture": "\U0001f5bc\ufe0f"}
_CODE = re.compile(r"`([^`\n]+)`")
_MARKS = [(re.compile(rf"(^|[\s(\x02>]){mark}([^\s{mark}](?:[^{mark}\n]*?[^\s{mark}])?){mark}(?=$|[\s).,!?:;\x01<])"),
           tag) for mark, tag in ((r"\*", "b"), ("_", "i"), ("~", "s"))]


def _mrkdwn_html(text: str) -> str:
    """Plain text with Slack's mrkdwn (https://docs.slack.dev/messaging/formatting-message-text) as HTML: *bold*,
    _italic_ and ~strike~ (also around `code`), `code`, "> " quotes, :emoji:."""
    return "<br>\n".join(f"<blockquote>{_mrkdwn_line(line[2:])}</blockquote>" if line.startswith("> ")
                         else _mrkdwn_line(line) for line in text.split("\n"))


def _mrkdwn_line(line: str) -> str:
    """One line: code and emoji are set aside (\\x01N\\x02) while the marks apply, so marks may wrap them."""
    kept: list[str] = []

    def keep(piece: str) -> str:
        kept.append(piece)
        return f"\x01{len(kept) - 1}\x02"

    body = _CODE.sub(lambda m: keep(f"<code>{html.escape(m.group(1))}</code>"), line)
    body = re.sub(r":([a-z_]+):", lambda m: keep(EMOJI[m.group(1)]) if m.group(1) in EMOJI else m.group(0),
                  html.escape(body, quote=False))
    for pattern, tag in _MARKS:
        body = pattern.sub(rf"\1<{tag}>\2</{tag}>", body)
    return re.sub("\x01(\\d+)\x02", lambda m: kept[int(m.group(1))], body)


def _message_text(message: dict[str, Any], slack: SlackStandIn) -> str:
    """What Slack shows: the blocks' text when there are blocks, otherwise the text."""
    parts = []
    for block in message.get("blocks") or []:
        if block.get("type") == "actions":
            continue
        if block.get("type") == "section":
            if "text" in block:
                parts.append(block["text"]["text"])
            parts.extend(field["text"].replace("\n", " ") for field in block.get("fields", []))
        elif block.get("type") == "context":
            parts.extend(element.get("text", "") for element in block.get("elements", []))
        elif block.get("type") == "image":  # the card's picture: the thread's current version
            parts.append(f"[picture: {(block.get('title') or {}).get('text') or block.get('alt_text', '')}]")
    return _plain("\n".join(parts) if parts else message.get("text", ""), slack)


def _transcript(slack: SlackStandIn, out: Path) -> tuple[list[str], str]:
    """The channel in order: each command, then its private answer or its card with the thread under it."""
    lines = ["#general, as people see it:"]
    chunks: list[str] = []
    cards = [m for m in slack.messages(CHANNEL) if m.get("bot_id") and m.get("thread_ts", m["ts"]) == m["ts"]
             and "asked for an image" in m.get("text", "")]
    for command in (d for d in slack.deliveries if d.kind == "command"):
        user = slack.users[command.payload["user_id"]]["name"]
        typed = f"{command.payload['command']} {command.payload['text']}"
        lines += ["", f"{user}: {typed}"]
        chunks.append(f"<p class='cmd'><b>{html.escape(user)}</b>: <code>{html.escape(typed)}</code></p>")
        reply = _plain(command.response_text.strip(), slack)
        if command.payload["command"] == "/image-admin":
            _report(slack, out, lines, chunks)
            continue
        if reply:
            lines.append(f"  (only {user} sees this) imagebot: {reply}")
            chunks.append(f"<p class='eph'>Only visible to {html.escape(user)}: {_mrkdwn_html(reply)}</p>")
            continue
        if not cards:
            continue
        card = cards.pop(0)
        lines.append("imagebot: " + _message_text(card, slack).replace("\n", "\n          "))
        chunks.append(f"<div class='card'><b>imagebot</b><div>{_mrkdwn_html(_message_text(card, slack))}</div>")
        for reply_message in slack.thread(CHANNEL, card["ts"])[1:]:
            text = _message_text(reply_message, slack)
            name = _name(slack, reply_message)
            buttons = [e["text"]["text"] for b in reply_message.get("blocks") or [] if b.get("type") == "actions"
                       for e in b["elements"]]
            if buttons:
                text = f"{reply_message.get('text', '')} [{' · '.join(dict.fromkeys(buttons))}]"
            lines.append(f"  └ {name}: " + text.replace("\n", "\n" + " " * (len(name) + 6)))
            chunks.append(f"<div class='reply'><b>{html.escape(name)}</b>: {_mrkdwn_html(text)}")
            for file in reply_message.get("files") or []:
                target = out / "images" / file["name"]
                target.write_bytes(slack.file_bytes(file["id"]))
                with Image.open(target) as image:
                    size = f"{image.width}x{image.height}"
                lines.append(f"      [image {size}] {target.relative_to(out)}")
                chunks.append(f"<br><img src='images/{html.escape(file['name'])}' alt='{html.escape(file['title'])}'>")
            chunks.append("</div>")
        chunks.append("</div>")
    return lines, "\n".join(chunks)


def _report(slack: SlackStandIn, out: Path, lines: list[str], chunks: list[str]) -> None:
    """The admin report as posted in the channel: its text, the chart and the CSV beside it."""
    for message in slack.messages(CHANNEL):
        if "imagebot spend" in message.get("text", ""):
            text = _message_text(message, slack)
            lines.append("imagebot: " + text.replace("\n", "\n          "))
            chunks.append(f"<div class='card'><b>imagebot</b><div>{_mrkdwn_html(text)}</div>")
        for file in message.get("files") or []:
            if file["name"].startswith("imagebot-report-"):
                target = out / file["name"]
                target.write_bytes(slack.file_bytes(file["id"]))
                lines.append(f"      [{'chart' if target.suffix == '.png' else 'CSV'}] {target.relative_to(out)}")
                if target.suffix == ".png":
                    chunks.append(f"<img src='{html.escape(file['name'])}' alt='{html.escape(file['title'])}'>")
    chunks.append("</div>")


def _page(body: str) -> str:
    return f"""<!doctype html>
<html lang="en"><meta charset="utf-8"><title>imagebot demo transcript</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; max-width: 900px; margin: 2em auto; color: #1d1c1d; }}
.card {{ border: 1px solid #ddd; border-radius: 8px; padding: .5em 1em; margin: 1em 0; }}
.reply {{ margin: .8em 0 .8em 1.5em; border-left: 3px solid #e8e8e8; padding-left: .8em; }}
.eph {{ color: #616061; font-style: italic; }}
img {{ max-width: 100%; border-radius: 6px; margin-top: .4em; }}
code {{ font: 13px Menlo, Consolas, monospace; background: #f6f6f6; border: 1px solid #e0e0e0; border-radius: 3px;
  padding: 0 3px; color: #e01e5a; }}
blockquote {{ margin: 0; border-left: 4px solid #ddd; padding-left: 8px; }}
</style>
<h1>imagebot demo: #general</h1>
{body}
</html>
"""
