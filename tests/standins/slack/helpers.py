"""What the Slack stand-in's tests share: a bound for background waits, a tiny PNG, and the app's side of
the wire reduced to a signed-request sink."""

import io
import json
from collections.abc import Callable

from aiohttp import web
from PIL import Image
from slack_sdk.signature import SignatureVerifier

WAIT = 10.0  # a bound for things that happen in the background, never a delay


def png(width: int = 3, height: int = 2) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(buffer, "PNG")
    return buffer.getvalue()


class AppSink:
    """The app's side of the wire, reduced to: verify Slack's signature as Bolt does, record, answer."""

    def __init__(self, signing_secret: str) -> None:
        self.verifier = SignatureVerifier(signing_secret)
        self.received: list[dict] = []  # {"headers", "body", "valid"}
        self.reply: Callable[[], web.Response] = web.Response  # a fresh answer per request; default empty 200

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        valid = self.verifier.is_valid_request(body, dict(request.headers))
        self.received.append({"headers": dict(request.headers), "body": body, "valid": valid})
        if not valid:
            return web.json_response({"error": "invalid request"}, status=401)
        return self.reply()

    def events(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.received if r["body"].startswith("{")]


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
