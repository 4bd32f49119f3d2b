"""/image-admin (reports, budgets, channel policies) and /image usage.

Who is an admin: users in IMAGEBOT_ADMINS, plus the workspace's admins and owners (users.info), cached for
a few minutes. Every admin action is written to the audit table. Non-admins get a private refusal that
reveals nothing. The listener only acks; the work (users.info, queries, posting) runs in the background and
answers through the command's response_url or in the channel.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import InvalidOption, NotInstalled
from bot.money.budgets import PERIODS
from bot.money.pricing import format_usd, parse_usd
from bot.rules.policy import QUALITY_RANK
from bot.runtime.scheduler import PostReport
from bot.runtime.services import Services
from bot.usecases.reports import Report, build_report, build_report_between, render_chart, render_csv
from handlers.delivery import Flows
from handlers.ui import blocks
from storage.store import Store

ADMIN_CACHE_SECONDS = 300
log = logging.getLogger(__name__)
_USER_RE = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_CHANNEL_RE = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")

ADMIN_HELP = (
    "*/image-admin* (imagebot admins only)\n"
    "• `report [today|7d|30d|month|YYYY-MM] [#channel|@user]`: spend, images, top users and channels, "
    "per model and quality, a chart and a CSV, posted here\n"
    "• `budget @user|#channel|workspace <dollars>|none [daily|monthly]`: set or remove a budget\n"
    "• `budget`: list the budgets in force\n"
    "• `policy #channel [quality=low|medium|high] [n=1-4] [models=a,b,…]|none`: a channel's caps\n"
    "• `report-channel [#channel|none]`: where scheduled reports and budget alerts go\n"
)


class AdminCheck:
    """IMAGEBOT_ADMINS, or Slack's own admins and owners, cached briefly (admins rarely change)."""

    def __init__(self, services: Services, slack: Callable[[str], Awaitable[AsyncWebClient]]) -> None:
        self.listed = set(services.settings.admins)
        self.slack = slack  # the Web API client of a workspace
        self._cache: dict[tuple[str, str], tuple[float, bool]] = {}

    async def __call__(self, team_id: str, user_id: str) -> bool:
        if user_id in self.listed:
            return True
        cached = self._cache.get((team_id, user_id))
        if cached and time.monotonic() - cached[0] < ADMIN_CACHE_SECONDS:
            return cached[1]
        try:
            user = (await (await self.slack(team_id)).users_info(user=user_id))["user"]
        except SlackApiError:
            return False  # not cached: the next request asks again
        admin = bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        self._cache[(team_id, user_id)] = (time.monotonic(), admin)
        return admin


def parse_target(word: str) -> tuple[str, str]:
    """`@user`, `#channel` (as Slack escapes them) or `workspace` → (scope, target id)."""
    if word.lower() == "workspace":
        return "workspace", ""
    if match := _USER_RE.match(word):
        return "user", match.group(1)
    if match := _CHANNEL_RE.match(word):
        return "channel", match.group(1)
    raise InvalidOption(f"`{word}` is not @someone, #a-channel or `workspace`.")


def parse_dollars(word: str) -> int | None:
    try:
        return parse_usd(word)
    except ValueError:
        raise InvalidOption(f"`{word}` is not an amount in dollars such as 25 or 12.50 (or `none`).") from None


def _owner(scope: str, target: str) -> str:
    if not target:
        return {"user": "each user", "channel": "each channel", "workspace": "the workspace"}[scope]
    return f"<@{target}>" if scope == "user" else f"<#{target}>"


def _build(store: Store, team: str, spec: str, now: datetime, tz: ZoneInfo, channel_id: str | None,
           user_id: str | None) -> tuple[Report, bytes, bytes]:
    reader = store.reader()
    try:
        built = build_report(reader, team, spec, now, tz, channel_id=channel_id, user_id=user_id)
        return built, render_chart(built), render_csv(reader, built.scope)
    finally:
        if reader is not store.db:
            reader.close()


