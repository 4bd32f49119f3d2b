"""/image-admin (reports, budgets, channel policies) and the scheduled reports' posting.

Who is an admin: users in IMAGEBOT_ADMINS, plus the workspace's admins and owners (users.info), cached for
a few minutes. Non-admins get a private refusal that reveals nothing. The listener only acks; the rest (users.info,
the use case in bot/usecases/admin.py, which audits every change, and the answer) runs in the background and
answers through the command's response_url or in the channel.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import InvalidOption, NotInstalled
from bot.money.budgets import PERIODS
from bot.money.pricing import parse_usd
from bot.rules.policy import QUALITY_RANK
from bot.runtime.scheduler import PostReport
from bot.runtime.services import Services
from bot.usecases.admin import Admin, BuiltReport, PolicyLimits
from bot.usecases.image_service import ImageService
from handlers.delivery.jobs import Delivery
from handlers.ui import admin as answers
from handlers.ui import blocks

ADMIN_CACHE_SECONDS = 300
log = logging.getLogger(__name__)
_USER_RE = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_CHANNEL_RE = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")


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


# the admin's words ---------------------------------------------------------------------------------------------


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


def parse_budget(words: list[str]) -> tuple[str, str, str, int | None]:
    """`@user|#channel|workspace <dollars>|none [daily|monthly]` → (scope, target, period, limit in micro-dollars)."""
    if len(words) not in (2, 3):
        raise InvalidOption("Use `budget @user|#channel|workspace <dollars>|none [daily|monthly]`.")
    scope, target = parse_target(words[0])
    limit = parse_dollars(words[1])
    period = words[2].lower() if len(words) == 3 else "monthly"
    if period not in PERIODS:
        raise InvalidOption(f"`{words[2]}` is not daily or monthly.")
    return scope, target, period, limit


def parse_policy(words: list[str], images: ImageService) -> tuple[str, PolicyLimits]:
    """`#channel [quality=…] [n=…] [models=…]|none` → (channel, its caps); the models must be in the catalogue."""
    if not words:
        raise InvalidOption("Use `policy #channel [quality=…] [n=…] [models=…]|none`.")
    scope, channel = parse_target(words[0])
    if scope != "channel":
        raise InvalidOption("A policy is for a #channel.")
    quality: str | None = None
    n: int | None = None
    models: list[str] | None = None
    for word in words[1:]:
        name, _, value = word.partition("=")
        name = name.lower()
        if word.lower() == "none":
            continue
        if name == "quality" and value in QUALITY_RANK and value != "auto":
            quality = value
        elif name == "n" and value.isascii() and value.isdigit() and 1 <= int(value) <= 4:
            n = int(value)
        elif name == "models" and value and all(m in images.catalogue for m in value.split(",")):
            models = value.split(",")
        else:
            qualities = "|".join(q for q in QUALITY_RANK if q != "auto")
            raise InvalidOption(f"`{blocks.escape(word)}` is not quality={qualities}, n=1-4 or "
                                f"models=<{','.join(images.choices().models)}>.")
    return channel, PolicyLimits(max_quality=quality, max_n=n, allowed_models=models)


def parse_report(words: list[str]) -> tuple[str, str | None, str | None]:
    """`[today|7d|30d|month|YYYY-MM] [#channel|@user]` → (window, channel, user); the window is checked later."""
    spec = "30d"
    channel_filter = user_filter = None
    for word in words:
        if _USER_RE.match(word) or _CHANNEL_RE.match(word):
            scope, target = parse_target(word)
            channel_filter, user_filter = (target, None) if scope == "channel" else (None, target)
        else:
            spec = word
    return spec, channel_filter, user_filter


def parse_report_channel(words: list[str]) -> str | None:
    """`#channel` or `none` → the channel (None: none chosen)."""
    scope, channel = parse_target(words[0]) if words[0].lower() != "none" else ("channel", "")
    if scope != "channel" or len(words) != 1:
        raise InvalidOption("Use `report-channel #channel` (or `none`).")
    return channel or None


# posting ---------------------------------------------------------------------------------------------------------


async def post_report(client: AsyncWebClient, channel: str, built: BuiltReport, *, asked_by: str | None) -> None:
    """The report message, then its chart and CSV, visibly in `channel`."""
    report = built.report
    text, report_blocks = blocks.build_report(report, asked_by=asked_by)
    await client.chat_postMessage(channel=channel, text=text, blocks=report_blocks)
    chart, table = answers.report_file_names(report.start, report.end)
    await client.files_upload_v2(channel=channel, file_uploads=[  # one upload: one message holding both, together
        {"file": built.chart, "filename": chart, "title": f"Spend per day, {report.label}",
         "alt_txt": f"Bar chart of imagebot spend per day, {report.label}"},
        {"file": built.csv, "filename": table, "title": f"Ledger, {report.label}"},
    ])


def scheduled_poster(services: Services, delivery: Delivery) -> PostReport:
    """What the report scheduler calls at each slot: each workspace's report for the window, posted to its report
    channel (`/image-admin report-channel`, or IMAGEBOT_REPORT_CHANNEL in a single workspace)."""
    admin = Admin(services.images, ZoneInfo(services.settings.timezone))

    async def post(slot: datetime, start: datetime, end: datetime) -> None:
        for team in await delivery.workspaces.teams():
            channel = await delivery.report_channel(team)
            if channel is None:
                continue
            try:
                built = await admin.scheduled_report(team, start, end)
                await post_report(await delivery.slack(team), channel, built, asked_by=None)
            except (SlackApiError, NotInstalled) as error:  # one workspace's problem must not stop the others
                log.warning("scheduled report for %s not posted: %s", team, error)

    return post


# the command -----------------------------------------------------------------------------------------------------


class AdminCommand:
    """/image-admin: acked at once; the admin check, the use case and the private answer come after."""

    def __init__(self, services: Services, delivery: Delivery) -> None:
        self.services = services
        self.delivery = delivery
        self.admin = Admin(services.images, ZoneInfo(services.settings.timezone))
        self.is_admin = AdminCheck(services, delivery.slack)

    async def listener(self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()  # everything else, users.info included, happens after Slack has its answer
        self.services.jobs.background(self.run(command, respond), name="image-admin")

    async def run(self, command: dict[str, Any], respond: AsyncRespond) -> None:
        team, user, channel = command["team_id"], command["user_id"], command["channel_id"]
        words = (command.get("text") or "").split()
        if not await self.is_admin(team, user):
            await respond(text=answers.NOT_AN_ADMIN, response_type="ephemeral")
            return
        try:
            answer = await self.answer(team, user, channel, words)
        except InvalidOption as error:
            answer = f"{blocks.escape(str(error))}\n{answers.ADMIN_HELP}"
        if answer is not None:
            await respond(text=answer, response_type="ephemeral")

    async def answer(self, team: str, user: str, channel: str, words: list[str]) -> str | None:
        """The private answer to an admin's words (None: the answer was posted in the channel)."""
        verb, rest = (words[0].lower(), words[1:]) if words else ("help", [])
        if verb in ("help", "?"):
            return answers.ADMIN_HELP
        if verb == "budget":
            if not rest:
                return answers.budgets_text(await self.admin.budgets(team))
            scope, target, period, limit = parse_budget(rest)
            await self.admin.set_budget(team, user, scope, target, period, limit)
            return answers.budget_set_text(scope, target, period, limit)
        if verb == "policy":
            policy_channel, limits = parse_policy(rest, self.services.images)
            policy = await self.admin.set_policy(team, user, policy_channel, limits)
            return answers.policy_set_text(policy_channel, policy)
        if verb == "report":
            return await self.report(team, user, channel, rest)
        if verb == "report-channel":
            if not rest:
                return answers.report_channel_text(await self.delivery.report_channel(team))
            chosen = parse_report_channel(rest)
            await self.admin.set_report_channel(team, user, chosen)
            return answers.report_channel_set_text(chosen)
        return f"I don't know `{blocks.escape(words[0])}`.\n{answers.ADMIN_HELP}"

    async def report(self, team: str, user: str, channel: str, words: list[str]) -> str | None:
        spec, channel_filter, user_filter = parse_report(words)
        built = await self.admin.report(team, user, spec, channel_id=channel_filter, user_id=user_filter)
        try:
            await post_report(await self.delivery.slack(team), channel, built, asked_by=user)
        except SlackApiError as error:
            return answers.report_not_posted_text(error.response.get("error", "unknown_error"))
        return None


def register(app: AsyncApp, services: Services, delivery: Delivery) -> None:
    app.command("/image-admin")(AdminCommand(services, delivery).listener)
