"""A local stand-in for Slack, served over real HTTP on loopback.

`SlackStandIn` plays both sides of Slack that an app touches:

* **The Web API** (``POST /api/<method>``): an ``AsyncWebClient(base_url=standin.api_url)`` talks to it as
  it would to ``https://slack.com/api/``. Bearer tokens are checked, JSON and form bodies are accepted, and
  answers use Slack's shapes and error codes (``{"ok": false, "error": "channel_not_found"}`` with HTTP 200,
  429 + ``Retry-After`` when rate limited). The files_upload_v2 flow works end to end: an upload URL
  (``/upload/<file_id>``), file objects whose ``url_private`` is served under ``/files-pri/...``, and the
  ``response_url`` of slash commands (``/response/<id>``).
* **Slack calling the app**: slash commands, Events API envelopes and interactions are POSTed to
  ``app_request_url``, signed with the signing secret exactly as Slack does (Bolt verifies them).
* **Socket Mode**: ``apps.connections.open`` (app-level token only) hands out a single-use
  ``ws://…/link/?ticket=…`` URL; the WebSocket there greets with ``hello``, and while an app is connected
  (or with ``transport = "socket"``) the same commands, events and interactions travel as envelopes
  (``{"envelope_id", "type": "slash_commands" | "events_api" | "interactive", "payload", ...}``) that the
  app acks with ``{"envelope_id", "payload"?}``. The ``Delivery`` records look the same either way:
  status 200 once acked, ``response_text`` the ack's payload as JSON. ``wait_for_socket()`` waits for a
  connection; ``disconnect_sockets()`` acts out Slack's connection refresh; ``stop()`` says
  ``disconnect`` before closing.

Slack quirks reproduced on purpose, because the app has to cope with them:

* The app's own messages come back to it as ``message`` events carrying ``bot_id`` (no ``bot_message``
  subtype, as with modern bot tokens); file uploads come back with ``subtype: "file_share"``.
* ``files.completeUploadExternal`` returns no message ``ts``, and its file objects have empty
  ``mimetype``/``filetype`` and no ``shares`` yet; ``files.info`` later has the full object.
* ``url_private`` without the bot token answers 200 with an HTML login page, not an error status.
* Text over 40,000 characters is truncated with a ``message_truncated`` warning.
* A ``response_url`` works at most 5 times.
* Slash-command ack bodies become an ephemeral reply (or a channel message with ``response_type: in_channel``).
* Socket Mode: first Events API deliveries already carry ``retry_attempt: 0, retry_reason: ""`` (Bolt turns
  them into an ``x-slack-retry-num: 0`` header); the app token works only for ``apps.connections.open`` and
  the bot token does not work there; a WebSocket URL works once.

What it does not do: real retries of failed event deliveries (use ``deliver_event(..., retry_num=1)``),
the 3-second ack timeout (``Delivery.elapsed_ms`` is recorded instead; a Socket Mode delivery gives up after
``ack_timeout``), Block Kit validation beyond a few limits, pagination, thumbnails,
``replace_original``/``delete_original``, expiry of Socket Mode URLs, the 10-connection limit.

Nothing here imports the app: it is a fake Slack, not part of imagebot.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import io
import itertools
import json
import mimetypes
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web
from slack_sdk.signature import SignatureVerifier

BOT_SCOPES = (
    "app_mentions:read,channels:history,chat:write,commands,files:read,files:write,"
    "groups:history,im:history,mpim:history,reactions:write,users:read"
)
MAX_TEXT = 40_000  # longer message text is truncated (api.slack.com changelog 2018-04)
MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100  # modals and Home tabs
MAX_SECTION_TEXT = 3000
RESPONSE_URL_MAX_USES = 5
DELIVERY_TIMEOUT = 30.0  # generous on purpose; Slack's own 3 s limit shows up in Delivery.elapsed_ms
SOCKET_ACK_TIMEOUT = 10.0  # how long a Socket Mode delivery waits for its ack (also generous)
APP_TOKEN_SCOPES = "connections:write"
SOCKET_HOST = "applink-standin"  # what hello and disconnect messages name in debug_info.host
# Socket Mode envelope type per delivery kind; only Slack's own names are used on the wire.
_ENVELOPE_TYPES = {"command": "slash_commands", "event": "events_api", "interaction": "interactive"}
# Interactions whose HTTP response body means something (response_action, options) accept an ack payload;
# block_actions and shortcuts do not (python-slack-sdk's recorded envelopes have false for a shortcut).
_INTERACTIONS_WITH_RESPONSE = frozenset({"view_submission", "block_suggestion"})
LOGIN_PAGE = (
    "<!DOCTYPE html><html><head><title>Slack</title></head>"
    "<body><h1>Sign in to Slack</h1><form action='/signin'>…</form></body></html>"
)
_FILETYPES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp",
              "text/plain": "text", "application/json": "json", "application/pdf": "pdf"}
_MENTION = re.compile(r"<@([UWB][A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass
class RecordedCall:
    """One request the stand-in received (Web API method, byte upload, url_private download, response_url)."""

    method: str
    params: dict  # form fields stay raw strings; JSON bodies keep their decoded values
    headers: dict[str, str]
    token: str | None
    status: int

    def json_param(self, name: str, default: Any = None) -> Any:
        """A parameter that may carry JSON (``files``, ``blocks``): decoded when sent as a string."""
        value = self.params.get(name, default)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return json.loads(value)
        return value


@dataclass
class Delivery:
    """One request the stand-in sent to the app (a signed POST or a Socket Mode envelope), and the answer."""

    kind: str  # "command" | "event" | "interaction"
    body: str  # the raw body, exactly as signed (or the envelope's JSON, exactly as sent)
    payload: dict  # the same, decoded (form fields, event envelope, or the interaction payload)
    headers: dict[str, str]
    status: int  # the app's HTTP status (200 for an acked envelope); 0 if the app could not be reached
    response_text: str
    response_headers: dict[str, str]
    elapsed_ms: float
    error: str | None = None  # connection error (or, over a socket, a missing ack), if any
    transport: str = "http"  # "http" (signed POST) or "socket" (a Socket Mode envelope; headers are empty)
    envelope_id: str | None = None  # Socket Mode only

    def response_json(self) -> Any:
        return json.loads(self.response_text) if self.response_text.strip() else None


@dataclass
class SocketConnection:
    """One Socket Mode WebSocket the app opened with a ticket from apps.connections.open, and how it ended."""

    ticket: str
    ws: web.WebSocketResponse = field(repr=False)
    opened: float
    closed: float | None = None
    close_code: int | None = None  # the code the app sent (it closed) or answered (the stand-in closed)
    closed_by: str | None = None  # "app" | "stand-in"

    @property
    def is_open(self) -> bool:
        return self.closed is None and not self.ws.closed


class _ApiError(Exception):
    """Raised inside Web API handlers; becomes ``{"ok": false, "error": ..., **extra}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error, self.extra = error, extra


