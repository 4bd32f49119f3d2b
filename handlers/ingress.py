"""POST /slack/events before Bolt sees it: read, verify, parse, check, then dispatch.

Each step may refuse the request, and each refusal is one short log line (status, reason, size, remote
address; never any of the body), rate-limited by `LogThrottle`:

1. read: at most MAX_BODY_BYTES (Slack's payloads are a few KB) within READ_SECONDS → else 413 / 408.
2. verify the signature on the raw bytes (https://docs.slack.dev/authentication/verifying-requests-from-slack/:
   HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret, the timestamp within five minutes of
   slack_sdk's `Clock`, as slack_sdk's SignatureVerifier checks it) → else 401. Nothing is parsed before this:
   a forged body costs an HMAC, no more. (The bytes, not text: SignatureVerifier decodes a bytes body as UTF-8
   first, and raises on one that is not.)
3. parse: UTF-8, then a JSON object (application/json: events) or a form (commands, or interactivity's
   `payload=` holding a JSON object) → else 400.
4. noise (handlers/listeners/middleware.py's is_noise: bots' messages, ours among them, edits, deletions) is
   answered 200 here, as the middleware would after Bolt's dispatch: each image brings five such events, and
   nothing reads them, so their shape is not checked either.
5. check the payload's shape against what Slack sends (handlers/payloads.py, which Socket Mode's payloads go
   through too, as middleware) → else 400.

Bolt's own signature check stays on behind ours (the same secret and the same computation, tested against
SignatureVerifier, so it passes whatever ours passed): a second lock, not a replacement. Ours comes first
because Bolt parses the body before its check (so a forged non-JSON body was a 500) and logs the whole body of
every request it refuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import Clock

from bot.logs import LogThrottle
from handlers.listeners.middleware import is_noise
from handlers.payloads import CHECKED, Malformed, check_shape

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # Slack's largest payloads (a view submission, a message with blocks) are far below
READ_SECONDS = 10.0  # Slack sends a whole body at once; a body trickled in slower than this is not Slack's
MAX_FORM_FIELDS = 100  # a slash command has about 12
TOLERANCE_SECONDS = 5 * 60  # slack_sdk's window; Slack's own docs ask for the same
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # int() would also take " 1", "1_0", "+1" and non-ASCII digits
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")  # hmac.compare_digest raises on non-ASCII text: never hand it any
# hashlib lets go of the GIL to hash 2 KiB or more in one call, and the event loop must then wait to take it back
# from whichever thread holds it: 634 us for a 3 KB body beside one busy thread, against 8 us in pieces below
# that size (bench, 2026-12-07). An event with a card's blocks is often over 2 KiB, so the body goes in pieces.
HASH_PIECE = 2047
# Requests answered at once. A burst's requests arrive within a few event-loop turns; answered all at once, each
# turn ran dozens of acks end to end (about 1.5 ms each) and everything else on the loop waited behind them (a
# 72 ms stall in a 200-burst, issue 16). Taking turns, the rest wait without work and the loop comes round often.
ANSWERING = 8
QUIET_WAIT = 0.5  # the longest a job waits for the acks in progress before it starts (Ingress.quiet)
_JSON_TYPES = frozenset({"application/json"})
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded"})


class Refused(Exception):
    """A request turned away before Bolt: the status to answer and a short reason for the log (ours, never the
    request's own text)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


ANSWERS = {400: "malformed request", 401: "invalid request", 408: "request timeout", 413: "request too large"}


async def read_body(request: web.BaseRequest, limit: int = MAX_BODY_BYTES,
                    timeout: float = READ_SECONDS) -> bytes:
    """The raw body, refused (413) as soon as it is known to be over `limit`: from Content-Length before any of
    it is read, else when the read passes the limit."""
    if request.content_length is not None and request.content_length > limit:
        raise Refused(413, "body over the size limit")
    if request.content.is_eof():  # all of it came with the headers (Slack's few KB do): no timer, no read loop
        raw = request.content.read_nowait()
        if len(raw) > limit:
            raise Refused(413, "body over the size limit")
        return raw
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout):
            while chunk := await request.content.read(limit + 1 - size):
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise Refused(413, "body over the size limit")
    except TimeoutError:
        raise Refused(408, "body not received in time") from None
    return b"".join(chunks)


