"""The composition root: the one place imagebot is put together, started and stopped.

    bot = Imagebot.build(settings)          # storage, HTTP client, image provider, job runner, the Bolt app
    await bot.start(host=..., port=..., ops=(host, port))
    await bot.wait(stop)                    # until `stop` is set (SIGTERM), or Socket Mode's supervisor dies
    cut = await bot.stop()                  # no new requests; running jobs get their grace; then the rest

`imagebot serve` (imagebot/cli.py), the stand-ins' LocalWorkspace (the sandbox, the demo and the scenario tests)
and the tests that start the app another way all go through it: nothing else writes the start-up sequence.

Start order: the jobs a dead process left behind are recovered (before any new request can arrive), the
background work starts (scheduled reports, housekeeping, the model watch), Socket Mode connects, HTTP serves
what Slack reaches, then the ops endpoints. Stop order: Socket Mode and HTTP first (no new requests), then the
services (running jobs get `grace` seconds, then the database and the HTTP clients close), the ops endpoints
last, so that /readyz says "shutting down" meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
from slack_bolt.async_app import AsyncApp

from bot.metrics import Metrics
from bot.money.budgets import Budgets
from bot.money.catalogue import Catalogue, load_catalogue
from bot.providers.base import ImageProvider
from bot.providers.batches import BatchAPI
from bot.providers.image_api import ImageAPI, http_client
from bot.providers.offline import OfflineImageAPI
from bot.providers.targets import AzureTarget, OpenAITarget
from bot.runtime.batch_poller import BatchPoller
from bot.runtime.db_thread import DbThread
from bot.runtime.jobs import JobQueue, Limits
from bot.runtime.model_watch import ModelWatch, Notify
from bot.runtime.scheduler import ReportScheduler
from bot.runtime.services import Services, check_defaults, request_deadline
from bot.settings import Settings
from bot.usecases.batches import Batches
from bot.usecases.image_service import ImageService
from handlers.app import build_app, make_workspaces, start_http
from handlers.delivery.jobs import Delivery
from handlers.ingress import Ingress
from handlers.listeners.admin import scheduled_poster
from handlers.ops import READY_TIMEOUT, Check, health_routes, ops_routes, start_ops
from handlers.slack_files import SlackFiles
from handlers.socket_mode import SocketMode, start_socket_mode
from handlers.workspaces import Workspaces
from storage.store import Store

Stopper = Callable[[], Awaitable[None]]


def build_services(settings: Settings, *, provider: ImageProvider | None = None,
                   batch_client: BatchAPI | None = None) -> Services:
    """Open storage and HTTP clients. Call inside the running event loop; `close()` releases them. `provider`:
    the image API to use instead of the one the settings name (tests, the bench); `batch_client`: the Batch API
    `/image batch` uses instead (tests; the sandbox's image API stand-in, beside its offline renderer)."""
    # First: a bad catalogue or price file, or defaults the model cannot make, stop start-up before anything opens.
    catalogue, prices = load_catalogue(settings)
    check_defaults(settings, catalogue, provider.provider if provider else settings.provider,
                   datetime.now(ZoneInfo(settings.timezone)).date())
    http = http_client()
    db = DbThread(Store.open(settings.data_dir))
    metrics = Metrics()
    images = ImageService(provider or make_provider(settings, http, catalogue), db, prices, settings,
                          Budgets(db, settings), catalogue=catalogue, metrics=metrics)
    files = SlackFiles(http, settings.slack_bot_token, settings.slack_api_url)
    limits = Limits(max_concurrent=settings.max_concurrent, max_concurrent_per_user=settings.max_concurrent_per_user,
                    max_queue=settings.max_queue, user_requests_per_minute=settings.user_requests_per_minute)
    jobs = JobQueue(db, limits, metrics=metrics)
    metrics.watch_queue(jobs)
    batches = Batches(images, batch_client or make_batch_client(settings, http, catalogue),
                      first_poll_seconds=settings.batch_poll_seconds)
    return Services(settings=settings, images=images, jobs=jobs, files=files, http=http, db=db, metrics=metrics,
                    batches=batches)


def make_batch_client(settings: Settings, http: httpx.AsyncClient, catalogue: Catalogue) -> BatchAPI | None:
    """OpenAI's Batch API for `/image batch`, when the catalogue sends batches to the provider the settings name
    (OpenAI); None otherwise (Azure's batch API is another one; offline has none)."""
    if "openai" not in catalogue.batch.providers or settings.provider != "openai" or not settings.openai_api_key:
        return None
    return BatchAPI(http, OpenAITarget(settings.openai_base_url, settings.openai_api_key),
                    end_user_field=catalogue.provider("openai").end_user_field)


def make_provider(settings: Settings, http: httpx.AsyncClient, catalogue: Catalogue) -> ImageProvider:
    """The image API IMAGEBOT_PROVIDER names (OpenAI, Azure OpenAI, or the offline renderer), on `http`."""
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


def freeze_heap() -> None:
    """Once imagebot has started: what start-up imported and built (Bolt, the SDKs, the catalogue: most of the
    process's objects, all living as long as it does) moves to the collector's permanent generation
    (https://docs.python.org/3/library/gc.html#gc.freeze), so a full collection during a burst walks only what
    requests made; it walked everything, a 43 ms stall of the event loop (issue 16). Process-wide, so only
    `imagebot serve` (and the bench, which measures it) call it, not every app a test starts."""
    gc.collect()
    gc.freeze()


GIL_TURN = 0.001  # seconds; CPython's own default is 0.005


def short_gil_turns(turn: float = GIL_TURN) -> None:
    """Once imagebot has started: a thread holding the GIL gives it up after `turn` seconds when another wants it
    (https://docs.python.org/3/library/sys.html#sys.setswitchinterval). Beside the event loop run the database
    thread and the workers hashing, writing and reading images; the loop, back from each socket call, waits for
    the GIL behind whichever of them holds it, up to a turn each. With CPython's 5 ms, 200 commands at once
    stalled the loop 45-79 ms (bench/suite.py's 200-burst, limits lifted); with 1 ms, 21-40 ms, at no CPU cost
    the CPU scenario could tell from its noise (issue 16). Process-wide, so only `imagebot serve` and the bench
    call it, as with freeze_heap."""
    sys.setswitchinterval(turn)


def make_model_watch(services: Services, notify: Notify) -> ModelWatch:
    """The daily look at GET /v1/models and the shutdown notices, posting with `notify` (the Slack edge's)."""
    images = services.images
    provider = images.provider
    lists = images.catalogue.provider(provider.provider).lists_models  # the catalogue: only OpenAI has the list
    lister = provider.list_models if isinstance(provider, ImageAPI) and lists else None
    return ModelWatch(catalogue=images.catalogue, provider=provider.provider,
                      model=lambda: images.configured_model.requested, today=images.today, notify=notify,
                      claim=images.claim_notice, release=images.release_notice, list_models=lister)


class Imagebot:
    """imagebot, built: `services` (the core), `workspaces` (where bot tokens come from) and `app` (Bolt). Nothing
    runs until `start()`; `stop()` undoes whatever `start()` did, also when it failed part-way."""

    def __init__(self, settings: Settings, services: Services, workspaces: Workspaces, app: AsyncApp, *,
                 socket_mode: bool) -> None:
        self.settings = settings
        self.services = services
        self.workspaces = workspaces
        self.app = app
        self.socket_mode = socket_mode
        self.socket: SocketMode | None = None
        self.port: int | None = None  # where Slack reaches (/slack/events, /healthz), once serving
        self.ops_port: int | None = None  # /healthz, /readyz, /metrics, when started with `ops`
        self._transports: list[Stopper] = []  # stopped first, in this order: no new requests
        self._last: list[Stopper] = []  # after the jobs' grace: /readyz says "shutting down" meanwhile

    @classmethod
    def build(cls, settings: Settings, *, provider: ImageProvider | None = None, socket_mode: bool = False,
              progress_interval: float = 20.0, batch_client: BatchAPI | None = None) -> Imagebot:
        """Everything built and wired, nothing started: no request served, no job run, no network call (start
        checks the token). `provider`: instead of the one the settings name;
        `progress_interval`: seconds between a running job's progress updates."""
        services = build_services(settings, provider=provider, batch_client=batch_client)
        workspaces = make_workspaces(settings, services)
        # Jobs talk to Slack through their own clients (from `workspaces`): they outlive the request that admitted
        # them, and the ones resumed after a restart have no request at all.
        delivery = Delivery(services, workspaces, progress_interval=progress_interval)
        services.jobs.bind(delivery)
        services.model_watch = make_model_watch(services, delivery.notify_admins)
        if services.batches is not None and services.batches.client is not None and delivery.batch_jobs is not None:
            services.batch_poller = BatchPoller(services.batches, delivery.batch_jobs)  # `/image batch`
        if settings.report_schedule:
            services.scheduler = ReportScheduler(services.db, settings.report_schedule, ZoneInfo(settings.timezone),
                                                 scheduled_poster(services, delivery))
        app = build_app(settings, services, delivery, workspaces, socket_mode=socket_mode)
        return cls(settings, services, workspaces, app, socket_mode=socket_mode)

    async def start(self, *, host: str = "127.0.0.1", port: int = 0, ops: tuple[str, int] | None = None,
                    recover: bool = True, slack_check: Check | None = None, socket_check: Check | None = None,
                    ops_timeout: float = READY_TIMEOUT) -> Imagebot:
        """Serve what Slack reaches on host:port (0: any free one; `self.port` says which) and, given `ops`,
        /healthz, /readyz and /metrics on that address. `recover` False leaves the jobs a dead process left behind
        for the caller to recover (`services.jobs.recover()`) once requests may have arrived. /readyz asks
        `slack_check` (default: the workspaces' Slack auth) and `socket_check` (default: in Socket Mode, the
        connection), each bounded by `ops_timeout` seconds."""
        if recover:  # first: jobs a dead process left behind are settled before any new request can arrive
            await self.services.jobs.recover()
            if self.services.batch_poller is not None:  # and batches it left half-sent
                await self.services.batch_poller.recover()
        self.services.start_scheduler()
        if self.socket_mode:
            self.socket = start_socket_mode(self.app, self.settings)  # connecting, in its own task, from now on
            self._transports.append(self.socket.close)
            socket_check = socket_check or self.socket.check
        # What Slack reaches (/slack/events over HTTP; multi-workspace, the install pages) and /healthz for load
        # balancers; /readyz and /metrics apart, on loopback unless told: they ask for no credentials.
        # The token checked now, not by the first request (a burst just after a restart waited for it).
        warm = asyncio.get_running_loop().create_task(self.workspaces.warm(), name="slack-token-check")
        self._transports.append(lambda: _cancelled(warm))
        ingress = Ingress.of(self.app)
        self.services.jobs.acks_first = ingress.quiet  # a burst's acks before its jobs' first steps
        runner, self.port = await start_http(self.app, host=host, port=port, routes=health_routes(),
                                             events=not self.socket_mode, ingress=ingress)
        self._transports.append(runner.cleanup)
        if ops is not None:
            checks = ops_routes(self.services, slack_check or self.workspaces.check, socket_check=socket_check,
                                timeout=ops_timeout)
            ops_runner, self.ops_port = await start_ops(checks, host=ops[0], port=ops[1])
            self._last.append(ops_runner.cleanup)
        return self

    async def wait(self, stop: asyncio.Event) -> None:
        """Until `stop` is set; a Socket Mode supervisor that ends (a bug: it runs until cancelled) raises."""
        supervisor = self.socket.task if self.socket is not None else None
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([stopped, *([supervisor] if supervisor else [])], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if supervisor is not None and supervisor.done():
            supervisor.result()

    async def stop(self, grace: float | None = None) -> int:
        """Stop as SIGTERM does: no new requests, running jobs get `grace` seconds (default
        IMAGEBOT_SHUTDOWN_GRACE_SECONDS) and the rest are interrupted, their users told; the database and clients
        close; the ops endpoints last. Returns how many jobs were interrupted."""
        transports, self._transports = self._transports, []
        for stop_transport in transports:
            await stop_transport()
        cut = await self.services.close(grace)
        last, self._last = self._last, []
        for stop_ops in last:
            await stop_ops()
        return cut


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
