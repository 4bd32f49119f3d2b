"""OAuth v2: installs into more workspaces (the authorize page, oauth.v2.access), token rotation, revocation and
uninstalls."""

from __future__ import annotations

import base64
import secrets
import time
from urllib.parse import urlencode

from aiohttp import web

from standins.slack.delivery import AppDelivery
from standins.slack.records import JSON, Delivery
from standins.slack.state import BOT_SCOPES


class OAuth(AppDelivery):
    """The app's client credentials at work: what the authorize page approves and oauth.v2.access hands out."""

    def approve_install(self, team_id: str, *, user_id: str = "U0ADMIN", rotation: bool = False,
                        expires_in: int = 43200) -> None:
        """What the next visit to the authorize page approves: an install into `team_id` (added as a
        workspace if new) by `user_id`; with `rotation`, the tokens expire and come with a refresh token."""
        if team_id not in self.workspaces:
            self.add_workspace(team_id, team_id.lower())
        self.next_install = {"team_id": team_id, "user_id": user_id, "rotation": rotation, "expires_in": expires_in}

    async def _handle_authorize(self, request: web.Request) -> web.Response:
        """Slack's "Allow" page, approved at once: back to redirect_uri with a code and the app's state."""
        query = request.query
        if query.get("client_id") != self.client_id or not self.next_install:
            return web.Response(status=400, text="invalid_client_id or nothing to approve")
        scopes = [s for s in query.get("scope", "").split(",") if s]
        if not scopes:
            return web.Response(status=400, text="invalid_scope: no scopes requested")
        code = f"{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
        self._codes[code] = {**self.next_install, "scopes": scopes, "redirect_uri": query.get("redirect_uri")}
        target = query.get("redirect_uri") or self.oauth_redirect_url or ""
        separator = "&" if "?" in target else "?"
        raise web.HTTPFound(f"{target}{separator}{urlencode({'code': code, 'state': query.get('state', '')})}")

    def authorization_code(self, team_id: str, *, user_id: str = "U0ADMIN", rotation: bool = False,
                           expires_in: int = 43200, redirect_uri: str | None = None) -> str:
        """A code as the authorize page would hand out, for tests that skip the browser step."""
        self.approve_install(team_id, user_id=user_id, rotation=rotation, expires_in=expires_in)
        code = f"{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
        self._codes[code] = {**self.next_install, "scopes": BOT_SCOPES.split(","), "redirect_uri": redirect_uri}
        return code

    def _oauth_v2_access(self, params: JSON, request: web.Request) -> web.Response:
        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id != self.client_id or client_secret != self.client_secret:
            return web.json_response({"ok": False, "error": "invalid_client_id" if client_id != self.client_id
                                      else "bad_client_secret"})
        if params.get("grant_type") == "refresh_token":
            team_id = self._refresh_tokens.pop(params.get("refresh_token", ""), None)
            if team_id is None:
                return web.json_response({"ok": False, "error": "invalid_refresh_token"})
            body = {"ok": True, **self._new_bot_token(team_id, rotation=True, expires_in=43200),
                    "team": {"id": team_id, "name": self.workspaces[team_id]["name"]}, "enterprise": None,
                    "is_enterprise_install": False, "app_id": self.app_id, "scope": BOT_SCOPES,
                    "token_type": "bot", "bot_user_id": self.bot_user_id}
            return web.json_response(body)
        grant = self._codes.pop(params.get("code", ""), None)
        if grant is None:
            return web.json_response({"ok": False, "error": "invalid_code"})
        if grant.get("redirect_uri") and params.get("redirect_uri") not in (None, grant["redirect_uri"]):
            return web.json_response({"ok": False, "error": "bad_redirect_uri"})
        team_id = grant["team_id"]
        body = {"ok": True, "app_id": self.app_id, "authed_user": {"id": grant["user_id"]},
                "scope": ",".join(grant["scopes"]), "token_type": "bot", "bot_user_id": self.bot_user_id,
                "team": {"id": team_id, "name": self.workspaces[team_id]["name"]}, "enterprise": None,
                "is_enterprise_install": False,
                **self._new_bot_token(team_id, rotation=grant["rotation"], expires_in=grant["expires_in"])}
        self.installs.append(body)
        self._changed()
        return web.json_response(body)

    def _new_bot_token(self, team_id: str, *, rotation: bool, expires_in: int) -> JSON:
        prefix = "xoxe.xoxb-" if rotation else "xoxb-"
        token = f"{prefix}{team_id}-{secrets.token_hex(12)}"
        self.tokens[token] = team_id
        if not rotation:
            return {"access_token": token}
        self.token_expiry[token] = time.time() + expires_in
        refresh = f"xoxe-1-{secrets.token_hex(16)}"
        self._refresh_tokens[refresh] = team_id
        return {"access_token": token, "refresh_token": refresh, "expires_in": expires_in}

    def expire_tokens(self, team_id: str) -> None:
        """The rotating tokens of `team_id` reach their expiry now (refresh tokens keep working)."""
        for token, team in self.tokens.items():
            if team == team_id and token in self.token_expiry:
                self.token_expiry[token] = time.time() - 1

    async def uninstall(self, team_id: str) -> Delivery:
        """The workspace removes the app: its tokens stop working, then `app_uninstalled` is delivered."""
        self._revoke(team_id)
        return await self.deliver_event({"type": "app_uninstalled"}, team_id=team_id)

    async def revoke_tokens(self, team_id: str) -> Delivery:
        """The workspace's bot token is revoked: it stops working, then `tokens_revoked` is delivered."""
        self._revoke(team_id)
        return await self.deliver_event({"type": "tokens_revoked", "tokens": {"oauth": [], "bot": [self.bot_user_id]}},
                                        team_id=team_id)

    def _revoke(self, team_id: str) -> None:
        for token in [t for t, team in self.tokens.items() if team == team_id]:
            del self.tokens[token]
        for refresh in [r for r, team in self._refresh_tokens.items() if team == team_id]:
            del self._refresh_tokens[refresh]
