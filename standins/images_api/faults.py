"""The faults a test queues (rate limits, quota, 5xx, moderation, Azure's content filters, auth, garbage, hangs,
answers that break off, stall or never end), and the answers they give."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from standins.images_api.answers import B64_ANSWER_TAIL, b64_answer_head, chunks, filler, write_answer
from standins.images_api.errors import Reject, api_error, azure_401, azure_error, openai_wrong_key
from standins.images_api.facts import FILTER_CATEGORIES
from standins.images_api.records import RecordedRequest


@dataclass
class FaultContext:
    """What a fault's answer may name: the request it answers."""

    flavor: str
    operation: str
    model: str
    request_id: str
    api_version: str | None
    presented_key: str


# A fault that writes its own 200 answer (a body that breaks off, a huge body) instead of raising a Reject.
Answer = Callable[[web.Request, RecordedRequest, dict[str, str]], Awaitable[web.StreamResponse]]


@dataclass
class Fault:
    operation: str
    times: int
    build: Callable[[FaultContext], Reject] | None  # None = hang until stop() (unless `answer`)
    answer: Answer | None = None


class FaultControls:
    """The fault queue and the methods that fill it. A part of ImageAPIStandIn, which sets these attributes."""

    _faults: list[Fault]
    _stopped: asyncio.Event

    def queue_error(
        self, status: int, body: dict[str, Any] | str, *, headers: dict[str, str] | None = None, operation: str = "*",
        times: int = 1,
    ) -> None:
        """Answer the next `times` matching requests with exactly this status, body and headers."""
        fixed = Reject(status, body, dict(headers or {}))
        self._queue(operation, times, lambda ctx: fixed)

    def rate_limit(self, retry_after: int | None = 1, *, operation: str = "*", times: int = 1) -> None:
        """429 rate_limit_exceeded, with Retry-After (integer seconds) unless `retry_after` is None.

        On Azure routes the body is Azure's throttling shape {"error": {"code": "429", "message": ...}}
        and retry-after-ms accompanies Retry-After.
        """

        def build(ctx: FaultContext) -> Reject:
            wait = f"in {retry_after}s" if retry_after is not None else "later"
            if ctx.flavor == "azure":
                op = "Images_Generations" if ctx.operation == "generations" else "Images_Edits"
                after = f"after {retry_after} second{'s' * (retry_after != 1)}" if retry_after is not None else "later"
                reject = azure_error(
                    429, "429",
                    f"Requests to the {op} Operation under Azure OpenAI API version {ctx.api_version} have "
                    f"exceeded call rate limit of your current AIServices S0 pricing tier. Please retry {after}. "
                    "Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase "
                    "the default rate limit.",
                )
                if retry_after is not None:
                    reject.headers["retry-after-ms"] = str(retry_after * 1000)
            else:
                reject = api_error(
                    429,
                    f"Rate limit reached for {ctx.model} in organization org-standin on images per minute (IPM): "
                    f"Limit 5, Used 5, Requested 1. Please try again {wait}. Visit "
                    "https://platform.openai.com/account/rate-limits to learn more.",
                    type="requests", code="rate_limit_exceeded",
                )
            if retry_after is not None:
                reject.headers["Retry-After"] = str(retry_after)
            return reject

        self._queue(operation, times, build)

    def quota_exhausted(self, *, operation: str = "*", times: int = 1) -> None:
        """429 insufficient_quota: needs user action, so no Retry-After."""
        self._queue(operation, times, lambda ctx: api_error(
            429,
            "You exceeded your current quota, please check your plan and billing details. For more information "
            "on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
            type="insufficient_quota", code="insufficient_quota",
        ))

    def server_error(self, status: int = 500, *, operation: str = "*", times: int = 1) -> None:
        """5xx with OpenAI's server_error body."""
        self._queue(operation, times, lambda ctx: api_error(
            status,
            "The server had an error while processing your request. Sorry about that! You can retry your request, "
            f"or contact us through our help center at help.openai.com if the error persists. (Please include the "
            f"request ID {ctx.request_id} in your message.)",
            type="server_error",
        ))

    def moderation_blocked(
        self, *, stage: str = "input", categories: Iterable[str] = ("sexual",), operation: str = "*", times: int = 1,
    ) -> None:
        """400 image_generation_user_error / moderation_blocked with moderation_details."""
        if stage not in ("input", "output"):
            raise ValueError("stage must be 'input' or 'output'")
        cats = list(categories)

        def build(ctx: FaultContext) -> Reject:
            return api_error(
                400,
                "Your request was rejected by the safety system. If you believe this is an error, contact us at "
                f"help.openai.com and include the request ID {ctx.request_id}. "
                f"safety_violations=[{', '.join(cats)}].",
                type="image_generation_user_error", code="moderation_blocked",
                moderation_details={"moderation_stage": stage, "categories": list(cats)},
            )

        self._queue(operation, times, build)

    def azure_content_filter(
        self, *, spelling: str = "inner_error", categories: Iterable[str] = ("sexual",), operation: str = "*",
        times: int = 1,
    ) -> None:
        """Azure's 400 content-filter rejection, in one of its two observed shapes:

        - "inner_error" (the images spec and observed image errors): code content_policy_violation,
          inner_error {code: ResponsibleAIPolicyViolation, content_filter_results {...}};
        - "innererror" (Azure's other APIs): code content_filter, innererror
          {code: ResponsibleAIPolicyViolation, content_filter_result {...}}.
        """
        if spelling not in ("inner_error", "innererror"):
            raise ValueError("spelling must be 'inner_error' or 'innererror'")
        flagged = set(categories)
        results: dict[str, dict[str, Any]] = {
            name: {"filtered": name in flagged, "severity": "high" if name in flagged else "safe"}
            for name in FILTER_CATEGORIES
        }
        results["jailbreak"] = {"filtered": "jailbreak" in flagged, "detected": "jailbreak" in flagged}
        results["profanity"] = {"filtered": "profanity" in flagged, "detected": "profanity" in flagged}
        body: dict[str, Any]
        if spelling == "inner_error":
            body = {"error": {
                "code": "content_policy_violation",
                "message": "Your request was rejected as a result of our safety system. Your prompt may contain "
                           "text that is not allowed by our safety system.",
                "param": "prompt",
                "type": "invalid_request_error",
                "inner_error": {"code": "ResponsibleAIPolicyViolation", "content_filter_results": results},
            }}
        else:
            body = {"error": {
                "message": "The response was filtered due to the prompt triggering Azure OpenAI's content "
                           "management policy. Please modify your prompt and retry. To learn more about our content "
                           "filtering policies please read our documentation: "
                           "https://go.microsoft.com/fwlink/?linkid=2198766",
                "type": None,
                "param": "prompt",
                "code": "content_filter",
                "status": 400,
                "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": results},
            }}
        self._queue(operation, times, lambda ctx: Reject(400, body))

    def auth_error(self, *, operation: str = "*", times: int = 1) -> None:
        """Force a 401 even though the key is right (a revoked key). Azure routes get Azure's 401 shape."""

        def build(ctx: FaultContext) -> Reject:
            if ctx.flavor == "azure":
                return azure_401()
            return openai_wrong_key(ctx.presented_key)

        self._queue(operation, times, build)

    def org_not_verified(self, *, operation: str = "*", times: int = 1) -> None:
        """403: the organisation must be verified to use this model."""
        self._queue(operation, times, lambda ctx: api_error(
            403,
            f"Your organization must be verified to use the model `{ctx.model}`. Please go to: "
            "https://platform.openai.com/settings/organization/general and click on Verify Organization. "
            "If you just verified, it can take up to 15 minutes for access to propagate.",
        ))

    def garbage(self, *, operation: str = "*", times: int = 1) -> None:
        """200 with an HTML body where JSON should be (a misbehaving proxy)."""
        self.queue_error(200, "<html>upstream error</html>", headers={"Content-Type": "text/html"},
                         operation=operation, times=times)

    def hang(self, *, operation: str = "*", times: int = 1) -> None:
        """Never answer until stop() (then 503): the client's own timeout has to fire."""
        self._queue(operation, times, None)

    def break_off(self, after_bytes: int = 4096, *, operation: str = "*", times: int = 1) -> None:
        """200 with the headers of a JSON image answer (its Content-Length included), then `after_bytes` of the
        body and the connection closed: an answer dropped mid-body, which the provider may well have billed."""
        if after_bytes < 0:
            raise ValueError("after_bytes must be 0 or more")

        async def answer(request: web.Request, record: RecordedRequest, headers: dict[str, str]) -> web.StreamResponse:
            body = b64_answer_head() + b"A" * (after_bytes + 4096) + B64_ANSWER_TAIL  # longer than what is sent
            return await write_answer(request, record, headers, chunks(body[:after_bytes]),
                                      length=len(body), close=True)

        self._queue(operation, times, None, answer)

    def stall(self, after_bytes: int = 1000, *, operation: str = "*", times: int = 1) -> None:
        """200 with the headers of a JSON image answer, `after_bytes` of its body, then nothing until stop(): an
        answer that began (and may be billed) and never finished."""

        async def answer(request: web.Request, record: RecordedRequest, headers: dict[str, str]) -> web.StreamResponse:
            body = b64_answer_head() + b"A" * (after_bytes + 4096) + B64_ANSWER_TAIL

            async def then_nothing() -> AsyncIterator[bytes]:
                async for piece in chunks(body[:after_bytes]):
                    yield piece
                await self._stopped.wait()

            return await write_answer(request, record, headers, then_nothing(), length=len(body), close=True)

        self._queue(operation, times, None, answer)

    def huge_answer(self, megabytes: float, *, content_length: bool = False, operation: str = "*",
                    times: int = 1, status: int = 200) -> None:
        """200 (or `status`: an error answer as endless) with a JSON image answer whose base64 is `megabytes` MB
        of "A"s, generated as it is sent (the stand-in never holds it): chunked, or with its Content-Length
        declared when `content_length`. A client that stops reading early shows in the request's `answer_bytes`."""
        size = int(megabytes * 1024 * 1024)

        async def answer(request: web.Request, record: RecordedRequest, headers: dict[str, str]) -> web.StreamResponse:
            head, tail = b64_answer_head(), B64_ANSWER_TAIL
            return await write_answer(request, record, headers, filler(head, size, tail),
                                      length=len(head) + size + len(tail) if content_length else None,
                                      status=status)

        self._queue(operation, times, None, answer)

    def _queue(self, operation: str, times: int, build: Callable[[FaultContext], Reject] | None,
               answer: Answer | None = None) -> None:
        if operation not in ("generations", "edits", "models", "files", "batches", "*"):
            raise ValueError("operation must be 'generations', 'edits', 'models', 'files', 'batches' or '*'")
        if times < 1:
            raise ValueError("times must be at least 1")
        self._faults.append(Fault(operation, times, build, answer))

    def _take_fault(self, operation: str) -> Fault | None:
        for fault in self._faults:
            # A fault queued for any operation is for the image calls: the app's own look at GET /v1/models (at
            # start-up, in the background) must not take it, nor the Files and Batch routes. Faults for those are
            # queued for "models", "files" or "batches" by name.
            if fault.operation == operation or (fault.operation == "*" and operation in ("generations", "edits")):
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
                return fault
        return None
