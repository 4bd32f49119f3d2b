"""Budgets against a real SQLite ledger: where a user stands, and what a reservation holds back; and what a request
is estimated to cost before it is made (`estimate_micro`, from the catalogue's token rules and prices)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import BudgetExceeded
from bot.models import ImageOptions
from bot.money.budgets import Budget, Budgets, default_budgets, estimate_caveats, estimate_micro
from bot.money.pricing import MICRO, PriceTable
from bot.money.tokens import input_image_tokens, output_image_tokens, prompt_text_tokens
from bot.runtime.db_thread import DbThread
from bot.settings import Settings
from storage.records import LedgerEntry, ThreadKey
from storage.spend import Estimated
from storage.store import Store
from tests.catalogue_helpers import caps, catalogue, catalogue_from, default_model, live_with, priced

TEAM, OTHER_TEAM = "T1", "T2"
MODEL = default_model()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[DbThread]:
    thread = DbThread(Store.open(tmp_path))
    yield thread
    await thread.close()


def settings(**budgets: int | None) -> Settings:
    return replace(Settings.from_env({}), **budgets)


async def spend(db: DbThread, micro: int, *, team: str = TEAM, user: str = "U1", channel: str = "C1",
                status: str = "ok") -> None:
    entry = LedgerEntry(key=ThreadKey(team, channel, "1.0"), user_id=user, kind="generate", provider="openai",
                        model=MODEL, size="1024x1024", quality="low", n=1, prompt="p", cost_micro=micro,
                        status=status)
    await db(db.store.record_call, entry)


def test_default_budgets_lists_only_those_set() -> None:
    assert default_budgets(settings()) == []
    assert default_budgets(settings(user_daily_budget_micro=1_000_000, workspace_monthly_budget_micro=0)) == [
        ("user", "daily", 1_000_000), ("workspace", "monthly", 0)]


@pytest.mark.anyio
async def test_standing_adds_up_the_users_own_spend_and_each_budget_that_applies(db: DbThread) -> None:
    budgets = Budgets(db, settings(user_daily_budget_micro=500_000, channel_monthly_budget_micro=2_000_000,
                                   workspace_monthly_budget_micro=10_000_000))
    await spend(db, 300_000)
    await spend(db, 400_000)  # past the daily budget: what is left stops at zero
    await spend(db, 1_000_000, user="U2")  # someone else, same channel
    await spend(db, 9_000_000, team=OTHER_TEAM)  # another workspace never counts
    standing = await budgets.standing(TEAM, "U1", "C1")
    assert (standing.today_micro, standing.month_micro) == (700_000, 700_000)
    by_scope = {line.budget.scope: (line.spent_micro, line.left_micro) for line in standing.budgets}
    assert by_scope == {"user": (700_000, 0), "channel": (1_700_000, 300_000), "workspace": (1_700_000, 8_300_000)}
    now = datetime.now(UTC)
    for line in standing.budgets:  # each resets at the next local midnight (daily) or the 1st (monthly)
        assert line.resets_at > now and (line.resets_at.hour, line.resets_at.minute) == (0, 0)
        assert line.budget.period == "daily" or line.resets_at.day == 1


@pytest.mark.anyio
async def test_standing_without_a_channel_leaves_channel_budgets_out(db: DbThread) -> None:
    budgets = Budgets(db, settings(channel_monthly_budget_micro=2_000_000, user_monthly_budget_micro=1_000_000))
    assert [line.budget.scope for line in (await budgets.standing(TEAM, "U1", "")).budgets] == ["user"]
    # An admin removes the user budget from Slack ("none"): it no longer applies.
    await db(db.store.set_budget, TEAM, "user", "U1", "monthly", None, "UADMIN")
    assert (await budgets.standing(TEAM, "U1", "")).budgets == ()


@pytest.mark.anyio
async def test_a_reservation_counts_until_released(db: DbThread) -> None:
    budgets = Budgets(db, settings(user_daily_budget_micro=100_000))
    [applied] = await budgets.reserve("first", TEAM, "U1", "C1", 60_000, model=MODEL)
    assert applied == Budget("user", "U1", "daily", 100_000, "env")
    with pytest.raises(BudgetExceeded) as refused:
        await budgets.reserve("second", TEAM, "U1", "C1", 60_000, model=MODEL)
    assert (refused.value.spent_micro, refused.value.estimate_micro) == (60_000, 60_000)
    await budgets.reserve("other user", TEAM, "U2", "C1", 60_000, model=MODEL)  # their own budget
    budgets.release("first")
    await budgets.reserve("second", TEAM, "U1", "C1", 60_000, model=MODEL)


async def cut_short(db: DbThread, estimate: int, *, user: str = "U1") -> None:
    """A call the process died during: written pending with its estimate, then marked by recovery."""
    entry = LedgerEntry(key=ThreadKey(TEAM, "C1", "1.0"), user_id=user, kind="generate", provider="openai",
                        model=MODEL, size="1024x1024", quality="low", n=1, prompt="p", status="pending",
                        estimate_micro=estimate)
    await db(db.store.record_call, entry)
    await db(db.store.interrupt_pending_calls)


@pytest.mark.anyio
async def test_a_call_cut_short_counts_at_its_estimate_and_the_standing_says_so(db: DbThread) -> None:
    budgets = Budgets(db, settings(user_daily_budget_micro=100_000, workspace_monthly_budget_micro=1_000_000))
    await spend(db, 30_000)
    await cut_short(db, 40_000)
    await spend(db, 5_000, status="error")  # failed after billing: its cost, never an estimate

    standing = await budgets.standing(TEAM, "U1", "C1")
    assert (standing.today_micro, standing.month_micro) == (75_000, 75_000)
    assert standing.month_estimated == Estimated(40_000, 1)
    by_scope = {line.budget.scope: (line.spent_micro, line.estimated) for line in standing.budgets}
    assert by_scope == {"user": (75_000, Estimated(40_000, 1)), "workspace": (75_000, Estimated(40_000, 1))}
    # And the check before a call counts it too: 75,000 + 30,000 crosses the daily 100,000.
    with pytest.raises(BudgetExceeded) as refused:
        await budgets.reserve("next", TEAM, "U1", "C1", 30_000, model=MODEL)
    assert refused.value.spent_micro == 75_000


# estimate_micro -------------------------------------------------------------------------------------------


def prices() -> PriceTable:
    return catalogue().price_table()


def expected(model: str, *, text: int, image_in: int, image_out: int) -> int:
    """The cost of those tokens at the catalogue's rates for `model`, summed exactly and rounded once."""
    rates = priced(model)
    return (text * rates.text_in + image_in * rates.image_in + image_out * rates.image_out + MICRO // 2) // MICRO


def test_an_estimate_is_the_catalogues_tokens_at_the_catalogues_prices() -> None:
    options = ImageOptions(model=MODEL, size="1536x1024", quality="high")
    out = output_image_tokens(caps(MODEL), "1536x1024", "high")

    assert estimate_micro(prices(), catalogue(), options, "a lighthouse") == \
        expected(MODEL, text=prompt_text_tokens("a lighthouse"), image_in=0, image_out=out)


def test_an_estimate_counts_every_image_and_every_preview() -> None:
    options = ImageOptions(model=MODEL, n=3, partial_images=2)
    one = output_image_tokens(caps(MODEL), options.size, options.quality) + 2 * catalogue().inputs.partial_image_tokens

    assert estimate_micro(prices(), catalogue(), options, "cats") == \
        expected(MODEL, text=prompt_text_tokens("cats"), image_in=0, image_out=3 * one)


def test_an_edit_counts_its_inputs_at_the_fidelity_the_model_reads_them() -> None:
    always = live_with(lambda c: c.inputs_high_fidelity)
    inputs = ((1024, 1024), (1536, 1024))
    options = ImageOptions(model=always)
    image_in = sum(input_image_tokens(catalogue().inputs, w, h, high_fidelity=True) for w, h in inputs)

    for fidelity in (None, "low"):  # this model reads every input at high fidelity whatever the request says
        assert estimate_micro(prices(), catalogue(), options, "edit", inputs, fidelity) == expected(
            always, text=prompt_text_tokens("edit", input_images=2), image_in=image_in,
            image_out=output_image_tokens(caps(always), options.size, options.quality))


def test_an_edit_on_a_model_where_the_request_chooses_fidelity_costs_more_at_high() -> None:
    cat = catalogue()
    chooses = next(m for m in cat.ids if not caps(m).inputs_high_fidelity and "high" in caps(m).input_fidelity
                   and cat.price_table().price_for(m) is not None)
    options = ImageOptions(model=chooses)
    inputs = ((1024, 1024),)
    low = estimate_micro(prices(), cat, options, "edit", inputs, "low")
    high = estimate_micro(prices(), cat, options, "edit", inputs, "high")

    assert low is not None and high is not None
    surcharge = cat.inputs.high_fidelity_square * priced(chooses).image_in
    assert high * MICRO - low * MICRO == pytest.approx(surcharge, abs=MICRO)


def test_a_bounded_quality_is_estimated_at_its_bound() -> None:
    model = live_with(lambda c: "xhigh" in c.qualities and c.estimate.is_bound("xhigh"))
    of, factor = caps(model).estimate.bounds["xhigh"]
    xhigh = estimate_micro(prices(), catalogue(), ImageOptions(model=model, quality="xhigh"), "p")
    below = estimate_micro(prices(), catalogue(), ImageOptions(model=model, quality=of), "p")

    assert xhigh is not None and below is not None
    assert xhigh > below
    assert xhigh == expected(model, text=prompt_text_tokens("p"), image_in=0,
                             image_out=output_image_tokens(caps(model), "1024x1024", "xhigh"))
    assert output_image_tokens(caps(model), "1024x1024", "xhigh") >= factor * output_image_tokens(
        caps(model), "1024x1024", of)


def test_a_gif_is_estimated_at_the_catalogues_gif_bound() -> None:
    model = live_with(lambda c: c.gif is not None)
    gif = estimate_micro(prices(), catalogue(), ImageOptions(model=model, output_format="gif"), "p")
    still = estimate_micro(prices(), catalogue(), ImageOptions(model=model), "p")

    assert gif is not None and still is not None
    assert gif > still


def test_a_model_the_catalogue_does_not_know_has_no_estimate_even_with_a_price() -> None:
    table = PriceTable({"house-model": priced(MODEL)})

    assert estimate_micro(table, catalogue(), ImageOptions(model="house-model"), "p") is None


def test_a_model_without_a_price_has_no_estimate() -> None:
    cat = catalogue_from({"models": {MODEL: {"prices": None}}})

    assert cat.get(MODEL).price is None  # type: ignore[union-attr]
    assert estimate_micro(cat.price_table(), cat, ImageOptions(model=MODEL), "p") is None


# what the confirmation says of its estimate ---------------------------------------------------------------


def test_caveats_name_only_what_has_no_published_figures() -> None:
    model = live_with(lambda c: c.gif is not None and "xhigh" in c.qualities)
    model_caps = caps(model)

    assert estimate_caveats(model_caps, ImageOptions(model=model, quality="medium")) == ()
    [xhigh] = estimate_caveats(model_caps, ImageOptions(model=model, quality="xhigh"))
    assert "xhigh quality" in xhigh and "GIF" not in xhigh and "upper bound" in xhigh
    [gif] = estimate_caveats(model_caps, ImageOptions(model=model, quality="medium", output_format="gif"))
    assert "animated GIFs" in gif and "medium quality" not in gif
    [both] = estimate_caveats(model_caps, ImageOptions(model=model, quality="max", output_format="gif"))
    assert "max quality or animated GIFs" in both


def test_an_svg_estimate_says_its_author_is_billed_apart() -> None:
    model = live_with(lambda c: c.svg)
    [note] = estimate_caveats(caps(model), ImageOptions(model=model, output_format="svg"))
    assert "billed apart" in note
    assert estimate_caveats(None, ImageOptions(model="house-model")) == ()  # unknown model: nothing to say


@pytest.mark.anyio
async def test_alerts_from_a_standing_are_those_read_afresh_and_each_is_sent_once(db: DbThread) -> None:
    """After a call the footnote's standing gives `crossed` its spends (no second read of the ledger); what it
    reports is what reading the ledger again reports, user budgets never among them, each mark once a period."""
    budgets = Budgets(db, settings(user_daily_budget_micro=100_000, channel_monthly_budget_micro=1_000_000,
                                   workspace_monthly_budget_micro=20_000_000))
    await spend(db, 850_000)  # 85 % of the channel's month; the user's day is long past
    await spend(db, 16_000_000, channel="C2")  # with it, 84 % of the workspace's month
    now = datetime.now(budgets.tz)
    standing = await budgets.standing(TEAM, "U1", "C1", now)

    from_standing = await budgets.crossed(TEAM, "C1", now, standing=standing)

    assert sorted((a.budget.scope, a.threshold, a.spent_micro) for a in from_standing) == [
        ("channel", 80, 850_000), ("workspace", 80, 16_850_000)]
    assert await budgets.crossed(TEAM, "C1", now) == []  # sent already, read afresh or not
    await spend(db, 150_000)  # the channel's month is spent; the workspace's 85 % was reported at 80 %
    assert [(a.budget.scope, a.threshold) for a in await budgets.crossed(TEAM, "C1", now)] == [("channel", 100)]
