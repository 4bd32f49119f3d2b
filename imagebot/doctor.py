"""`imagebot doctor`: every setting checked, printed as a checklist with the fix for each failure.

It is the first thing to run when imagebot misbehaves. In order:

    Settings          every variable parses (a bad one is named, never a traceback); the price table loads
                      and prices the default model; variables that look like settings but are not read
    Slack             the connection mode's credentials (app token for Socket Mode, checked with
                      apps.connections.open; signing secret for HTTP); the bot token (auth.test) and its scopes
                      against the manifest's (auth.test's x-oauth-scopes header); the bot's membership of
                      IMAGEBOT_REPORT_CHANNEL; IMAGEBOT_ADMINS are users. Multi-workspace (SLACK_CLIENT_ID and
                      SLACK_CLIENT_SECRET): the OAuth settings, how many workspaces are installed, and each one's token
    Image API         OpenAI: the key and the model (GET /models/{model}, free). Azure: the key and the
                      deployment (a request without a prompt, refused before any work: not billed).
                      Organisation verification (OpenAI): from the ledger, as no free call reveals it
    Storage           the data dir is writable; free disk space

Exit status 0 when nothing failed (warnings do not fail), 1 otherwise. Every network call has a bound
(`CALL_TIMEOUT`), and none is retried: a diagnosis should be quick and say what it saw. Nothing here writes
to Slack, the image API or the database; the data dir check writes and removes one temporary file.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import difflib
import math
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import aiohttp
import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store import Bot
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot import errors
from bot.logs import Redactor
from bot.money.budgets import default_budgets
from bot.money.catalogue import Catalogue, load_catalogue
from bot.money.pricing import PriceTable
from bot.providers.image_api import AzureTarget, OpenAITarget, error_from_response
from bot.runtime.model_watch import image_models
from bot.runtime.services import check_defaults
from bot.settings import DEFAULT_OPENAI_BASE_URL, DEFAULT_SLACK_API_URL, VARIABLES, Settings
from handlers.manifest import BOT_SCOPES
from storage import diagnostics

OK, WARN, FAIL, INFO = "ok", "warn", "FAIL", "--"  # INFO: not checked, or not applicable (says why)
CALL_TIMEOUT = 10.0  # seconds for each network call (connect and answer): the clients' own timeouts
BACKSTOP = 5.0  # more seconds before asyncio gives up on a call whose client timeout did not fire
MIN_FREE_BYTES = 250 * 1024**2  # below this, the next few images or a database checkpoint may not fit
LOW_FREE_BYTES = 2 * 1024**3  # a few hundred large images
MAX_ADMINS_CHECKED = 20
MAX_WORKSPACES_CHECKED = 20
# Slack errors that mean the token itself is no good (not a problem with one call).
_BAD_TOKEN = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
                        "not_allowed_token_type", "invalid_token"})
_SETTING_PREFIXES = ("IMAGEBOT_", "SLACK_", "OPENAI_", "AZURE_OPENAI_")
_NOT_SLACK = "not Slack's Web API: "  # starts a call's problem when what answered was not Slack's Web API


@dataclass(frozen=True)
class Check:
    """One line of the checklist: what was checked, how it went, what was seen, and how to fix it."""

    title: str
    status: str  # OK | WARN | FAIL | INFO
    detail: str
    fix: str = ""


def exit_status(checks: list[Check]) -> int:
    return 1 if any(c.status == FAIL for c in checks) else 0


def render(checks: list[Check], *, heading: str, width: int = 100) -> str:
    """The checklist as text: one entry per check, its fix indented under it, then a one-line verdict."""
    lines = [heading, ""]
    for check in checks:
        tag = f"[{check.status}]".ljust(7)
        lines += textwrap.wrap(f"{check.title}: {check.detail}", width=width, initial_indent=tag,
                               subsequent_indent=" " * 7, break_on_hyphens=False, break_long_words=False)
        if check.fix:
            lines += textwrap.wrap(f"fix: {check.fix}", width=width, initial_indent=" " * 7,
                                   subsequent_indent=" " * 12, break_on_hyphens=False, break_long_words=False)
    counts = {status: sum(c.status == status for c in checks) for status in (OK, WARN, FAIL)}
    lines.append("")
    if counts[FAIL]:
        lines.append(f"{_plural(counts[FAIL], 'check')} failed, {_plural(counts[WARN], 'warning')}, "
                     f"{counts[OK]} passed. Fix the failures above, then run `imagebot doctor` again.")
    else:
        lines.append(f"No failures ({_plural(counts[WARN], 'warning')}, {counts[OK]} passed).")
    return "\n".join(lines) + "\n"


def main(environ: Mapping[str, str], *, dotenv: Path | None, http: bool = False, out: TextIO | None = None) -> int:
    """`imagebot doctor [--http]`: read the settings, run every check, print the checklist; 0 or 1."""
    out = out or sys.stdout
    settings, checks = load_settings(environ, dotenv)
    heading = "imagebot doctor"
    if settings is not None:
        socket_mode = bool(settings.slack_app_token) and not http
        slack = ("Slack not configured" if not settings.has_slack_credentials
                 else f"Slack over {'Socket Mode' if socket_mode else 'HTTP'}")
        images = ("the offline renderer" if settings.provider == "offline"
                  else f"{settings.provider} ({settings.model})")
        heading += f": {slack}, images from {images}, data in {settings.data_dir.resolve()}"
        redactor = Redactor(settings.secrets)
        checks += [Check(c.title, c.status, redactor(c.detail), redactor(c.fix))
                   for c in asyncio.run(run_checks(settings, socket_mode=socket_mode))]
    out.write(render(checks, heading=heading))
    out.flush()
    return exit_status(checks)


# -- settings --------------------------------------------------------------------------------------------------


def load_settings(environ: Mapping[str, str], dotenv: Path | None) -> tuple[Settings | None, list[Check]]:
    """Settings as `serve` reads them, or None and the failed check naming the variable."""
    try:
        settings = Settings.from_env(environ, dotenv=dotenv)
        catalogue, prices = load_catalogue(settings)
        # What `serve` refuses at start-up (a quality or size the model cannot make), doctor fails the same way.
        check_defaults(settings, catalogue, settings.provider, datetime.now(ZoneInfo(settings.timezone)).date(),
                       announce=False)
        # Doctor speaks of the model requests will name: IMAGEBOT_MODEL, or the catalogue's default.
        settings = dataclasses.replace(settings, model=settings.model or catalogue.default_model)
    except errors.SettingsError as error:
        where = {"environment": "the environment", None: None}.get(error.source, error.source)
        fix = (f"Set {error.variable} correctly (it is set in {where})." if where
               else f"Save {error.variable} as UTF-8 text." if dotenv is not None and error.variable == str(dotenv)
               else f"Set {error.variable} in the environment or in .env.")
        return None, [Check("Settings", FAIL, f"{error.variable}: {error.problem}",
                            f"{fix} Every variable is described in the README's Configuration section."),
                      Check("Everything else", INFO, "not checked until the settings are valid")]
    names = settings.sources
    origin = ", ".join(dict.fromkeys("the environment" if names[n] == "environment" else names[n] for n in names
                                     if n.startswith(_SETTING_PREFIXES)))
    checks = [Check("Settings", OK, f"every value is valid (read from {origin})" if origin
                    else "nothing is set: every value is a default")]
    checks += _unknown_variables(names)
    checks.append(model_check(settings, catalogue, datetime.now(ZoneInfo(settings.timezone)).date()))
    checks.append(_prices_check(settings, prices))
    return settings, checks


def model_check(settings: Settings, catalogue: Catalogue, today: date) -> Check:
    """What the catalogue says of the configured model on this provider today: live, shutting down, gone."""
    model, provider = str(settings.model), settings.provider
    named = "IMAGEBOT_MODEL" if settings.sources.get("IMAGEBOT_MODEL") else "the default model"
    source = f"the catalogue ({settings.models_path} over the built-in one)" if settings.models_path \
        else "the built-in catalogue"
    entry = catalogue.get(model)
    if entry is None:
        return Check("Model", WARN, f"{model} ({named}) is not in {source}: imagebot cannot check its options or "
                     "estimate its cost", "Add it with IMAGEBOT_MODELS (see the README's Models section), or set "
                     f"IMAGEBOT_MODEL to one of {', '.join(catalogue.live(provider, today))}.")
    status = entry.status(provider)
    state = status.on(today)
    resolved = catalogue.resolve(model, provider, today)
    where = {"azure": " on Azure OpenAI", "offline": ""}.get(provider, " on OpenAI")
    if state == "shut_down":
        day = status.shutdown.isoformat() if status.shutdown else "already"
        fix = f"Set IMAGEBOT_MODEL={resolved.used}." if resolved.replaced else \
            f"Set IMAGEBOT_MODEL to one of {', '.join(catalogue.live(provider, today))}."
        return Check("Model", FAIL, f"{model} ({named}) was shut down{where} on {day}; requests use "
                     f"{resolved.used if resolved.replaced else 'nothing'} instead", fix)
    if state == "deprecated":
        return Check("Model", WARN, f"{model} ({named}) shuts down{where} on {status.shutdown}; its replacement is "
                     f"{status.replacement}", f"Move to IMAGEBOT_MODEL={status.replacement} before then.")
    if state in ("unconfirmed", "unknown"):
        return Check("Model", WARN, f"{model} ({named}) is not confirmed{where} in {source}",
                     "Check that your deployment serves it (the Foundry model catalog for your region); imagebot "
                     "sends requests as the catalogue describes it.")
    why = f" ({catalogue.default_why})" if named == "the default model" and catalogue.default_why else ""
    return Check("Model", OK, f"{model} ({named}) is live{where} per {source}{why}")


def _unknown_variables(names: Mapping[str, str]) -> list[Check]:
    """A variable that looks like a setting but is not one is ignored silently: most often a typo."""
    known = VARIABLES
    unknown = sorted(n for n in names if n.startswith(_SETTING_PREFIXES) and n not in known)
    if not unknown:
        return []
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
        hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return [Check("Unknown settings", WARN, f"imagebot does not read {', '.join(hints)}; "
                  f"{'it is' if len(unknown) == 1 else 'they are'} ignored",
                  "Correct the name, or remove the variable; the README's Configuration section lists every "
                  "setting.")]


def _prices_check(settings: Settings, prices: PriceTable) -> Check:
    source = f"from {settings.prices_path}" if settings.prices_path else "the built-in table"
    if prices.price_for(settings.model) is not None:
        return Check("Prices", OK, f"{source} prices {settings.model}")
    fix = (f"Add {settings.model} to a price file named by IMAGEBOT_PRICES, or set IMAGEBOT_MODEL to a priced "
           f"model ({', '.join(prices.models)}).")
    if default_budgets(settings):
        return Check("Prices", FAIL, f"{source} has no price for {settings.model} (IMAGEBOT_MODEL), and budgets are "
                     "set: every request for it would be refused, as its cost cannot be estimated", fix)
    return Check("Prices", WARN, f"{source} has no price for {settings.model} (IMAGEBOT_MODEL): its images will "
                 "show their cost as unknown", fix)


# -- everything else -------------------------------------------------------------------------------------------


async def run_checks(settings: Settings, *, socket_mode: bool, http: httpx.AsyncClient | None = None,
                     min_free_bytes: int = MIN_FREE_BYTES, low_free_bytes: int = LOW_FREE_BYTES) -> list[Check]:
    """The Slack and image API checks (side by side, so a hanging host costs one timeout), then storage."""
    async with contextlib.AsyncExitStack() as stack:
        if http is None:
            # trust_env=False, as for the app's own client: proxies from the environment are not its settings.
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=CALL_TIMEOUT, trust_env=False))
        slack, images = await asyncio.gather(slack_checks(settings, socket_mode=socket_mode),
                                             image_api_checks(settings, http))
    storage = await asyncio.to_thread(storage_checks, settings.data_dir, min_free_bytes, low_free_bytes)
    return [*slack, *images, *storage]


# -- Slack -----------------------------------------------------------------------------------------------------


def _slack_client(settings: Settings, token: str | None) -> AsyncWebClient:
    # No retry handlers: one bounded try per call. The timeout is aiohttp's total for the call.
    return AsyncWebClient(token=token, base_url=settings.slack_api_url, timeout=math.ceil(CALL_TIMEOUT),
                          retry_handlers=[])


async def _slack_call(call: Callable[[], Awaitable[Any]]) -> tuple[Any | None, str | None, int | None]:
    """(response, error, HTTP status): Slack's error code (or a transport failure, described) instead of raising."""
    try:
        response = await asyncio.wait_for(_own_timeout(call()), CALL_TIMEOUT + BACKSTOP)
    except SlackApiError as error:
        if (not_slack := _not_slack(error.response)) is not None:
            return None, not_slack, None  # no answer from Slack at all: the URL is wrong, not the token
        return None, str(error.response.get("error") or "unknown_error"), error.response.status_code
    except _NoAnswer:
        return None, f"no answer within {CALL_TIMEOUT:g} s", None
    except TimeoutError:
        return None, _backstop_fired(), None
    except (aiohttp.ClientError, OSError) as error:
        return None, type(error).__name__, None
    return response, None, 200


