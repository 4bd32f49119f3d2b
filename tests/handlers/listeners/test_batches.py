"""`/image batch` through the real app against both stand-ins: the Slack stand-in carries the command, the card's
buttons and the thread's replies; the image API stand-in runs the Batch API on a clock the test moves
(`image_api.advance`). imagebot's own clock for when to look again is moved the same way (`Batches.clock`), and a
look is made by calling the poller: no test waits for real time."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import pytest

from bot.money.pricing import Usage
from bot.runtime.batch_poller import BatchPoller
from bot.usecases.batches import Batches
from handlers.ui import batches as ui
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace
from tests.conftest import WorkspaceFactory
from tests.handlers.test_reliability import Records, press
from tests.slack_views import bot_replies, card_text

pytestmark = pytest.mark.anyio
ALICE, BOB, CHANNEL = "U0ALICE", "U0BOB", "C0GENERAL"
BATCH_MODEL = "gpt-image-2"  # takes batches (the catalogue); the default model does not
LATER = 10_000.0  # seconds: past every wait imagebot schedules, and every stage of the stand-in's batch


def parts(workspace: LocalWorkspace) -> tuple[Batches, BatchPoller]:
    services = workspace.services
    assert services is not None and services.batches is not None and services.batch_poller is not None
    return services.batches, services.batch_poller


def batch_cards(slack: SlackStandIn, channel: str = CHANNEL) -> list[dict[str, Any]]:
    return [m for m in slack.messages(channel) if m.get("bot_id") and (m.get("blocks") or [{}])[0].get(
        "block_id") == ui.BATCH_BLOCK]


async def ask(slack: SlackStandIn, workspace: LocalWorkspace, text: str, user: str = ALICE) -> dict[str, Any]:
    delivery = await slack.send_command(user, CHANNEL, text)
    assert delivery.status == 200 and delivery.response_text == "", delivery.response_text
    await workspace.settle()
    return copy.deepcopy(batch_cards(slack)[-1])  # as posted: the stand-in's own copy changes with chat.update


async def submit(slack: SlackStandIn, workspace: LocalWorkspace, card: dict[str, Any], user: str = ALICE) -> None:
    assert (await slack.send_interaction(press(slack, user, card, ui.SUBMIT))).status == 200
    await workspace.settle()


async def later(workspace: LocalWorkspace, image_api: ImageAPIStandIn, seconds: float = LATER) -> None:
    """Time passes on both sides, and the poller looks at what is due, until no batch is open (at most three
    rounds: the app's own poller, woken by a submit or a cancel, may have looked meanwhile and put the next look
    off past this round's clock)."""
    batches, poller = parts(workspace)
    for _ in range(3):
        image_api.advance(seconds)
        batches.clock = _fixed(batches.clock() + seconds)
        await poller.run_once()
        await workspace.settle()
        if not await batches.open():
            return


def _fixed(now: float) -> Callable[[], float]:
    return lambda: now


def card(slack: SlackStandIn, ts: str) -> dict[str, Any]:
    return next(m for m in slack.messages(CHANNEL) if m["ts"] == ts)


async def test_a_batch_is_estimated_submitted_polled_and_posted_with_a_summary(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    shown = await ask(slack, workspace, f"batch --model {BATCH_MODEL} --quality low\na lighthouse\na red barn "
                                        "--size portrait")
    assert "batch of 2 images" in card_text(shown) and "at batch prices" in card_text(shown)
    assert not image_api.batch_requests and not image_api.requests  # nothing sent before Submit
    await submit(slack, workspace, shown)
    assert len([r for r in image_api.batch_requests if r.path.endswith("/files")]) == 1  # one JSONL file
    [job] = image_api.batches.values()
    lines = image_api.files[job.input_file_id].lines()
    assert [line["body"]["prompt"] for line in lines] == ["a lighthouse", "a red barn"]
    assert {line["body"]["model"] for line in lines} == {BATCH_MODEL} and lines[1]["body"]["size"] == "1024x1536"
    pending = await Records(workspace).ledger()
    assert [(r["kind"], r["status"]) for r in pending] == [("batch", "batched")] * 2
    assert all(r["estimate_micro"] > 0 and r["batch_id"] for r in pending)  # budgets count them meanwhile
    assert "checking the batch" in card_text(card(slack, shown["ts"]))

    await later(workspace, image_api)
    replies = bot_replies(slack, shown["ts"])
    images = [m for m in replies if m.get("files")]
    assert [m["text"].split("\n")[0] for m in images] == ["*1/2* a lighthouse", "*2/2* a red barn"]
    rows = await Records(workspace).ledger()
    assert [(r["status"], r["images"]) for r in rows] == [("ok", 1), ("ok", 1)]
    [job] = image_api.batches.values()
    outputs = {line["custom_id"]: line["response"]["body"]["usage"] for line in image_api.files[
        job.output_file_id].lines()}
    usual = workspace.services.images.prices.price_for(BATCH_MODEL)  # type: ignore[union-attr]
    assert usual is not None
    for row, custom_id in zip(rows, ("line-1", "line-2"), strict=True):  # each from its own usage, at half price
        tokens = Usage.from_api(outputs[custom_id])
        assert tokens.output_image_tokens == row["output_image_tokens"]
        assert abs(row["cost_micro"] - usual.cost(tokens) / 2) <= 2, (row["cost_micro"], usual.cost(tokens))
    summary = replies[-1]["text"]
    assert summary.startswith(":white_check_mark: Batch done: 2 made, 0 failed;")
    assert "Batch done" in card_text(card(slack, shown["ts"]))
    await later(workspace, image_api)  # nothing is posted twice
    assert len(bot_replies(slack, shown["ts"])) == len(replies)


async def test_failed_prompts_are_reported_and_not_charged(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    shown = await ask(slack, workspace, f"batch --model {BATCH_MODEL} --quality low\na kite\nsomething refused")
    image_api.fail_lines("line-2")
    await submit(slack, workspace, shown)
    await later(workspace, image_api)
    replies = bot_replies(slack, shown["ts"])
    assert any("2/2" in m["text"] and "no image" in m["text"] for m in replies)
    assert "1 made, 1 failed" in replies[-1]["text"]
    rows = await Records(workspace).ledger()
    assert [r["status"] for r in rows] == ["ok", "error"]
    assert rows[1]["cost_micro"] is None and rows[1]["estimate_micro"] is None  # a refused request is not billed


async def test_cancel_in_the_thread_stops_the_batch_and_posts_what_was_made(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    shown = await ask(slack, workspace, f"batch --model {BATCH_MODEL} --quality low\none\ntwo\nthree")
    await submit(slack, workspace, shown)
    image_api.advance(25)  # validated at 10 s; the first line done at 20 s, the second at 30 s
    await slack.post_message(BOB, CHANNEL, "cancel", thread_ts=shown["ts"])  # not Bob's to cancel
    await workspace.settle()
    assert not [r for r in image_api.batch_requests if r.path.endswith("/cancel")]
    assert any("Only the person who asked" in e["text"] for e in slack.ephemerals(user_id=BOB))
    await slack.post_message(ALICE, CHANNEL, "cancel", thread_ts=shown["ts"])
    await workspace.settle()
    [job] = image_api.batches.values()
    assert job.status == "cancelling"
    await later(workspace, image_api)  # (the poller may have looked once meanwhile, woken by the cancel)
    replies = bot_replies(slack, shown["ts"])
    assert "Batch cancelled: 1 made, 2 failed" in replies[-1]["text"], replies[-1]["text"]
    assert [r["status"] for r in await Records(workspace).ledger()] == ["ok", "error", "error"]


async def test_a_restart_resumes_polling_and_charges_once(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    first = await workspace_factory()
    shown = await ask(slack, first, f"batch --model {BATCH_MODEL} --quality low\na harbour")
    await submit(slack, first, shown)
    await first.stop()
    second = await workspace_factory()
    rows = await Records(second).ledger()
    assert [r["status"] for r in rows] == ["batched"]  # still at the provider: not "interrupted" by the restart
    await later(second, image_api)
    assert "Batch done: 1 made" in bot_replies(slack, shown["ts"])[-1]["text"]
    [row] = await Records(second).ledger()
    assert row["status"] == "ok" and row["cost_micro"] > 0


async def test_a_budget_below_the_estimate_refuses_the_submit_and_sends_nothing(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory(user_daily_budget_micro=1)
    shown = await ask(slack, workspace, f"batch --model {BATCH_MODEL}\na lighthouse")
    await submit(slack, workspace, shown)
    assert not image_api.batch_requests
    assert "budget" in bot_replies(slack, shown["ts"])[-1]["text"].lower()
    assert await Records(workspace).ledger() == []


async def test_mistakes_are_answered_at_once_and_make_no_job(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    for text, words in [("batch", "one prompt on each line"),
                        ("batch\na cat --quality ultra", "Line 1"),
                        ("batch --model gpt-image-2.6-sunburst\na cat", "does not take batches")]:
        delivery = await slack.send_command(ALICE, CHANNEL, text)
        assert words in delivery.response_text, (text, delivery.response_text)
    await workspace.settle()
    assert await Records(workspace).jobs() == [] and not batch_cards(slack)


async def test_only_the_asker_submits_and_cancel_declines(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    shown = await ask(slack, workspace, f"batch --model {BATCH_MODEL}\na lighthouse")
    await submit(slack, workspace, shown, user=BOB)
    assert not image_api.batch_requests
    assert any("Only the person who asked" in e["text"] for e in slack.ephemerals(user_id=BOB))
    assert (await slack.send_interaction(press(slack, ALICE, shown, ui.DECLINE))).status == 200
    await workspace.settle()
    assert "Not submitted" in card_text(card(slack, shown["ts"]))
    await submit(slack, workspace, card(slack, shown["ts"]) | {"blocks": shown["blocks"]})  # a stale button
    assert not image_api.batch_requests


async def test_a_csv_in_a_direct_message_is_a_batch(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    slack.add_channel("D0ALICE", "U0ALICE", is_im=True, members=[ALICE])
    data = b"prompt,quality\na lighthouse,low\na red barn,low\n"
    await slack.post_message(ALICE, "D0ALICE", f"batch --model {BATCH_MODEL}",
                             files=[("shots.csv", data, "text/csv")])
    await workspace.settle()
    [shown] = batch_cards(slack, "D0ALICE")
    assert "batch of 2 images" in card_text(shown) and "a red barn" in card_text(shown)
    assert shown.get("thread_ts", shown["ts"]) == shown["ts"]  # its own thread, for the results and `cancel`
    await submit(slack, workspace, shown | {"channel": "D0ALICE"})
    assert len(image_api.batches) == 1
    await later(workspace, image_api)
    replies = bot_replies(slack, shown["ts"], "D0ALICE")
    assert len([m for m in replies if m.get("files")]) == 2 and "Batch done: 2 made" in replies[-1]["text"]


async def test_the_first_look_waits_the_configured_seconds_then_twice_as_long(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory(batch_poll_seconds=30.0)
    batches, poller = parts(workspace)
    start = time.time()
    batches.clock = _fixed(start)
    shown = await ask(slack, workspace, f"batch --model {BATCH_MODEL}\na lighthouse\na barn")
    await submit(slack, workspace, shown)
    [open_batch] = await batches.open()
    assert batches.next_due_in([open_batch]) == pytest.approx(30, abs=1)
    batches.clock = _fixed(start + 29)
    assert await poller.run_once() == 0  # not due yet: not looked at
    batches.clock = _fixed(start + 31)
    assert await poller.run_once() == 1  # validating still (the stand-in's clock has not moved)
    [open_batch] = await batches.open()
    assert open_batch.poll_seconds == 60 and batches.next_due_in([open_batch]) == pytest.approx(60, abs=1)


async def test_a_batch_a_restart_caught_mid_submit_is_not_sent_again_and_its_asker_is_told(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    first = await workspace_factory()
    shown = await ask(slack, first, f"batch --model {BATCH_MODEL}\na lighthouse")
    await Records(first).run(lambda store: store.update_batch(1, status="submitting"))  # as a crash leaves it
    await first.stop()
    second = await workspace_factory()
    await second.settle()
    assert "cannot tell whether OpenAI has it" in bot_replies(slack, shown["ts"])[-1]["text"]
    [batch] = await Records(second).run(lambda store: [store.get_batch(1)])
    assert batch.status == "failed" and not image_api.batch_requests
    await later(second, image_api)
    assert not image_api.batch_requests
    # Unknown, so counted at its estimate as possibly billed (as a synchronous call whose answer was lost).
    [row] = await Records(second).ledger()
    assert (row["status"], row["error_code"], row["cost_micro"]) == ("error", "batch_unknown", None)
    assert row["estimate_micro"] == batch.estimate_micro


async def test_budgets_count_a_pending_batch_at_its_estimate(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    first = await workspace_factory()
    one = await ask(slack, first, f"batch --model {BATCH_MODEL} --quality low\na lighthouse\na barn")
    [asked] = await Records(first).run(lambda store: [store.get_batch(1)])
    estimate = asked.estimate_micro
    assert estimate and estimate > 0
    await first.stop()
    workspace = await workspace_factory(user_daily_budget_micro=estimate * 3 // 2)  # room for one, not two
    await submit(slack, workspace, one)
    assert [r["status"] for r in await Records(workspace).ledger()] == ["batched", "batched"]
    two = await ask(slack, workspace, f"batch --model {BATCH_MODEL} --quality low\na lighthouse\na barn")
    await submit(slack, workspace, two)
    assert "budget" in bot_replies(slack, two["ts"])[-1]["text"].lower()  # the first batch's estimate counts
    assert len(image_api.batches) == 1


@pytest.mark.parametrize(("end", "words"), [("expire", "Batch expired"), ("fail", "Batch failed")])
async def test_a_batch_that_expires_or_fails_says_so_and_charges_only_what_was_made(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace, end: str, words: str) -> None:
    shown = await ask(slack, workspace, f"batch --model {BATCH_MODEL} --quality low\none\ntwo")
    await submit(slack, workspace, shown)
    [remote_id] = image_api.batches
    if end == "expire":
        image_api.advance(25)  # the first line done, the second not yet
        image_api.expire_batch(remote_id)
    else:
        image_api.fail_batch(remote_id)
    await later(workspace, image_api)
    summary = bot_replies(slack, shown["ts"])[-1]["text"]
    assert words in summary, summary
    rows = await Records(workspace).ledger()
    made = [r for r in rows if r["status"] == "ok"]
    assert all(r["cost_micro"] for r in made)
    assert all(r["cost_micro"] is None and r["estimate_micro"] is None for r in rows if r["status"] == "error")
    assert len(made) == (1 if end == "expire" else 0) and not [r for r in rows if r["status"] == "batched"]


async def test_a_server_error_on_create_is_never_sent_again_and_a_refusal_can_be_submitted_again(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    refused = await ask(slack, workspace, f"batch --model {BATCH_MODEL}\na lighthouse")
    image_api.quota_exhausted(operation="batches")  # a 429 that says so: OpenAI made nothing
    await submit(slack, workspace, refused)
    assert not image_api.batches and "quota" in bot_replies(slack, refused["ts"])[-1]["text"].lower()
    await submit(slack, workspace, refused)  # asked again: this time it goes
    assert len(image_api.batches) == 1

    unknown = await ask(slack, workspace, f"batch --model {BATCH_MODEL}\na barn")
    image_api.server_error(operation="batches")  # a 500 on create: the batch may exist
    await submit(slack, workspace, unknown)
    assert "cannot tell whether OpenAI has it" in bot_replies(slack, unknown["ts"])[-1]["text"]
    await submit(slack, workspace, unknown)  # a second press sends nothing
    creates = [r for r in image_api.batch_requests if r.path.endswith("/batches")]  # POST: GETs name one
    assert len(creates) == 3 and len(image_api.batches) == 1  # refused, sent, the one with the 500


async def test_a_batch_read_but_not_shown_before_a_restart_is_shown_after_it_and_charged_once(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    first = await workspace_factory()
    shown = await ask(slack, first, f"batch --model {BATCH_MODEL} --quality low\none\ntwo")
    await submit(slack, first, shown)
    batches, _ = parts(first)
    image_api.advance(LATER)
    [batch] = await batches.open()
    await batches.poll(batch)  # read and settled, then the process stops before Slack is shown it
    await first.stop()
    second = await workspace_factory()
    await later(second, image_api)
    replies = bot_replies(slack, shown["ts"])
    assert len([m for m in replies if m.get("files")]) == 2 and "Batch done: 2 made" in replies[-1]["text"]
    assert [r["status"] for r in await Records(second).ledger()] == ["ok", "ok"]  # charged once


async def test_results_that_cannot_be_read_are_given_up_after_the_window_and_stay_counted(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    shown = await ask(slack, workspace, f"batch --model {BATCH_MODEL} --quality low\none")
    await submit(slack, workspace, shown)
    image_api.server_error(operation="files", times=1000)  # the output file can never be downloaded
    await later(workspace, image_api)  # ended at OpenAI, unreadable: looked at again later, not given up yet
    assert [r["status"] for r in await Records(workspace).ledger()] == ["batched"]
    await later(workspace, image_api, 3 * 24 * 3600)
    assert "could not read this batch's results" in bot_replies(slack, shown["ts"])[-1]["text"]
    [row] = await Records(workspace).ledger()
    assert (row["status"], row["error_code"]) == ("error", "batch_unreadable") and row["estimate_micro"]


async def test_a_batch_card_slack_refuses_is_told_privately(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    slack.add_channel("C0QUIET", "quiet", members=[ALICE])  # imagebot was never invited
    delivery = await slack.send_command(ALICE, "C0QUIET", f"batch --model {BATCH_MODEL}\na lighthouse")
    assert delivery.status == 200
    await workspace.settle()
    assert any("not_in_channel" in e["text"] and "/invite" in e["text"] for e in slack.ephemerals(user_id=ALICE))
    [job] = await Records(workspace).jobs()
    assert (job["status"], job["error_code"]) == ("failed", "not_announced")