class SlackStandIn:
    def __init__(self, *, bot_token: str = "xoxb-standin-token", signing_secret: str = "standin-signing-secret",
                 team_id: str = "T0STANDIN", team_domain: str = "standin", app_id: str = "A0IMAGEBOT",
                 bot_user_id: str = "U0IMAGEBOT", bot_id: str = "B0IMAGEBOT", echo_bot_messages: bool = True,
                 app_token: str = "xapp-1-standin") -> None:
        self.bot_token, self.signing_secret, self.app_token = bot_token, signing_secret, app_token
        # Every bot token Slack would accept, and its workspace: the constructor's, plus those handed out by
        # installs through oauth.v2.access (see `approve_install`). Revoked or expired tokens leave this dict.
        self.tokens: dict[str, str] = {bot_token: team_id}
        self.token_expiry: dict[str, float] = {}  # rotating tokens: when each stops working (time.time())
        self.client_id, self.client_secret = "0123456789.9876543210", "standin-client-secret"
        self.workspaces: dict[str, dict] = {team_id: {"id": team_id, "name": team_domain, "domain": team_domain}}
        self.installs: list[dict] = []  # every oauth.v2.access answer given for a code, newest last
        self._codes: dict[str, dict] = {}  # authorization code -> the install it stands for
        self._refresh_tokens: dict[str, str] = {}  # refresh token -> team
        self.next_install: dict = {}  # what the authorize page approves next (see `approve_install`)
        self.oauth_redirect_url: str | None = None  # the app's registered Redirect URL (used when none is sent)
        self.team_id, self.team_domain, self.app_id = team_id, team_domain, app_id
        self.bot_user_id, self.bot_id = bot_user_id, bot_id
        self.echo_bot_messages = echo_bot_messages
        self.verification_token = "standin-verification-token"  # the legacy `token` field in payloads
        self.app_request_url: str | None = None
        # "auto": Socket Mode envelopes while an app is connected, else signed HTTP to app_request_url;
        # "socket": always Socket Mode, like Slack once Socket Mode is switched on; "http": always HTTP.
        self.transport = "auto"
        self.ack_timeout = SOCKET_ACK_TIMEOUT
        # What the bot token's answers report in x-oauth-scopes; a test may narrow it (an app installed before
        # a scope was added to its manifest).
        self.bot_scopes = BOT_SCOPES

        self.users: dict[str, dict] = {}
        self.channels: dict[str, dict] = {}
        self.calls: list[RecordedCall] = []
        self.deliveries: list[Delivery] = []
        self.views: list[dict] = []  # modals the app opened (views.open)
        self.home_views: dict[str, dict] = {}  # user id -> the App Home view last published for them
        self.connections: list[SocketConnection] = []  # every Socket Mode connection, open or closed
        self.acks: list[dict] = []  # every Socket Mode ack the app sent, as received
        self._messages: dict[str, dict[str, dict]] = {}  # channel id -> ts -> message
        self._ephemerals: list[dict] = []
        self._files: dict[str, dict] = {}
        self._file_bytes: dict[str, bytes] = {}
        self._uploads: dict[str, dict] = {}  # file id -> pending upload (getUploadURLExternal until complete)
        self._response_urls: dict[str, dict] = {}
        self._faults: dict[str, list[dict]] = {}
        self._tickets: set[str] = set()  # issued by apps.connections.open, not used yet
        self._pending_acks: dict[str, asyncio.Future[dict | None]] = {}  # envelope id -> its ack
        self._socket_turn = itertools.count()
        self._stopping = False
        self._released = asyncio.Event()  # set by stop(): requests hanging on purpose (hang_next) are answered
        self._open_channels: set[str] = set()  # channels every (later) user joins
        self._ids = itertools.count(1)
        self._last_ts_us = 0
        self._tasks: set[asyncio.Task] = set()
        self._state_changed = asyncio.Event()
        self._verifier = SignatureVerifier(signing_secret)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._base_url: str | None = None
        self._methods: dict[str, Callable[[dict], dict]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "files.info": self._files_info,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "users.info": self._users_info,
            "views.open": self._views_open,
            "views.publish": self._views_publish,
        }
        self.add_user(bot_user_id, "imagebot", real_name="imagebot", is_bot=True)
        self.add_user("U0ALICE", "alice", real_name="Alice Liddell")
        self.add_user("U0BOB", "bob", real_name="Bob Builder")
        self.add_user("U0ADMIN", "admin", real_name="Ada Admin", is_admin=True)
        self.add_channel("C0GENERAL", "general")
        self.add_channel("C0RANDOM", "random")

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._runner is not None:
            raise RuntimeError("SlackStandIn already started")
        app = web.Application(client_max_size=100 * 1024 * 1024)  # image uploads exceed aiohttp's 1 MiB default
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/upload/{file_id}", self._handle_upload)
        app.router.add_get("/files-pri/{team_file}/{name}", self._handle_download)
        app.router.add_get("/files-pri/{team_file}/download/{name}", self._handle_download)
        app.router.add_post("/response/{response_id}", self._handle_response_url)
        app.router.add_get("/link/", self._handle_link)
        app.router.add_get("/oauth/v2/authorize", self._handle_authorize)
        self._stopping = False
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_port = self._runner.addresses[0][1]
        self._base_url = f"http://{host}:{bound_port}/"
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT))

    async def stop(self) -> None:
        """Cancel pending background deliveries, say goodbye to Socket Mode apps, close the session and server."""
        self._stopping = True
        self._released.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for pending in self._pending_acks.values():  # a test still awaiting an ack gets an answer now
            if not pending.done():
                pending.set_result(None)
        await self.disconnect_sockets(grace=0)
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SlackStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("SlackStandIn is not started")
        return self._base_url

    @property
    def api_url(self) -> str:
        return self.base_url + "api/"

    # ------------------------------------------------------------------ workspace

    def add_user(self, user_id: str, name: str, *, real_name: str | None = None, is_admin: bool = False,
                 is_owner: bool = False, is_bot: bool = False, tz: str = "UTC") -> dict:
        real_name = real_name or name
        user = {
            "id": user_id, "team_id": self.team_id, "name": name, "deleted": False, "real_name": real_name,
            "tz": tz, "is_admin": is_admin, "is_owner": is_owner,
            "is_primary_owner": False, "is_restricted": False, "is_ultra_restricted": False,
            "is_bot": is_bot, "is_app_user": False, "updated": int(time.time()),
            "profile": {"real_name": real_name, "display_name": name, "real_name_normalized": real_name,
                        "display_name_normalized": name, "team": self.team_id},
        }
        if is_bot:
            user["profile"].update(bot_id=self.bot_id, api_app_id=self.app_id)
        self.users[user_id] = user
        for channel_id in self._open_channels:
            self.channels[channel_id]["members"].append(user_id)
        return user

    def add_channel(self, channel_id: str, name: str, *, is_im: bool = False,
                    members: list[str] | None = None) -> dict:
        """members=None: every user (and later users too); for an IM pass members=[user_id]."""
        if members is None and not is_im:
            members = list(self.users)
            self._open_channels.add(channel_id)
        members = list(members or [])
        if is_im and self.bot_user_id not in members:
            members.append(self.bot_user_id)  # an IM here is always the app's DM with someone
        channel = {"id": channel_id, "name": name, "is_channel": not is_im, "is_im": is_im,
                   "is_private": is_im, "members": members}
        if is_im:
            channel["user"] = next((m for m in members if m != self.bot_user_id), None)
        self.channels[channel_id] = channel
        self._messages.setdefault(channel_id, {})
        return channel

    # ------------------------------------------------------------------ observing

    def calls_to(self, method: str) -> list[RecordedCall]:
        return [c for c in self.calls if c.method == method]

    def messages(self, channel_id: str) -> list[dict]:
        """Top-level messages and replies of a channel, in ts order."""
        return sorted(self._messages.get(channel_id, {}).values(), key=lambda m: _ts_key(m["ts"]))

    def thread(self, channel_id: str, thread_ts: str) -> list[dict]:
        """The parent message first, then its replies in ts order."""
        return [m for m in self.messages(channel_id) if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts]

    def ephemerals(self, channel_id: str | None = None, user_id: str | None = None) -> list[dict]:
        return [e for e in self._ephemerals
                if channel_id in (None, e["channel"]) and user_id in (None, e["user"])]

    def file(self, file_id: str) -> dict:
        return self._files[file_id]

    def file_bytes(self, file_id: str) -> bytes:
        return self._file_bytes[file_id]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Return the predicate's first truthy value, re-checking it whenever the stand-in's state changes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._state_changed  # taken before evaluating, so no change can slip in between
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(self._timeout_report(timeout))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    async def drain(self) -> None:
        """Wait until every background delivery (echoes of the bot's own messages) has been answered."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _changed(self) -> None:
        self._state_changed.set()
        self._state_changed = asyncio.Event()

    def _timeout_report(self, timeout: float) -> str:
        calls = "\n".join(f"  {c.method} -> {c.status} {_short(c.params)}" for c in self.calls[-10:])
        deliveries = "\n".join(f"  {d.kind} -> {d.status} {_short(d.payload)}" for d in self.deliveries[-5:])
        return (f"wait_for: condition still false after {timeout}s\n"
                f"last calls to the Slack stand-in:\n{calls or '  (none)'}\n"
                f"last deliveries to the app:\n{deliveries or '  (none)'}")

    # ------------------------------------------------------------------ faults

    def fail_next(self, method: str, *, status: int = 429, error: str = "ratelimited",
                  retry_after: int | None = 1, times: int = 1) -> None:
        """Make the next `times` requests to `method` fail. Methods: Web API names, "upload", "download",
        "response_url". A 429 carries `Retry-After: retry_after` like Slack's rate limiter."""
        fault = {"status": status, "error": error, "retry_after": retry_after}
        self._faults.setdefault(method, []).extend(dict(fault) for _ in range(times))

    def hang_next(self, method: str, *, times: int = 1) -> None:
        """Never answer the next `times` requests to `method` until stop() (then 503): the caller's own timeout
        has to fire."""
        self._faults.setdefault(method, []).extend({"hang": True} for _ in range(times))

    async def _take_fault(self, method: str) -> web.Response | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue.pop(0)
        if fault.get("hang"):
            await self._released.wait()
            return web.json_response({"ok": False, "error": "standin_stopped"}, status=503)
        headers = {"Retry-After": str(fault["retry_after"])} if fault["retry_after"] is not None else {}
        return web.json_response({"ok": False, "error": fault["error"]}, status=fault["status"], headers=headers)

    # ------------------------------------------------------------------ HTTP: the Web API

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        token = _bearer(request)
        params: dict = {}
        try:
            params = await _read_params(request)
            if method == "oauth.v2.access":  # client credentials, not a token (HTTP Basic or form fields)
                response = await self._take_fault(method) or self._oauth_v2_access(params, request)
            else:
                response = await self._take_fault(method) or self._api_response(method, params, token)
        except _ApiError as e:  # an unreadable body
            response = web.json_response({"ok": False, "error": e.error})
        self._record(method, params, request, token, response.status)
        return response

    def _api_response(self, method: str, params: dict, token: str | None) -> web.Response:
        if token is None:
            return web.json_response({"ok": False, "error": "not_authed"})
        if method == "apps.connections.open":  # the one method that takes the app-level token
            return self._connections_open(token)
        if not self._token_valid(token):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = self._methods.get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        try:
            # auth.test describes the token itself: the one method whose answer depends on which token it is.
            body = {"ok": True, **(self._auth_test(token) if method == "auth.test" else handler(params))}
        except _ApiError as e:
            body = {"ok": False, "error": e.error, **e.extra}
        # Slack reports the token's scopes on every answer (Bolt reads them from auth.test's).
        return web.json_response(body, headers={"x-oauth-scopes": self.bot_scopes})

    def _connections_open(self, token: str) -> web.Response:
        # Only the app-level token works here. Slack is said to answer a bot token with
        # not_allowed_token_type; unconfirmed, so the stand-in says invalid_auth as for any wrong token.
        if token != self.app_token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        ticket = secrets.token_hex(16)
        self._tickets.add(ticket)
        host = self.base_url.removeprefix("http://").rstrip("/")
        url = f"ws://{host}/link/?ticket={ticket}&app_id={self.app_id}"  # Slack: wss://wss-….slack.com/link/?…
        return web.json_response({"ok": True, "url": url}, headers={"x-oauth-scopes": APP_TOKEN_SCOPES})

    def _record(self, method: str, params: dict, request: web.Request, token: str | None, status: int) -> None:
        self.calls.append(RecordedCall(method, params, dict(request.headers), token, status))
        self._changed()

    # --- auth / users / conversations

    def _auth_test(self, token: str | None) -> dict:
        team = self.workspaces[self.tokens.get(token or "", self.team_id)]
        return {"url": self.base_url, "team": team["domain"], "user": self.users[self.bot_user_id]["name"],
                "team_id": team["id"], "user_id": self.bot_user_id, "bot_id": self.bot_id,
                "is_enterprise_install": False}

    # --- OAuth v2: installs into more workspaces, token rotation, uninstalls

    def _token_valid(self, token: str | None) -> bool:
        if token not in self.tokens:
            return False
        expires = self.token_expiry.get(token)
        return expires is None or time.time() < expires

    def team_of(self, token: str | None) -> str | None:
        return self.tokens.get(token or "")

    def add_workspace(self, team_id: str, domain: str) -> None:
        self.workspaces[team_id] = {"id": team_id, "name": domain.title(), "domain": domain}

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

    def _oauth_v2_access(self, params: dict, request: web.Request) -> web.Response:
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

    def _new_bot_token(self, team_id: str, *, rotation: bool, expires_in: int) -> dict:
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

    def _views_open(self, p: dict) -> dict:
        """Opens a modal: kept in `views` (newest last) so a test can fill it in and submit it."""
        view = p.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not p.get("trigger_id") or not isinstance(view, dict):
            raise _ApiError("invalid_arguments")
        if view.get("type") != "modal" or not view.get("title") or len(view.get("blocks") or []) > 100:
            raise _ApiError("invalid_arguments")
        opened = {**view, "id": f"V{next(self._ids):08d}", "team_id": self.team_id, "app_id": self.app_id,
                  "hash": secrets.token_hex(8), "trigger_id": p["trigger_id"]}
        self.views.append(opened)
        self._changed()
        return {"view": opened}

    def _views_publish(self, p: dict) -> dict:
        """Publishes a user's App Home view: kept in `home_views[user_id]` (each publish replaces the last)."""
        view = _decode_json(p.get("view"))
        if not p.get("user_id") or not isinstance(view, dict):
            raise _ApiError("invalid_arguments")
        if p["user_id"] not in self.users:
            raise _ApiError("user_not_found")
        blocks = view.get("blocks")
        if view.get("type") != "home" or not isinstance(blocks, list) or len(blocks) > MAX_VIEW_BLOCKS:
            raise _ApiError("invalid_arguments")
        for i in range(0, len(blocks), MAX_BLOCKS):  # the message checks, on each run of up to 50 blocks
            _decode_blocks(blocks[i:i + MAX_BLOCKS])
        published = {**view, "id": f"V{next(self._ids):08d}", "team_id": self.team_id, "app_id": self.app_id,
                     "hash": secrets.token_hex(8)}
        self.home_views[p["user_id"]] = published
        self._changed()
        return {"view": copy.deepcopy(published)}

    def _users_info(self, p: dict) -> dict:
        user = self.users.get(p.get("user", ""))
        if user is None:
            raise _ApiError("user_not_found")
        return {"user": copy.deepcopy(user)}

    def _conversations_replies(self, p: dict) -> dict:
        channel = self._channel(p.get("channel"), allow_user=False)
        message = self._find(channel["id"], p.get("ts"))
        if message is None:
            raise _ApiError("thread_not_found")
        # `ts` may be the parent or any reply: the whole thread comes back either way.
        root = message.get("thread_ts", message["ts"])
        return {"messages": copy.deepcopy(self.thread(channel["id"], root)), "has_more": False,
                "response_metadata": {"next_cursor": ""}}

    def _conversations_history(self, p: dict) -> dict:
        """A channel's top-level messages, newest first, at most `limit`. The bot must be a member: Slack answers
        not_in_channel for a public channel it is not in, and channel_not_found for a private one it cannot see."""
        channel = self._channel(p.get("channel"), allow_user=False)
        if self.bot_user_id not in channel["members"]:
            raise _ApiError("channel_not_found" if channel["is_private"] else "not_in_channel")
        limit = min(max(int(p.get("limit") or 100), 1), 999)
        top = [m for m in reversed(self.messages(channel["id"])) if m.get("thread_ts", m["ts"]) == m["ts"]]
        return {"messages": copy.deepcopy(top[:limit]), "has_more": len(top) > limit, "pin_count": 0,
                "response_metadata": {"next_cursor": ""}}

    # --- chat

    def _chat_post_message(self, p: dict) -> dict:
        channel = self._channel(p.get("channel"))
        self._require_bot_member(channel)
        text, blocks = _content(p)
        text, truncated = _truncate(text)
        thread_ts = self._thread_root(channel["id"], p.get("thread_ts"))
        message = self._bot_message(channel["id"], text, blocks=blocks, thread_ts=thread_ts,
                                    broadcast=bool(thread_ts) and _truthy(p.get("reply_broadcast")))
        body = {"channel": channel["id"], "ts": message["ts"], "message": copy.deepcopy(message)}
        if truncated:
            body.update(warning="message_truncated", response_metadata={"warnings": ["message_truncated"]})
        return body

    def _chat_update(self, p: dict) -> dict:
        channel = self._channel(p.get("channel"), allow_user=False)  # DMs must be given as D… ids
        message = self._find(channel["id"], p.get("ts"))
        if message is None:
            raise _ApiError("message_not_found")
        if message.get("bot_id") != self.bot_id:
            raise _ApiError("cant_update_message")
        text, blocks = p.get("text"), _decode_blocks(p.get("blocks"))
        if not text and blocks is None and not p.get("attachments"):
            raise _ApiError("no_text")
        previous = copy.deepcopy(message)
        if text is not None:
            message["text"], _ = _truncate(text)
        if blocks is not None:
            message["blocks"] = blocks
        elif text is not None:
            message.pop("blocks", None)  # text without blocks drops the old blocks (chat.update docs)
        if blocks is None:  # Slack shows "(edited)" only for text edits, not block edits
            message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        self._echo(self._changed_event(channel, message, previous))
        return {"channel": channel["id"], "ts": message["ts"], "text": message["text"],
                "message": copy.deepcopy(message)}

    def _chat_post_ephemeral(self, p: dict) -> dict:
        channel = self._channel(p.get("channel"))
        self._require_bot_member(channel)
        user_id = p.get("user", "")
        if user_id not in self.users or user_id not in channel["members"]:
            raise _ApiError("user_not_in_channel")
        text, blocks = _content(p)
        message_ts = self._next_ts()
        self._add_ephemeral(channel["id"], user_id, {"text": _truncate(text)[0], "blocks": blocks,
                                                     "thread_ts": p.get("thread_ts")}, "chat.postEphemeral",
                            ts=message_ts)
        return {"message_ts": message_ts}

    # --- reactions

    def _reactions_add(self, p: dict) -> dict:
        message, name = self._reaction_target(p)
        reactions = message.setdefault("reactions", [])
        reaction = next((r for r in reactions if r["name"] == name), None)
        if reaction is None:
            reaction = {"name": name, "users": [], "count": 0}
            reactions.append(reaction)
        if self.bot_user_id in reaction["users"]:
            raise _ApiError("already_reacted")
        reaction["users"].append(self.bot_user_id)
        reaction["count"] = len(reaction["users"])
        return {}

    def _reactions_remove(self, p: dict) -> dict:
        message, name = self._reaction_target(p)
        reactions = message.get("reactions", [])
        reaction = next((r for r in reactions if r["name"] == name), None)
        if reaction is None or self.bot_user_id not in reaction["users"]:
            raise _ApiError("no_reaction")
        reaction["users"].remove(self.bot_user_id)
        reaction["count"] = len(reaction["users"])
        if not reaction["users"]:
            reactions.remove(reaction)
        if not reactions:
            message.pop("reactions", None)
        return {}

    def _reaction_target(self, p: dict) -> tuple[dict, str]:
        channel = self._channel(p.get("channel"), allow_user=False)
        if not p.get("name"):
            raise _ApiError("invalid_name")
        if not p.get("timestamp"):
            raise _ApiError("no_item_specified")
        message = self._find(channel["id"], p.get("timestamp"))
        if message is None:
            raise _ApiError("message_not_found")
        return message, p["name"]

    # --- files

    def _files_get_upload_url(self, p: dict) -> dict:
        filename, length = p.get("filename"), p.get("length")
        try:
            length = int(length)
        except (TypeError, ValueError):
            raise _ApiError("invalid_arguments") from None
        if not filename:
            raise _ApiError("invalid_arguments")
        if length <= 0:
            raise _ApiError("missing_argument")  # Slack's answer for length=0
        if len(p.get("alt_txt") or "") > 1000:
            raise _ApiError("alt_txt_too_large")
        file_id = self._new_id("F")
        self._uploads[file_id] = {"filename": filename, "length": length, "alt_txt": p.get("alt_txt"),
                                  "data": None}
        return {"upload_url": f"{self.base_url}upload/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, p: dict) -> dict:
        entries = _decode_json(p.get("files"))
        if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
            raise _ApiError("invalid_arguments")
        for entry in entries:  # never uploaded, unknown, or already completed (this method works once)
            upload = self._uploads.get(entry.get("id", ""))
            if upload is None or upload["data"] is None:
                raise _ApiError("file_not_found")
        channel_ids = [c for c in [p.get("channel_id"), *str(p.get("channels") or "").split(",")] if c]
        channels = [self._channel(c) for c in dict.fromkeys(channel_ids)]
        for channel in channels:
            self._require_bot_member(channel)
        thread_ts = p.get("thread_ts")
        if thread_ts:
            parent = self._find(channels[0]["id"], thread_ts) if len(channels) == 1 else None
            # The docs: "Never use a reply's ts value; use its parent instead." Enforced here.
            if parent is None or parent.get("thread_ts", parent["ts"]) != parent["ts"]:
                raise _ApiError("thread_not_found")
        files = []
        for entry in entries:
            upload = self._uploads.pop(entry["id"])
            files.append(self._store_file(entry["id"], upload["filename"], upload["data"], user=self.bot_user_id,
                                          title=entry.get("title"), alt_txt=upload["alt_txt"]))
        comment = p.get("initial_comment")
        blocks = None if comment else _decode_blocks(p.get("blocks"))  # blocks are ignored with a comment
        for channel in channels:
            self._bot_message(channel["id"], comment or "", blocks=blocks, thread_ts=thread_ts, files=files)
        # Like Slack: no message ts, and the file objects are not processed yet.
        return {"files": [{**_in_message(f), "mimetype": "", "filetype": ""} for f in files]}

    def _files_info(self, p: dict) -> dict:
        file = self._files.get(p.get("file", ""))
        if file is None:
            raise _ApiError("file_not_found")
        return {"file": copy.deepcopy(file), "comments": [], "response_metadata": {"next_cursor": ""}}

    # ------------------------------------------------------------------ HTTP: upload, download, response_url

    async def _handle_upload(self, request: web.Request) -> web.Response:
        params = {"file_id": request.match_info["file_id"]}
        response = await self._take_fault("upload") or await self._upload(params, request)
        self._record("upload", params, request, None, response.status)
        return response

    async def _upload(self, params: dict, request: web.Request) -> web.Response:
        upload = self._uploads.get(params["file_id"])
        if upload is None:  # unknown, or already completed
            return web.Response(status=404, text="Not Found")
        upload["data"] = data = await _read_upload(request)
        params["size"] = len(data)
        return web.Response(text=f"OK - {len(data)}")  # text/plain, as files.slack.com answers

    async def _handle_download(self, request: web.Request) -> web.Response:
        team_id, _, file_id = request.match_info["team_file"].partition("-")
        token = _bearer(request)
        response = await self._take_fault("download") or self._download(team_id, file_id, token, request.path)
        self._record("download", {"file_id": file_id, "path": request.path}, request, token, response.status)
        return response

    def _download(self, team_id: str, file_id: str, token: str | None, path: str) -> web.Response:
        if not self._token_valid(token):
            # Slack's quirk: no (or a wrong) token yields a 200 HTML sign-in page instead of the file.
            return web.Response(text=LOGIN_PAGE, content_type="text/html")
        if team_id != self.team_of(token) or file_id not in self._files:  # another workspace's file
            return web.Response(status=404, text="Not Found")
        file, headers = self._files[file_id], {}
        if "/download/" in path:
            headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(file['name'])}"
        return web.Response(body=self._file_bytes[file_id], content_type=file["mimetype"], headers=headers)

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        raw = await request.text()
        payload = _decode_json(raw)
        context = self._response_urls.get(request.match_info["response_id"])
        response = await self._take_fault("response_url") or self._respond(context, payload)
        self._record("response_url", payload if isinstance(payload, dict) else {"raw": raw}, request, None,
                     response.status)
        return response

    def _respond(self, context: dict | None, payload: Any) -> web.Response:
        # The error answers (status and text) approximate Slack's; they are not verified against it.
        if context is None:
            return web.Response(status=404, text="expired_url")
        if context["uses"] >= RESPONSE_URL_MAX_USES:
            return web.Response(status=404, text="used_url")
        if not isinstance(payload, dict):
            return web.Response(status=400, text="invalid_payload")
        if not (payload.get("text") or payload.get("blocks")):
            return web.Response(status=400, text="no_text")
        context["uses"] += 1
        self._reply_to_command(context, payload, source="response_url")
        return web.Response(text="ok")

    def new_response_url(self, user_id: str, channel_id: str) -> str:
        """A fresh response_url (sent with each slash command; useful when building interaction payloads)."""
        response_id = secrets.token_hex(8)
        self._response_urls[response_id] = {"user_id": user_id, "channel_id": channel_id, "uses": 0}
        return f"{self.base_url}response/{response_id}"

    def _reply_to_command(self, context: dict, payload: dict, *, source: str) -> None:
        """A response_url post or an ack body: in_channel posts as the bot, anything else is ephemeral."""
        if payload.get("response_type") == "in_channel":
            text, _ = _truncate(payload.get("text") or "")
            thread_ts = payload.get("thread_ts")
            if thread_ts and self._find(context["channel_id"], thread_ts) is None:
                thread_ts = None
            self._bot_message(context["channel_id"], text, blocks=payload.get("blocks"), thread_ts=thread_ts)
        else:
            self._add_ephemeral(context["channel_id"], context["user_id"], payload, source)

    def _add_ephemeral(self, channel_id: str, user_id: str, payload: dict, source: str, *,
                       ts: str | None = None) -> None:
        self._ephemerals.append({"channel": channel_id, "user": user_id, "text": payload.get("text") or "",
                                 "blocks": payload.get("blocks"), "thread_ts": payload.get("thread_ts"),
                                 "ts": ts or self._next_ts(), "source": source})
        self._changed()

    # ------------------------------------------------------------------ state helpers

    def _next_ts(self) -> str:
        """Unique, increasing message timestamps in Slack's "seconds.micros" format."""
        self._last_ts_us = max(time.time_ns() // 1000, self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}0{next(self._ids):08d}"

    def _channel(self, ref: str | None, *, allow_user: bool = True) -> dict:
        """Resolve a channel id, a "#name", or (like Slack) a user id meaning the app's DM with that user."""
        if ref in self.channels:
            return self.channels[ref]
        if ref and ref.startswith("#"):
            named = [c for c in self.channels.values() if c["name"] == ref[1:] and not c["is_im"]]
            if named:
                return named[0]
        if allow_user and ref in self.users and ref != self.bot_user_id:
            existing = [c for c in self.channels.values() if c["is_im"] and c.get("user") == ref]
            return existing[0] if existing else self.add_channel("D" + ref[1:], ref, is_im=True, members=[ref])
        raise _ApiError("channel_not_found")

    def _require_bot_member(self, channel: dict) -> None:
        if self.bot_user_id not in channel["members"]:
            raise _ApiError("not_in_channel")

    def _find(self, channel_id: str, ts: str | None) -> dict | None:
        return self._messages.get(channel_id, {}).get(ts or "")

    def _thread_root(self, channel_id: str, thread_ts: str | None) -> str | None:
        if not thread_ts:
            return None
        message = self._find(channel_id, thread_ts)
        if message is None:
            raise _ApiError("thread_not_found")
        # Slack tolerates a reply's ts here; the message lands in that reply's thread.
        return message.get("thread_ts", message["ts"])

    def _store(self, channel_id: str, message: dict, thread_ts: str | None, files: list[dict]) -> dict:
        """Add a message (in a thread, with files shared into it) to a channel."""
        if thread_ts:
            parent = self._messages[channel_id][thread_ts]
            message.update(thread_ts=thread_ts, parent_user_id=parent.get("user"))
            authors = parent.setdefault("reply_users", [])
            if message.get("user") not in authors:
                authors.append(message.get("user"))
            parent.update(thread_ts=thread_ts, reply_count=parent.get("reply_count", 0) + 1,
                          reply_users_count=len(authors), latest_reply=message["ts"])
        self._messages[channel_id][message["ts"]] = message
        for file in files:
            self._share(file, channel_id, message)
        if files:
            message.update(files=[_in_message(f) for f in files], upload=False, display_as_bot=False)
        self._changed()
        return message

    def _bot_message(self, channel_id: str, text: str, *, blocks: list | None = None, thread_ts: str | None = None,
                     files: list[dict] | None = None, broadcast: bool = False) -> dict:
        """Store a message from the app's bot and echo it to the app, as Slack does."""
        message = {"type": "message", "text": text, "user": self.bot_user_id, "bot_id": self.bot_id,
                   "app_id": self.app_id, "ts": self._next_ts(), "team": self.team_id,
                   "bot_profile": {"id": self.bot_id, "app_id": self.app_id, "name": "imagebot",
                                   "team_id": self.team_id, "deleted": False}}
        if blocks is not None:
            message["blocks"] = blocks
        if broadcast:
            message["subtype"] = "thread_broadcast"
        self._store(channel_id, message, thread_ts, files or [])
        self._echo(self._message_event(self.channels[channel_id], message))
        return message

    def _store_file(self, file_id: str, name: str, data: bytes, *, user: str, title: str | None = None,
                    mimetype: str | None = None, alt_txt: str | None = None) -> dict:
        mimetype = mimetype or _sniff(data) or mimetypes.guess_type(name)[0] or "application/octet-stream"
        now, path = int(time.time()), f"{self.team_id}-{file_id}"
        file = {
            "id": file_id, "created": now, "timestamp": now, "name": name, "title": title or name,
            "mimetype": mimetype, "filetype": _FILETYPES.get(mimetype, "binary"), "user": user,
            "user_team": self.team_id, "editable": False, "size": len(data), "mode": "hosted",
            "is_external": False, "external_type": "", "is_public": False, "public_url_shared": False,
            "display_as_bot": False, "username": "",
            "url_private": f"{self.base_url}files-pri/{path}/{quote(name)}",
            "url_private_download": f"{self.base_url}files-pri/{path}/download/{quote(name)}",
            "permalink": f"{self.base_url}{self.team_domain}/files/{user}/{file_id}/{quote(name)}",
            "channels": [], "groups": [], "ims": [], "shares": {}, "has_rich_preview": False,
        }
        if alt_txt:
            file["alt_txt"] = alt_txt
        if mimetype.startswith("image/") and (size := _image_size(data)):
            file["original_w"], file["original_h"] = size
        self._files[file_id], self._file_bytes[file_id] = file, data
        return file

    def _share(self, file: dict, channel_id: str, message: dict) -> None:
        channel = self.channels[channel_id]
        file["ims" if channel["is_im"] else "channels"].append(channel_id)
        file["is_public"] = file["is_public"] or not channel["is_im"]
        share = {"ts": message["ts"], "channel_name": channel["name"], "team_id": self.team_id,
                 "share_user_id": message.get("user")}
        if "thread_ts" in message:
            share["thread_ts"] = message["thread_ts"]
        kind = "private" if channel["is_im"] else "public"
        file["shares"].setdefault(kind, {}).setdefault(channel_id, []).append(share)

    # ------------------------------------------------------------------ events

    def _message_event(self, channel: dict, message: dict) -> dict:
        event = {**copy.deepcopy(message), "channel": channel["id"], "event_ts": message["ts"],
                 "channel_type": "im" if channel["is_im"] else "channel"}
        if message.get("files"):
            event["subtype"] = "file_share"  # events carry the subtype for uploads, bot's included
        return event

    def _changed_event(self, channel: dict, message: dict, previous: dict) -> dict:
        ts = self._next_ts()
        return {"type": "message", "subtype": "message_changed", "hidden": True, "channel": channel["id"],
                "ts": ts, "event_ts": ts, "channel_type": "im" if channel["is_im"] else "channel",
                "message": copy.deepcopy(message), "previous_message": previous}

    def _echo(self, event: dict) -> None:
        """Deliver an event about the bot's own action in the background, like Slack does."""
        if self.echo_bot_messages and self._session is not None and (self.app_request_url or self._socket_mode()):
            task = asyncio.get_running_loop().create_task(self.deliver_event(event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ acting as Slack towards the app

    async def send_command(self, user_id: str, channel_id: str, text: str, *, command: str = "/image",
                           retry_num: int | None = None, headers: dict | None = None,
                           team_id: str | None = None) -> Delivery:
        user, channel = self.users[user_id], self.channels[channel_id]
        response_url = self.new_response_url(user_id, channel_id)
        team = self.workspaces[team_id or self.team_id]
        payload = {
            "token": self.verification_token, "team_id": team["id"], "team_domain": team["domain"],
            "channel_id": channel_id, "channel_name": "directmessage" if channel["is_im"] else channel["name"],
            "user_id": user_id, "user_name": user["name"], "command": command, "text": text,
            "api_app_id": self.app_id, "is_enterprise_install": "false", "response_url": response_url,
            "trigger_id": f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}",
        }
        delivery = await self._deliver("command", urlencode(payload), "application/x-www-form-urlencoded",
                                       payload, retry_num=retry_num, extra_headers=headers)
        ack = _ack_payload(delivery)
        if ack is not None:  # the ack body is Slack's first (ephemeral by default) reply to the user
            context = self._response_urls[response_url.rsplit("/", 1)[1]]
            self._reply_to_command(context, ack, source="ack")
        return delivery

    async def post_message(self, user_id: str, channel_id: str, text: str, *, thread_ts: str | None = None,
                           files: list[tuple[str, bytes, str]] | tuple = (), subtype: str | None = None,
                           bot_id: str | None = None, team_id: str | None = None) -> dict:
        """A user (or, with bot_id, another bot) posts; the app gets the event(s). files: (name, bytes, mimetype)."""
        channel = self.channels[channel_id]
        if user_id not in self.users:
            raise KeyError(f"unknown user {user_id}")
        if not self.app_request_url and not self._socket_mode():
            raise RuntimeError("set app_request_url (or connect a Socket Mode app) before post_message: "
                               "it delivers the event to the app")
        if thread_ts and self._find(channel_id, thread_ts) is None:
            raise ValueError(f"no message {thread_ts} in {channel_id} to reply to")
        root = self._thread_root(channel_id, thread_ts)
        stored = [self._store_file(self._new_id("F"), name, data, user=user_id, mimetype=mimetype or None)
                  for name, data, mimetype in files]
        message = {"type": "message", "text": text, "user": user_id, "ts": self._next_ts(),
                   "team": team_id or self.team_id,
                   "client_msg_id": str(uuid.uuid4())}
        if text:
            message["blocks"] = _rich_text(text)
        if subtype:
            message["subtype"] = subtype
        if bot_id:
            message["bot_id"] = bot_id
        self._store(channel_id, message, root, stored)
        await self.deliver_event(self._message_event(channel, message))
        if f"<@{self.bot_user_id}>" in text and not channel["is_im"]:  # DMs never produce app_mention
            await self.deliver_event(self._app_mention_event(channel, message))
        return message

    async def open_home(self, user_id: str, *, tab: str = "home") -> Delivery:
        """The user opens the app's Home tab (or, with tab="messages", its Messages tab): `app_home_opened`.
        As from Slack, the event names the app's DM with the user and carries the Home view published before."""
        event = {"type": "app_home_opened", "user": user_id, "channel": self._channel(user_id)["id"], "tab": tab,
                 "event_ts": self._next_ts()}
        if user_id in self.home_views:
            event["view"] = copy.deepcopy(self.home_views[user_id])
        return await self.deliver_event(event)

    def _app_mention_event(self, channel: dict, message: dict) -> dict:
        keys = ("user", "text", "ts", "team", "blocks", "client_msg_id", "thread_ts", "files")
        event = {"type": "app_mention", **{k: copy.deepcopy(message[k]) for k in keys if k in message}}
        return {**event, "channel": channel["id"], "event_ts": message["ts"]}

    async def deliver_event(self, event: dict, *, event_id: str | None = None, retry_num: int | None = None,
                            retry_reason: str = "http_timeout", team_id: str | None = None) -> Delivery:
        """POST an Events API envelope around `event`; reuse an event_id with retry_num to act out a retry.
        `team_id`: the workspace it happens in (default: the constructor's; see `add_workspace`)."""
        team_id = team_id or event.get("team") or self.team_id
        envelope = {
            "token": self.verification_token, "team_id": team_id, "context_team_id": team_id,
            "context_enterprise_id": None, "api_app_id": self.app_id, "event": event, "type": "event_callback",
            "event_id": event_id or f"Ev0{next(self._ids):08d}{secrets.token_hex(2).upper()}",
            "event_time": int(time.time()),
            "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": self.bot_user_id,
                                "is_bot": True, "is_enterprise_install": False}],
            "is_ext_shared_channel": False, "event_context": self._event_context(event),
        }
        return await self._deliver("event", json.dumps(envelope), "application/json", envelope,
                                   retry_num=retry_num, retry_reason=retry_reason)

    async def send_interaction(self, payload: dict) -> Delivery:
        """POST `payload=<json>` (block_actions, view_submission, ...) as Slack's interactivity does."""
        body = urlencode({"payload": json.dumps(payload)})
        return await self._deliver("interaction", body, "application/x-www-form-urlencoded", payload)

    def _event_context(self, event: dict) -> str:
        # An opaque token in real payloads; this one has the same "4-<base64 json>" look.
        context = {"et": event.get("type"), "tid": self.team_id, "aid": self.app_id, "cid": event.get("channel")}
        return "4-" + base64.urlsafe_b64encode(json.dumps(context).encode()).decode().rstrip("=")

    async def _deliver(self, kind: str, body: str, content_type: str, payload: dict, *,
                       retry_num: int | None = None, retry_reason: str = "http_timeout",
                       extra_headers: dict | None = None) -> Delivery:
        if self._socket_mode():  # no signature there: the connection itself is authenticated (extra_headers unused)
            return await self._deliver_over_socket(kind, payload, retry_num=retry_num, retry_reason=retry_reason)
        if not self.app_request_url or self._session is None:
            raise RuntimeError("start() the stand-in and set app_request_url before sending to the app")
        timestamp = str(int(time.time()))
        headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
                   "X-Slack-Request-Timestamp": timestamp,
                   "X-Slack-Signature": self._verifier.generate_signature(timestamp=timestamp, body=body)}
        if retry_num is not None:
            headers.update({"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason})
        headers.update(extra_headers or {})
        status, text, response_headers, error = 0, "", {}, None
        started = time.perf_counter()
        try:
            async with self._session.post(self.app_request_url, data=body.encode(), headers=headers) as response:
                status, text, response_headers = response.status, await response.text(), dict(response.headers)
        except (aiohttp.ClientError, TimeoutError) as e:
            error = f"{type(e).__name__}: {e}"
        elapsed_ms = (time.perf_counter() - started) * 1000
        delivery = Delivery(kind, body, payload, headers, status, text, response_headers, elapsed_ms, error)
        self.deliveries.append(delivery)
        self._changed()
        return delivery

    # ------------------------------------------------------------------ Socket Mode

    def open_connections(self) -> list[SocketConnection]:
        return [c for c in self.connections if c.is_open]

    async def wait_for_socket(self, timeout: float = 30.0) -> SocketConnection:
        """The newest open Socket Mode connection, once an app has connected (waiting up to `timeout` s)."""
        return await self.wait_for(lambda: next(reversed(self.open_connections()), None), timeout)

    async def disconnect_sockets(self, reason: str = "refresh_requested", *, grace: float = 10.0) -> None:
        """Ask every connected app to go away, as Slack does when it recycles connections, then close.

        Each app gets ``{"type": "disconnect", "reason": ...}`` (Slack's reasons: ``warning`` some seconds
        ahead, ``refresh_requested``, ``link_disabled``). Sockets the app has not closed itself within
        `grace` seconds are closed here with 1001 (going away)."""
        connections = self.open_connections()
        notice = json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": SOCKET_HOST}})
        for connection in connections:
            with contextlib.suppress(ConnectionError, RuntimeError):  # it may be closing already
                await connection.ws.send_str(notice)
        with contextlib.suppress(TimeoutError):
            await self.wait_for(lambda: not any(c.is_open for c in connections), grace)
        for connection in connections:
            if connection.is_open:
                connection.closed_by = "stand-in"
                await connection.ws.close(code=WSCloseCode.GOING_AWAY, message=reason.encode())

    async def _handle_link(self, request: web.Request) -> web.StreamResponse:
        """The WebSocket behind apps.connections.open's URL: one app connection per (single-use) ticket."""
        if self._stopping:
            return web.Response(status=503, text="Service Unavailable")
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            # A used or made-up ticket. Slack's exact answer is not verified; the handshake fails either way.
            return web.Response(status=401, text="invalid_ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse()  # autoping: the app's pings get pongs, as from Slack
        await ws.prepare(request)
        await ws.send_str(json.dumps(self._hello(len(self.open_connections()) + 1)))
        connection = SocketConnection(ticket, ws, time.time())
        self.connections.append(connection)  # only now: nothing is delivered before the hello
        self._changed()
        try:
            async for message in ws:  # ends when either side closes
                if message.type == WSMsgType.TEXT:
                    self._receive_ack(message.data)
        finally:
            connection.closed, connection.close_code = time.time(), ws.close_code
            connection.closed_by = connection.closed_by or "app"
            self._changed()
        return ws

    def _hello(self, num_connections: int) -> dict:
        # approximate_connection_time: seconds until Slack will refresh this connection (about 5 hours).
        return {"type": "hello", "num_connections": num_connections,
                "debug_info": {"host": SOCKET_HOST, "build_number": 1, "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id}}

    def _receive_ack(self, raw: str) -> None:
        message = _decode_json(raw)
        if not isinstance(message, dict) or not message.get("envelope_id"):
            return  # only acks mean anything to Slack
        self.acks.append(message)
        pending = self._pending_acks.get(message["envelope_id"])
        if pending is not None and not pending.done():
            pending.set_result(message)
        self._changed()

    def _socket_mode(self) -> bool:
        return self.transport == "socket" or (self.transport == "auto" and bool(self.open_connections()))

    def _envelope(self, kind: str, payload: dict, retry_num: int | None, retry_reason: str) -> dict:
        accepts = kind == "command" or (kind == "interaction" and payload.get("type") in _INTERACTIONS_WITH_RESPONSE)
        envelope = {"envelope_id": str(uuid.uuid4()), "payload": payload, "type": _ENVELOPE_TYPES[kind],
                    "accepts_response_payload": accepts}
        if kind == "event":  # even a first delivery says so: retry_attempt 0, retry_reason ""
            envelope.update(retry_attempt=retry_num or 0, retry_reason=retry_reason if retry_num else "")
        return envelope

    async def _deliver_over_socket(self, kind: str, payload: dict, *, retry_num: int | None,
                                   retry_reason: str) -> Delivery:
        envelope = self._envelope(kind, payload, retry_num, retry_reason)
        body = json.dumps(envelope)
        started = time.perf_counter()
        ack, error = await self._send_envelope(envelope["envelope_id"], body)
        elapsed_ms = (time.perf_counter() - started) * 1000
        reply = ack.get("payload") if ack else None  # Bolt sends a text ack as {"text": ...}, JSON as is
        delivery = Delivery(kind, body, payload, {}, 200 if ack else 0, "" if reply is None else json.dumps(reply),
                            {}, elapsed_ms, error, transport="socket", envelope_id=envelope["envelope_id"])
        self.deliveries.append(delivery)
        self._changed()
        return delivery

    async def _send_envelope(self, envelope_id: str, body: str) -> tuple[dict | None, str | None]:
        """Send on one open connection and wait for the ack; (ack, None) or (None, what went wrong)."""
        connections = self.open_connections()
        if not connections:
            return None, "no Socket Mode connection"  # Slack tells the user of a command "dispatch_failed"
        # Slack spreads envelopes over an app's connections; here, in turn. The ack may come on any of them.
        connection = connections[next(self._socket_turn) % len(connections)]
        acked: asyncio.Future[dict | None] = asyncio.get_running_loop().create_future()
        self._pending_acks[envelope_id] = acked
        try:
            await connection.ws.send_str(body)
            ack = await asyncio.wait_for(acked, self.ack_timeout)
        except TimeoutError:
            return None, f"TimeoutError: no ack for envelope {envelope_id} within {self.ack_timeout}s"
        except (ConnectionError, RuntimeError) as e:
            return None, f"{type(e).__name__}: {e}"
        finally:
            self._pending_acks.pop(envelope_id, None)
        return (ack, None) if ack is not None else (None, "the stand-in stopped before the ack")


# ---------------------------------------------------------------------- module helpers


def _bearer(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        return None
    return auth[len("Bearer "):].strip() or None


async def _read_params(request: web.Request) -> dict:
    """Query string merged with a JSON or form body (AsyncWebClient sends some methods' params in the query)."""
    params: dict[str, Any] = dict(request.query)
    if not request.body_exists:
        return params
    if request.content_type == "application/json":
        body = _decode_json(await request.text())
        if not isinstance(body, dict):
            raise _ApiError("invalid_json")
        params.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        params.update({k: v.filename if isinstance(v, web.FileField) else v for k, v in form.items()})
    return params


async def _read_upload(request: web.Request) -> bytes:
    """Raw bytes, or the (single) file part of a multipart upload."""
    if not request.content_type.startswith("multipart/"):
        return await request.read()
    reader = await request.multipart()
    first = None
    async for part in reader:
        data = await part.read()  # type: ignore[union-attr]
        if getattr(part, "filename", None):
            return bytes(data)
        first = bytes(data) if first is None else first
    return first or b""


def _ack_payload(delivery: Delivery) -> dict | None:
    if delivery.status != 200 or not delivery.response_text.strip():
        return None
    if delivery.transport == "socket":  # the ack's payload, always an object
        decoded = _decode_json(delivery.response_text)
        return decoded if isinstance(decoded, dict) else None
    content_type = next((v for k, v in delivery.response_headers.items() if k.lower() == "content-type"), "")
    if content_type.startswith("application/json"):
        decoded = _decode_json(delivery.response_text)
        if isinstance(decoded, dict):
            return decoded
    return {"text": delivery.response_text}


def _content(p: dict) -> tuple[str, list | None]:
    text, blocks = p.get("text") or "", _decode_blocks(p.get("blocks"))
    if not text and not blocks and not p.get("attachments"):
        raise _ApiError("no_text")
    return text, blocks


def _decode_blocks(value: Any) -> list | None:
    """`blocks` as a JSON string (form posts) or a list (JSON posts), checked against a few Block Kit limits."""
    if value is None:
        return None
    blocks = _decode_json(value) if isinstance(value, str) else value
    if not isinstance(blocks, list) or not all(isinstance(b, dict) and "type" in b for b in blocks):
        raise _ApiError("invalid_blocks_format")
    problems = []
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"must be less than {MAX_BLOCKS + 1} items [json-pointer:/blocks]")
    for i, block in enumerate(blocks):
        text = block.get("text")
        if block["type"] == "section" and isinstance(text, dict) and len(text.get("text", "")) > MAX_SECTION_TEXT:
            problems.append(f"must be less than {MAX_SECTION_TEXT + 1} characters "
                            f"[json-pointer:/blocks/{i}/text/text]")
    if problems:
        raise _ApiError("invalid_blocks", errors=problems,
                        response_metadata={"messages": [f"[ERROR] {m}" for m in problems]})
    return blocks


def _decode_json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return None


def _truncate(text: str) -> tuple[str, bool]:
    return (text[:MAX_TEXT], True) if len(text) > MAX_TEXT else (text, False)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)


def _rich_text(text: str) -> list[dict]:
    """The rich_text block Slack clients attach to what a user types, with <@U…> as user elements."""
    elements, pos = [], 0
    for match in _MENTION.finditer(text):
        if match.start() > pos:
            elements.append({"type": "text", "text": text[pos:match.start()]})
        elements.append({"type": "user", "user_id": match.group(1)})
        pos = match.end()
    if pos < len(text):
        elements.append({"type": "text", "text": text[pos:]})
    return [{"type": "rich_text", "block_id": secrets.token_hex(2),
             "elements": [{"type": "rich_text_section", "elements": elements}]}]


def _in_message(file: dict) -> dict:
    """A file object as embedded in messages and events (sharing details are only in files.info)."""
    return {k: copy.deepcopy(v) for k, v in file.items() if k not in ("channels", "groups", "ims", "shares")}


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _image_size(data: bytes) -> tuple[int, int] | None:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:  # not an image Pillow can read: no original_w/original_h, like Slack
        return None


def _short(params: dict) -> str:
    text = json.dumps(params, default=str)
    return text if len(text) <= 160 else text[:157] + "..."
