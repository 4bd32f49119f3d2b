"""What the App Home tab shows one user of one workspace: their spend this month and today, the user and workspace
budgets that apply to them, and their latest images. The Slack edge publishes it (handlers/ui/home.py builds the
view)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.money.budgets import BudgetStanding
from bot.settings import Settings
from bot.usecases.image_service import ImageService
from storage.records import RecentImage

RECENT_IMAGES = 5


@dataclass(frozen=True)
class HomeSummary:
    """Everything the Home tab shows for one user of one workspace."""

    user_id: str
    month_label: str  # "November 2026"
    month_micro: int  # the user's spend this month
    today_micro: int  # and today
    timezone: str  # IANA name: budget periods follow it
    budgets: tuple[BudgetStanding, ...] = ()  # user and workspace ones (a channel's depends on the channel)
    recent: tuple[RecentImage, ...] = ()
    offline: bool = False  # the offline renderer is configured: costs are priced, nothing is billed


async def home_summary(images: ImageService, settings: Settings, team_id: str, user_id: str,
                       now: datetime | None = None) -> HomeSummary:
    """The user's summary, all within `team_id`."""
    tz = images.budgets.tz
    now = now or datetime.now(tz)
    # No channel here: a channel's budget depends on where the user asks (/image usage there shows it).
    standing = await images.budgets.standing(team_id, user_id, "", now)
    recent = await images.recent_images(team_id, user_id, RECENT_IMAGES)
    return HomeSummary(user_id=user_id, month_label=now.astimezone(tz).strftime("%B %Y"),
                       month_micro=standing.month_micro, today_micro=standing.today_micro,
                       timezone=settings.timezone, budgets=standing.budgets, recent=tuple(recent),
                       offline=settings.provider == "offline")
