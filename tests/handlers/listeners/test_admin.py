"""Spend control through the real app: admins, reports, budgets, policies, alerts and /image usage."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from bot.models import ImageOptions
from bot.money.budgets import estimate_micro
from bot.money.pricing import format_usd
from handlers.listeners.commands import OFFLINE_USAGE
from handlers.ui.admin import report_file_names
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace
from tests.catalogue_helpers import catalogue, default_model, live
from tests.conftest import WorkspaceFactory

pytestmark = pytest.mark.anyio
CHANNEL = "C0GENERAL"
REPORTS = "C0RANDOM"


def estimate(prompt: str) -> int:
    """What the app estimates a default /image request costs: the catalogue's tokens at its prices."""
    cat = catalogue()
    micro = estimate_micro(cat.price_table(), cat, ImageOptions(model=default_model()), prompt)
    assert micro is not None, "the default model has a price"
    return micro


def whole_cents(micro: int) -> int:
    return -(-micro // 10_000) * 10_000


def ledger(workspace: LocalWorkspace) -> list[dict[str, Any]]:
    assert workspace.services is not None
    return workspace.services.images.store.ledger_rows()


async def admin(slack: SlackStandIn, workspace: LocalWorkspace, text: str, user: str = "U0ADMIN",
                channel: str = CHANNEL) -> str:
    """Run /image-admin; return the private answer (if any)."""
    before = len(slack.ephemerals(user_id=user))
    delivery = await slack.send_command(user, channel, text, command="/image-admin")
    assert delivery.status == 200 and delivery.response_text == ""  # acked at once, answered afterwards
    await workspace.settle()
    new = slack.ephemerals(user_id=user)[before:]
    return "\n".join(e.get("text", "") for e in new)


async def image(slack: SlackStandIn, workspace: LocalWorkspace, text: str, user: str = "U0ALICE") -> None:
    await slack.send_command(user, CHANNEL, text)
    await workspace.settle()


def last_thread_texts(slack: SlackStandIn) -> list[str]:
    card = [m for m in slack.messages(CHANNEL) if m.get("bot_id") and m.get("thread_ts", m["ts"]) == m["ts"]][-1]
    return [m.get("text", "") for m in slack.thread(CHANNEL, card["ts"])[1:]
            if not m.get("text", "").startswith("What next for")]  # the result buttons' message


async def test_non_admin_is_refused_privately_and_nothing_is_revealed(slack: SlackStandIn,
                                                                      workspace: LocalWorkspace) -> None:
    await image(slack, workspace, "a lighthouse")
    posted = len(slack.calls_to("chat.postMessage"))
    answer = await admin(slack, workspace, "report 30d", user="U0BOB")
    assert answer == "Only imagebot admins can use /image-admin."
    assert len(slack.calls_to("chat.postMessage")) == posted and not slack.calls_to("files.completeUploadExternal")[1:]
    assert workspace.services.images.store.db["audit"].count == 0


async def test_report_is_posted_in_the_channel_with_chart_and_csv_and_agrees_with_the_ledger(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    await image(slack, workspace, "a lighthouse")
    await image(slack, workspace, "a barn --quality high", user="U0BOB")
    image_api.moderation_blocked()
    await image(slack, workspace, "something blocked")
    total = sum(r["cost_micro"] or 0 for r in ledger(workspace))

    assert await admin(slack, workspace, "report 30d") == ""
    report = [m for m in slack.messages(CHANNEL) if "imagebot spend" in m.get("text", "")][-1]
    text = str(report["blocks"])
    assert format_usd(total) in text and "<@U0ALICE>" in text and "<@U0BOB>" in text
    assert "*Failures*\\n1" in text and "*Requests*\\n3" in text and "*Images*\\n2" in text
    [upload] = [m for m in slack.messages(CHANNEL) if len(m.get("files") or []) == 2]
    chart, table = upload["files"]
    first = (datetime.now(UTC) - timedelta(days=29)).date()  # the stand-in's workspace keeps days in UTC
    period = f"{first:%Y-%m-%d}_to_{datetime.now(UTC).date():%Y-%m-%d}"
    assert (chart["name"], table["name"]) == (f"imagebot-report-{period}-chart.png",
                                              f"imagebot-report-{period}-ledger.csv")
    with Image.open(io.BytesIO(slack.file_bytes(chart["id"]))) as png:
        assert png.format == "PNG" and png.width >= 600
    rows = list(csv.DictReader(io.StringIO(slack.file_bytes(table["id"]).decode("utf-8"))))
    assert len(rows) == 3
    cost_column = next(k for k in rows[0] if "micro" in k)
    assert sum(int(r[cost_column] or 0) for r in rows) == total  # to the micro-dollar
    [audit] = workspace.services.images.store.db["audit"].rows
    assert audit["user_id"] == "U0ADMIN" and audit["action"] == "report"


async def test_listed_admins_need_no_slack_admin_flag(slack: SlackStandIn,
                                                      workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory(admins=("U0BOB",))
    answer = await admin(slack, workspace, "help", user="U0BOB")
    assert "budget @user|#channel|workspace" in answer
    assert not slack.calls_to("users.info")  # listed: no need to ask Slack


async def test_a_budget_set_from_slack_refuses_the_request_that_would_cross_it(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    limit = whole_cents(estimate("a lighthouse") * 3 // 2)  # room for one image, not two
    assert limit < estimate("a lighthouse") + estimate("another lighthouse")
    answer = await admin(slack, workspace, f"budget <@U0ALICE|alice> {limit / 1_000_000:.2f}")
    assert f"Monthly budget for <@U0ALICE>: {format_usd(limit)}" in answer
    await image(slack, workspace, "a lighthouse")  # fits
    assert len(image_api.requests) == 1
    spent = ledger(workspace)[0]["cost_micro"]
    assert spent <= limit < spent + estimate("another lighthouse")
    await image(slack, workspace, "another lighthouse")  # would cross the budget
    assert len(image_api.requests) == 1  # no API call for the refused request
    refusal = last_thread_texts(slack)[-1]
    assert f"<@U0ALICE>'s monthly budget of {format_usd(limit)}" in refusal and "is left" in refusal
    assert "resets" in refusal
    [job] = [j for j in workspace.services.images.store.db["jobs"].rows if j["id"] == 2]
    assert job["status"] == "failed" and job["error_code"] == "BudgetExceeded"
    audit = list(workspace.services.images.store.db["audit"].rows)
    assert audit[0]["action"] == "budget" and f'"limit_micro": {limit}' in audit[0]["details"]


async def test_concurrent_requests_against_a_nearly_spent_budget_overshoot_by_at_most_one_estimate(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    one = estimate("a lighthouse 0")
    limit = 2 * one + one // 2  # room for two images, not three
    workspace = await workspace_factory(workspace_monthly_budget_micro=limit)
    deliveries = await asyncio.gather(*(slack.send_command(user, CHANNEL, f"a lighthouse {i}")
                                        for i, user in enumerate(["U0ALICE", "U0BOB", "U0ADMIN"] * 2)))
    assert all(d.status == 200 for d in deliveries)
    await workspace.settle()
    spent = sum(r["cost_micro"] or 0 for r in ledger(workspace))
    assert len(image_api.requests) == 2 and spent <= limit
    jobs = list(workspace.services.images.store.db["jobs"].rows)
    assert sorted(j["status"] for j in jobs) == ["done"] * 2 + ["failed"] * 4  # every request answered


async def test_channel_policy_lowers_quality_and_refuses_models(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                                workspace_factory: WorkspaceFactory) -> None:
    # No confirmation here: this test is about the policy; the one below checks what the confirmation asks.
    workspace = await workspace_factory(confirm_above_micro=None)
    allowed = default_model()
    other = next(m for m in live() if m != allowed)
    answer = await admin(slack, workspace, f"policy <#{CHANNEL}|general> quality=medium n=1 models={allowed}")
    assert "quality up to medium" in answer and f"models {allowed}" in answer
    await image(slack, workspace, "a fox --quality high --n 3")
    [request] = image_api.requests
    assert request.json["quality"] == "medium" and request.json["n"] == 1
    assert "quality lowered from high to medium by this channel's policy" in last_thread_texts(slack)[-1]
    await image(slack, workspace, f"a fox --model {other}")
    assert len(image_api.requests) == 1
    assert f"allows only {allowed}" in last_thread_texts(slack)[-1]


async def test_the_confirmation_estimates_what_the_channel_policy_lets_through(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    threshold = workspace.services.settings.confirm_above_micro
    assert threshold is not None
    await admin(slack, workspace, f"policy <#{CHANNEL}|general> quality=medium n=1")
    cat = catalogue()
    typed = estimate_micro(cat.price_table(), cat, ImageOptions(model=default_model(), quality="high", n=3), "a fox")
    assert typed is not None and typed > threshold >= estimate("a fox")  # only the request as typed is costly
    await image(slack, workspace, "a fox --quality high --n 3")
    assert not [m for m in slack.messages(CHANNEL) if "Generate?" in m.get("text", "")]
    [request] = image_api.requests
    assert request.json["quality"] == "medium" and request.json["n"] == 1


async def test_usage_shows_own_spend_and_budget_privately(slack: SlackStandIn, workspace_factory: WorkspaceFactory,
                                                          image_api: ImageAPIStandIn) -> None:
    workspace = await workspace_factory(user_monthly_budget_micro=1_000_000)
    await image(slack, workspace, "a lighthouse")
    spent = ledger(workspace)[0]["cost_micro"]
    before = len(slack.ephemerals(user_id="U0ALICE"))
    delivery = await slack.send_command("U0ALICE", CHANNEL, "usage")
    await workspace.settle()
    assert delivery.status == 200 and len(image_api.requests) == 1
    [answer] = [e["text"] for e in slack.ephemerals(user_id="U0ALICE")[before:]]
    assert f"{format_usd(spent)} today, {format_usd(spent)} this month" in answer
    assert f"your monthly budget: {format_usd(1_000_000 - spent)} left of $1.00" in answer
    footnote = last_thread_texts(slack)[0]
    assert f"your month: {format_usd(spent)}" in footnote and "monthly user budget" in footnote
    assert "nothing is billed" not in answer  # a real image API bills what it made


async def test_usage_with_the_offline_renderer_says_nothing_is_billed(
        slack: SlackStandIn, workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory(provider="offline")
    await image(slack, workspace, "a lighthouse")
    spent = ledger(workspace)[0]["cost_micro"]
    assert spent > 0
    before = len(slack.ephemerals(user_id="U0ALICE"))
    await slack.send_command("U0ALICE", CHANNEL, "usage")
    await workspace.settle()
    [answer] = [e["text"] for e in slack.ephemerals(user_id="U0ALICE")[before:]]
    assert f"{format_usd(spent)} today" in answer
    assert answer.endswith(OFFLINE_USAGE) and "nothing is billed" in OFFLINE_USAGE


@pytest.mark.parametrize(("start", "end", "period"), [
    (datetime(2026, 12, 6), datetime(2026, 12, 6, 17, 30), "2026-12-06"),  # today, so far
    (datetime(2026, 12, 6), datetime(2026, 12, 7), "2026-12-06"),  # a whole day
    (datetime(2026, 10, 1), datetime(2026, 11, 1), "2026-10"),  # a whole month
    (datetime(2026, 12, 1), datetime(2026, 12, 7, 9), "2026-12-01_to_2026-12-07"),  # a month so far, or 7 days
    (datetime(2026, 11, 30), datetime(2026, 12, 7), "2026-11-30_to_2026-12-06"),  # the week before
])
def test_a_reports_files_are_named_for_the_period_and_share_a_stem(start: datetime, end: datetime,
                                                                    period: str) -> None:
    tz = ZoneInfo("Europe/Paris")
    chart, table = report_file_names(start.replace(tzinfo=tz), end.replace(tzinfo=tz))
    assert (chart, table) == (f"imagebot-report-{period}-chart.png", f"imagebot-report-{period}-ledger.csv")


async def test_budget_alerts_post_once_at_80_and_100_percent(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                             workspace_factory: WorkspaceFactory) -> None:
    limit = (estimate("one") + estimate("two")) * 100 // 94
    workspace = await workspace_factory(channel_monthly_budget_micro=limit, report_channel=REPORTS)
    await image(slack, workspace, "one")  # 47 %
    await image(slack, workspace, "two")  # 94 %: the 80 % alert
    alerts = [m["text"] for m in slack.messages(REPORTS) if "budget is at" in m.get("text", "")]
    assert len(alerts) == 1 and "80%" in alerts[0] and f"<#{CHANNEL}>'s monthly" in alerts[0]
    await image(slack, workspace, "three")  # refused: would cross; no new alert, no API call
    assert len(image_api.requests) == 2
    assert len([m for m in slack.messages(REPORTS) if "budget is at" in m.get("text", "")]) == 1


async def test_scheduled_report_posts_once_and_not_again_after_a_restart(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    def reports() -> list[dict[str, Any]]:
        return [m for m in slack.messages(REPORTS) if "imagebot spend" in m.get("text", "")]

    first = await workspace_factory(report_schedule="daily 09:00", report_channel=REPORTS)
    assert first.services is not None and first.services.scheduler is not None
    await asyncio.wait_for(first.services.scheduler.ticked.wait(), 30)  # the catch-up: the latest slot
    await first.settle()
    [report] = reports()
    assert "Scheduled report" in str(report["blocks"])
    assert [m for m in slack.messages(REPORTS) if len(m.get("files") or []) == 2]  # chart and CSV
    await first.stop()

    second = await workspace_factory(report_schedule="daily 09:00", report_channel=REPORTS)
    assert second.services is not None and second.services.scheduler is not None
    await asyncio.wait_for(second.services.scheduler.ticked.wait(), 30)
    await second.settle()
    assert len(reports()) == 1  # that slot was posted: not again


async def test_report_channel_chosen_from_slack_takes_the_alerts(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                                 workspace_factory: WorkspaceFactory) -> None:
    limit = (estimate("one") + estimate("two")) * 100 // 94
    workspace = await workspace_factory(channel_monthly_budget_micro=limit, report_channel=REPORTS)
    slack.add_channel("C0ALERTS", "alerts")
    assert "only" in (await admin(slack, workspace, "report-channel <#C0ALERTS|alerts>", user="U0ALICE")).lower()
    answer = await admin(slack, workspace, "report-channel <#C0ALERTS|alerts>")
    assert "<#C0ALERTS>" in answer
    assert "<#C0ALERTS>" in await admin(slack, workspace, "report-channel")
    await image(slack, workspace, "one")
    await image(slack, workspace, "two")  # 94 % of the channel budget: the 80 % alert, in the chosen channel
    assert [m for m in slack.messages("C0ALERTS") if "budget is at" in m.get("text", "")]
    assert not [m for m in slack.messages(REPORTS) if "budget is at" in m.get("text", "")]
    assert "report-channel" in await admin(slack, workspace, "report-channel #alerts")  # not an escaped mention
