"""The core's services: built once from settings by the composition root (imagebot/compose.py) and handed to the
Slack edge (dependency injection); and the start-up rules they are built by (the defaults against the model, how
long one image request may take)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

import httpx

from bot.errors import SettingsError
from bot.metrics import Metrics
from bot.models import ImageOptions
from bot.money.catalogue import Catalogue
from bot.money.retirement import Resolved
from bot.runtime.batch_poller import BatchPoller
from bot.runtime.db_thread import DbThread
from bot.runtime.jobs import JobQueue
from bot.runtime.model_watch import ModelWatch
from bot.runtime.retention import RetentionPruner
from bot.runtime.scheduler import ReportScheduler
from bot.settings import Settings
from bot.usecases.batches import Batches
from bot.usecases.image_service import ImageService

log = logging.getLogger(__name__)
# Without IMAGEBOT_REQUEST_TIMEOUT_SECONDS, a request's deadline is this many times the model's typical time (the
# catalogue's imagebot-made estimate), and never less than MIN_DEADLINE: slow is normal, 4x slower is a hang.
DEADLINE_FACTOR = 4
MIN_DEADLINE = 120.0


class Attachments(Protocol):
    """Where the bytes of a file a user attached come from: the Slack edge's downloader (handlers/slack_files.py),
    which sends `token` (default: the configured bot token) to Slack's own hosts only."""

    async def download(self, url: str, *, name: str, token: str | None = None) -> bytes: ...


@dataclass
class Services:
    settings: Settings
    images: ImageService
    jobs: JobQueue
    files: Attachments  # the files users attach, downloaded
    http: httpx.AsyncClient
    db: DbThread
    metrics: Metrics = field(default_factory=Metrics)  # /metrics and the per-request log line
    scheduler: ReportScheduler | None = None  # set by the composition root with IMAGEBOT_REPORT_SCHEDULE
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)  # released last, by close()
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _scheduler_task: asyncio.Task[None] | None = None
    retention: RetentionPruner | None = None  # made by start_scheduler (prunes by age with IMAGEBOT_RETENTION_DAYS)
    _retention_task: asyncio.Task[None] | None = None
    model_watch: ModelWatch | None = None  # set by the composition root: GET /v1/models daily, notices
    _watch_task: asyncio.Task[None] | None = None
    batches: Batches | None = None  # `/image batch` (None: no Batch API with this provider)
    batch_poller: BatchPoller | None = None  # set by the composition root with `batches`
    _batch_task: asyncio.Task[None] | None = None

    def start_scheduler(self) -> None:
        """Start the background work: scheduled reports, and housekeeping of the image folder (now, then every few
        hours): retention pruning with IMAGEBOT_RETENTION_DAYS, stray files always."""
        if self.scheduler is not None and self._scheduler_task is None:
            self._scheduler_task = asyncio.get_running_loop().create_task(self.scheduler.run(self._stop),
                                                                          name="report-scheduler")
        if self.model_watch is not None and self._watch_task is None:
            self._watch_task = asyncio.get_running_loop().create_task(self.model_watch.run(self._stop),
                                                                      name="model-watch")
        if self.batch_poller is not None and self._batch_task is None:  # batches a restart left resume here
            self._batch_task = asyncio.get_running_loop().create_task(self.batch_poller.run(self._stop),
                                                                      name="batch-poller")
        if self._retention_task is None:  # stray files are swept with or without IMAGEBOT_RETENTION_DAYS
            self.retention = self.retention or RetentionPruner(self.db, self.settings.retention_days)
            self._retention_task = asyncio.get_running_loop().create_task(self.retention.run(self._stop),
                                                                          name="retention")

    async def close(self, grace: float | None = None) -> int:
        """Stop: running jobs get `grace` seconds (default: the setting), the rest are interrupted."""
        self._stop.set()
        # A report being posted finishes; pruning stops after the batch in hand. Either may take up to a minute;
        # past that it is cancelled, and the rest of the shutdown (jobs, database, connections) still runs.
        for task in (self._scheduler_task, self._retention_task, self._watch_task, self._batch_task):
            if task is not None:
                try:
                    await asyncio.wait_for(task, timeout=60)
                except TimeoutError:
                    log.warning("%s did not stop within 60 s; cancelled", task.get_name())
        cut = await self.jobs.shutdown(self.settings.shutdown_grace_seconds if grace is None else grace)
        await self.db.close()
        await self.http.aclose()
        for close in self.closers:
            await close()
        return cut


def request_deadline(settings: Settings, catalogue: Catalogue) -> Callable[[ImageOptions], float]:
    """Seconds one image request may take, every attempt and wait included: IMAGEBOT_REQUEST_TIMEOUT_SECONDS, or
    the larger of MIN_DEADLINE and DEADLINE_FACTOR x the model's typical time for the quality and format."""
    if settings.request_timeout_seconds is not None:
        fixed: float = settings.request_timeout_seconds
        return lambda options: fixed

    def sized(options: ImageOptions) -> float:
        typical = catalogue.typical_seconds(options.model, options.quality, options.output_format)
        return max(MIN_DEADLINE, DEADLINE_FACTOR * typical)

    return sized


def check_defaults(settings: Settings, catalogue: Catalogue, provider: str, today: date, *,
                   announce: bool = True) -> None:
    """At start-up: say once, clearly, when IMAGEBOT_MODEL is shut down (requests use its replacement), and refuse
    an IMAGEBOT_QUALITY or IMAGEBOT_SIZE the model cannot make, naming the variable. `announce` False: only the
    checks (doctor says the rest in its Model check)."""
    resolved = catalogue.resolve(settings.model or catalogue.default_model, provider, today)
    if announce:
        _announce(resolved, catalogue, provider)
    caps = catalogue.capabilities(resolved.used, provider)
    if caps is None:
        return
    if settings.quality not in caps.qualities:
        raise SettingsError("IMAGEBOT_QUALITY", f"{resolved.used} has no quality {settings.quality!r}; it takes "
                            f"{', '.join(caps.qualities)}")
    problems = caps.sizes.problems(settings.size)
    if problems:
        raise SettingsError("IMAGEBOT_SIZE", f"{settings.size} does not work for {resolved.used}: "
                            f"{'; '.join(problems)}")


def _announce(resolved: Resolved, catalogue: Catalogue, provider: str) -> None:
    if resolved.replaced and resolved.retired is not None:
        when = resolved.retired.shutdown.isoformat() if resolved.retired.shutdown else "already"
        log.warning("IMAGEBOT_MODEL=%s was shut down on %s (%s); requests use its replacement %s. Set "
                    "IMAGEBOT_MODEL=%s (or another live model) to silence this.", resolved.requested, when,
                    provider, resolved.used, resolved.used)
    elif catalogue.get(resolved.used) is None:
        log.warning("IMAGEBOT_MODEL=%s is not in the model catalogue: its capabilities and price are unknown (add it "
                    "with IMAGEBOT_MODELS)", resolved.used)
