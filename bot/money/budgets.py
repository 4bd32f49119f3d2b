"""Budgets: stop spend before it happens.

A budget caps spend for a user, a channel or the whole workspace, per day or per month (periods follow
IMAGEBOT_TIMEZONE). Defaults come from the environment; admins override them from Slack, and "none"
there removes one on purpose.

Before an image API call, `reserve` checks every budget that applies against the ledger's spend so far plus
the estimates of calls still running, plus this call's estimate; if one would be crossed it raises
`BudgetExceeded` and nothing is spent. Check and reservation happen under one lock, so concurrent requests
can together overshoot a budget by at most the error of their estimates, never by a whole request: each
sees the others' reservations. `release` drops the reservation once the call's real cost is in the ledger.

Spend so far counts a call the API may have billed without saying what (interrupted, its answer lost) at its
estimate (bot/money/billing.py), and standings carry how much of their spend is such estimates, so they can say so.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.errors import BudgetExceeded
from bot.models import ImageOptions
from bot.money.catalogue import Catalogue
from bot.money.catalogue_records import Capabilities
from bot.money.pricing import PriceTable, Usage
from bot.money.tokens import (
    input_image_tokens,
    is_upper_bound,
    output_image_tokens,
    prompt_text_tokens,
    reads_high_fidelity,
)
from bot.runtime.db_thread import DbThread
from bot.settings import Settings
from storage.records import ledger_time
from storage.spend import Estimated

PERIODS = ("daily", "monthly")
ALERT_THRESHOLDS = (80, 100)


@dataclass(frozen=True)
class Budget:
    scope: str  # user | channel | workspace
    target: str  # the user or channel id; "" for the workspace
    period: str  # daily | monthly
    limit_micro: int
    source: str  # "slack" (set by an admin) or "env" (a default)


@dataclass(frozen=True)
class Alert:
    budget: Budget
    threshold: int  # percent
    spent_micro: int


@dataclass(frozen=True)
class BudgetStanding:
    """A budget that applies to a user, and its spend so far this period."""

    budget: Budget
    spent_micro: int  # possibly billed calls included, at estimate
    resets_at: datetime  # aware, in the budgets' time zone: when the period ends
    estimated: Estimated = field(default_factory=Estimated)  # the part of spent_micro that is estimates

    @property
    def left_micro(self) -> int:
        return max(0, self.budget.limit_micro - self.spent_micro)


@dataclass(frozen=True)
class Standing:
    """A user's spend today and this month, and where they stand against each budget that applies."""

    today_micro: int
    month_micro: int
    budgets: tuple[BudgetStanding, ...] = ()
    month_estimated: Estimated = field(default_factory=Estimated)  # the part of month_micro that is estimates


@dataclass(frozen=True)
class _Reservation:
    team_id: str
    user_id: str
    channel_id: str
    micro: int