async def post_report(client: AsyncWebClient, channel: str, built: Report, chart: bytes, csv_bytes: bytes, *,
                      asked_by: str | None) -> None:
    """The report message, then its chart and CSV, visibly in `channel`."""
    text, report_blocks = blocks.build_report(built, asked_by=asked_by)
    await client.chat_postMessage(channel=channel, text=text, blocks=report_blocks)
    stamp = built.start.strftime("%Y%m%d")
    await client.files_upload_v2(channel=channel, file_uploads=[
        {"file": chart, "filename": f"imagebot-spend-{stamp}.png", "title": f"Spend per day, {built.label}",
         "alt_txt": f"Bar chart of imagebot spend per day, {built.label}"},
        {"file": csv_bytes, "filename": f"imagebot-ledger-{stamp}.csv", "title": f"Ledger, {built.label}"},
    ])


def scheduled_poster(services: Services, flows: Flows) -> PostReport:
    """What the report scheduler calls at each slot: each workspace's report for the window, posted to its report
    channel (`/image-admin report-channel`, or IMAGEBOT_REPORT_CHANNEL in a single workspace)."""
    post_one = _scheduled_report(services, flows)

    async def post(slot: datetime, start: datetime, end: datetime) -> None:
        for team in await flows.workspaces.teams():
            channel = await flows.report_channel(team)
            if channel is None:
                continue
            try:
                await post_one(team, channel, start, end)
            except (SlackApiError, NotInstalled) as error:  # one workspace's problem must not stop the others
                log.warning("scheduled report for %s not posted: %s", team, error)

    return post


def _scheduled_report(services: Services, flows: Flows) -> Callable[..., Awaitable[None]]:
    tz = ZoneInfo(services.settings.timezone)
    store = services.images.store

    async def post_one(team: str, channel: str, start: datetime, end: datetime) -> None:
        label = (f"{start:%a %-d %b %Y}" if end - start <= timedelta(days=1, hours=1)
                 else f"{start:%-d %b} to {end - timedelta(days=1):%-d %b %Y}")

        def build() -> tuple[Report, bytes, bytes]:
            reader = store.reader()
            try:
                built = build_report_between(reader, team, start, end, label, tz)
                return built, render_chart(built), render_csv(reader, built.scope)
            finally:
                if reader is not store.db:
                    reader.close()

        built, chart, csv_bytes = await asyncio.to_thread(build)
        await post_report(await flows.slack(team), channel, built, chart, csv_bytes, asked_by=None)

    return post_one


