"""The core's services, built once from settings and handed to the Slack edge (dependency injection)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx

from bot.errors import SettingsError
from bot.metrics import Metrics
from bot.models import ImageOptions
from bot.money.budgets import Budgets
from bot.money.catalogue import Catalogue, load_catalogue
from bot.money.retirement import Resolved
from bot.providers.image_api import DEFAULT_TIMEOUT, AzureTarget, ImageAPI, OpenAITarget
from bot.providers.offline import OfflineImageAPI
from bot.runtime.db_thread import DbThread
from bot.runtime.jobs import JobQueue, Limits
from bot.runtime.model_watch import ModelWatch, Notify
from bot.runtime.retention import RetentionPruner
from bot.runtime.scheduler import ReportScheduler
from bot.settings import Settings
from bot.usecases.image_service import ImageProvider, ImageService
from handlers.slack_files import SlackFiles
from storage.store import Store

log = logging.getLogger(__name__)
# Without IMAGEBOT_REQUEST_TIMEOUT_SECONDS, a request's deadline is this many times the model's typical time (the
# catalogue's imagebot-made estimate), and never less than MIN_DEADLINE: slow is normal, 4x slower is a hang.
DEADLINE_FACTOR = 4
MIN_DEADLINE = 120.0


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
    model_watch: ModelWatch | None = None  # set by the Slack edge: GET /v1/models daily, shutdown notices
    _watch_task: asyncio.Task[None] | None = None

    def start_scheduler(self) -> None:
        """Start the background work: scheduled reports, and housekeeping of the image folder (now, then every few
        hours): retention pruning with IMAGEBOT_RETENTION_DAYS, stray files always."""
        if self.scheduler is not None and self._scheduler_task is None:
            self._scheduler_task = asyncio.get_running_loop().create_task(self.scheduler.run(self._stop),
                                                                          name="report-scheduler")
        if self.model_watch is not None and self._watch_task is None:
            self._watch_task = asyncio.get_running_loop().create_task(self.model_watch.run(self._stop),
                                                                      name="model-watch")
        if self._retention_task is None:  # stray files are swept with or without IMAGEBOT_RETENTION_DAYS
            self.retention = self.retention or RetentionPruner(self.db, self.settings.retention_days)
            self._retention_task = asyncio.get_running_loop().create_task(self.retention.run(self._stop),
                                                                          name="retention")

    async def close(self, grace: float | None = None) -> int:
        """Stop: running jobs get `grace` seconds (default: the setting), the rest are interrupted."""
        self._stop.set()
        # A report being posted finishes; pruning stops after the batch in hand. Either may take up to a minute;
        # past that it is cancelled, and the rest of the shutdown (jobs, database, connections) still runs.
        for task in (self._scheduler_task, self._retention_task, self._watch_task):
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


def make_provider(settings: Settings, http: httpx.AsyncClient, catalogue: Catalogue) -> ImageProvider:
    deadline = request_deadline(settings, catalogue)
    if settings.provider == "openai":
        assert settings.openai_api_key
        return ImageAPI(http, OpenAITarget(settings.openai_base_url, settings.openai_api_key),
                        end_user_field=catalogue.provider("openai").end_user_field, deadline=deadline)
    if settings.provider == "azure":
        assert settings.azure_endpoint and settings.azure_api_key and settings.azure_deployment
        return ImageAPI(http, AzureTarget(settings.azure_endpoint, settings.azure_api_key,
                                          settings.azure_deployment, settings.azure_api_version),
                        end_user_field=catalogue.provider("azure").end_user_field, deadline=deadline)
    return OfflineImageAPI(catalogue=catalogue)


def make_model_watch(services: Services, notify: Notify) -> ModelWatch:
    """The daily look at GET /v1/models and the shutdown notices, posting with `notify` (the Slack edge's)."""
    images = services.images
    provider = images.provider
    lists = images.catalogue.provider(provider.provider).lists_models  # the catalogue: only OpenAI has the list
    lister = provider.list_models if isinstance(provider, ImageAPI) and lists else None
    return ModelWatch(catalogue=images.catalogue, provider=provider.provider,
                      model=lambda: images.configured_model.requested, today=images.today, notify=notify,
                      claim=images.claim_notice, release=images.release_notice, list_models=lister)


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


def build_services(settings: Settings, *, provider: ImageProvider | None = None) -> Services:
    """Open storage and HTTP clients. Call inside the running event loop; `close()` releases them."""
    # First: a bad catalogue or price file, or defaults the model cannot make, stop start-up before anything opens.
    catalogue, prices = load_catalogue(settings)
    check_defaults(settings, catalogue, provider.provider if provider else settings.provider,
                   datetime.now(ZoneInfo(settings.timezone)).date())
    # trust_env=False: proxies and netrc from the environment are not settings imagebot reads.
    http = httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, trust_env=False)
    db = DbThread(Store.open(settings.data_dir))
    metrics = Metrics()
    images = ImageService(provider or make_provider(settings, http, catalogue), db, prices, settings,
                          Budgets(db, settings), catalogue=catalogue, metrics=metrics)
    files = SlackFiles(http, settings.slack_bot_token, settings.slack_api_url)
    limits = Limits(max_concurrent=settings.max_concurrent, max_concurrent_per_user=settings.max_concurrent_per_user,
                    max_queue=settings.max_queue, user_requests_per_minute=settings.user_requests_per_minute)
    jobs = JobQueue(db, limits, metrics=metrics)
    metrics.watch_queue(jobs)
    return Services(settings=settings, images=images, jobs=jobs, files=files, http=http, db=db, metrics=metrics)
