"""SlackStandIn: the aiohttp server on loopback that serves the Web API, uploads, downloads, response_urls,
Socket Mode and OAuth, put together from the parts (see the package's docstring)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable

import aiohttp
from aiohttp import web

from standins.slack.chat import ChatMethods
from standins.slack.commands import SlashCommands
from standins.slack.conversations import ConversationMethods
from standins.slack.delivery import DELIVERY_TIMEOUT
from standins.slack.files import FileMethods
from standins.slack.functions import FunctionMethods
from standins.slack.oauth import OAuth
from standins.slack.payloads import bearer, read_params
from standins.slack.reactions import ReactionMethods
from standins.slack.records import JSON, ApiError
from standins.slack.views import ViewMethods


class SlackStandIn(ChatMethods, ReactionMethods, FileMethods, ViewMethods, ConversationMethods, OAuth,
                   SlashCommands, FunctionMethods):
    """A local Slack: see the package's docstring."""

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

    @functools.cached_property
    def _methods(self) -> dict[str, Callable[[JSON], JSON]]:
        """The Web API methods that take the request's parameters (auth.test, which takes the token, aside)."""
        return {
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
            "functions.completeSuccess": self._functions_complete_success,
            "functions.completeError": self._functions_complete_error,
        }

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        token = bearer(request)
        params: JSON = {}
        try:
            params = await read_params(request)
            if method == "oauth.v2.access":  # client credentials, not a token (HTTP Basic or form fields)
                response = await self._take_fault(method) or self._oauth_v2_access(params, request)
            else:
                response = await self._take_fault(method) or self._api_response(method, params, token)
        except ApiError as e:  # an unreadable body
            response = web.json_response({"ok": False, "error": e.error})
        self._record(method, params, request, token, response.status)
        return response

    def _api_response(self, method: str, params: JSON, token: str | None) -> web.Response:
        if token is None:
            return web.json_response({"ok": False, "error": "not_authed"})
        if method == "apps.connections.open":  # the one method that takes the app-level token
            return self._connections_open(token)
        if not self._token_valid(token):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = self._methods.get(method)
        if handler is None and method != "auth.test":
            return web.json_response({"ok": False, "error": "unknown_method"})
        try:
            # auth.test describes the token itself: the one method whose answer depends on which token it is.
            answer = self._auth_test(token) if handler is None else handler(params)
            body = {"ok": True, **answer}
        except ApiError as e:
            body = {"ok": False, "error": e.error, **e.extra}
        # Slack reports the token's scopes on every answer (Bolt reads them from auth.test's).
        return web.json_response(body, headers={"x-oauth-scopes": self.bot_scopes})