class Signatures:
    """Slack's v0 request signatures under one signing secret."""

    def __init__(self, signing_secret: str, clock: Clock | None = None) -> None:
        self.key = signing_secret.encode()
        self.clock = clock or Clock()

    def sign(self, timestamp: str, raw: bytes) -> str:
        mac = hmac.new(self.key, b"v0:" + timestamp.encode() + b":", hashlib.sha256)
        body = memoryview(raw)
        for start in range(0, len(body), HASH_PIECE):  # never hand hashlib 2 KiB at once (HASH_PIECE)
            mac.update(body[start:start + HASH_PIECE])
        return "v0=" + mac.hexdigest()

    def verify(self, raw: bytes, headers: Mapping[str, str]) -> None:
        """Refuse (401) unless `raw` is signed with the secret, within five minutes of now."""
        timestamp = headers.get("X-Slack-Request-Timestamp", "")
        signature = headers.get("X-Slack-Signature", "")
        if not self.key.strip():
            raise Refused(401, "no signing secret is configured")
        if not _TIMESTAMP.fullmatch(timestamp):
            raise Refused(401, "no timestamp" if not timestamp else "timestamp is not a number")
        if not _SIGNATURE.fullmatch(signature):
            raise Refused(401, "no signature" if not signature else "signature is not a v0 signature")
        if abs(self.clock.now() - int(timestamp)) > TOLERANCE_SECONDS:
            raise Refused(401, "timestamp more than five minutes from now")
        if not hmac.compare_digest(self.sign(timestamp, raw), signature):
            raise Refused(401, "signature does not match")


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError, an int over 4300 digits, nesting too deep
        raise Malformed(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise Malformed(f"{what} is not a JSON object")
    return value


def parse(raw: bytes, content_type: str) -> dict[str, Any]:
    """The payload of a verified body, as Slack sends it: JSON (the Events API) or a form (slash commands; and
    interactivity, whose form has one field, `payload`, a JSON object). Raises Malformed."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("body is not UTF-8") from None
    if content_type in _JSON_TYPES:
        return _json_object(text, "body")
    if content_type not in _FORM_TYPES:
        raise Malformed("content type is neither JSON nor a form")
    try:
        fields = dict(parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS))
    except ValueError:
        raise Malformed("form has too many fields") from None
    if "payload" in fields:
        return _json_object(fields["payload"], "payload")
    return fields


def bolt_request(text: str, body: dict[str, Any], request: web.BaseRequest) -> AsyncBoltRequest:
    """Bolt's request for a verified, parsed body. Bolt would parse the text again, and wrongly when a form
    without a `payload` field merely contains the word (`/image a payload of bricks` became {}): it is given the
    body read here, and the text as raw_body, which its signature check reads. (Its constructor takes only text
    over HTTP; parsing it twice was a tenth of a command's ack, issue 16.)"""
    # aiohttp's headers are a CIMultiDictProxy; Bolt reads them as a mapping but annotates a dict.
    req = AsyncBoltRequest(body="", query=request.query_string, headers=request.headers)  # type: ignore[arg-type]
    req.raw_body, req.body = text, body
    req.context = build_async_context(AsyncBoltContext({CHECKED: body}), body)  # checked: WellFormed need not
    return req


class Ingress:
    """The /slack/events endpoint: `handle` is the aiohttp handler."""

    def __init__(self, app: AsyncApp, signing_secret: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.signatures = Signatures(signing_secret)
        self.handling = 0  # requests between arriving and their answer
        self._quiet: asyncio.Event | None = None  # set while none is; made in the running loop
        self._turns: asyncio.Semaphore | None = None  # ANSWERING at once; made in the running loop
        self._starts: asyncio.Semaphore | None = None  # jobs let go by `quiet`, ANSWERING a turn
        # Forged requests must not crowd out the rarer, more telling signed ones: a bucket each.
        self.unsigned = LogThrottle(log, clock=clock)
        self.signed = LogThrottle(log, clock=clock)

    @classmethod
    def of(cls, app: AsyncApp) -> Ingress:
        # The secret Bolt was built with (build_app passes settings.slack_signing_secret), so the two checks
        # can never disagree about which secret is right; Bolt has no public accessor for it.
        return cls(app, app._signing_secret)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.handling += 1
        if self._quiet is not None:
            self._quiet.clear()
        self._turns = self._turns or asyncio.Semaphore(ANSWERING)
        try:
            async with self._turns:
                return await self._handle(request)
        finally:
            self.handling -= 1
            if not self.handling and self._quiet is not None:
                self._quiet.set()

    async def quiet(self, limit: float = QUIET_WAIT) -> None:
        """Until no request is being answered, or `limit` seconds: the job runner's work waits for the acks of a
        burst (JobQueue.acks_first), but a steady stream of requests never holds a job back longer than this.
        Then the waiting jobs go ANSWERING at a time, one turn of the event loop apart: a burst's two hundred
        jobs all starting in the same turn stalled the loop for 50-75 ms."""
        if self.handling:
            self._quiet = self._quiet or asyncio.Event()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(limit):
                    await self._quiet.wait()
        self._starts = self._starts or asyncio.Semaphore(ANSWERING)
        async with self._starts:
            await asyncio.sleep(0)  # this job's turn lasts one turn of the loop

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        size = request.content_length
        try:
            raw = await read_body(request)
            size = len(raw)
            self.signatures.verify(raw, request.headers)
        except Refused as refused:
            return self.refuse(refused, size, request.remote)
        try:  # only a verified body gets this far: from here on, whatever is wrong, Slack (or we) got it wrong
            body = parse(raw, request.content_type)
            if is_noise(body):  # a bot's message (ours: five an image), an edit, a deletion: dropped, as Bolt would
                return web.Response(status=200, text="")
            check_shape(body)
        except Malformed as malformed:
            return self.refuse(Refused(400, str(malformed)), size, request.remote, signed=True)
        bolt_response = await self.app.async_dispatch(bolt_request(raw.decode("utf-8"), body, request))
        return await to_aiohttp_response(bolt_response)

    def refuse(self, refused: Refused, size: int | None, remote: str | None, *, signed: bool = False) -> web.Response:
        throttle, level = (self.signed, logging.WARNING) if signed else (self.unsigned, logging.INFO)
        throttle.log(level, "refused a%s request to /slack/events: %d, %s (%s bytes from %s)",
                     " signed" if signed else "n unsigned", refused.status, refused.reason,
                     "?" if size is None else size, remote or "?")
        return web.json_response({"error": ANSWERS[refused.status]}, status=refused.status)
