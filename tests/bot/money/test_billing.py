"""bot/money/billing.py and the request deadline: what the ledger keeps of a call the API may have billed, the words
that say spend includes estimates, and how long one image request may take (bot/runtime/services.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot import errors
from bot.models import ImageOptions, LostAnswer
from bot.money import billing
from bot.runtime.services import DEADLINE_FACTOR, MIN_DEADLINE, request_deadline
from bot.settings import Settings
from storage.records import LedgerEntry, ThreadKey
from storage.spend import Estimated
from tests.catalogue_helpers import catalogue, default_model, live

KEY = ThreadKey("T1", "C1", "1.0")


def pending(estimate: int | None = 42_000) -> LedgerEntry:
    return LedgerEntry(key=KEY, user_id="U1", kind="generate", provider="openai", model=default_model(),
                       size="1024x1024", quality="medium", n=1, prompt="a fox", status="pending", job_id=7,
                       estimate_micro=estimate)


@pytest.mark.parametrize("error", [
    errors.InvalidRequest("Unknown parameter: 'x'.", param="x"),
    errors.ModerationBlocked("blocked"),
    errors.RateLimited("slow down"),
    errors.ServerError("The server had an error", status=500),
    errors.ServerError("The image API did not answer in time (ReadTimeout)."),
    errors.DeadlineExceeded("did not finish within 3 min (3 attempts)"),
])
def test_a_refusal_or_a_call_never_answered_counts_nothing(error: errors.ImageAPIError) -> None:
    entry = pending()
    billing.settle_failure(entry, error)
    assert (entry.status, entry.error_code, entry.estimate_micro) == ("error", error.code, None)


@pytest.mark.parametrize("error", [
    errors.AnswerLost("The image API's answer broke off (RemoteProtocolError)."),
    errors.AnswerTooLarge("The image API's answer was larger than 49 MB"),
    errors.DeadlineExceeded("did not finish within 3 min (1 attempt)", possibly_billed=True),
])
def test_a_call_whose_answer_had_begun_keeps_its_estimate(error: errors.ImageAPIError) -> None:
    entry = pending()
    billing.settle_failure(entry, error)
    assert (entry.status, entry.error_code, entry.estimate_micro, entry.cost_micro) == (
        "error", error.code, 42_000, None)


def test_a_lost_attempt_is_a_row_of_its_own_at_the_calls_estimate() -> None:
    entry = pending()
    row = billing.lost_entry(entry, LostAnswer(attempt=1, reason="The answer broke off.", request_id="req_1"))
    assert (row.status, row.error_code, row.estimate_micro, row.cost_micro, row.request_id, row.job_id) == (
        "error", "answer_lost", 42_000, None, "req_1", 7)
    assert "Attempt 1" in (row.error_message or "") and "may have billed" in (row.error_message or "")
    assert entry.status == "pending"  # the call's own row is left as it was


def test_the_words_say_how_much_is_estimated_and_why() -> None:
    assert billing.estimated_note(Estimated()) is None
    assert billing.estimated_note(Estimated(120_000, 3)) == (
        "includes $0.12 estimated for 3 calls that were cut short and may have been billed")
    assert billing.estimated_note(Estimated(42_000, 1)) == (
        "includes $0.042 estimated for 1 call that was cut short and may have been billed")
    assert billing.lost_note(42_000, 0) is None
    assert billing.lost_note(42_000, 1) == ("+ ~$0.042 for an answer that broke off and may be billed (the image "
                                           "API was asked again)")


def test_the_footnote_says_lost_answers_then_the_threads_and_the_months_estimates() -> None:
    assert billing.spend_notes(0, 0, Estimated(), Estimated()) == ()
    thread = Estimated(42_000, 1)
    notes = billing.spend_notes(1, 42_000, thread, thread)
    assert notes == (billing.lost_note(42_000, 1),
                     "Thread so far includes $0.042 estimated for 1 call that was cut short and may have been billed.")
    assert billing.spend_notes(0, 0, Estimated(), Estimated(80_000, 2))[-1].startswith(
        "Your month includes $0.08 estimated for 2 calls")


# the deadline ----------------------------------------------------------------------------------------------


def test_the_deadline_is_the_setting_when_set() -> None:
    deadline = request_deadline(replace(Settings.from_env({}), request_timeout_seconds=45.0), catalogue())
    assert deadline(ImageOptions(model=default_model(), quality="high")) == 45.0


def test_the_default_deadline_is_four_typical_times_and_never_under_two_minutes() -> None:
    deadline = request_deadline(Settings.from_env({}), catalogue())
    for model in live():
        for quality in ("low", "medium", "high"):
            typical = catalogue().typical_seconds(model, quality)
            assert deadline(ImageOptions(model=model, quality=quality)) == max(MIN_DEADLINE,
                                                                               DEADLINE_FACTOR * typical)
    model = default_model()
    medium, high = (deadline(ImageOptions(model=model, quality=q)) for q in ("medium", "high"))
    assert MIN_DEADLINE <= medium < high
    assert deadline(ImageOptions(model="a-model-nobody-knows")) >= MIN_DEADLINE
