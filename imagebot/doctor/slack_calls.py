"""One Slack Web API call as the doctor makes it: one bounded try, its failure told in words instead of raised,
and an answer from something that is not Slack's Web API (a mistyped SLACK_API_URL, a proxy) named as such."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.settings import DEFAULT_SLACK_API_URL, Settings
from imagebot.doctor import bounds

_NOT_SLACK = "not Slack's Web API: "  # starts a call's problem when what answered was not Slack's Web API

# (response, error, HTTP status) of one call: see `slack_call`.
Answer = tuple[Any | None, str | None, int | None]


def slack_client(settings: Settings, token: str | None) -> AsyncWebClient:
    # No retry handlers: one bounded try per call. The timeout is aiohttp's total for the call.
    return AsyncWebClient(token=token, base_url=settings.slack_api_url, timeout=math.ceil(bounds.CALL_TIMEOUT),
                          retry_handlers=[])


async def slack_call(call: Callable[[], Awaitable[Any]]) -> Answer:
    """(response, error, HTTP status): Slack's error code (or a transport failure, described) instead of raising."""
    try:
        response = await asyncio.wait_for(_own_timeout(call()), bounds.CALL_TIMEOUT + bounds.BACKSTOP)
    except SlackApiError as error:
        if (not_slack := _not_slack(error.response)) is not None:
            return None, not_slack, None  # no answer from Slack at all: the URL is wrong, not the token
        return None, str(error.response.get("error") or "unknown_error"), error.response.status_code
    except _NoAnswer:
        return None, bounds.no_answer(), None
    except TimeoutError:
        return None, bounds.backstop_fired(), None
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


def _not_slack(answer: AsyncSlackResponse) -> str | None:
    """What the answer was, when it cannot be Slack's (an HTML 404, a proxy's page, a 200 that is not JSON); else
    None. Slack's Web API answers every method, even one it does not know, with a JSON object that has "ok"
    (https://api.slack.com/web#responses); slack_sdk reads anything else as `{}` and calls it an error."""
    if isinstance(answer.data, dict) and "ok" in answer.data:
        return None
    kind = next((v.split(";")[0].strip() for k, v in answer.headers.items() if k.lower() == "content-type"), "")
    return f"{_NOT_SLACK}HTTP {answer.status_code} with {kind or 'no Content-Type'}"


def unreachable(settings: Settings, problem: str) -> str:
    url = settings.slack_api_url
    if not problem.startswith(_NOT_SLACK):
        return f"could not reach Slack at {url} ({problem})"
    seen = problem.removeprefix(_NOT_SLACK)
    if url == DEFAULT_SLACK_API_URL:  # the URL is right: something between here and Slack answered instead
        return f"{url} answered {seen}, not as Slack's Web API does: a proxy or firewall in the way?"
    return f"SLACK_API_URL ({url}) is not Slack's Web API: it answered {seen}, not Slack's JSON"


def unreachable_fix(problem: str) -> str:
    if problem.startswith(_NOT_SLACK):
        return (f"Unset SLACK_API_URL to use Slack's own ({DEFAULT_SLACK_API_URL}), or set it to the base URL of "
                "a Slack Web API (it ends in /api/). Check the proxy, if there is one.")
    return "Check the network and proxy, and SLACK_API_URL if it is set."
