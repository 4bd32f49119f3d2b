"""Calls the image API may have billed without saying what: how the ledger records them, and how that is said.

Once the API has begun a successful answer (a 2xx status), or imagebot stopped while a call was out, the provider
may bill the call although no image (and no `usage`) came back. Such a call is never counted as nothing: its
ledger row keeps the estimate made before the call (`estimate_micro`), and every spend sum (storage/spend.py)
counts it at that estimate while its cost is unknown. A refusal, or a call that never got an answer, is taken as
not billed: its row drops the estimate. Each lost attempt that the client tried again gets a row of its own, so
the ledger holds one row for every attempt that may be billed.
"""

from __future__ import annotations

from dataclasses import replace

from bot.errors import ImageAPIError
from bot.logs import redact
from bot.models import LostAnswer
from bot.money.pricing import Usage, format_usd
from storage.records import LedgerEntry
from storage.spend import Estimated

LOST_ANSWER = "answer_lost"  # the error_code of a lost attempt's own row


def settle_failure(entry: LedgerEntry, error: ImageAPIError) -> None:
    """Complete a failed call's row from its error: the estimate stays only if the API may have billed it."""
    entry.status, entry.error_code, entry.request_id = "error", error.code, error.request_id
    entry.error_message = redact(str(error))[:2000]  # a 401's text quotes part of the API key
    if not error.possibly_billed:
        entry.estimate_micro = None  # refused, or never answered: nothing to count


def record_usage(entry: LedgerEntry, usage: Usage) -> None:
    """The API's token counts into the call's row (the cost is the caller's: its price, or a batch's)."""
    entry.input_text_tokens, entry.input_image_tokens = usage.input_text_tokens, usage.input_image_tokens
    entry.output_image_tokens, entry.output_text_tokens = usage.output_image_tokens, usage.output_text_tokens


def lost_entry(entry: LedgerEntry, answer: LostAnswer) -> LedgerEntry:
    """The row of an attempt whose 2xx answer broke off and was tried again: a call of its own, possibly billed,
    at the call's estimate (the retry asks for exactly the same)."""
    return replace(entry, status="error", error_code=LOST_ANSWER, request_id=answer.request_id,
                   error_message=redact(f"Attempt {answer.attempt}: {answer.reason} It was tried again; the "
                                        "provider may have billed this attempt.")[:2000],
                   latency_ms=None, image_ids=())


def estimated_note(estimated: Estimated) -> str | None:
    """'includes $0.12 estimated for 3 calls that were cut short and may have been billed', or None."""
    if not estimated.calls:
        return None
    calls = "1 call that was" if estimated.calls == 1 else f"{estimated.calls:,} calls that were"
    return f"includes {format_usd(estimated.micro)} estimated for {calls} cut short and may have been billed"


def lost_note(micro: int, answers: int) -> str | None:
    """The footnote's word on this request's lost attempts: '+ ~$0.042 for an answer that broke off and may be
    billed (the image API was asked again)', or None."""
    if not answers:
        return None
    what = "an answer that" if answers == 1 else f"{answers} answers that"
    return f"+ ~{format_usd(micro)} for {what} broke off and may be billed (the image API was asked again)"


def spend_notes(lost_answers: int, lost_micro: int, thread: Estimated, month: Estimated) -> tuple[str, ...]:
    """The footnote's lines on money that may have been billed: this request's lost attempts, then what the
    thread's spend (and the asker's month, when it has more) counts at estimate."""
    notes = [note for note in (
        lost_note(lost_micro, lost_answers),
        _sentence("Thread so far", estimated_note(thread)),
        _sentence("Your month", estimated_note(month)) if month != thread else None,
    ) if note]
    return tuple(notes)


def _sentence(subject: str, note: str | None) -> str | None:
    return f"{subject} {note}." if note else None
