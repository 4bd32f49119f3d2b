"""The App Home tab: the pure view builder, the store's recent-images query, and the whole path through the
stand-ins (make an image with /image, open the Home tab, read the view Slack was given)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.money.budgets import Budget, BudgetStanding
from bot.money.pricing import format_usd
from bot.usecases.home import HomeSummary
from handlers.ui.home import HOME_BLOCK_LIMIT, build_home
from standins.slack import SlackStandIn
from storage.records import LedgerEntry, RecentImage, ThreadKey
from storage.store import Store
from tests.conftest import WorkspaceFactory

CHANNEL = "C0GENERAL"
ALICE = "U0ALICE"
BOB = "U0BOB"
RESETS = datetime(2026, 12, 1, tzinfo=UTC)


def view_text(view: dict[str, Any]) -> str:
    """Every piece of text a Home view shows: headers, sections, context lines."""
    parts = []
    for block in view["blocks"]:
        if block["type"] in ("header", "section"):
            parts.append(block["text"]["text"])
        elif block["type"] == "context":
            parts.extend(e["text"] for e in block["elements"])
    return "\n".join(parts)


def recent(prompt: str = "a lighthouse at dusk", **overrides: Any) -> RecentImage:
    fields: dict[str, Any] = {
        "created_at": "2026-11-21T19:44:39.679+00:00", "channel_id": CHANNEL, "thread_ts": "1763754279.000100",
        "kind": "generate", "provider": "openai", "model": "gpt-image-1", "size": "1024x1024", "quality": "medium",
        "prompt": prompt, "images": 1, "cost_micro": 42_310, "versions": ("v1",)}
    return RecentImage(**{**fields, **overrides})


def summary(**overrides: Any) -> HomeSummary:
    fields: dict[str, Any] = {"user_id": ALICE, "month_label": "November 2026", "month_micro": 310_000,
                              "today_micro": 42_310, "timezone": "UTC"}
    return HomeSummary(**{**fields, **overrides})


# the builder, pure ---------------------------------------------------------------------------------------------


def test_home_explains_the_bot_and_shows_spend_budgets_and_recent_images() -> None:
    view = build_home(summary(
        budgets=(BudgetStanding(Budget("user", "", "monthly", 5_000_000, "env"), 310_000, RESETS),
                 BudgetStanding(Budget("workspace", "", "monthly", 100_000_000, "env"), 25_000_000, RESETS)),
        recent=(recent(), recent("make the sky purple", kind="edit", versions=("v2",), cost_micro=51_000))))
    text = view_text(view)
    assert view["type"] == "home" and view["blocks"][0]["type"] == "header"
    assert "/image a lighthouse at dusk" in text and "Reply in that thread" in text and "--quality" in text
    assert "*$0.31* this month (November 2026), $0.04231 of it today." in text
    assert "Your monthly budget: *$4.69 left* of $5.00" in text and "6 % used" in text
    assert "The workspace's monthly budget: *$75.00 left* of $100.00" in text and "25 % used" in text
    assert f"<!date^{int(RESETS.timestamp())}^" in text  # the reset, in the viewer's own time zone
    assert "*v1* made in <#C0GENERAL>" in text and "> a lighthouse at dusk" in text
    assert "*v2* edited in <#C0GENERAL>" in text and "> make the sky purple" in text
    assert "gpt-image-1 · 1024x1024 · medium · $0.04231" in text and "$0.051" in text
    assert text.index("*v2* edited") > text.index("*v1* made")  # in the order given (the store: newest first)


def test_home_without_budgets_or_images_says_so() -> None:
    text = view_text(build_home(summary(month_micro=0, today_micro=0)))
    assert "*$0.00* this month" in text
    assert "No budget applies to you." in text
    assert "None yet." in text


def test_home_escapes_prompts_and_clips_long_ones() -> None:
    view = build_home(summary(recent=(recent("<!channel> & <@U0BOB> " + "x" * 5000),)))
    text = view_text(view)
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; &lt;@U0BOB&gt;" in text
    assert all(len(b["text"]["text"]) <= 3000 for b in view["blocks"] if b["type"] == "section")
    assert "x" * 400 not in text  # a preview; the thread has the whole prompt


def test_home_marks_offline_renders_and_direct_messages() -> None:
    view = build_home(summary(offline=True, recent=(
        recent(provider="offline", channel_id="D0ALICE", images=3, versions=("v1a", "v1b", "v1c")),)))
    text = view_text(view)
    assert "offline renderer" in text and "(offline render, nothing billed)" in text
    assert "our direct messages" in text and "<#D0ALICE>" not in text
    assert "*v1a* *v1b* *v1c*" in text and "3 images" in text


def test_home_shows_over_budget_and_unknown_prices_honestly() -> None:
    text = view_text(build_home(summary(
        budgets=(BudgetStanding(Budget("user", "", "daily", 1_000_000, "env"), 1_200_000, RESETS),),
        recent=(recent(cost_micro=None, model="gpt-image-9"),))))
    assert "Your daily budget: *$0.00 left* of $1.00" in text and "120 % used" in text
    assert "gpt-image-9 · 1024x1024 · medium · price unknown" in text


def test_home_stays_within_slacks_block_limit() -> None:
    view = build_home(summary(recent=tuple(recent(f"image {i}") for i in range(200))))
    assert len(view["blocks"]) <= HOME_BLOCK_LIMIT


# the store query -------------------------------------------------------------------------------------------


def test_recent_images_are_the_users_own_successes_in_the_team_newest_first(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    try:
        key, other_team = ThreadKey("T1", "C1", "1.0"), ThreadKey("T2", "C1", "1.0")

        def call(key: ThreadKey, user: str, prompt: str, ids: tuple[str, ...], status: str = "ok") -> None:
            store.record_call(LedgerEntry(key=key, user_id=user, kind="generate", provider="openai",
                                          model="gpt-image-1", size="1024x1024", quality="low", n=len(ids) or 1,
                                          prompt=prompt, cost_micro=1000, status=status, image_ids=ids))
            if ids and status == "ok":
                store.add_versions(key, list(ids), parent_image_id=None, job_id=None)

        call(key, "U1", "first", ("a",))
        call(key, "U1", "failed", (), status="error")
        call(key, "U2", "someone else's", ("b",))
        call(other_team, "U1", "another workspace", ("c",))
        call(key, "U1", "second", ("d", "e"))
        call(key, "U1", "third", ("f",))

        rows = store.recent_images("T1", "U1", limit=2)
        assert [r.prompt for r in rows] == ["third", "second"]
        assert rows[1].versions == ("v3a", "v3b") and rows[1].images == 2 and rows[0].versions == ("v4",)
        assert [r.prompt for r in store.recent_images("T1", "U1")] == ["third", "second", "first"]
        assert [r.prompt for r in store.recent_images("T2", "U1")] == ["another workspace"]
    finally:
        store.close()


# through the stand-ins ------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_opening_home_publishes_spend_budget_and_the_new_image(slack: SlackStandIn,
                                                                     workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory(user_monthly_budget_micro=5_000_000)
    await slack.send_command(ALICE, CHANNEL, "a red fox in the snow, woodcut")
    await workspace.settle()
    assert workspace.services is not None
    [row] = workspace.services.images.store.ledger_rows(user_id=ALICE)
    assert row["status"] == "ok" and row["cost_micro"]

    delivery = await slack.open_home(ALICE)
    assert delivery.status == 200
    await workspace.settle()
    view = await slack.wait_for(lambda: slack.home_views.get(ALICE), timeout=10)
    text = view_text(view)
    assert view["type"] == "home"
    assert f"*{format_usd(row['cost_micro'])}* this month" in text
    assert f"Your monthly budget: *{format_usd(5_000_000 - row['cost_micro'])} left* of $5.00" in text
    assert "*v1* made in <#C0GENERAL>" in text and "> a red fox in the snow, woodcut" in text

    # Bob's Home is his own: no spend, none of Alice's images.
    await slack.open_home(BOB)
    await workspace.settle()
    bob = view_text(await slack.wait_for(lambda: slack.home_views.get(BOB), timeout=10))
    assert "*$0.00* this month" in bob and "fox" not in bob and "None yet." in bob


@pytest.mark.anyio
async def test_messages_tab_publishes_nothing(slack: SlackStandIn, workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory()
    delivery = await slack.open_home(ALICE, tab="messages")
    await workspace.settle()
    assert delivery.status == 200 and not slack.calls_to("views.publish") and ALICE not in slack.home_views


@pytest.mark.anyio
async def test_a_refused_publish_is_logged_not_raised(slack: SlackStandIn, workspace_factory: WorkspaceFactory,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    workspace = await workspace_factory()
    slack.fail_next("views.publish", status=200, error="not_enabled", retry_after=None)
    with caplog.at_level(logging.WARNING, logger="handlers.listeners.events.home"):
        delivery = await slack.open_home(ALICE)
        await workspace.settle()
    assert delivery.status == 200 and ALICE not in slack.home_views
    assert any("not_enabled" in r.getMessage() for r in caplog.records if r.name == "handlers.listeners.events.home")
    # Opening it again (the setting fixed) publishes.
    await slack.open_home(ALICE)
    await workspace.settle()
    assert ALICE in slack.home_views
