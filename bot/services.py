"""The core's services, built once from settings and handed to the Slack edge (dependency injection)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from bot.budgets import Budgets
from bot.image_api import DEFAULT_TIMEOUT, AzureTarget, ImageAPI, OpenAITarget
from bot.jobs import DbThread, JobQueue, Limits
from bot.metrics import Metrics
from bot.offline import OfflineImageAPI
from bot.pricing import PriceTable
from bot.retention import RetentionPruner
from bot.scheduler import ReportScheduler
from bot.service import ImageProvider, ImageService
from bot.settings import Settings
from bot.slack_files import SlackFiles
from storage.store import Store

log = logging.getLogger(__name__)

@dataclass
class Services:
    settings: Settings
    images: ImageService
    jobs: JobQueue
    files: SlackFiles
    http: httpx.AsyncClient
    db: DbThread
    metrics: Metrics = field(default_factory=Metrics)  # /metrics and the per-request log line
    scheduler: ReportScheduler | None = None  # set by the Slack edge when IMAGEBOT_REPORT_SCHEDULE is set
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)  # released last, by close()
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _scheduler_task: asyncio.Task[None] | None = None
    retention: RetentionPruner | None = None  # made by start_scheduler (prunes by age with IMAGEBOT_RETENTION_DAYS)
    _retention_task: asyncio.Task[None] | None = None

    def start_scheduler(self) -> None:
        """Start the background work: scheduled reports, and housekeeping of the image folder (now, then every few
        hours): retention pruning with IMAGEBOT_RETENTION_DAYS, stray files always."""
        if self.scheduler is not None and self._scheduler_task is None:
            self._scheduler_task = asyncio.get_running_loop().create_task(self.scheduler.run(self._stop),
                                                                          name="report-scheduler")
        if self._retention_task is None:  # stray files are swept with or without IMAGEBOT_RETENTION_DAYS
            self.retention = self.retention or RetentionPruner(self.db, self.settings.retention_days)
            self._retention_task = asyncio.get_running_loop().create_task(self.retention.run(self._stop),
                                                                          name="retention")

    async def close(self, grace: float | None = None) -> int:
        """Stop: running jobs get `grace` seconds (default: the setting), the rest are interrupted."""
        self._stop.set()
        # A report being posted finishes; pruning stops after the batch in hand. Either may take up to a minute;
        # past that it is cancelled, and the rest of the shutdown (jobs, database, connections) still runs.
        for task in (self._scheduler_task, self._retention_task):
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


def make_provider(settings: Settings, http: httpx.AsyncClient) -> ImageProvider:
    if settings.provider == "openai":
        assert settings.openai_api_key
        return ImageAPI(http, OpenAITarget(settings.openai_base_url, settings.openai_api_key))
    if settings.provider == "azure":
        assert settings.azure_endpoint and settings.azure_api_key and settings.azure_deployment
        return ImageAPI(http, AzureTarget(settings.azure_endpoint, settings.azure_api_key,
                                          settings.azure_deployment, settings.azure_api_version))
    return OfflineImageAPI()


def build_services(settings: Settings, *, provider: ImageProvider | None = None) -> Services:
    """Open storage and HTTP clients. Call inside the running event loop; `close()` releases them."""
    prices = PriceTable.load(settings.prices_path)  # first: a bad price file stops start-up before anything opens
    # trust_env=False: proxies and netrc from the environment are not settings imagebot reads.
    http = httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, trust_env=False)
    db = DbThread(Store.open(settings.data_dir))
    metrics = Metrics()
    images = ImageService(provider or make_provider(settings, http), db, prices, settings, Budgets(db, settings),
                          metrics=metrics)
    files = SlackFiles(http, settings.slack_bot_token, settings.slack_api_url)
    limits = Limits(max_concurrent=settings.max_concurrent, max_concurrent_per_user=settings.max_concurrent_per_user,
                    max_queue=settings.max_queue, user_requests_per_minute=settings.user_requests_per_minute)
    jobs = JobQueue(db, limits, metrics=metrics)
    metrics.watch_queue(jobs)
    return Services(settings=settings, images=images, jobs=jobs, files=files, http=http, db=db, metrics=metrics)