class _NoAnswer(Exception):
    """A client's own timeout fired (as it should, before the backstop)."""


async def _own_timeout(call: Awaitable[Any]) -> Any:
    try:
        return await call
    except TimeoutError as error:  # aiohttp's own timeout, under slack_sdk (httpx raises its own TimeoutException)
        raise _NoAnswer from error


def _backstop_fired() -> str:
    return f"no answer within {CALL_TIMEOUT + BACKSTOP:g} s (the client's own timeout did not fire)"


def _not_slack(answer: AsyncSlackResponse) -> str | None:
    """What the answer was, when it cannot be Slack's (an HTML 404, a proxy's page, a 200 that is not JSON); else
    None. Slack's Web API answers every method, even one it does not know, with a JSON object that has "ok"
    (https://api.slack.com/web#responses); slack_sdk reads anything else as `{}` and calls it an error."""
    if isinstance(answer.data, dict) and "ok" in answer.data:
        return None
    kind = next((v.split(";")[0].strip() for k, v in answer.headers.items() if k.lower() == "content-type"), "")
    return f"{_NOT_SLACK}HTTP {answer.status_code} with {kind or 'no Content-Type'}"


def _unreachable(settings: Settings, problem: str) -> str:
    url = settings.slack_api_url
    if not problem.startswith(_NOT_SLACK):
        return f"could not reach Slack at {url} ({problem})"
    seen = problem.removeprefix(_NOT_SLACK)
    if url == DEFAULT_SLACK_API_URL:  # the URL is right: something between here and Slack answered instead
        return f"{url} answered {seen}, not as Slack's Web API does: a proxy or firewall in the way?"
    return f"SLACK_API_URL ({url}) is not Slack's Web API: it answered {seen}, not Slack's JSON"


