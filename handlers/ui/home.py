"""The App Home tab, built by a pure function from a plain summary (no Slack calls, no database).

A Home view is `{"type": "home", "blocks": [...]}` published with views.publish for one user; it takes up to
100 blocks (https://docs.slack.dev/surfaces/app-home) and only that user sees it, so it may show their spend.
Times are Slack date tokens (`<!date^…>`), which each viewer's client renders in their own time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.money.pricing import format_usd
from bot.usecases.home import HomeSummary
from handlers.ui.blocks import SECTION_LIMIT, clip, context, escape, section
from storage.records import RecentImage

HOME_CALLBACK = "imagebot_home"
HOME_BLOCK_LIMIT = 100
PROMPT_PREVIEW = 300  # characters of a prompt shown in the list (the thread has the rest)
BAR_WIDTH = 10


def build_home(summary: HomeSummary) -> dict[str, Any]:
    """The user's App Home: what imagebot does and how, their spend and budgets, their latest images."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "imagebot", "emoji": True}},
        section("Pictures from OpenAI's GPT Image models, right in Slack. Every image shows what it cost."),
        section(
            "*How to use it*\n"
            "• `/image a lighthouse at dusk` in any channel I'm in: I post a card and the image in its thread. "
            "`/image` alone opens a form.\n"
            "• *Reply in that thread* to edit: `make the sky purple`. `undo`, `use v2` and `v2: make it red` pick "
            "the version to work on; `grid` then `C2-D3: add a balloon` edits one part.\n"
            "• Attach images to a reply to use them as references, or mention me with an image to start a thread.\n"
            "• Options: `--size square|portrait|landscape`, `--quality low|medium|high`, `--n 1-4`, "
            "`--transparent`, `--format png|jpeg|webp`, `--model NAME`. `/image help` lists them all."),
        {"type": "divider"},
        {"type": "header", "text": {"type": "plain_text", "text": "Your spend", "emoji": True}},
        section(_spend_text(summary)),
    ]
    if summary.offline:
        blocks.append(context("imagebot is using its offline renderer: costs are what the model would charge; "
                               "nothing is billed."))
    blocks += [
        {"type": "divider"},
        {"type": "header", "text": {"type": "plain_text", "text": "Your recent images", "emoji": True}},
    ]
    if not summary.recent:
        blocks.append(section("None yet. Try `/image a lighthouse at dusk, oil painting` in a channel I'm in."))
    for item in summary.recent:
        blocks.append(section(_recent_text(item)))
        blocks.append(context(_recent_footnote(item)))
    blocks.append(context("Only you can see this page. `/image usage` in a channel also shows that channel's "
                           "budget."))
    return {"type": "home", "callback_id": HOME_CALLBACK, "blocks": blocks[:HOME_BLOCK_LIMIT]}


def slack_date(moment: datetime, fallback_format: str = "%Y-%m-%d %H:%M UTC") -> str:
    """A Slack date token: shown in each viewer's own time zone, with a UTC fallback for old clients."""
    fallback = moment.astimezone(UTC).strftime(fallback_format)
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _spend_text(summary: HomeSummary) -> str:
    lines = [f"*{format_usd(summary.month_micro)}* this month ({summary.month_label}), "
             f"{format_usd(summary.today_micro)} of it today."]
    for line in summary.budgets:
        budget = line.budget
        owner = "Your" if budget.scope == "user" else "The workspace's"
        lines.append(f"{owner} {budget.period} budget: *{format_usd(line.left_micro)} left* of "
                     f"{format_usd(budget.limit_micro)} {_bar(line.spent_micro, budget.limit_micro)}, "
                     f"resets {slack_date(line.resets_at)}")
    if not summary.budgets:
        lines.append("No budget applies to you.")
    lines.append(f"_Days and months follow {summary.timezone}._")
    return "\n".join(lines)


def _bar(spent: int, limit: int) -> str:
    """`▰▰▰▱▱▱▱▱▱▱ 30 % used`: a budget's use at a glance (over 100 % when estimates ran short)."""
    percent = 100 if limit <= 0 else spent * 100 // limit
    filled = min(BAR_WIDTH, percent * BAR_WIDTH // 100)
    return f"`{'▰' * filled}{'▱' * (BAR_WIDTH - filled)}` {percent} % used"


def _where(channel_id: str) -> str:
    # A DM's id is not a channel Slack can mention: "<#D…>" renders as an unreadable link.
    return "our direct messages" if channel_id.startswith("D") else f"<#{channel_id}>"


def _recent_text(item: RecentImage) -> str:
    label = " ".join(f"*{v}*" for v in item.versions) or ("*edit*" if item.kind == "edit" else "*image*")
    prompt = escape(clip(" ".join(item.prompt.split()), PROMPT_PREVIEW)) or "_(no prompt)_"
    verb = "edited" if item.kind == "edit" else "made"
    when = slack_date(datetime.fromisoformat(item.created_at))
    return clip(f"{label} {verb} in {_where(item.channel_id)}, {when}\n> {prompt}", SECTION_LIMIT)


def _recent_footnote(item: RecentImage) -> str:
    parts = [item.model, item.size, item.quality]
    if item.images > 1:
        parts.append(f"{item.images} images")
    cost = format_usd(item.cost_micro)
    parts.append(f"{cost} (offline render, nothing billed)" if item.provider == "offline" else cost)
    return " · ".join(parts)
