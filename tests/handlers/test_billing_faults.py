"""Money and waits through the real app when the image API fails part-way (issue 13).

Every attempt the provider may bill is a ledger row, counted at its estimate while its cost is unknown, and the
footnote, `/image usage` and the report say so; an answer over the size cap is not read and the user is told; one
deadline bounds a whole request. The far side is the image API stand-in's faults (break_off, huge_answer, hang).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.money.billing import estimated_note
from bot.money.pricing import format_usd
from bot.settings import Settings
from imagebot.compose import make_provider
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace, settings_for
from storage.spend import Estimated
from tests.catalogue_helpers import catalogue
from tests.conftest import Sleeps, WorkspaceFactory
from tests.slack_views import bot_replies, cards, image_replies

pytestmark = pytest.mark.anyio
CHANNEL = "C0GENERAL"
ALICE = "U0ALICE"
WAIT = 60.0  # a bound for the app's background work, never a delay


async def generate(slack: SlackStandIn, workspace: LocalWorkspace, text: str) -> str:
    delivery = await slack.send_command(ALICE, CHANNEL, text)
    assert delivery.status == 200
    await workspace.settle()
    return cards(slack)[-1]["ts"]


def ledger(workspace: LocalWorkspace) -> list[dict[str, Any]]:
    assert workspace.services is not None
    return workspace.services.images.store.ledger_rows()


async def private_answer(slack: SlackStandIn, workspace: LocalWorkspace, text: str, *, user: str = ALICE,
                         command: str = "/image") -> str:
    before = len(slack.ephemerals(user_id=user))
    delivery = await slack.send_command(user, CHANNEL, text, command=command)
    assert delivery.status == 200
    await workspace.settle()
    return "\n".join(e.get("text", "") for e in slack.ephemerals(user_id=user)[before:])


async def test_an_answer_that_broke_off_is_a_ledger_row_of_its_own_and_the_footnote_counts_it(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace, sleeps: Sleeps) -> None:
    image_api.break_off(after_bytes=3000)
    thread_ts = await generate(slack, workspace, "a lighthouse")

    assert [r.status for r in image_api.requests] == [200, 200] and len(sleeps.delays) == 1
    made, lost = ledger(workspace)  # the provider may bill both attempts: both are rows (the call's own first)
    assert (lost["status"], lost["error_code"], lost["cost_micro"], lost["job_id"]) == (
        "error", "answer_lost", None, made["job_id"])
    assert lost["estimate_micro"] == made["estimate_micro"] > 0 and lost["request_id"]
    assert made["status"] == "ok" and made["cost_micro"] > 0
    [upload] = image_replies(slack, thread_ts)
    footnote = upload["text"]
    at_risk = lost["estimate_micro"]
    assert f"+ ~{format_usd(at_risk)} for an answer that broke off and may be billed" in footnote
    assert f"thread so far: {format_usd(made['cost_micro'] + at_risk)}" in footnote
    assert f"Thread so far {estimated_note(Estimated(at_risk, 1))}." in footnote


async def test_a_call_cut_short_counts_at_its_estimate_and_usage_and_the_report_say_so(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    first = await workspace_factory()
    image_api.pause()
    await slack.send_command(ALICE, CHANNEL, "a lighthouse")
    await image_api.wait_for_waiting(1, timeout=WAIT)
    await first.stop(grace=0.2)  # the call is cut short while the API works on it
    image_api.resume()

    second = await workspace_factory()
    [cut] = ledger(second)
    assert (cut["status"], cut["error_code"], cut["cost_micro"]) == ("error", "interrupted", None)
    estimate = cut["estimate_micro"]
    assert estimate and estimate > 0
    note = estimated_note(Estimated(estimate, 1))
    assert note == (f"includes {format_usd(estimate)} estimated for 1 call that was cut short and may have been "
                    "billed")

    usage = await private_answer(slack, second, "usage")
    assert f"{format_usd(estimate)} this month." in usage and f"This month {note}." in usage
    assert await private_answer(slack, second, "report 30d", user="U0ADMIN", command="/image-admin") == ""
    report = [m for m in slack.messages(CHANNEL) if "imagebot spend" in m.get("text", "")][-1]
    assert f"{format_usd(estimate)}; it {note}" in str(report["blocks"])
    assert len(image_api.requests) == 1  # never re-run on its own


async def test_an_answer_over_the_cap_is_not_read_and_the_user_is_told(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    image_api.huge_answer(60, content_length=True)  # the default cap for one picture is 49 MB
    thread_ts = await generate(slack, workspace, "a lighthouse")

    assert len(image_api.requests) == 1  # it came with a 200: never asked for again
    [entry] = ledger(workspace)
    assert (entry["status"], entry["error_code"], entry["cost_micro"]) == ("error", "answer_too_large", None)
    assert entry["estimate_micro"] > 0  # it may be billed: counted at its estimate
    told = "\n".join(m.get("text", "") for m in bot_replies(slack, thread_ts))
    assert "larger than 49 MB; imagebot stopped reading it" in told and not image_replies(slack, thread_ts)


async def test_one_deadline_bounds_a_request_whose_every_attempt_hangs(
        slack: SlackStandIn, image_api: ImageAPIStandIn, tmp_path: Path) -> None:
    # The wiring `imagebot serve` uses (make_provider), with IMAGEBOT_REQUEST_TIMEOUT_SECONDS at 1 s: the three
    # hangs in a row the probe saw end after one second and one attempt, not after three read timeouts.
    settings = settings_for(slack, tmp_path / "data", dataclasses.replace(
        Settings(provider="openai", openai_api_key=image_api.api_key, openai_base_url=image_api.openai_base_url),
        request_timeout_seconds=1.0))
    async with httpx.AsyncClient(timeout=httpx.Timeout(30.0), trust_env=False) as http:
        workspace = await LocalWorkspace(settings, slack, provider=make_provider(settings, http, catalogue())).start()
        try:
            image_api.hang(times=3)
            thread_ts = await generate(slack, workspace, "a lighthouse")
            [entry] = ledger(workspace)
        finally:
            await workspace.stop()
    assert len(image_api.requests) == 1
    assert (entry["status"], entry["error_code"], entry["estimate_micro"]) == ("error", "deadline_exceeded", None)
    told = "\n".join(m.get("text", "") for m in bot_replies(slack, thread_ts))
    assert "did not finish within 1 s (1 attempt); nothing was made" in told
