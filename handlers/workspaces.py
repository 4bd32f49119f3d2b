"""Which bot token speaks for a workspace: the one in SLACK_BOT_TOKEN, or, with SLACK_CLIENT_ID and
SLACK_CLIENT_SECRET set, the one its install stored (Slack OAuth v2, refreshed here when token rotation is on).

Every path that needs a token goes through `Workspaces`: Bolt's per-request authorization (`authorizer()`),
and the jobs, which outlive their request and, after a restart, have no request at all (`client(team_id)`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store import Bot
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import NotInstalled
from bot.settings import Settings
from storage.installations import SQLiteInstallationStore

log = logging.getLogger(__name__)
WARM_SECONDS = 15.0  # the longest the token check at start may take (Workspaces.warm); requests never wait for it
ROTATE_MINUTES_BEFORE_EXPIRY = 120  # Bolt's default: refresh a rotating token when it has two hours left


@dataclass(frozen=True)
class BotIdentity:
    team_id: str
    enterprise_id: str | None
    token: str
    bot_id: str | None
    bot_user_id: str | None
    scopes: tuple[str, ...] = ()


class Workspaces:
    def __init__(self, settings: Settings, make_client: Callable[..., AsyncWebClient],
                 session: aiohttp.ClientSession, store: SQLiteInstallationStore | None = None) -> None:
        self.settings = settings
        self.store = store
        self._make_client = make_client
        self._session = session
        self._clients: dict[str, AsyncWebClient] = {}
        self._single: BotIdentity | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._checked: tuple[float, str | None] | None = None  # (when, problem) of the last /readyz auth.test
        self._api = make_client(settings, session=session)  # no token: oauth.v2.access and auth.test(token=…)

    @property
    def multi(self) -> bool:
        return self.store is not None

    # -- tokens ---------------------------------------------------------------------------------------------------
    async def identity(self, team_id: str | None, enterprise_id: str | None = None) -> BotIdentity:
        """The bot of `team_id`; raises NotInstalled when there is none (multi-workspace)."""
        if self.store is None:
            return await self._single_identity()
        bot = await self._find(team_id, enterprise_id)
        if _due(bot):
            # A refresh token works once: one refresh per workspace, and whoever waited reads the saved result.
            async with self._locks.setdefault(f"{enterprise_id}:{team_id}", asyncio.Lock()):
                bot = await self._find(team_id, enterprise_id)
                if _due(bot):
                    bot = await self._rotated(bot)
        return BotIdentity(team_id=bot.team_id or team_id or "", enterprise_id=bot.enterprise_id,
                           token=bot.bot_token, bot_id=bot.bot_id, bot_user_id=bot.bot_user_id,
                           scopes=tuple(bot.bot_scopes or ()))

    async def _find(self, team_id: str | None, enterprise_id: str | None) -> Bot:
        assert self.store is not None
        bot = await self.store.async_find_bot(enterprise_id=enterprise_id, team_id=team_id)
        if bot is None and enterprise_id:  # an org-wide install answers for every workspace of the org
            bot = await self.store.async_find_bot(enterprise_id=enterprise_id, team_id=None,
                                                  is_enterprise_install=True)
        if bot is None or not bot.bot_token:
            raise NotInstalled(team_id or enterprise_id or "?")
        return bot

    async def _rotated(self, bot: Bot) -> Bot:
        client_id, client_secret = self.settings.slack_client_id, self.settings.slack_client_secret
        # A store means multi-workspace installs, which Settings.oauth_enabled gives only with both set.
        assert self.store is not None and bot.bot_token_expires_at is not None and client_id and client_secret
        try:
            response = await self._api.oauth_v2_access(
                client_id=client_id, client_secret=client_secret,
                grant_type="refresh_token", refresh_token=bot.bot_refresh_token)
        except SlackApiError as error:
            log.warning("token refresh for %s failed: %s", bot.team_id, error.response.get("error"))
            if bot.bot_token_expires_at > time.time():
                return bot  # still good for a while: use it, try the refresh again next time
            raise NotInstalled(bot.team_id or "?") from error
        refreshed = Bot(**bot.to_dict_for_copying())
        refreshed.bot_token = response["access_token"]
        refreshed.bot_refresh_token = response.get("refresh_token") or bot.bot_refresh_token
        refreshed.bot_token_expires_at = int(time.time()) + int(response["expires_in"])
        await self.store.async_save_bot(refreshed)
        log.info("rotated the bot token of workspace %s", bot.team_id)
        return refreshed

    async def _single_identity(self) -> BotIdentity:
        """SLACK_BOT_TOKEN, checked with auth.test once; concurrent first callers share the call, a failure is
        not cached (the next request tries again)."""
        if self._single is None:
            lock = self._locks.setdefault("single", asyncio.Lock())
            async with lock:
                if self._single is None:
                    token = self.settings.slack_bot_token or ""
                    auth = await self._api.auth_test(token=token)
                    self._single = BotIdentity(team_id=auth["team_id"], enterprise_id=auth.get("enterprise_id"),
                                               token=token, bot_id=auth.get("bot_id"),
                                               bot_user_id=auth.get("user_id"))
        return self._single

    async def warm(self, timeout: float = WARM_SECONDS) -> None:
        """Check SLACK_BOT_TOKEN with auth.test now (imagebot serve calls this once serving), so the first requests
        after a start share this call instead of each burst's first request making it while the rest wait behind
        it. Bounded; a failure is only logged (the first request tries again, and says why it cannot go on)."""
        if self.store is not None:
            return  # multi-workspace: each request's install is read from the store, nothing to warm
        try:
            async with asyncio.timeout(timeout):
                await self._single_identity()
        except (SlackApiError, aiohttp.ClientError, OSError, TimeoutError) as error:
            log.warning("could not check the bot token at start (%s); the first request will try again",
                        type(error).__name__ if not isinstance(error, SlackApiError) else error.response.get("error"))
        except Exception:  # a bug (an answer not shaped like auth.test's): told in full, never fatal to start or stop
            log.exception("the bot token check at start failed unexpectedly; the first request will try again")

    # -- clients --------------------------------------------------------------------------------------------------
    async def client(self, team_id: str | None) -> AsyncWebClient:
        """A Web API client holding the bot token of `team_id` (sharing one aiohttp session)."""
        token = await self.token(team_id)
        client = self._clients.get(token)
        if client is None:
            if len(self._clients) > 1000:  # rotated and uninstalled tokens must not pile up for ever
                self._clients.clear()
            client = self._clients[token] = self._make_client(self.settings, token=token, session=self._session)
        return client

    async def token(self, team_id: str | None) -> str:
        if self.store is None:
            return self.settings.slack_bot_token or ""
        return (await self.identity(team_id)).token

    async def teams(self) -> list[str]:
        """Every workspace imagebot can speak in: the token's, or every installed one."""
        if self.store is None:
            return [(await self._single_identity()).team_id]
        return [team for _, team in await self.store.async_installed_teams() if team]

    async def forget(self, team_id: str | None, enterprise_id: str | None) -> None:
        """The workspace uninstalled imagebot or revoked its token: delete every token stored for it."""
        if self.store is None:
            return
        await self.store.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)
        log.info("forgot the tokens of workspace %s (uninstalled or revoked)", team_id)

    async def check(self) -> str | None:
        """For /readyz: None when Slack auth is fine, else why not. A single token is checked with auth.test
        (at most every 30 s, so frequent probes don't spend Slack's rate limit); multi-workspace, the installs
        must be readable (a workspace with no install yet is not a fault)."""
        if self.store is not None:
            await self.store.async_installed_teams()
            return None
        now = time.monotonic()
        if self._checked is not None and now - self._checked[0] < 30:
            return self._checked[1]
        try:
            await self._api.auth_test(token=self.settings.slack_bot_token or "")
            problem = None
        except SlackApiError as error:
            problem = f"auth.test: {error.response.get('error', 'failed')}"
        except (aiohttp.ClientError, OSError) as error:
            problem = f"auth.test: {type(error).__name__}"
        self._checked = (now, problem)
        return problem

    def authorizer(self) -> AsyncAuthorize:
        return _Authorize(self)


def _due(bot: Bot) -> bool:
    """A rotating token with less than two hours left (Bolt's rule): refresh it before use."""
    return bool(bot.bot_refresh_token) and bot.bot_token_expires_at is not None and (
        bot.bot_token_expires_at <= time.time() + ROTATE_MINUTES_BEFORE_EXPIRY * 60)


class _Authorize(AsyncAuthorize):
    """Bolt's per-request authorization, from `Workspaces` (so jobs and requests share one token cache and
    one refresh path). None (Bolt answers "not authorized") when the workspace has no token."""

    def __init__(self, workspaces: Workspaces) -> None:
        self.workspaces = workspaces

    async def __call__(self, *, context: AsyncBoltContext, enterprise_id: str | None, team_id: str | None,
                       user_id: str | None, **_: Any) -> AuthorizeResult | None:
        try:
            bot = await self.workspaces.identity(team_id, enterprise_id)
        except NotInstalled:
            log.info("a request from workspace %s, where imagebot has no token", team_id)
            return None
        return AuthorizeResult(enterprise_id=bot.enterprise_id, team_id=bot.team_id, bot_token=bot.token,
                               bot_id=bot.bot_id, bot_user_id=bot.bot_user_id, bot_scopes=list(bot.scopes))
