"""What the Slack stand-in holds (the workspace, its messages and files, the tokens, what was called and sent),
the ways tests look at it, and the helpers every Web API method shares."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import mimetypes
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from standins.slack.payloads import image_size, in_message, short, sniff_mimetype, ts_key
from standins.slack.records import JSON, ApiError, Delivery, RecordedCall, SocketConnection

BOT_SCOPES = (
    "app_mentions:read,channels:history,chat:write,commands,files:read,files:write,"
    "groups:history,im:history,mpim:history,reactions:write,users:read"
)
SOCKET_ACK_TIMEOUT = 10.0  # how long a Socket Mode delivery waits for its ack (also generous)
_FILETYPES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp",
              "text/plain": "text", "application/json": "json", "application/pdf": "pdf"}


class SlackState:
    """The stand-in's state. Every part of SlackStandIn (the Web API methods, the deliveries to the app, Socket
    Mode, OAuth) builds on this class, so all of them share these attributes and helpers."""

    # Long: all of Slack's state, one attribute a line with what it holds.
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
        self.workspaces: dict[str, JSON] = {team_id: {"id": team_id, "name": team_domain, "domain": team_domain}}
        self.installs: list[JSON] = []  # every oauth.v2.access answer given for a code, newest last
        self._codes: dict[str, JSON] = {}  # authorization code -> the install it stands for
        self._refresh_tokens: dict[str, str] = {}  # refresh token -> team
        self.next_install: JSON = {}  # what the authorize page approves next (see `approve_install`)
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

        self.users: dict[str, JSON] = {}
        self.channels: dict[str, JSON] = {}
        self.calls: list[RecordedCall] = []
        self.deliveries: list[Delivery] = []
        self.views: list[JSON] = []  # modals the app opened (views.open)
        self.functions: dict[str, JSON] = {}  # the app's custom steps by callback_id (define_function)
        self.executions: dict[str, JSON] = {}  # each run of a step (run_function), by function_execution_id
        self.home_views: dict[str, JSON] = {}  # user id -> the App Home view last published for them
        self.connections: list[SocketConnection] = []  # every Socket Mode connection, open or closed
        self.acks: list[JSON] = []  # every Socket Mode ack the app sent, as received
        self._messages: dict[str, dict[str, JSON]] = {}  # channel id -> ts -> message
        self._ephemerals: list[JSON] = []
        self._files: dict[str, JSON] = {}
        self._file_bytes: dict[str, bytes] = {}
        self._uploads: dict[str, JSON] = {}  # file id -> pending upload (getUploadURLExternal until complete)
        self._unprocessed: dict[str, int] = {}  # file id -> how many more image blocks refuse it (being processed)
        self._processing_delay = 0  # how many for each file stored from now on (Faults.delay_file_processing)
        self._response_urls: dict[str, JSON] = {}
        self._faults: dict[str, list[JSON]] = {}
        self._tickets: set[str] = set()  # issued by apps.connections.open, not used yet
        self._pending_acks: dict[str, asyncio.Future[JSON | None]] = {}  # envelope id -> its ack
        self._socket_turn = itertools.count()
        self._stopping = False
        self._released = asyncio.Event()  # set by stop(): requests hanging on purpose (hang_next) are answered
        self._open_channels: set[str] = set()  # channels every (later) user joins
        self._ids, self._last_ts_us = itertools.count(1), 0  # ids and message timestamps handed out so far
        self._tasks: set[asyncio.Task[Delivery]] = set()
        self._state_changed = asyncio.Event()
        self._verifier = SignatureVerifier(signing_secret)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._base_url: str | None = None
        self._seed_workspace()

    def _seed_workspace(self) -> None:
        """The workspace every test starts in: the bot, Alice, Bob, an admin, #general and #random."""
        self.add_user(self.bot_user_id, "imagebot", real_name="imagebot", is_bot=True)
        self.add_user("U0ALICE", "alice", real_name="Alice Liddell")
        self.add_user("U0BOB", "bob", real_name="Bob Builder")
        self.add_user("U0ADMIN", "admin", real_name="Ada Admin", is_admin=True)
        self.add_channel("C0GENERAL", "general")
        self.add_channel("C0RANDOM", "random")

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("SlackStandIn is not started")
        return self._base_url

    @property
    def api_url(self) -> str:
        return self.base_url + "api/"

    def add_user(self, user_id: str, name: str, *, real_name: str | None = None, is_admin: bool = False,
                 is_owner: bool = False, is_bot: bool = False, tz: str = "UTC") -> JSON:
        real_name = real_name or name
        user: JSON = {
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
                    members: list[str] | None = None) -> JSON:
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

    def calls_to(self, method: str) -> list[RecordedCall]:
        return [c for c in self.calls if c.method == method]

    def messages(self, channel_id: str) -> list[JSON]:
        """Top-level messages and replies of a channel, in ts order."""
        return sorted(self._messages.get(channel_id, {}).values(), key=lambda m: ts_key(m["ts"]))

    def thread(self, channel_id: str, thread_ts: str) -> list[JSON]:
        """The parent message first, then its replies in ts order."""
        return [m for m in self.messages(channel_id) if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts]

    def ephemerals(self, channel_id: str | None = None, user_id: str | None = None) -> list[JSON]:
        return [e for e in self._ephemerals
                if channel_id in (None, e["channel"]) and user_id in (None, e["user"])]

    def file(self, file_id: str) -> JSON:
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
        calls = "\n".join(f"  {c.method} -> {c.status} {short(c.params)}" for c in self.calls[-10:])
        deliveries = "\n".join(f"  {d.kind} -> {d.status} {short(d.payload)}" for d in self.deliveries[-5:])
        return (f"wait_for: condition still false after {timeout}s\n"
                f"last calls to the Slack stand-in:\n{calls or '  (none)'}\n"
                f"last deliveries to the app:\n{deliveries or '  (none)'}")

    def _record(self, method: str, params: JSON, request: web.Request, token: str | None, status: int) -> None:
        self.calls.append(RecordedCall(method, params, dict(request.headers), token, status))
        self._changed()

    def _token_valid(self, token: str | None) -> bool:
        if token not in self.tokens:
            return False
        expires = self.token_expiry.get(token)
        return expires is None or time.time() < expires

    def team_of(self, token: str | None) -> str | None:
        return self.tokens.get(token or "")

    def add_workspace(self, team_id: str, domain: str) -> None:
        self.workspaces[team_id] = {"id": team_id, "name": domain.title(), "domain": domain}

    def _next_ts(self) -> str:
        """Unique, increasing message timestamps in Slack's "seconds.micros" format."""
        self._last_ts_us = max(time.time_ns() // 1000, self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}0{next(self._ids):08d}"

    def _channel(self, ref: str | None, *, allow_user: bool = True) -> JSON:
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
        raise ApiError("channel_not_found")

    def _require_bot_member(self, channel: JSON) -> None:
        if self.bot_user_id not in channel["members"]:
            raise ApiError("not_in_channel")

    def _find(self, channel_id: str, ts: str | None) -> JSON | None:
        return self._messages.get(channel_id, {}).get(ts or "")

    def _thread_root(self, channel_id: str, thread_ts: str | None) -> str | None:
        if not thread_ts:
            return None
        message = self._find(channel_id, thread_ts)
        if message is None:
            raise ApiError("thread_not_found")
        # Slack tolerates a reply's ts here; the message lands in that reply's thread.
        return message.get("thread_ts", message["ts"])

    def _store(self, channel_id: str, message: JSON, thread_ts: str | None, files: list[JSON]) -> JSON:
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
            message.update(files=[in_message(f) for f in files], upload=False, display_as_bot=False)
        self._changed()
        return message

    def _store_file(self, file_id: str, name: str, data: bytes, *, user: str, title: str | None = None,
                    mimetype: str | None = None, alt_txt: str | None = None) -> JSON:
        mimetype = mimetype or sniff_mimetype(data) or mimetypes.guess_type(name)[0] or "application/octet-stream"
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
        if mimetype.startswith("image/") and (size := image_size(data)):
            file["original_w"], file["original_h"] = size
        self._files[file_id], self._file_bytes[file_id] = file, data
        if self._processing_delay:
            self._unprocessed[file_id] = self._processing_delay
        return file

    def _share(self, file: JSON, channel_id: str, message: JSON) -> None:
        channel = self.channels[channel_id]
        file["ims" if channel["is_im"] else "channels"].append(channel_id)
        file["is_public"] = file["is_public"] or not channel["is_im"]
        share = {"ts": message["ts"], "channel_name": channel["name"], "team_id": self.team_id,
                 "share_user_id": message.get("user")}
        if "thread_ts" in message:
            share["thread_ts"] = message["thread_ts"]
        kind = "private" if channel["is_im"] else "public"
        file["shares"].setdefault(kind, {}).setdefault(channel_id, []).append(share)

    def _add_ephemeral(self, channel_id: str, user_id: str, payload: JSON, source: str, *,
                       ts: str | None = None) -> None:
        self._ephemerals.append({"channel": channel_id, "user": user_id, "text": payload.get("text") or "",
                                 "blocks": payload.get("blocks"), "thread_ts": payload.get("thread_ts"),
                                 "ts": ts or self._next_ts(), "source": source})
        self._changed()
