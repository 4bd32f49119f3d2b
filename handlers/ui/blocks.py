"""Block Kit and message text, built by pure functions that return plain dicts and strings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.models import ImageOptions
from bot.money.billing import estimated_note
from bot.money.pricing import format_usd
from storage.records import Spend

# Slack limits (https://docs.slack.dev/reference/block-kit/blocks): section text ≤ 3000, fallback text ≤ 40,000.
SECTION_LIMIT = 3000
CARD_BLOCK_ID = "imagebot_card"  # the card's first block: how a thread's parent is known to be a card
CARD_IMAGE_BLOCK_ID = "imagebot_card_image"  # the card's picture: the thread's current image
CARD_STATUS_BLOCK_ID = "imagebot_card_status"  # the card's last line: how the request is going


@dataclass(frozen=True)
class CardImage:
    """The picture a card shows: an uploaded Slack file (PNG, JPEG or GIF) and the version it is (v3, v3b)."""

    file_id: str
    label: str
    alt_text: str = ""


@dataclass(frozen=True)
class Footnote:
    """Everything a cost footnote shows; built from the core's `Delivered`."""

    provider: str
    model: str
    size: str
    quality: str
    images: int
    input_text_tokens: int | None
    input_image_tokens: int | None
    output_tokens: int | None
    cost_micro: int | None
    thread: Spend
    user_month_micro: int | None = None
    budgets_left: tuple[tuple[str, int, int], ...] = ()  # (label, left, limit)
    notes: tuple[str, ...] = ()
    versions: tuple[str, ...] = ()  # v3, or v3a, v3b…
    base_version: str | None = None  # what an edit started from
    next_edit: str | None = None  # the version the next edit will use


def escape(text: str) -> str:
    """Slack's escaping for text an app posts: user text must not become a mention, a link or markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(text: str) -> dict[str, Any]:
    """A mrkdwn section, clipped to what Slack accepts."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}}


def context(text: str) -> dict[str, Any]:
    """A one-element mrkdwn context line (small grey text), clipped to what Slack accepts."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}]}


def settings_line(options: ImageOptions) -> str:
    parts = [options.model, options.size, options.quality]
    if options.n > 1:
        parts.append(f"{options.n} images")
    if options.transparent:
        parts.append("transparent")
    if options.output_format != "png":
        parts.append(options.output_format)
    return " · ".join(parts)


def build_card(user_id: str, prompt: str, options: ImageOptions, status: str,
               image: CardImage | None = None, *, workflow: bool = False) -> tuple[str, list[dict[str, Any]]]:
    """The visible card a /image request posts in the channel; its thread holds the images, and the card shows the
    thread's current one (`image`) once there is one. A Workflow Builder step's card says it came from a workflow
    (its user ran the workflow; they did not type the prompt)."""
    quoted = "\n".join(f"> {escape(line)}" if line else ">" for line in prompt.splitlines()) or ">"
    asked = f"<@{user_id}> asked for an image{' with a workflow' if workflow else ''}"
    head = f"*{asked}*\n"
    blocks: list[dict[str, Any]] = [
        {**section(head + quoted), "block_id": CARD_BLOCK_ID},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": settings_line(options)}]},
        {**context(status), "block_id": CARD_STATUS_BLOCK_ID},
    ]
    return clip(f"{asked}: {escape(prompt)}", 3000), with_card_image(blocks, image)


def is_card(message_blocks: list[dict[str, Any]] | None) -> bool:
    """Whether a message's blocks are a card (build_card's): its first block carries the card's block_id."""
    return bool(message_blocks and message_blocks[0].get("block_id") == CARD_BLOCK_ID)