def period_bounds(period: str, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local day or month containing `now`, as aware datetimes in `tz`: [start, end)."""
    local = now.astimezone(tz)
    if period == "daily":
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        end = (start + timedelta(days=1, hours=2)).replace(hour=0)  # +2h then back to 00:00: safe across DST
    else:
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = (start + timedelta(days=32)).replace(day=1)
    return start.replace(tzinfo=tz), end.replace(tzinfo=tz)


def default_budgets(settings: Settings) -> list[tuple[str, str, int]]:
    """The budgets set in the environment, as (scope, period, limit): they apply to each user / each channel."""
    return [(scope, period, limit) for scope, period, limit in (
        ("user", "monthly", settings.user_monthly_budget_micro),
        ("user", "daily", settings.user_daily_budget_micro),
        ("channel", "monthly", settings.channel_monthly_budget_micro),
        ("workspace", "monthly", settings.workspace_monthly_budget_micro),
    ) if limit is not None]


def estimate_micro(prices: PriceTable, catalogue: Catalogue, options: ImageOptions, prompt: str,
                   inputs: tuple[tuple[int, int], ...] = (), fidelity: str | None = None) -> int | None:
    """What a request should cost, from the catalogue's token tables (or its stated upper bounds where none are
    published); None when the model has no price or the catalogue does not know it."""
    # Token counts are the model's wherever it runs; a provider narrows only its formats, which estimates ignore.
    caps = catalogue.capabilities(options.model, "openai")
    if caps is None:
        return None
    high = reads_high_fidelity(caps, fidelity)
    usage = Usage(
        input_text_tokens=prompt_text_tokens(prompt, input_images=len(inputs)),
        input_image_tokens=sum(input_image_tokens(catalogue.inputs, w, h, high_fidelity=high) for w, h in inputs),
        output_image_tokens=(output_image_tokens(caps, options.size, options.quality, options.output_format)
                             + catalogue.inputs.partial_image_tokens * options.partial_images) * options.n,
    )
    return prices.cost(options.model, usage)


def estimate_caveats(caps: Capabilities | None, options: ImageOptions) -> tuple[str, ...]:
    """What an estimate for `options` does not know, for the confirmation: where no token figures are published (the
    catalogue's stated upper bound is used), and an SVG author model billed apart."""
    caveats = []
    unpublished = [what for what, bound in (
        (f"{options.quality} quality", caps is not None and is_upper_bound(caps, options.quality)),
        ("animated GIFs", caps is not None and options.output_format == "gif"
         and is_upper_bound(caps, "medium", "gif")),
    ) if bound]
    if unpublished:
        caveats.append(f"OpenAI publishes no token figures for {' or '.join(unpublished)}: this is imagebot's stated "
                       "upper bound; you are charged what the API reports.")
    if options.output_format == "svg":
        caveats.append("The model that writes the SVG is billed apart, at its own rate, and is not in this estimate.")
    return tuple(caveats)


class Budgets:
    def __init__(self, db: DbThread, settings: Settings) -> None:
        self._store = db.store
        self._db = db
        self.settings = settings
        self.tz = ZoneInfo(settings.timezone)
        self._lock = asyncio.Lock()
        self._reservations: dict[object, _Reservation] = {}

    async def applicable(self, team_id: str, user_id: str, channel_id: str) -> list[Budget]:
        """The budgets that apply to a request: defaults from the environment, overridden from Slack."""
        targets = {"user": user_id, "channel": channel_id, "workspace": ""}
        found: dict[tuple[str, str, str], Budget | None] = {
            (scope, targets[scope], period): Budget(scope, targets[scope], period, limit, "env")
            for scope, period, limit in default_budgets(self.settings)}
        for row in await self._db(self._store.budget_overrides, team_id):
            key = (row["scope"], row["target"], row["period"])
            if key[:2] in (("user", user_id), ("channel", channel_id), ("workspace", "")):
                found[key] = (None if row["limit_micro"] is None
                              else Budget(key[0], key[1], key[2], row["limit_micro"], "slack"))
        return [budget for budget in found.values() if budget is not None]

    async def listing(self, team_id: str) -> list[Budget]:
        """Every budget in force for the team: the defaults (target "" = each user / each channel) and those
        set from Slack."""
        found: dict[tuple[str, str, str], Budget | None] = {
            (scope, "", period): Budget(scope, "", period, limit, "env")
            for scope, period, limit in default_budgets(self.settings)}
        for row in await self._db(self._store.budget_overrides, team_id):
            found[(row["scope"], row["target"], row["period"])] = (
                None if row["limit_micro"] is None
                else Budget(row["scope"], row["target"], row["period"], row["limit_micro"], "slack"))
        return [b for b in found.values() if b is not None]

    async def standing(self, team_id: str, user_id: str, channel_id: str, now: datetime | None = None) -> Standing:
        """Where a user stands: their spend today and this month, and each budget that applies to them with its
        spend (channel_id "" leaves channel budgets out: they depend on where the user asks). Two database trips:
        the budgets, then every spend at once."""
        now = now or datetime.now(self.tz)
        applying = [budget for budget in await self.applicable(team_id, user_id, channel_id)
                    if channel_id or budget.scope != "channel"]
        day, month = Budget("user", user_id, "daily", 0, "env"), Budget("user", user_id, "monthly", 0, "env")
        (today, _), (month_spent, month_estimated), *spends = await self._spends(team_id, [day, month, *applying],
                                                                                 now)
        lines = tuple(BudgetStanding(budget, spent, period_bounds(budget.period, now, self.tz)[1], estimated)
                      for budget, (spent, estimated) in zip(applying, spends, strict=True))
        return Standing(today_micro=today, month_micro=month_spent, budgets=lines, month_estimated=month_estimated)

    async def spent(self, team_id: str, budget: Budget, now: datetime) -> int:
        """The budget's spend this period (possibly billed calls at estimate)."""
        return (await self._spends(team_id, [budget], now))[0][0]

    async def _spends(self, team_id: str, budgets: list[Budget], now: datetime) -> list[tuple[int, Estimated]]:
        """Each budget's spend this period and the part of it at estimate, in one database trip."""
        windows = []
        for budget in budgets:
            start, end = period_bounds(budget.period, now, self.tz)
            where = {"user_id": budget.target} if budget.scope == "user" else (
                {"channel_id": budget.target} if budget.scope == "channel" else {})
            windows.append((ledger_time(start), ledger_time(end), where))
        return await self._db(self._store.spends_with_estimates, team_id, windows) if windows else []

    def _reserved(self, team_id: str, budget: Budget) -> int:
        return sum(
            r.micro for r in self._reservations.values()
            if r.team_id == team_id and (budget.scope == "workspace"
                                         or (budget.scope == "user" and r.user_id == budget.target)
                                         or (budget.scope == "channel" and r.channel_id == budget.target))
        )

    async def reserve(self, key: object, team_id: str, user_id: str, channel_id: str, estimate: int | None,
                      *, model: str, now: datetime | None = None) -> list[Budget]:
        """Check every applicable budget and hold `estimate` against them; raise BudgetExceeded if one would be
        crossed. Returns the budgets that apply (for the footnote)."""
        now = now or datetime.now(self.tz)
        async with self._lock:
            budgets = await self.applicable(team_id, user_id, channel_id)
            if budgets and estimate is None:
                # With a budget in force, a call whose cost cannot be estimated cannot be allowed honestly.
                budget = budgets[0]
                raise BudgetExceeded(scope=budget.scope, target=budget.target, period=budget.period,
                                     limit_micro=budget.limit_micro, spent_micro=0, estimate_micro=None,
                                     resets_at="", model=model)
            for budget in budgets:
                spent = await self.spent(team_id, budget, now) + self._reserved(team_id, budget)
                if spent + (estimate or 0) > budget.limit_micro:
                    _, end = period_bounds(budget.period, now, self.tz)
                    raise BudgetExceeded(scope=budget.scope, target=budget.target, period=budget.period,
                                         limit_micro=budget.limit_micro, spent_micro=spent, estimate_micro=estimate,
                                         resets_at=end.strftime("%a %-d %b %Y %H:%M ") + self.settings.timezone)
            self._reservations[key] = _Reservation(team_id, user_id, channel_id, estimate or 0)
            return budgets

    def release(self, key: object) -> None:
        self._reservations.pop(key, None)

    async def crossed(self, team_id: str, channel_id: str, now: datetime | None = None, *,
                      standing: Standing | None = None) -> list[Alert]:
        """Channel and workspace budgets whose 80 % or 100 % mark the spend has now reached, each reported once
        per period (the alerts table remembers across restarts). With the `standing` of a user in this channel,
        measured at `now`, its spends are used rather than read again."""
        now = now or datetime.now(self.tz)
        if standing is not None and channel_id:
            measured = [(line.budget, line.spent_micro) for line in standing.budgets if line.budget.scope != "user"]
        else:
            budgets = [budget for budget in await self.applicable(team_id, "", channel_id) if budget.scope != "user"]
            spends = await self._spends(team_id, budgets, now)
            measured = [(budget, spent) for budget, (spent, _) in zip(budgets, spends, strict=True)]
        alerts = []
        for budget, spent in measured:
            start, _ = period_bounds(budget.period, now, self.tz)
            for threshold in ALERT_THRESHOLDS:
                if budget.limit_micro and spent * 100 >= budget.limit_micro * threshold:
                    new = await self._db(self._store.record_alert, team_id, budget.scope,
                                         budget.target, budget.period, ledger_time(start), threshold)
                    if new:
                        alerts.append(Alert(budget, threshold, spent))
        return alerts
