"""Trying an image API request again, within one deadline.

Waits are bounded: one deadline for the whole request (`deadline(options)` seconds, every attempt and backoff wait
inside it: IMAGEBOT_REQUEST_TIMEOUT_SECONDS, or sized from the model's typical latency by
bot/runtime/services.py `request_deadline`), the HTTP client's timeouts, at most `max_attempts` tries, backoff
capped at `max_backoff` and never slept past the deadline, and a `Retry-After` honoured only up to
`max_retry_after` (a longer one is handed to the user as "try again in …" instead of a silent hang).
A deadline that passes is `DeadlineExceeded`.

Money: once a 2xx status has arrived the provider may bill the call, whatever happens to the body. An answer that
breaks off mid-body is tried again only after the lost attempt is handed to `on_lost` (the caller writes it a
ledger row).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import httpx

from bot.errors import AnswerLost, DeadlineExceeded, ImageAPIError, RateLimited, ServerError
from bot.models import ImageOptions, LostAnswer
from bot.providers.base import OnLost

log = logging.getLogger(__name__)
T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
# Without IMAGEBOT_REQUEST_TIMEOUT_SECONDS or a catalogue to size it from (imagebot/compose.py passes
# `request_deadline` in).
DEFAULT_DEADLINE = 600.0


@dataclass
class Attempt:
    """One try of a request: whether its successful answer had begun (a 2xx status: from then on the provider may
    bill it) and, for a stream, how many events it received (after the first one it is never retried)."""

    number: int
    answered: bool = False
    events: int = 0
    request_id: str | None = None


class Failed(Exception):
    """An error answer from the API inside one attempt; `Retries.run` decides whether to try again."""

    def __init__(self, error: ImageAPIError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class Deadline:
    """The request's one deadline, `seconds` from its start on `clock`."""

    seconds: float
    clock: Callable[[], float]
    end: float = field(init=False)

    def __post_init__(self) -> None:
        self.end = self.clock() + self.seconds

    def left(self) -> float:
        return self.end - self.clock()

    def exceeded(self, attempts: int, attempt: Attempt) -> DeadlineExceeded:
        """The error for a deadline that has passed (or would pass before the next try could finish) after
        `attempts` tries, the last being `attempt`: possibly billed if that one's answer had begun."""
        tries = f"{attempts} attempt{'s' * (attempts != 1)}"
        billed = " Its answer had begun, so it may be billed." if attempt.answered else ""
        return DeadlineExceeded(f"The image API did not finish within {_duration(self.seconds)} ({tries}); nothing "
                                f"was made.{billed}", request_id=attempt.request_id, possibly_billed=attempt.answered)


class Retries:
    """How often, how long apart and until when a request is tried (see the module docstring)."""

    def __init__(self, *, max_attempts: int, max_backoff: float, max_retry_after: float, sleep: Sleep,
                 deadline: Callable[[ImageOptions], float] | None, clock: Callable[[], float]) -> None:
        self._max_attempts = max_attempts
        self._max_backoff = max_backoff
        self._max_retry_after = max_retry_after
        self._sleep = sleep
        self._deadline = deadline or (lambda options: DEFAULT_DEADLINE)
        self._clock = clock  # the deadline's clock; the waits themselves are the event loop's and `sleep`

    async def run(self, operation: str, options: ImageOptions, attempt_once: Callable[[Attempt], Awaitable[T]],
                  on_lost: OnLost | None) -> T:
        """Run `attempt_once` up to max_attempts times, all within one deadline: timeouts, connection failures and
        retryable API errors are waited out with bounded backoff (never slept past the deadline), the last one
        raised when tries run out; anything else propagates at once. An attempt whose 2xx answer broke off is
        handed to `on_lost` before the next one, since the provider may bill it."""
        deadline = Deadline(self._deadline(options), self._clock)
        last_error: ImageAPIError | None = None
        for number in range(1, self._max_attempts + 1):
            attempt = Attempt(number)
            try:
                return await self._attempt(attempt_once, attempt, deadline)
            except Failed as failed:
                last_error, delay = failed.error, self._delay_for(failed.error, number)
            if number == self._max_attempts:
                break
            if delay >= deadline.left():
                if isinstance(last_error, RateLimited):
                    raise last_error  # "try again in N s" says more than a deadline would
                log.warning("image api %s: %s; no time left to retry", operation, last_error)
                raise deadline.exceeded(number, attempt)
            if attempt.answered and on_lost is not None:
                await on_lost(LostAnswer(attempt=number, reason=str(last_error), request_id=attempt.request_id))
            log.warning("image api %s: %s; retrying in %.1fs", operation, last_error, delay)
            await self._sleep(delay)
        assert last_error is not None
        raise last_error

    async def _attempt(self, attempt_once: Callable[[Attempt], Awaitable[T]], attempt: Attempt,
                       deadline: Deadline) -> T:
        """One attempt, given what is left of the deadline. A failure worth retrying comes out as `Failed`; a
        deadline that passes during it is DeadlineExceeded (possibly billed if its answer had begun)."""
        left = deadline.left()
        if left <= 0:
            raise deadline.exceeded(attempt.number - 1, attempt)
        bound = asyncio.timeout(left)
        try:
            async with bound:
                return await attempt_once(attempt)
        except TimeoutError:
            if not bound.expired():
                raise
            raise deadline.exceeded(attempt.number, attempt) from None
        except httpx.TransportError as exc:  # timeouts included
            raise Failed(_transport_failure(exc, attempt)) from exc

    def _delay_for(self, error: ImageAPIError, attempt: int) -> float:
        """How long to wait before retrying after `error`; raises it when it must not be retried (a refusal, or
        a Retry-After beyond what a user should wait for in silence)."""
        if not _retryable(error):
            raise error
        delay = self._backoff(attempt)
        if isinstance(error, RateLimited) and error.retry_after is not None:
            if error.retry_after > self._max_retry_after:
                raise error
            delay = max(delay, error.retry_after)
        return delay

    def _backoff(self, attempt: int) -> float:
        return min(self._max_backoff, 2.0 ** (attempt - 1)) * (0.75 + random.random() / 2)


def _retryable(error: ImageAPIError) -> bool:
    return isinstance(error, RateLimited | ServerError)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes == round(minutes) else f"{minutes:.1f} min"


def _transport_failure(exc: httpx.TransportError, attempt: Attempt) -> ServerError:
    """A timeout or lost connection within an attempt: AnswerLost once its 2xx answer had begun (it may be billed),
    else a ServerError (nothing arrived, taken as not billed). Both may be retried."""
    if attempt.answered:
        return AnswerLost(f"The image API's answer broke off ({type(exc).__name__}).", request_id=attempt.request_id)
    if isinstance(exc, httpx.TimeoutException):
        return ServerError(f"The image API did not answer in time ({type(exc).__name__}).")
    return ServerError(f"Could not reach the image API ({type(exc).__name__}).")
