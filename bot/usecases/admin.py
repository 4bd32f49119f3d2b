"""What /image-admin changes and reads: budgets, channel policies, the report channel, and reports.

Every change is written with its audit row (who, what, with which values), and so is every report asked for.
The Slack edge (handlers/listeners/admin.py) decides who is an admin, parses the words and renders what these
return; nothing here knows of Slack.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from bot.money.budgets import Budget
from bot.rules.policy import Policy
from bot.usecases.image_service import ImageService
from bot.usecases.reports import Report, build_report, build_report_between, render_chart, render_csv


@dataclass(frozen=True)
class BuiltReport:
    """A report, its spend-per-day chart (PNG) and its ledger (CSV), ready to post."""

    report: Report
    chart: bytes
    csv: bytes


@dataclass(frozen=True)
class PolicyLimits:
    """A channel's caps as an admin sets them; None is no cap."""

    max_quality: str | None = None
    max_n: int | None = None
    allowed_models: list[str] | None = None


def window_label(start: datetime, end: datetime) -> str:
    """How a scheduled report names its window: one day, or the first and last day."""
    if end - start <= timedelta(days=1, hours=1):
        return f"{start:%a %-d %b %Y}"
    return f"{start:%-d %b} to {end - timedelta(days=1):%-d %b %Y}"


class Admin:
    """The admin use cases of one imagebot, over its image service's database thread and budgets."""

    def __init__(self, images: ImageService, tz: ZoneInfo) -> None:
        self.images = images
        self.db = images.io
        self.store = images.io.store
        self.tz = tz

    async def budgets(self, team_id: str) -> list[Budget]:
        """The budgets in force in a workspace: those set from Slack and the environment's defaults."""
        return await self.images.budgets.listing(team_id)

    async def set_budget(self, team_id: str, by: str, scope: str, target: str, period: str,
                         limit_micro: int | None) -> None:
        """Set (or, with None, remove) the budget of a user, a channel or the workspace ("" target: each one)."""
        await self.db(self.store.set_budget, team_id, scope, target, period, limit_micro, by)
        await self.db(self.store.audit, team_id, by, "budget", {"scope": scope, "target": target, "period": period,
                                                                "limit_micro": limit_micro})

    async def set_policy(self, team_id: str, by: str, channel_id: str, limits: PolicyLimits) -> Policy | None:
        """A channel's caps, replacing any it had; returns the policy now in force (None: no limits)."""
        settings = asdict(limits)
        await self.db(self.store.set_policy, team_id, channel_id, set_by=by, **settings)
        await self.db(self.store.audit, team_id, by, "policy", {"channel": channel_id, **settings})
        return await self.images.policy(team_id, channel_id)

    async def set_report_channel(self, team_id: str, by: str, channel_id: str | None) -> None:
        """Where the workspace's scheduled reports and budget alerts go (None: nowhere chosen)."""
        await self.db(self.store.set_team_report_channel, team_id, channel_id, by)
        await self.db(self.store.audit, team_id, by, "report-channel", {"channel": channel_id})

    async def report(self, team_id: str, by: str, spec: str, *, channel_id: str | None = None,
                     user_id: str | None = None, now: datetime | None = None) -> BuiltReport:
        """The report an admin asked for (`spec`: today, 7d, 30d, month or YYYY-MM), one channel's or one user's
        if named; the asking is audited."""
        moment = now or datetime.now(self.tz)
        built = await self._built(lambda reader: build_report(reader, team_id, spec, moment, self.tz,
                                                              channel_id=channel_id, user_id=user_id))
        await self.db(self.store.audit, team_id, by, "report", {"spec": spec, "channel": channel_id,
                                                                "user": user_id})
        return built

    async def scheduled_report(self, team_id: str, start: datetime, end: datetime) -> BuiltReport:
        """A workspace's report for a scheduled window [start, end)."""
        label = window_label(start, end)
        return await self._built(lambda reader: build_report_between(reader, team_id, start, end, label, self.tz))

    async def _built(self, build: Callable[[Database], Report]) -> BuiltReport:
        # Reports read a lot: on a worker thread with their own connection, never on the db thread.
        return await asyncio.to_thread(self._build_on, build)

    def _build_on(self, build: Callable[[Database], Report]) -> BuiltReport:
        reader = self.store.reader()
        try:
            report = build(reader)
            return BuiltReport(report, render_chart(report), render_csv(reader, report.scope))
        finally:
            if reader is not self.store.db:
                reader.close()