def with_card_image(card: list[dict[str, Any]], image: CardImage | None) -> list[dict[str, Any]]:
    """A card's blocks showing `image` under the prompt, in place of the picture it showed; None: no picture."""
    kept = [block for block in card if block.get("block_id") != CARD_IMAGE_BLOCK_ID]
    if image is None:
        return kept
    # https://docs.slack.dev/reference/block-kit/blocks/image-block: alt_text and title ≤ 2000 characters.
    picture = {"type": "image", "block_id": CARD_IMAGE_BLOCK_ID, "slack_file": {"id": image.file_id},
               "alt_text": clip(image.alt_text.strip() or image.label, 2000),
               "title": {"type": "plain_text", "text": clip(image.label, 2000)}}
    return [*kept[:1], picture, *kept[1:]]


def with_card_status(card: list[dict[str, Any]], status: str) -> list[dict[str, Any]]:
    """A card's blocks with `status` as its status line (a card without one is left as it is)."""
    return [{**context(status), "block_id": CARD_STATUS_BLOCK_ID} if block.get("block_id") == CARD_STATUS_BLOCK_ID
            else block for block in card]


def status_working(kind: str = "generate") -> str:
    return ":hourglass_flowing_sand: Generating…" if kind == "generate" else ":hourglass_flowing_sand: Editing…"


def status_queued(ahead: int) -> str:
    requests = "request" if ahead == 1 else "requests"
    return f":hourglass: Queued: {ahead} {requests} ahead of yours."


def status_done(images: int, cost_micro: int | None, provider: str) -> str:
    noun = "image" if images == 1 else "images"
    cost = format_usd(cost_micro)
    billed = f"{cost} (offline: nothing billed)" if provider == "offline" else cost
    return f":white_check_mark: Done: {images} {noun} in the thread, {billed}. Reply in the thread to edit it."


def status_showing(label: str) -> str:
    """The card's status once it shows a later version than its own request made: the first "Done: …" (its
    count and cost) would no longer describe the picture above it; each version's cost is in its footnote."""
    return f":white_check_mark: Showing {escape(label)}, the thread's current image. Reply in the thread to edit it."


def status_uploaded(images: int) -> str:
    noun = "image is" if images == 1 else f"{images} images are"
    return f":white_check_mark: Done: the {noun} in the thread, uploaded again. Reply in the thread to edit it."


def status_failed(reason: str) -> str:
    return f":warning: {clip(reason, 400)}"


def footnote_text(note: Footnote) -> str:
    """The cost footnote under each result, read at a glance: a first line with the version, model, size, quality
    and what this call cost ("offline, not billed" for the offline renderer); a quieter (italic) second line with
    the tokens, the thread so far, the user's month and budgets; then where the next edit starts, and notes."""
    head = []
    if note.versions:
        made = "/".join(note.versions)
        head.append(f"*{made}*" + (f" (from {note.base_version})" if note.base_version else ""))
    label = "this image" if note.images == 1 else f"these {note.images} images"
    head += [note.model, note.size, note.quality, f"{label}: {format_usd(note.cost_micro)}"]
    if note.provider == "offline":
        head.append("offline, not billed")
    text = " · ".join(head) + "\n_" + " · ".join(_spend_parts(note)) + "_"
    if note.next_edit:
        others = " (reply `use b` for another)" if len(note.versions) > 1 else ""
        text += f"\n_Next edit uses {note.next_edit}{others}; reply `undo` or `use v1` to go back._"
    for extra in note.notes:
        text += f"\n_{escape(extra)}_"
    return text


def _spend_parts(note: Footnote) -> list[str]:
    """The footnote's second line: tokens, the thread so far, the user's month, the budgets left."""
    if note.output_tokens is None:
        parts = ["usage not reported"]
    else:
        inputs = [f"{note.input_text_tokens or 0:,} text"]
        if note.input_image_tokens:
            inputs.append(f"{note.input_image_tokens:,} image")
        parts = [f"tokens: {' + '.join(inputs)} in, {note.output_tokens:,} out"]
    thread = format_usd(note.thread.micro)
    if note.thread.unknown:
        thread = f"≥ {thread} ({note.thread.unknown} call{'s' if note.thread.unknown > 1 else ''} price unknown)"
    parts.append(f"thread so far: {thread}")
    if note.user_month_micro is not None:
        parts.append(f"your month: {format_usd(note.user_month_micro)}")
    parts += [f"{label}: {format_usd(left)} left of {format_usd(limit)}" for label, left, limit in note.budgets_left]
    return parts


