"""The Slack section: the connection mode's credentials, the bot token and its scopes, the report channel and the
admins; with multi-workspace installs, the OAuth settings, the installs, and each installed workspace's token."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from slack_sdk.oauth.installation_store import Bot
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings
from handlers.manifest import BOT_SCOPES
from imagebot.doctor.checklist import FAIL, INFO, OK, WARN, Check, plural
from imagebot.doctor.data_dir import unreadable_database
from imagebot.doctor.slack_calls import Answer, slack_call, slack_client, unreachable, unreachable_fix
from storage import diagnostics

MAX_ADMINS_CHECKED = 20
MAX_WORKSPACES_CHECKED = 20
# Slack errors that mean the token itself is no good (not a problem with one call).
_BAD_TOKEN = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
                        "not_allowed_token_type", "invalid_token"})


async def slack_checks(settings: Settings, *, socket_mode: bool) -> list[Check]:
    if not settings.has_slack_credentials:
        return [Check("Slack credentials", FAIL, "SLACK_BOT_TOKEN is not set, so `imagebot` would start the local "
                      "sandbox instead of serving Slack",
                      "Create the Slack app from `imagebot manifest` (https://api.slack.com/apps, Create New App, "
                      "From a manifest), install it to the workspace and set SLACK_BOT_TOKEN to its Bot User OAuth "
                      "Token (xoxb-…). For installs into many workspaces set SLACK_CLIENT_ID and "
                      "SLACK_CLIENT_SECRET instead.")]
    checks = [await _mode_check(settings, socket_mode=socket_mode)]
    if settings.oauth_enabled:
        checks += await _oauth_checks(settings)
    if not settings.slack_bot_token:
        if settings.report_channel or settings.admins:
            checks.append(Check("Report channel and admins", INFO, "not checked: with multi-workspace installs "
                                "there is no single bot token to check them with"))
        return checks
    token_check, bot = await _bot_token_check(settings)
    checks.append(token_check)
    if bot is None:
        return checks
    checks.append(_scopes_check(bot["scopes"]))
    client = slack_client(settings, settings.slack_bot_token)
    if settings.report_channel:
        checks.append(await _report_channel_check(client, settings.report_channel, bot["user"]))
    if settings.admins:
        checks.append(await _admins_check(client, settings.admins))
    return checks


async def _mode_check(settings: Settings, *, socket_mode: bool) -> Check:
    if socket_mode:
        client = slack_client(settings, settings.slack_app_token)
        response, error, status = await slack_call(
            lambda: client.apps_connections_open(app_token=settings.slack_app_token or ""))
        if response is not None:
            return Check("Socket Mode", OK, "SLACK_APP_TOKEN works: Slack handed out a connection")
        fix = ("In the app's settings (https://api.slack.com/apps), under Basic Information, App-Level Tokens, "
               "generate a token with the connections:write scope and set SLACK_APP_TOKEN to it (xapp-…); "
               "check that Socket Mode is switched on. Or serve over HTTP: set SLACK_SIGNING_SECRET and "
               "run `imagebot serve --http`.")
        if status is None:
            return Check("Socket Mode", FAIL, unreachable(settings, error or ""), unreachable_fix(error or ""))
        if status == 429:
            return Check("Socket Mode", WARN, "Slack is rate-limiting apps.connections.open (HTTP 429): not checked",
                         "Run `imagebot doctor` again in a minute.")
        return Check("Socket Mode", FAIL, f"Slack refused SLACK_APP_TOKEN ({error})", fix)
    if not settings.slack_signing_secret:
        return Check("HTTP mode", FAIL, "SLACK_SIGNING_SECRET is not set: imagebot cannot verify that requests come "
                     "from Slack, so it would refuse them all",
                     "Copy the Signing Secret from the app's Basic Information page into SLACK_SIGNING_SECRET. Or use "
                     "Socket Mode: create an app-level token with connections:write and set SLACK_APP_TOKEN.")
    if not re.fullmatch(r"[0-9a-f]{32}", settings.slack_signing_secret):
        return Check("HTTP mode", WARN, "SLACK_SIGNING_SECRET is set, but it does not look like a Slack signing "
                     "secret (32 hexadecimal characters)",
                     "Copy the Signing Secret (not the Client Secret or a token) from the app's Basic Information "
                     "page. With a wrong one every request from Slack gets 401.")
    return Check("HTTP mode", OK, "SLACK_SIGNING_SECRET is set (only Slack's requests can tell whether it is the "
                 "right one: with a wrong one they all get 401). Slack must reach https://YOUR-HOST/slack/events: "
                 "`imagebot manifest --http https://YOUR-HOST` prints the manifest with it")


async def _oauth_checks(settings: Settings) -> list[Check]:
    redirect = settings.slack_redirect_uri or "the app's only Redirect URL (SLACK_REDIRECT_URI is not set)"
    checks = [Check("Multi-workspace installs", OK, f"SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set; workspaces "
                    f"install at /slack/install and come back to {redirect}")]
    try:
        bots = await asyncio.to_thread(_installed_bots, settings.data_dir)
    except sqlite3.Error as error:
        checks.append(unreadable_database(settings.data_dir, error))
        return checks
    if bots is None:
        checks.append(Check("Installed workspaces", INFO, "not counted: the database has no installs table yet (it "
                            "is added when `imagebot serve` next starts)"))
    elif not bots:
        checks.append(Check("Installed workspaces", WARN, "no workspace has installed imagebot yet",
                            "Open https://YOUR-HOST/slack/install in a browser and choose Allow."))
    else:
        checks += [Check("Installed workspaces", OK, plural(len(bots), "workspace")),
                   await _workspace_tokens_check(settings, bots)]
    return checks


def _installed_bots(data_dir: Path) -> list[Bot] | None:
    db = diagnostics.open_readonly(data_dir)
    if db is None:
        return []
    try:
        return diagnostics.installed_workspace_bots(db)
    finally:
        db.close()


async def _workspace_tokens_check(settings: Settings, bots: list[Bot]) -> Check:
    """auth.test with each installed workspace's own bot token (the first MAX_WORKSPACES_CHECKED), side by side.
    A rotating token past its expiry is not tried: imagebot refreshes it on its next use (no writes here)."""
    checked = bots[:MAX_WORKSPACES_CHECKED]
    now = time.time()

    async def problem(bot: Bot) -> str | None:
        if bot.bot_token_expires_at is not None and bot.bot_token_expires_at <= now:
            return None if bot.bot_refresh_token else f"{bot.team_id}: its token expired and there is no refresh token"
        client = slack_client(settings, bot.bot_token)
        response, error, status = await slack_call(client.auth_test)
        if response is not None or status == 429:
            return None
        return f"{bot.team_id}: " + (unreachable(settings, error or "") if status is None
                                      else f"Slack refused its token ({error})")

    problems = [p for p in await asyncio.gather(*(problem(b) for b in checked)) if p]
    more = f" (the first {MAX_WORKSPACES_CHECKED} checked)" if len(bots) > MAX_WORKSPACES_CHECKED else ""
    if problems:
        return Check("Workspace tokens", WARN, f"{'; '.join(problems)}{more}",
                     "Someone in each such workspace installs imagebot again at https://YOUR-HOST/slack/install; "
                     "until then, its requests cannot be answered. Other workspaces are not affected.")
    return Check("Workspace tokens", OK, f"each installed workspace's bot token works{more}")


async def _bot_token_check(settings: Settings) -> tuple[Check, dict[str, Any] | None]:
    client = slack_client(settings, settings.slack_bot_token)
    response, error, status = await slack_call(client.auth_test)
    if response is None:
        if status is None:
            return Check("Slack bot token", FAIL, unreachable(settings, error or ""),
                         unreachable_fix(error or "")), None
        if status == 429:
            return Check("Slack bot token", WARN, "Slack is rate-limiting auth.test (HTTP 429): not checked",
                         "Run `imagebot doctor` again in a minute."), None
        fix = ("Reinstall the app (its Install App page) and set SLACK_BOT_TOKEN to the Bot User OAuth Token "
               "shown there (xoxb-…)." if error in _BAD_TOKEN else "")
        return Check("Slack bot token", FAIL, f"Slack refused SLACK_BOT_TOKEN ({error})", fix), None
    scopes = response.headers.get("x-oauth-scopes")
    bot = {"user": response.get("user") or "imagebot", "team": response.get("team"),
           "team_id": response.get("team_id"),
           "scopes": None if scopes is None else {s.strip() for s in scopes.split(",") if s.strip()}}
    return Check("Slack bot token", OK, f"valid: @{bot['user']} in workspace {bot['team']} ({bot['team_id']})"), bot


def _scopes_check(granted: set[str] | None) -> Check:
    needed = set(BOT_SCOPES)
    if granted is None:
        return Check("Slack scopes", WARN, "Slack did not say which scopes the token has (no x-oauth-scopes header)",
                     "Compare the app's OAuth & Permissions page with `imagebot manifest`.")
    missing = [s for s in BOT_SCOPES if s not in granted]
    if missing:
        what = "; ".join(f"{s} ({BOT_SCOPES[s]})" for s in missing)
        return Check("Slack scopes", FAIL, f"the token lacks {what}",
                     "Add the missing scopes under the app's OAuth & Permissions, Bot Token Scopes (or paste "
                     "`imagebot manifest` into its App Manifest page), then reinstall the app: Slack grants new "
                     "scopes only when the app is installed again.")
    extra = sorted(granted - needed)
    note = f" (also granted, not needed: {', '.join(extra)})" if extra else ""
    return Check("Slack scopes", OK, f"all {len(needed)} scopes the manifest asks for{note}")


async def _report_channel_check(client: AsyncWebClient, channel: str, bot_name: str) -> Check:
    # conversations.history answers not_in_channel (public) or channel_not_found (private) unless the bot is a
    # member, with the history scopes imagebot has anyway; conversations.info would need channels:read and
    # groups:read, which the app asks for nowhere else. One message at most is read, and dropped.
    title = "Report channel"
    response, error, status = await slack_call(lambda: client.conversations_history(channel=channel, limit=1))
    invite = f"In Slack, open that channel and type `/invite @{bot_name}`."
    if response is not None:
        return Check(title, OK, f"@{bot_name} is a member of {channel} (IMAGEBOT_REPORT_CHANNEL)")
    if status is None:
        return Check(title, FAIL, f"could not ask Slack ({error})", "Check the network and proxy.")
    if status == 429:
        return Check(title, WARN, "Slack is rate-limiting conversations.history (HTTP 429): not checked",
                     "Run `imagebot doctor` again in a minute.")
    if error == "not_in_channel":
        return Check(title, FAIL, f"@{bot_name} is not a member of {channel} (IMAGEBOT_REPORT_CHANNEL): scheduled "
                     "reports and budget alerts cannot be posted there", invite)
    if error == "channel_not_found":
        return Check(title, FAIL, f"@{bot_name} cannot see a channel {channel} (IMAGEBOT_REPORT_CHANNEL): the id "
                     "is wrong, or it is a private channel the bot has not been invited to",
                     f"Check the id (at the bottom of the channel's details). {invite}")
    return Check(title, FAIL, f"Slack refused to look at {channel} (IMAGEBOT_REPORT_CHANNEL): {error}",
                 "See the Slack scopes check above." if error == "missing_scope" else "")


async def _admins_check(client: AsyncWebClient, admins: tuple[str, ...]) -> Check:
    checked = admins[:MAX_ADMINS_CHECKED]

    async def look_up(user: str) -> Answer:
        return await slack_call(lambda: client.users_info(user=user))

    answers = await asyncio.gather(*(look_up(user) for user in checked))
    found, problems = [], []
    for user, (response, error, status) in zip(checked, answers, strict=True):
        if response is None:
            if error == "user_not_found":
                problems.append(f"{user} is not a user of this workspace")
            elif status != 429:
                problems.append(f"{user} could not be looked up ({error})")
        elif response["user"].get("deleted"):
            problems.append(f"{user} ({response['user'].get('name')}) is deactivated")
        else:
            found.append(f"@{response['user'].get('name')}")
    more = f" (the first {MAX_ADMINS_CHECKED} checked)" if len(admins) > MAX_ADMINS_CHECKED else ""
    if problems:
        return Check("Admins", WARN, f"IMAGEBOT_ADMINS{more}: {'; '.join(problems)}",
                     "List member ids (on a profile: More, Copy member ID), separated by commas.")
    listed = ", ".join(found) if found else "not checked (Slack is rate-limiting users.info)"
    return Check("Admins", OK, f"IMAGEBOT_ADMINS{more}: {listed}, plus the workspace's own admins and owners")