def _unreachable_fix(problem: str) -> str:
    if problem.startswith(_NOT_SLACK):
        return (f"Unset SLACK_API_URL to use Slack's own ({DEFAULT_SLACK_API_URL}), or set it to the base URL of "
                "a Slack Web API (it ends in /api/). Check the proxy, if there is one.")
    return "Check the network and proxy, and SLACK_API_URL if it is set."


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
    client = _slack_client(settings, settings.slack_bot_token)
    if settings.report_channel:
        checks.append(await _report_channel_check(client, settings.report_channel, bot["user"]))
    if settings.admins:
        checks.append(await _admins_check(client, settings.admins))
    return checks


async def _mode_check(settings: Settings, *, socket_mode: bool) -> Check:
    if socket_mode:
        client = _slack_client(settings, settings.slack_app_token)
        response, error, status = await _slack_call(
            lambda: client.apps_connections_open(app_token=settings.slack_app_token or ""))
        if response is not None:
            return Check("Socket Mode", OK, "SLACK_APP_TOKEN works: Slack handed out a connection")
        fix = ("In the app's settings (https://api.slack.com/apps), under Basic Information, App-Level Tokens, "
               "generate a token with the connections:write scope and set SLACK_APP_TOKEN to it (xapp-…); "
               "check that Socket Mode is switched on. Or serve over HTTP: set SLACK_SIGNING_SECRET and "
               "run `imagebot serve --http`.")
        if status is None:
            return Check("Socket Mode", FAIL, _unreachable(settings, error or ""), _unreachable_fix(error or ""))
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
        checks.append(_unreadable_database(settings.data_dir, error))
        return checks
    if bots is None:
        checks.append(Check("Installed workspaces", INFO, "not counted: the database has no installs table yet (it "
                            "is added when `imagebot serve` next starts)"))
    elif not bots:
        checks.append(Check("Installed workspaces", WARN, "no workspace has installed imagebot yet",
                            "Open https://YOUR-HOST/slack/install in a browser and choose Allow."))
    else:
        checks += [Check("Installed workspaces", OK, _plural(len(bots), "workspace")),
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
        client = _slack_client(settings, bot.bot_token)
        response, error, status = await _slack_call(client.auth_test)
        if response is not None or status == 429:
            return None
        return f"{bot.team_id}: " + (_unreachable(settings, error or "") if status is None
                                      else f"Slack refused its token ({error})")

    problems = [p for p in await asyncio.gather(*(problem(b) for b in checked)) if p]
    more = f" (the first {MAX_WORKSPACES_CHECKED} checked)" if len(bots) > MAX_WORKSPACES_CHECKED else ""
    if problems:
        return Check("Workspace tokens", WARN, f"{'; '.join(problems)}{more}",
                     "Someone in each such workspace installs imagebot again at https://YOUR-HOST/slack/install; "
                     "until then, its requests cannot be answered. Other workspaces are not affected.")
    return Check("Workspace tokens", OK, f"each installed workspace's bot token works{more}")


async def _bot_token_check(settings: Settings) -> tuple[Check, dict[str, Any] | None]:
    client = _slack_client(settings, settings.slack_bot_token)
    response, error, status = await _slack_call(client.auth_test)
    if response is None:
        if status is None:
            return Check("Slack bot token", FAIL, _unreachable(settings, error or ""),
                         _unreachable_fix(error or "")), None
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
    response, error, status = await _slack_call(lambda: client.conversations_history(channel=channel, limit=1))
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
    answers = await asyncio.gather(*(_slack_call(lambda user=user: client.users_info(user=user)) for user in checked))
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


# -- the image API ---------------------------------------------------------------------------------------------


async def image_api_checks(settings: Settings, http: httpx.AsyncClient) -> list[Check]:
    if settings.provider == "offline":
        return [Check("Image API", WARN, "no image API is configured: images come from the offline renderer "
                      "(stand-in pictures, not billed)",
                      "Set OPENAI_API_KEY for OpenAI, or AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY and "
                      "AZURE_OPENAI_DEPLOYMENT for Azure OpenAI.")]
    if settings.provider == "azure":
        return [await _azure_check(settings, http),
                Check("Organisation verification", INFO, "not used by Azure OpenAI (access to the image models "
                      "is granted per subscription; the deployment check covers it)")]
    key_check, error = await _openai_check(settings, http)
    listed = await _listed_models_check(settings, http) if key_check.status != FAIL else \
        Check("Models the key lists", INFO, "not checked, as the key check failed")
    return [key_check, listed, await _verification_check(settings, error, checked=key_check.status != FAIL)]


async def _listed_models_check(settings: Settings, http: httpx.AsyncClient) -> Check:
    """GET /v1/models: the image models the key lists and their shutdown dates. Not proof of access."""
    title = "Models the key lists"
    target = OpenAITarget(settings.openai_base_url, settings.openai_api_key or "")
    answer = await _get_or_post(http, "GET", target.models_url(), headers=target.headers())
    if isinstance(answer, str) or answer.status_code >= 400:
        problem = answer if isinstance(answer, str) else f"HTTP {answer.status_code}"
        return Check(title, WARN, f"GET /models failed ({problem}); imagebot falls back on its catalogue",
                     "Nothing to do unless it persists.")
    try:
        listed = image_models(answer.json(), load_catalogue(settings)[0])
    except ValueError:
        return Check(title, WARN, "GET /models answered with something that is not a list of models; imagebot falls "
                     "back on its catalogue")
    if not listed:
        return Check(title, WARN, "GET /models lists no image model; imagebot falls back on its catalogue")
    shown = ", ".join(f"{m} (shuts down {d})" if d else m for m, d in sorted(listed.items()))
    model = str(settings.model)
    if listed.get(model):
        return Check(title, WARN, f"{shown}. {model} (IMAGEBOT_MODEL) shuts down on {listed[model]}",
                     "Choose its replacement before then; imagebot warns admins 14 days ahead and on the day.")
    if model not in listed:
        return Check(title, WARN, f"{shown}. {model} (IMAGEBOT_MODEL) is not listed: it may be gone, or this project "
                     "may not see it", "Set IMAGEBOT_MODEL to a listed model, or check the project's model access.")
    return Check(title, OK, shown + ". The list is not proof of access: a refused call is explained as it happens")


async def _get_or_post(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response | str:
    """The response, or what went wrong on the way (the caller says where)."""
    try:
        return await asyncio.wait_for(http.request(method, url, timeout=CALL_TIMEOUT, **kwargs),
                                      CALL_TIMEOUT + BACKSTOP)
    except httpx.TimeoutException:
        return f"no answer within {CALL_TIMEOUT:g} s"
    except TimeoutError:
        return _backstop_fired()
    except httpx.HTTPError as error:
        return f"{type(error).__name__}"


def _api_error_check(title: str, error: errors.ImageAPIError, key_name: str, model: str) -> Check:
    """The account problems in the words Slack uses for them (errors.account_advice), then the passing ones."""
    detail = f"{error} (HTTP {error.status})"
    advice = errors.account_advice(error, model=model, key_name=key_name)
    if advice is not None:
        problem = advice.problem.replace("The image API", "the image API", 1)  # after "Title: ", as others read
        return Check(title, FAIL, f"{problem}: {detail}", f"{advice.fix[0].upper()}{advice.fix[1:]}.")
    if isinstance(error, errors.RateLimited):
        return Check(title, WARN, f"the image API is busy with too many requests: {detail}",
                     "Run `imagebot doctor` again in a minute.")
    if isinstance(error, errors.ServerError):
        return Check(title, WARN, f"the image API failed, so nothing could be checked: {detail}",
                     "Run `imagebot doctor` again in a moment.")
    return Check(title, FAIL, f"the image API said: {detail}")


async def _openai_check(settings: Settings, http: httpx.AsyncClient) -> tuple[Check, errors.ImageAPIError | None]:
    """GET /models/{model}: free, and it needs a working key. It does not show organisation verification."""
    title = "OpenAI key and model"
    target = OpenAITarget(settings.openai_base_url, settings.openai_api_key or "")
    where = "" if settings.openai_base_url == DEFAULT_OPENAI_BASE_URL else f" at {settings.openai_base_url}"
    answer = await _get_or_post(http, "GET", target.model_url(settings.model), headers=target.headers())
    if isinstance(answer, str):
        return Check(title, FAIL, f"could not reach the OpenAI API{where}: {answer}",
                     "Check the network and proxy, and OPENAI_BASE_URL if it is set."), None
    if answer.status_code < 400:
        return Check(title, OK, f"OPENAI_API_KEY works and {settings.model} (IMAGEBOT_MODEL) is available{where}"), None
    error = error_from_response(answer)
    if answer.status_code == 404:
        if isinstance(error, errors.InvalidRequest) and error.api_code == "model_not_found":
            return Check(title, FAIL, f"OPENAI_API_KEY works, but {settings.model} (IMAGEBOT_MODEL) is not available "
                         f"to it: {error}", "Set IMAGEBOT_MODEL to a model the account can use (see 'Models the "
                         "key lists'), or check the project's model access."), error
        return Check(title, WARN, f"the API{where} does not answer GET /models/{settings.model} (a proxy?), so the "
                     "key is checked only when the first image is made",
                     "If images fail, check OPENAI_API_KEY and OPENAI_BASE_URL."), error
    return _api_error_check(title, error, "OPENAI_API_KEY", settings.model), error


async def _verification_check(settings: Settings, error: errors.ImageAPIError | None, *, checked: bool) -> Check:
    """OpenAI may require organisation verification for the GPT image models. No free call shows it, so the
    answer comes from the ledger: the newest call with this model that succeeded, or that was refused for it."""
    title = "Organisation verification"
    if isinstance(error, errors.OrganizationNotVerified):
        return _api_error_check(title, error, "OPENAI_API_KEY", settings.model)
    if not checked:
        return Check(title, INFO, "not checked, as the key check failed")
    try:
        verdict = await asyncio.to_thread(_last_verdict, settings.data_dir, settings.model)
    except sqlite3.Error as error:
        if settings.oauth_enabled:  # the install count has reported the damaged database already
            return Check(title, INFO, "not checked: the database cannot be read")
        return _unreadable_database(settings.data_dir, error)
    if verdict is None:
        return Check(title, INFO, f"not known yet: no image has been made with {settings.model} here. OpenAI asks "
                     "some organisations to verify before they can use the GPT Image models; if yours must, the "
                     "first image fails and imagebot says so in Slack",
                     f"To be sure beforehand, look at {errors.VERIFY_URL}.")
    when = verdict["created_at"]
    if verdict["status"] == "ok":
        return Check(title, OK, f"not in the way: {settings.model} made an image here on {when}")
    return Check(title, FAIL, f"the last call with {settings.model} ({when}) was refused: OpenAI requires the "
                 "organisation to be verified",
                 f"Verify it at {errors.VERIFY_URL} (it can take 15 minutes to apply). If it is verified since, this "
                 "clears with the next image that succeeds.")


def _last_verdict(data_dir: Path, model: str) -> dict[str, Any] | None:
    db = diagnostics.open_readonly(data_dir)
    if db is None:
        return None
    try:
        return diagnostics.last_model_verdict(db, "openai", model)
    finally:
        db.close()


async def _azure_check(settings: Settings, http: httpx.AsyncClient) -> Check:
    """Azure documents no free read-only call for a deployment. A generation request without a prompt
    is the next best: the key and the deployment are checked before the body, which is refused (400) before any
    image is made, so nothing is billed."""
    title = "Azure OpenAI key and deployment"
    target = AzureTarget(settings.azure_endpoint or "", settings.azure_api_key or "", settings.azure_deployment or "",
                         settings.azure_api_version)
    answer = await _get_or_post(http, "POST", target.url("generations"), headers=target.headers(), json={})
    if isinstance(answer, str):
        return Check(title, FAIL, f"could not reach {settings.azure_endpoint}: {answer}",
                     "Check AZURE_OPENAI_ENDPOINT (https://YOUR-RESOURCE.openai.azure.com), the network and proxy.")
    deployment = f"deployment {settings.azure_deployment} (AZURE_OPENAI_DEPLOYMENT)"
    if answer.status_code < 400 or (answer.status_code == 400 and not _api_version_refused(answer)):
        return Check(title, OK, f"AZURE_OPENAI_API_KEY works and {deployment} answers "
                     f"(api-version {settings.azure_api_version})")
    error = error_from_response(answer)
    if answer.status_code == 400:
        return Check(title, FAIL, f"Azure does not accept api-version {settings.azure_api_version} "
                     f"(AZURE_OPENAI_API_VERSION): {error}",
                     "Unset AZURE_OPENAI_API_VERSION to use 2025-04-01-preview, the first version with GPT Image.")
    if answer.status_code == 404:
        if "deployment" in str(error).lower():
            return Check(title, FAIL, f"there is no {deployment} at {settings.azure_endpoint}: {error}",
                         "Set AZURE_OPENAI_DEPLOYMENT to the name of the image model's deployment (Azure AI Foundry, "
                         "Deployments). A new deployment can take 5 minutes to answer.")
        return Check(title, FAIL, f"no Azure OpenAI images API at {settings.azure_endpoint}: {error}",
                     "Check AZURE_OPENAI_ENDPOINT (https://YOUR-RESOURCE.openai.azure.com, without a path).")
    return _api_error_check(title, error, "AZURE_OPENAI_API_KEY", settings.model)


def _api_version_refused(answer: httpx.Response) -> bool:
    return "api version" in answer.text.lower() or "api-version" in answer.text.lower()


# -- storage ---------------------------------------------------------------------------------------------------


def storage_checks(data_dir: Path, min_free_bytes: int = MIN_FREE_BYTES,
                   low_free_bytes: int = LOW_FREE_BYTES) -> list[Check]:
    path = data_dir.resolve()
    existing = next(p for p in (path, *path.parents) if p.exists())
    checks = [_writable_check(path, existing)]
    try:
        free = shutil.disk_usage(existing).free
    except OSError as error:
        return [*checks, Check("Free disk", WARN, f"could not be measured at {existing}: {error.strerror}")]
    gib = f"{free / 1024**3:.1f} GB free on the data dir's disk"
    fix = ("Free some space, move IMAGEBOT_DATA_DIR to a larger disk, or set IMAGEBOT_RETENTION_DAYS to prune old "
           "images.")
    if free < min_free_bytes:
        checks.append(Check("Free disk", FAIL, f"only {free / 1024**2:.0f} MB free on the data dir's disk: images "
                            "and the database may soon not fit", fix))
    elif free < low_free_bytes:
        checks.append(Check("Free disk", WARN, f"{gib}, enough for a few hundred large images", fix))
    else:
        checks.append(Check("Free disk", OK, gib))
    return checks


def _writable_check(path: Path, existing: Path) -> Check:
    title = "Data dir"
    fix = ("Create it and let the user who runs imagebot write to it, or set IMAGEBOT_DATA_DIR to a folder that "
           "user can write to.")
    if existing != path:
        if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
            return Check(title, OK, f"{path} does not exist yet; imagebot creates it on start ({existing} is "
                         "writable)")
        return Check(title, FAIL, f"{path} does not exist, and {existing} is not writable to create it", fix)
    if not path.is_dir():
        return Check(title, FAIL, f"{path} is not a folder", fix)
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".imagebot-doctor-"):
            pass
    except OSError as error:
        return Check(title, FAIL, f"cannot write to {path}: {error.strerror}", fix)
    for part in (path / diagnostics.DB_NAME, path / "images"):
        if part.exists() and not os.access(part, os.W_OK):
            return Check(title, FAIL, f"{part} is not writable", fix)
    return Check(title, OK, f"{path} is writable")


def _unreadable_database(data_dir: Path, error: sqlite3.Error) -> Check:
    return Check("Database", FAIL, f"{data_dir / diagnostics.DB_NAME} cannot be read: {error}",
                 "Restore the latest backup with `imagebot restore PATH --force` (the damaged files are moved "
                 "aside, not deleted).")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