def register(app: AsyncApp, services: Services, flows: Flows) -> None:
    store = services.images.store
    db = services.images.io
    is_admin = AdminCheck(services, flows.slack)
    tz = ZoneInfo(services.settings.timezone)

    async def admin(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()  # everything else, users.info included, happens after Slack has its answer
        services.jobs.background(run(command, respond), name="image-admin")

    async def run(command: dict[str, Any], respond: AsyncRespond) -> None:
        team, user, channel = command["team_id"], command["user_id"], command["channel_id"]
        words = (command.get("text") or "").split()
        if not await is_admin(team, user):
            await respond(text="Only imagebot admins can use /image-admin.", response_type="ephemeral")
            return
        try:
            if not words or words[0].lower() in ("help", "?"):
                await respond(text=ADMIN_HELP, response_type="ephemeral")
            elif words[0].lower() == "budget":
                await budget(team, user, words[1:], respond)
            elif words[0].lower() == "policy":
                await policy(team, user, words[1:], respond)
            elif words[0].lower() == "report":
                await report(team, user, channel, words[1:], respond)
            elif words[0].lower() == "report-channel":
                await report_channel(team, user, words[1:], respond)
            else:
                await respond(text=f"I don't know `{blocks.escape(words[0])}`.\n{ADMIN_HELP}",
                              response_type="ephemeral")
        except InvalidOption as error:
            await respond(text=f"{blocks.escape(str(error))}\n{ADMIN_HELP}", response_type="ephemeral")

    async def report_channel(team: str, user: str, words: list[str], respond: AsyncRespond) -> None:
        if not words:
            current = await flows.report_channel(team)
            where = f"<#{current}>" if current else "no channel"
            await respond(text=f"Scheduled reports and budget alerts go to {where}.", response_type="ephemeral")
            return
        scope, channel = parse_target(words[0]) if words[0].lower() != "none" else ("channel", "")
        if scope != "channel" or len(words) != 1:
            raise InvalidOption("Use `report-channel #channel` (or `none`).")
        await db(store.set_team_report_channel, team, channel or None, user)
        await db(store.audit, team, user, "report-channel", {"channel": channel or None})
        where = f"<#{channel}>" if channel else "no channel (the environment's default, if any, in a single workspace)"
        await respond(text=f":white_check_mark: Scheduled reports and budget alerts go to {where}.",
                      response_type="ephemeral")

    async def budget(team: str, user: str, words: list[str], respond: AsyncRespond) -> None:
        if not words:
            lines = [f"• {b.period.capitalize()}, {_owner(b.scope, b.target)}: {format_usd(b.limit_micro)}"
                     f" ({'set here' if b.source == 'slack' else 'default, from the environment'})"
                     for b in await services.images.budgets.listing(team)]
            await respond(text="*Budgets in force*\n" + ("\n".join(lines) or "none"), response_type="ephemeral")
            return
        if len(words) not in (2, 3):
            raise InvalidOption("Use `budget @user|#channel|workspace <dollars>|none [daily|monthly]`.")
        scope, target = parse_target(words[0])
        limit = parse_dollars(words[1])
        period = words[2].lower() if len(words) == 3 else "monthly"
        if period not in PERIODS:
            raise InvalidOption(f"`{words[2]}` is not daily or monthly.")
        await db(store.set_budget, team, scope, target, period, limit, user)
        await db(store.audit, team, user, "budget", {"scope": scope, "target": target, "period": period,
                                                     "limit_micro": limit})
        who = _owner(scope, target)
        amount = "no budget" if limit is None else format_usd(limit)
        await respond(text=f":white_check_mark: {period.capitalize()} budget for {who}: {amount}.",
                      response_type="ephemeral")

    async def policy(team: str, user: str, words: list[str], respond: AsyncRespond) -> None:
        if not words:
            raise InvalidOption("Use `policy #channel [quality=…] [n=…] [models=…]|none`.")
        scope, channel = parse_target(words[0])
        if scope != "channel":
            raise InvalidOption("A policy is for a #channel.")
        settings: dict[str, Any] = {"max_quality": None, "max_n": None, "allowed_models": None}
        for word in words[1:]:
            name, _, value = word.partition("=")
            name = name.lower()
            if word.lower() == "none":
                continue
            if name == "quality" and value in QUALITY_RANK and value != "auto":
                settings["max_quality"] = value
            elif name == "n" and value.isascii() and value.isdigit() and 1 <= int(value) <= 4:
                settings["max_n"] = int(value)
            elif name == "models" and value and all(m in services.images.catalogue for m in value.split(",")):
                settings["allowed_models"] = value.split(",")
            else:
                qualities = "|".join(q for q in QUALITY_RANK if q != "auto")
                raise InvalidOption(f"`{blocks.escape(word)}` is not quality={qualities}, n=1-4 or "
                                    f"models=<{','.join(services.images.choices().models)}>.")
        await db(store.set_policy, team, channel, set_by=user, **settings)
        await db(store.audit, team, user, "policy", {"channel": channel, **settings})
        current = await services.images.policy(team, channel)
        await respond(text=f":white_check_mark: <#{channel}>: {current.describe() if current else 'no limits'}.",
                      response_type="ephemeral")

    async def report(team: str, user: str, channel: str, words: list[str], respond: AsyncRespond) -> None:
        spec = "30d"
        channel_filter = user_filter = None
        for word in words:
            if _USER_RE.match(word) or _CHANNEL_RE.match(word):
                scope, target = parse_target(word)
                channel_filter, user_filter = (target, None) if scope == "channel" else (None, target)
            else:
                spec = word
        now = datetime.now(tz)
        # Reports read a lot: on a worker thread with their own connection, never on the db thread.
        built, chart, csv_bytes = await asyncio.to_thread(_build, store, team, spec, now, tz, channel_filter,
                                                          user_filter)
        await db(store.audit, team, user, "report", {"spec": spec, "channel": channel_filter, "user": user_filter})
        try:
            await post_report(await flows.slack(team), channel, built, chart, csv_bytes, asked_by=user)
        except SlackApiError as error:
            code = error.response.get("error", "unknown_error")
            await respond(text=f":warning: I could not post the report here (`{code}`). Invite me with "
                               "`/invite @imagebot`.", response_type="ephemeral")

    app.command("/image-admin")(admin)
