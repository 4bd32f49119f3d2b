"""`imagebot sandbox`: try imagebot in a browser, without Slack.

On loopback it starts the Slack stand-in, the real app against it (signed HTTP, exactly as Slack delivers),
and a small web page that looks and behaves like a Slack channel with threads. The page reads the whole
state from ``GET /api/state`` and refreshes when ``GET /api/events`` (Server-Sent Events) says it changed.

    GET  /                    the page;  GET /static/<name> its script and style
    GET  /api/state?user=U…   users, channels (and the user's DM with the bot) with messages and thread
                              replies, the user's ephemerals, open modal and App Home, the image provider
    GET  /api/events          ``data: changed`` whenever the stand-in's state changes (heartbeats every 15 s)
    POST /api/command         {user, channel, text, command: "/image" | "/image-admin"}
    POST /api/message         multipart (or JSON): user, channel, text, thread_ts?, files…
    POST /api/action          {user, channel, message_ts, action_id, block_id?, value?, ephemeral?}
    POST /api/view            {user, view_id, values} (view.state.values) or {user, view_id, cancel: true}
    POST /api/shortcut        {user, channel, message_ts}: "Edit with imagebot"
    POST /api/home            {user}: the user opens the app's Home tab (app_home_opened; the app publishes it)
    POST /api/workflow        {user, channel?, prompt}: a one-step workflow runs imagebot's step (sandbox_workflow)
(Offline, `/image batch` goes to the image API stand-in on loopback, whose batches take seconds: sandbox_config.)
    GET  /files/<id>          a file's bytes

Errors are ``{"error": ...}`` with status 400 (404 for unknown files, 502 when the app did not answer).
Nothing here is needed to run imagebot in Slack.

Here: the lifecycle and the routes. What the page shows is read by standins/sandbox_page.py; the payloads Slack
would send for what is done on it are built by standins/sandbox_payloads.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.settings import Settings
from standins import sandbox_page as page
from standins import sandbox_payloads as payloads
from standins import sandbox_workflow as workflow
from standins.images_api import ImageAPIStandIn
from standins.sandbox_config import BATCH_POLL_SECONDS, batch_standin, image_provider, is_loopback
from standins.slack import Delivery, SlackStandIn
from standins.workspace import LocalWorkspace, settings_for

COMMANDS = ("/image", "/image-admin")
HEARTBEAT_SECONDS = 15.0
COALESCE_SECONDS = 0.1  # one "changed" for a burst of changes (every Web API call is one)
HANDLER_TIMEOUT = 35.0  # a delivery to the app gives up after 30 s itself
MAX_UPLOAD, MAX_TEXT = 50 * 1024 * 1024, 40_000


class BadRequest(Exception):
    """Becomes ``{"error": message}`` with status 400."""


class Sandbox:
    """The stand-in, the real app and the page, all on loopback. ``await start()``, then open ``url``."""

    def __init__(self, settings: Settings, data_dir: Path) -> None:
        self.base_settings = settings
        self.data_dir = data_dir
        self.provider = image_provider(settings)
        self.slack = SlackStandIn(signing_secret=secrets.token_hex(16))
        self.workspace: LocalWorkspace | None = None
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._closing = False
        self._closed_views: set[str] = set()
        self.batch_api: ImageAPIStandIn | None = None  # offline: where `/image batch` goes
        self._batch_closers: list[Callable[[], Awaitable[None]]] = []

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Sandbox:
        if not is_loopback(host):
            raise ValueError(f"the sandbox serves loopback only (got {host!r})")
        if self._runner is not None:
            raise RuntimeError("Sandbox already started")
        await self.slack.start()
        workflow.define_step(self.slack)
        for user_id, user in list(self.slack.users.items()):  # each person's DM with the bot, as in Slack
            if not user["is_bot"]:
                self.slack.add_channel(f"D{user_id[1:]}", user_id, is_im=True, members=[user_id])
        try:
            settings = settings_for(self.slack, self.data_dir, self.base_settings, provider=self.provider)
            client = None
            if self.provider == "offline":  # `/image batch` against a local Batch API (sandbox_config)
                self.batch_api, client, http = await batch_standin()
                self._batch_closers = [http.aclose, self.batch_api.stop]
                settings = dataclasses.replace(settings, batch_poll_seconds=BATCH_POLL_SECONDS)
            self.workspace = LocalWorkspace(settings, self.slack, batch_client=client)
            await self.workspace.start()
            app = web.Application(client_max_size=MAX_UPLOAD, middlewares=[self._guard])
            app.router.add_get("/", self._index)
            app.router.add_get("/static/{name}", self._static)
            app.router.add_get("/api/state", self._state)
            app.router.add_get("/api/events", self._events)
            app.router.add_post("/api/command", self._command)
            app.router.add_post("/api/message", self._message)
            app.router.add_post("/api/action", self._action)
            app.router.add_post("/api/view", self._view)
            app.router.add_post("/api/shortcut", self._shortcut)
            app.router.add_post("/api/home", self._home)
            app.router.add_post("/api/workflow", self._workflow)
            app.router.add_get("/files/{file_id}", self._file)
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
            await self._runner.setup()
            await web.TCPSite(self._runner, host, port).start()
        except BaseException:
            await self.stop()
            raise
        bound = self._runner.addresses[0][1]
        shown = f"[{host}]" if ":" in host else host
        self._url = f"http://{shown}:{bound}/"
        return self

    async def stop(self) -> None:
        self._closing = True
        self.slack._changed()  # wakes the event streams, which see _closing and end
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.workspace is not None:
            await self.workspace.stop(grace=5.0)
            self.workspace = None
        await self.slack.stop()
        for close in self._batch_closers:
            await close()

    async def __aenter__(self) -> Sandbox:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("Sandbox is not started")
        return self._url

    # ------------------------------------------------------------------ plumbing

    @web.middleware
    async def _guard(self, request: web.Request,
                     handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        """Only this page may change things: no cross-site posts, no DNS-rebound hosts. Errors become JSON."""
        host = (request.host or "").rsplit(":", 1)[0].strip("[]")
        if not is_loopback(host):
            return web.json_response({"error": "unknown host"}, status=403)
        origin = request.headers.get("Origin")
        if request.method != "GET" and origin not in (None, "null") and origin != f"http://{request.host}":
            return web.json_response({"error": "cross-origin request refused"}, status=403)
        try:
            response = await handler(request)
        except BadRequest as e:
            return web.json_response({"error": str(e)}, status=400)
        except TimeoutError:
            return web.json_response({"error": "the app did not answer in time"}, status=502)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    async def _json(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise BadRequest("the body must be a JSON object") from None
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        return body

    def _user(self, user_id: Any) -> dict[str, Any]:
        user = self.slack.users.get(str(user_id or ""))
        if user is None or user.get("is_bot"):
            raise BadRequest(f"unknown user {user_id!r}")
        return user

    def _channel(self, channel_id: Any, user_id: str) -> dict[str, Any]:
        channel = self.slack.channels.get(str(channel_id or ""))
        if channel is None or user_id not in channel["members"]:
            raise BadRequest(f"unknown channel {channel_id!r}")
        return channel

    def _message_at(self, channel_id: str, ts: Any) -> dict[str, Any]:
        message = next((m for m in self.slack.messages(channel_id) if m["ts"] == ts), None)
        if message is None:
            raise BadRequest(f"no message {ts!r} in {channel_id}")
        return message

    @staticmethod
    def _answer(delivery: Delivery, **extra: Any) -> web.Response:
        if delivery.status != 200:
            why = delivery.error or f"the app answered HTTP {delivery.status}"
            return web.json_response({"error": why}, status=502)
        return web.json_response({"ok": True, **extra})

    def _text(self, value: Any) -> str:
        text = str(value or "")
        if len(text) > MAX_TEXT:
            raise BadRequest(f"the text is longer than {MAX_TEXT} characters")
        return text

    # ------------------------------------------------------------------ the page

    async def _index(self, request: web.Request) -> web.Response:
        return page.index()

    async def _static(self, request: web.Request) -> web.Response:
        return page.static(request.match_info["name"])

    async def _file(self, request: web.Request) -> web.Response:
        return page.file(self.slack, request.match_info["file_id"])

    async def _state(self, request: web.Request) -> web.Response:
        user_id = request.query.get("user") or "U0ALICE"
        self._user(user_id)
        return web.json_response(page.state(self.slack, user_id, self.provider, self._closed_views))

    # ------------------------------------------------------------------ events

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        try:
            await response.write(b"retry: 2000\n: connected\n\n")
            while not self._closing:
                changed = self.slack._state_changed  # the stand-in swaps in a new Event on every change
                try:
                    await asyncio.wait_for(changed.wait(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    await response.write(b": heartbeat\n\n")
                    continue
                if self._closing:
                    break
                await asyncio.sleep(COALESCE_SECONDS)
                await response.write(b"data: changed\n\n")
        except (ConnectionError, RuntimeError):  # the page went away
            pass
        return response

    # ------------------------------------------------------------------ acting in Slack

    async def _command(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        user = self._user(body.get("user"))
        channel = self._channel(body.get("channel"), user["id"])
        command = body.get("command") or "/image"
        if command not in COMMANDS:
            raise BadRequest(f"unknown command {command!r}")
        text = self._text(body.get("text")).strip()
        delivery = await asyncio.wait_for(self.slack.send_command(user["id"], channel["id"], text, command=command),
                                          HANDLER_TIMEOUT)
        return self._answer(delivery)

    async def _message(self, request: web.Request) -> web.Response:
        files: list[tuple[str, bytes, str]] = []
        if request.content_type == "application/json":
            body = await self._json(request)
        elif request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            form = await request.post()
            body = {k: v for k, v in form.items() if isinstance(v, str)}
            for key in ("files", "file"):
                for part in form.getall(key, []):
                    if isinstance(part, web.FileField):
                        data = part.file.read()
                        if data:
                            files.append((part.filename or "upload", data, part.content_type or ""))
        else:
            raise BadRequest("send JSON or multipart/form-data")
        user = self._user(body.get("user"))
        channel = self._channel(body.get("channel"), user["id"])
        text = payloads.mentions(self.slack, self._text(body.get("text")).strip())
        thread_ts = body.get("thread_ts") or None
        if not text and not files:
            raise BadRequest("say something or attach a file")
        if thread_ts is not None:
            self._message_at(channel["id"], thread_ts)
        message = await asyncio.wait_for(
            self.slack.post_message(user["id"], channel["id"], text, thread_ts=thread_ts, files=files),
            HANDLER_TIMEOUT)
        return web.json_response({"ok": True, "ts": message["ts"]})

    async def _action(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        user = self._user(body.get("user"))
        if body.get("home"):
            return await self._home_action(user, body)
        channel = self._channel(body.get("channel"), user["id"])
        ts, action_id = body.get("message_ts"), body.get("action_id")
        ephemeral = bool(body.get("ephemeral"))
        if ephemeral:
            message = next((e for e in self.slack.ephemerals(channel["id"], user["id"]) if e["ts"] == ts), None)
            if message is None:
                raise BadRequest(f"no ephemeral message {ts!r}")
        else:
            message = self._message_at(channel["id"], ts)
        block, element = payloads.find_button(message.get("blocks") or [], action_id, body.get("block_id"))
        if element is None:
            raise BadRequest(f"no button {action_id!r} on that message")
        payload = payloads.block_actions(self.slack, user, channel, message, ephemeral=ephemeral, block=block,
                                         element=element)
        delivery = await asyncio.wait_for(self.slack.send_interaction(payload), HANDLER_TIMEOUT)
        return self._answer(delivery)

    async def _view(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        user = self._user(body.get("user"))
        view = next((v for v in self.slack.views if v["id"] == body.get("view_id")), None)
        if (view is None or view["id"] in self._closed_views
                or page.opened_by(self.slack).get(view["trigger_id"]) != user["id"]):
            raise BadRequest("no such open modal")
        if body.get("cancel"):
            self._closed_views.add(view["id"])
            if view.get("notify_on_close"):
                closed = payloads.view_closed(self.slack, user, view)
                await asyncio.wait_for(self.slack.send_interaction(closed), HANDLER_TIMEOUT)
            self.slack._changed()
            return web.json_response({"ok": True})
        values = body.get("values")
        if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
            raise BadRequest("values must be view.state.values: {block_id: {action_id: {...}}}")
        payload = payloads.view_submission(self.slack, user, view, values)
        delivery = await asyncio.wait_for(self.slack.send_interaction(payload), HANDLER_TIMEOUT)
        if delivery.status != 200:
            return self._answer(delivery)
        answer = delivery.response_json() if delivery.response_text.strip() else None
        if isinstance(answer, dict) and answer.get("response_action") == "errors":
            return web.json_response({"ok": False, "errors": answer.get("errors") or {}})
        self._closed_views.add(view["id"])  # any other answer closes the modal, as in Slack
        self.slack._changed()
        return web.json_response({"ok": True})

    async def _home(self, request: web.Request) -> web.Response:
        user = self._user((await self._json(request)).get("user"))
        return self._answer(await asyncio.wait_for(self.slack.open_home(user["id"]), HANDLER_TIMEOUT))

    async def _home_action(self, user: dict[str, Any], body: dict[str, Any]) -> web.Response:
        view = self.slack.home_views.get(user["id"])
        block, element = payloads.find_button((view or {}).get("blocks") or [], body.get("action_id"),
                                              body.get("block_id"))
        if view is None or element is None:
            raise BadRequest(f"no button {body.get('action_id')!r} on your Home tab")
        payload = payloads.home_block_actions(self.slack, user, view, block=block, element=element)
        return self._answer(await asyncio.wait_for(self.slack.send_interaction(payload), HANDLER_TIMEOUT))

    async def _workflow(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        user = self._user(body.get("user"))
        channel = self._channel(body.get("channel"), user["id"]) if body.get("channel") else None
        target = None if channel is None or channel["is_im"] else channel["id"]  # a DM: the step's own default
        return workflow.answer(await workflow.run_step(self.slack, user["id"], target, body))

    async def _shortcut(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        user = self._user(body.get("user"))
        channel = self._channel(body.get("channel"), user["id"])
        message = self._message_at(channel["id"], body.get("message_ts"))
        payload = payloads.message_shortcut(self.slack, user, channel, message)
        delivery = await asyncio.wait_for(self.slack.send_interaction(payload), HANDLER_TIMEOUT)
        return self._answer(delivery)


async def run_sandbox(settings: Settings, *, host: str = "127.0.0.1", port: int = 8080,
                      data_dir: Path = Path("imagebot-sandbox")) -> int:
    """Serve the sandbox until SIGINT or SIGTERM; 0 when stopped cleanly."""
    sandbox = Sandbox(settings, data_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        try:
            await sandbox.start(host=host, port=port)
        except OSError as error:  # the port is taken: any free one will do for a try-out
            print(f"imagebot sandbox: port {port} is not free ({error.strerror}); using another", flush=True)
            await sandbox.stop()
            sandbox = Sandbox(settings, data_dir)
            await sandbox.start(host=host, port=0)
        where = {"offline": "offline (pictures drawn locally, no API key needed, nothing is spent)",
                 "openai": "OpenAI (real images, real costs)", "azure": "Azure OpenAI (real images, real costs)"}
        print(f"imagebot sandbox: open {sandbox.url} in a browser (Ctrl+C stops it)", flush=True)
        print(f"  image provider: {where[sandbox.provider]}", flush=True)
        print(f"  imagebot's data (ledger, images): {data_dir}", flush=True)
        await stop.wait()
        print("imagebot sandbox: stopping", flush=True)
        return 0
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)
        await sandbox.stop()


__all__ = ["Sandbox", "image_provider", "run_sandbox"]
