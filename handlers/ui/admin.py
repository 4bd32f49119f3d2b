"""/image-admin's private answers, built by pure functions from what the admin use cases return
(bot/usecases/admin.py). The report itself is blocks.build_report."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.money.budgets import Budget
from bot.money.pricing import format_usd
from bot.rules.policy import Policy

ADMIN_HELP = (
    "*/image-admin* (imagebot admins only)\n"
    "• `report [today|7d|30d|month|YYYY-MM] [#channel|@user]`: spend, images, top users and channels, "
    "per model and quality, a chart and a CSV, posted here\n"
    "• `budget @user|#channel|workspace <dollars>|none [daily|monthly]`: set or remove a budget\n"
    "• `budget`: list the budgets in force\n"
    "• `policy #channel [quality=low|medium|high] [n=1-4] [models=a,b,…]|none`: a channel's caps\n"
    "• `report-channel [#channel|none]`: where scheduled reports and budget alerts go\n"
)
NOT_AN_ADMIN = "Only imagebot admins can use /image-admin."


def budget_holder(scope: str, target: str) -> str:
    """Whose budget it is: a mention, or each user / each channel / the workspace (no target)."""
    if not target:
        return {"user": "each user", "channel": "each channel", "workspace": "the workspace"}[scope]
    return f"<@{target}>" if scope == "user" else f"<#{target}>"


def budgets_text(budgets: list[Budget]) -> str:
    lines = [f"• {b.period.capitalize()}, {budget_holder(b.scope, b.target)}: {format_usd(b.limit_micro)}"
             f" ({'set here' if b.source == 'slack' else 'default, from the environment'})" for b in budgets]
    return "*Budgets in force*\n" + ("\n".join(lines) or "none")


def budget_set_text(scope: str, target: str, period: str, limit_micro: int | None) -> str:
    amount = "no budget" if limit_micro is None else format_usd(limit_micro)
    return f":white_check_mark: {period.capitalize()} budget for {budget_holder(scope, target)}: {amount}."


def policy_set_text(channel_id: str, policy: Policy | None) -> str:
    return f":white_check_mark: <#{channel_id}>: {policy.describe() if policy else 'no limits'}."


def report_channel_text(channel_id: str | None) -> str:
    """Where reports go now, as `report-channel` without a channel answers."""
    where = f"<#{channel_id}>" if channel_id else "no channel"
    return f"Scheduled reports and budget alerts go to {where}."


def report_channel_set_text(channel_id: str | None) -> str:
    where = (f"<#{channel_id}>" if channel_id
             else "no channel (the environment's default, if any, in a single workspace)")
    return f":white_check_mark: Scheduled reports and budget alerts go to {where}."


def report_not_posted_text(code: str) -> str:
    return f":warning: I could not post the report here (`{code}`). Invite me with `/invite @imagebot`."


def report_period(start: datetime, end: datetime) -> str:
    """The local days a report covers [start, end), for its files' names: `2026-12-06` for one day, `2026-10` for a
    whole calendar month, else `2026-11-30_to_2026-12-06` (the last day included)."""
    last = (end - timedelta(microseconds=1)).date() if end > start else start.date()
    first = start.date()
    if first == last:
        return f"{first:%Y-%m-%d}"
    if first.day == 1 and (last + timedelta(days=1)).day == 1 and (first.year, first.month) == (last.year, last.month):
        return f"{first:%Y-%m}"
    return f"{first:%Y-%m-%d}_to_{last:%Y-%m-%d}"


def report_file_names(start: datetime, end: datetime) -> tuple[str, str]:
    """The chart's and the CSV's names: one stem, named for the period, so they sort together in Slack's files."""
    stem = f"imagebot-report-{report_period(start, end)}"
    return f"{stem}-chart.png", f"{stem}-ledger.csv"