def build_notice(text: str, *, button: tuple[str, str, str] | None = None) -> list[dict[str, Any]]:
    """A message with an optional button: (label, action_id, value). The button's block_id is built from its
    action_id and value (a job id), so a press naming another request does not match the message it came from."""
    notice: list[dict[str, Any]] = [section(text)]
    if button is not None:
        label, action_id, value = button
        block_id = f"{action_id}:{value}"
        if len(block_id) > 255:  # Slack's block_id limit; a job id is far shorter
            raise ValueError(f"a block_id is {len(block_id)} characters; Slack allows 255")
        notice.append({"type": "actions", "block_id": block_id, "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": label}, "action_id": action_id, "value": value},
        ]})
    return notice


def budget_alert_text(owner: str, period: str, threshold: int, spent_micro: int, limit_micro: int) -> str:
    icon = ":rotating_light:" if threshold >= 100 else ":warning:"
    return (f"{icon} {owner} {period} imagebot budget is at {threshold}%: {format_usd(spent_micro)} of "
            f"{format_usd(limit_micro)} spent.")


def _lines(rows: list[Any], label: Any) -> str:
    return "\n".join(f"• {label(row.key)}: {format_usd(row.spend_micro)} ({row.requests:,} request"
                     f"{'s' if row.requests != 1 else ''})" for row in rows) or "• none"


def build_report(report: Any, *, asked_by: str | None) -> tuple[str, list[dict[str, Any]]]:
    """A usage report (bot/usecases/reports.py Report) as a message; the chart and CSV are uploaded beside it."""
    totals = report.totals
    what = f" for <#{report.channel_id}>" if report.channel_id else (f" for <@{report.user_id}>" if report.user_id
                                                                       else "")
    spend = format_usd(totals.spend_micro)
    if totals.offline_micro:
        spend += f" (of which {format_usd(totals.offline_micro)} offline renders, not billed)"
    if totals.unknown_cost:
        spend += f" + {totals.unknown_cost} call{'s' if totals.unknown_cost != 1 else ''} with no known price"
    if estimated_note(totals.estimated):
        spend += f"; it {estimated_note(totals.estimated)}"
    head = f"*imagebot spend{what}: {report.label}*"
    fields = [("Spend", spend), ("Images", f"{totals.images:,}"), ("Requests", f"{totals.requests:,}"),
              ("Failures", f"{totals.failures:,}")]
    report_blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": head}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in fields]},
        {"type": "section", "text": {"type": "mrkdwn", "text": clip(
            "*Top users*\n" + _lines(report.top_users, lambda k: f"<@{k}>"), SECTION_LIMIT)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": clip(
            "*Top channels*\n" + _lines(report.top_channels, lambda k: f"<#{k}>"), SECTION_LIMIT)}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": clip("*Per model*\n" + _lines(report.by_model, str), 2000)},
            {"type": "mrkdwn", "text": clip("*Per quality*\n" + _lines(report.by_quality, str), 2000)},
        ]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": (
            f"{f'Asked by <@{asked_by}>' if asked_by else 'Scheduled report'} · days in {report.timezone} · "
            "costs from each call's own usage; "
            "the chart and every ledger row (CSV) follow")}]},
    ]
    text = f"imagebot spend{what}, {report.label}: {format_usd(totals.spend_micro)}, {totals.images:,} images"
    return text, report_blocks


def build_progress(text: str, preview_file_id: str | None = None) -> list[dict[str, Any]]:
    """The status message while an image is made: a line of text, and the latest streamed preview if any."""
    progress: list[dict[str, Any]] = [{"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}]
    if preview_file_id:
        progress.append({"type": "image", "slack_file": {"id": preview_file_id}, "alt_text": "preview"})
    return progress
