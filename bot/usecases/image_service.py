"""The core: turn a request into images, a stored thread context and a ledger row. Knows nothing of Slack.

The thread's stored images and versions are bot/usecases/thread_images.py's; this is the request path on top of
them: the options a call is sent with (the catalogue, the channel's policy), the budgets, the image API call, and its
ledger rows. SQLite work runs on the database thread (bot/runtime/db_thread.py `DbThread`) and image files are written
on worker threads, so the event loop — and with it every ack — never waits on the disk.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from bot.errors import AttachmentError, ImageAPIError, InvalidOption, ServerError
from bot.images import imaging
from bot.metrics import Metrics
from bot.models import EditRequest, GenerateRequest, ImageOptions, ImageResult, InputImage, LostAnswer
from bot.money import billing
from bot.money.budgets import Alert, Budgets, BudgetStanding, estimate_caveats, estimate_micro
from bot.money.catalogue import Catalogue
from bot.money.pricing import PriceTable
from bot.money.retirement import Resolved
from bot.providers.base import ImageProvider, OnAnswer, OnLost, OnPartial
from bot.providers.wire import end_user_id
from bot.rules.options import Choices, fit_options, models_with
from bot.rules.policy import Policy, apply_policy
from bot.runtime.db_thread import DbThread
from bot.runtime.model_watch import NOTICES
from bot.settings import Settings
from bot.usecases.of_today import OfToday, of_today
from bot.usecases.thread_images import NoImageYet, ThreadImages
from storage.records import ImageRecord, LedgerEntry, Spend, ThreadKey
from storage.spend import Estimated

MAX_INPUTS = 16  # the most any model takes (the catalogue's max_inputs narrows it per model)
ANSWERS_IN_MEMORY = 4  # see ImageService._answers
# What a call produced: the result, its stored images, and (count, estimates) of the lost attempts before it.
_Called = tuple[ImageResult, tuple[ImageRecord, ...], tuple[int, int]]
# The image API call itself, given where to hand each attempt whose answer broke off.
_Call = Callable[[OnLost, OnAnswer], Awaitable[ImageResult]]


@dataclass(frozen=True)
class Delivered:
    """What one successful call produced, ready for the Slack edge to show."""

    kind: str  # generate | edit
    result: ImageResult
    images: tuple[ImageRecord, ...]
    cost_micro: int | None
    thread_spend: Spend
    converted: tuple[str, ...] = ()  # "name: what was done" for attachments changed to suit the API
    policy_notes: tuple[str, ...] = ()  # what the channel's policy lowered
    versions: tuple[str, ...] = ()  # the labels of the images made (v3, or v3a, v3b…)
    base_version: str | None = None  # the version an edit started from
    next_edit: str | None = None  # the version the next edit will use
    user_month_micro: int = 0  # the asker's spend this month, this call included
    budgets_left: tuple[BudgetStanding, ...] = ()  # each budget that applies, and where the asker stands
    alerts: tuple[Alert, ...] = ()  # channel / workspace budget marks this call crossed (80 %, 100 %)
    # Attempts whose answer broke off and were tried again: each may be billed, and is in the ledger (and in
    # thread_spend) at this request's estimate, `lost_micro` in all.
    lost_answers: int = 0
    lost_micro: int = 0
    month_estimated: Estimated = field(default_factory=Estimated)  # the part of user_month_micro at estimate

    @property
    def spend_notes(self) -> tuple[str, ...]:
        """The footnote's lines on what may have been billed: lost attempts, spend counted at estimate."""
        return billing.spend_notes(self.lost_answers, self.lost_micro, self.thread_spend.estimated,
                                   self.month_estimated)


class ImageService(ThreadImages):
    """A thread's images (ThreadImages) and the two calls that add to them: each request's options, its budgets, the
    image API call and its ledger rows."""

    def __init__(self, provider: ImageProvider, db: DbThread, prices: PriceTable, settings: Settings,
                 budgets: Budgets, *, catalogue: Catalogue, metrics: Metrics | None = None,
                 today: Callable[[], date] | None = None) -> None:
        super().__init__(db, settings)
        self.provider = provider
        self.catalogue = catalogue
        # The catalogue's statuses apply from their dates, so "today" is asked at each request, not at start-up.
        self._today = today or (lambda: datetime.now(budgets.tz).date())
        self.metrics = metrics or Metrics()
        self.prices = prices
        self.budgets = budgets
        # Answers in memory at once, from their first byte until their images are on disk: fifty arriving together
        # would otherwise each hold megabytes of decoded image while waiting for the disk (issue 16: 25 of them,
        # 57 MB, at the peak of a 50-burst). Created lazily, in the running loop.
        self._answers: asyncio.Semaphore | None = None
        self._of_today_cache: OfToday | None = None

    def today(self) -> date:
        return self._today()

    # settings ---------------------------------------------------------------------------------------
    @property
    def configured_model(self) -> Resolved:
        """IMAGEBOT_MODEL (or the catalogue's default), and what requests use today: its replacement once the
        catalogue says it is shut down on this provider."""
        return self._of_today().configured

    def choices(self) -> Choices:
        """What requests may ask for today: the live models (an Azure deployment serves exactly its own)."""
        return self._of_today().choices

    @property
    def default_options(self) -> ImageOptions:
        """The options a request starts from: the settings' own, fitted to what today's model can do."""
        return self._of_today().defaults

    def _of_today(self) -> OfToday:
        """Worked out again only when the day, the settings, the catalogue or the provider is another: a command's
        ack asks for both choices and defaults (a twentieth of its CPU in a 200-burst, issue 16)."""
        today, cached, provider = self._today(), self._of_today_cache, self.provider.provider
        if cached is None or not cached.holds(today, self.settings, self.catalogue, provider):
            cached = self._of_today_cache = of_today(today, self.settings, self.catalogue, provider)
        return cached

    # attachments ------------------------------------------------------------------------------------
    async def prepare_attachment(self, data: bytes, name: str) -> tuple[InputImage, str | None]:
        """The attachment as the API will take it, and a note of what was changed (None: sent as it is)."""
        return await asyncio.to_thread(imaging.prepare_input_with_note, data, name)

    # the two calls ----------------------------------------------------------------------------------
    async def generate(self, key: ThreadKey, user_id: str, prompt: str, options: ImageOptions, *, job_id: int | None
                       = None, on_partial: OnPartial | None = None, kind: str = "generate") -> Delivered:
        options, notes = await self.prepare(key, options)
        request = GenerateRequest(prompt=prompt, options=options, user=end_user_id(key.team_id, user_id))
        result, images, lost = await self._call(  # the ledger's kind: generate, or workflow (a Workflow Builder step)
            kind, key, user_id, prompt, options, (),
            lambda on_lost, on_answer: self.provider.generate(request, on_partial, on_lost, on_answer),
            origin="generated", parent_id=None, job_id=job_id)
        return await self._delivered("generate", key, user_id, result, images, policy_notes=notes, lost=lost)

    async def edit(self, key: ThreadKey, user_id: str, prompt: str, options: ImageOptions | None,
                   attachments: Sequence[tuple[InputImage, str | None]] = (), *,
                   job_id: int | None = None, base: str | None = None, mask: bytes | None = None,
                   markup: bytes | None = None, on_partial: OnPartial | None = None) -> Delivered:
        """Edit the thread's last image (or version `base`, a branch); attached images join as references (or
        become the base); `mask` marks the region to change on the base."""
        thread = await self.get_thread(key)
        inputs: list[InputImage] = []
        parent_id = await self.version_image(key, base) if base else (thread.last_image_id if thread else None)
        if parent_id:
            record = await self.kept_image(key, parent_id)
            data = await self.read_image(record, key)
            inputs.append(InputImage(data=data, format=record.format, width=record.width or 0,
                                     height=record.height or 0, name=f"v-last.{record.format}"))
        inputs.extend(image for image, _ in attachments)
        if not inputs:
            raise NoImageYet()
        if len(inputs) > MAX_INPUTS:
            raise InvalidOption(f"An edit takes at most {MAX_INPUTS} images (the thread's image and "
                                f"{MAX_INPUTS - 1} attachments); this one has {len(inputs)}.", option="image")
        uploads = []
        for image, _ in attachments:  # keep what users attached, so the lineage can be shown later
            uploads.append(await self.save_image(image.data, image.format, origin="upload", key=key,
                                                 width=image.width, height=image.height))
        if parent_id is None:
            # The first attachment is the base: it becomes v1 (or the next version) of the thread.
            parent_id = uploads[0].id
            await self.io(self.store.add_versions, key, [parent_id], parent_image_id=None, job_id=job_id)
        if options is None:
            options = await self.edit_defaults(key, inputs[0])
        options, notes = await self.prepare(key, options)
        caps = self.catalogue.capabilities(options.model, self.provider.provider)
        if markup is not None and caps is not None and not caps.markup:
            raise InvalidOption(f"{options.model} does not take markup (marks drawn over the image). Use "
                                f"{', '.join(models_with(self.choices(), 'markup'))}, or describe the change in "
                                "words.", option="markup")
        self.check_inputs(options, len(inputs))
        request = EditRequest(prompt=prompt, options=options, images=tuple(inputs), mask=mask, markup=markup,
                              user=end_user_id(key.team_id, user_id))
        result, images, lost = await self._call(
            "edit", key, user_id, prompt, options, tuple((i.width, i.height) for i in inputs),
            lambda on_lost, on_answer: self.provider.edit(request, on_partial, on_lost, on_answer), origin="edited",
            parent_id=parent_id, job_id=job_id)
        converted = tuple(f"{image.name}: {note}" for image, note in attachments if note)
        return await self._delivered("edit", key, user_id, result, images, converted, notes, lost=lost)

    async def edit_defaults(self, key: ThreadKey, fallback: InputImage | None = None) -> ImageOptions:
        """Options for an edit: the base image's own size when the model makes it, else auto."""
        options = self.default_options
        thread = await self.get_thread(key)
        if thread is not None and thread.last_image_id:
            record = await self.io(self.store.get_image, thread.last_image_id)
            width, height = record.width, record.height
        elif fallback is not None:
            width, height = fallback.width, fallback.height
        else:
            return options
        own = f"{width}x{height}"
        caps = self.catalogue.capabilities(options.model, self.provider.provider)
        if width and height and caps is not None and not caps.sizes.problems(own):
            return replace(options, size=own)
        return replace(options, size="auto")

    async def policy(self, team_id: str, channel_id: str) -> Policy | None:
        row = await self.io(self.store.get_policy, team_id, channel_id)
        if row is None:
            return None
        models = row["allowed_models"]
        return Policy(max_quality=row["max_quality"], max_n=row["max_n"],
                      allowed_models=tuple(models) if models else None)

    async def apply_policy(self, key: ThreadKey, options: ImageOptions) -> tuple[ImageOptions, tuple[str, ...]]:
        return apply_policy(options, await self.policy(key.team_id, key.channel_id))

    async def prepare(self, key: ThreadKey, options: ImageOptions) -> tuple[ImageOptions, tuple[str, ...]]:
        """The options a call will be sent with, and notes for the footnote: a model the catalogue says is shut
        down is replaced (a thread started on it, a Retry, a shut-down IMAGEBOT_MODEL), what the replacement lacks
        is dropped, and the channel's policy applies."""
        resolved = self.catalogue.resolve(options.model, self.provider.provider, self._today())
        configured = self.configured_model
        notes: tuple[str, ...] = ()
        if configured.replaced and options.model == configured.used:
            # The defaults already carry the replacement of a shut-down IMAGEBOT_MODEL (new requests and every
            # thread's edits use them): the footnote says so all the same.
            notes = (str(configured.note()),)
        elif resolved.replaced:
            caps = self.catalogue.capabilities(resolved.used, self.provider.provider)
            options = replace(options, model=resolved.used)
            fitted: tuple[str, ...] = ()
            if caps is not None:
                options, fitted = fit_options(options, caps)
            notes = (str(resolved.note()), *fitted)
        options, policy_notes = await self.apply_policy(key, options)
        return options, (*notes, *policy_notes)

    async def claim_notice(self, key: str) -> bool:
        """True the first time an admin notice `key` is claimed, ever (across restarts): it is then posted once."""
        return bool(await self.io(self.store.claim_report_slot, NOTICES, key))

    async def release_notice(self, key: str) -> None:
        """Give a notice's claim back after nobody could be told, so it is tried again."""
        await self.io(self.store.release_report_slot, NOTICES, key)

    def check_inputs(self, options: ImageOptions, count: int) -> None:
        """Refuse an edit with more input images than the model takes, before anything is asked or spent."""
        caps = self.catalogue.capabilities(options.model, self.provider.provider)
        if caps is not None and count > caps.max_inputs:
            raise InvalidOption(f"{options.model} takes at most {caps.max_inputs} images; this edit has "
                                f"{count}.", option="image")

    def cost(self, result: ImageResult) -> int | None:
        """A call's cost from its own usage: the render, plus the SVG author's tokens for an SVG (unknown when
        either price is not known)."""
        if result.usage is None:
            return None
        cost = self.prices.cost(result.model, result.usage)
        if cost is None or result.svg_usage is None:
            return cost
        author = self.prices.svg_author_cost(result.svg_usage)
        return None if author is None else cost + author

    def estimate(self, options: ImageOptions, prompt: str, inputs: tuple[tuple[int, int], ...] = ()) -> int | None:
        return estimate_micro(self.prices, self.catalogue, options, prompt, inputs, fidelity=options.input_fidelity)

    def estimate_caveats(self, options: ImageOptions) -> tuple[str, ...]:
        """What an estimate for `options` does not know: no published figures (a stated upper bound is used), or
        an SVG author model whose tokens are billed apart."""
        return estimate_caveats(self.catalogue.capabilities(options.model, self.provider.provider), options)

    # internals ---------------------------------------------------------------------------------------
    async def _call(self, kind: str, key: ThreadKey, user_id: str, prompt: str, options: ImageOptions,
                    inputs: tuple[tuple[int, int], ...], call: _Call, *, origin: str,
                    parent_id: str | None, job_id: int | None) -> _Called:
        """Check the budgets, call the API, keep its images, and write its ledger row whatever happens (and one
        more for each attempt whose answer broke off and was tried again)."""
        estimate = self.estimate(options, prompt, inputs)
        reservation = object()
        await self.budgets.reserve(reservation, key.team_id, user_id, key.channel_id, estimate, model=options.model)
        entry = LedgerEntry(key=key, user_id=user_id, kind=kind, provider=self.provider.provider,
                            model=options.model, size=options.size, quality=options.quality, n=options.n,
                            prompt=prompt, input_images=len(inputs), job_id=job_id, status="pending",
                            estimate_micro=estimate)
        try:
            return await self._call_reserved(entry, call, origin=origin, parent_id=parent_id)
        finally:
            self.budgets.release(reservation)  # the real cost is in the ledger now (or nothing was spent)

    async def _call_reserved(self, entry: LedgerEntry, call: _Call, *, origin: str,
                             parent_id: str | None) -> _Called:
        started = time.perf_counter()
        # Written before the call, with its estimate: if the process dies while the API works, the ledger still
        # shows the call (recovery marks it interrupted, counted at its estimate) instead of losing what may have
        # been billed.
        # A ledger that cannot take the row (a full disk, a lock) stops the call here: StorageUnavailable.
        ledger_id = await self.io.attempt(self.store.record_call, entry)
        lost: list[LostAnswer] = []

        room = self._answers = self._answers or asyncio.Semaphore(ANSWERS_IN_MEMORY)
        held = False

        async def on_answer() -> None:  # the answer is arriving: wait for room before its megabytes are read
            nonlocal held
            if not held:
                await room.acquire()
                held = True

        def give_back() -> None:
            nonlocal held
            if held:
                room.release()
                held = False

        async def on_lost(answer: LostAnswer) -> None:  # an attempt the provider may bill: a row of its own
            give_back()  # its bytes are gone: no room held through the backoff
            row = billing.lost_entry(entry, answer)
            self.metrics.image_call(row)
            await self.io(self.store.record_call, row)
            lost.append(answer)

        try:
            return await self._answered(entry, ledger_id, started, call, on_lost, on_answer, lost, origin=origin,
                                        parent_id=parent_id)
        finally:
            give_back()

    # Long: one call's answer, in order: its failure settled, or its images checked, kept and recorded.
    async def _answered(self, entry: LedgerEntry, ledger_id: int, started: float, call: _Call, on_lost: OnLost,
                        on_answer: OnAnswer, lost: list[LostAnswer], *, origin: str,
                        parent_id: str | None) -> _Called:
        key = entry.key
        try:
            result = await call(on_lost, on_answer)
        except ImageAPIError as error:
            billing.settle_failure(entry, error)
            await self._settle(entry, ledger_id, started)
            raise
        except asyncio.CancelledError:  # shutdown cut the call short: it may have been billed (estimate kept)
            entry.status, entry.error_code = "error", "interrupted"
            entry.error_message = "imagebot stopped before the image API answered; it may have been billed"
            await self._settle(entry, ledger_id, started)
            raise
        entry.status = "ok"
        entry.latency_ms = round((time.perf_counter() - started) * 1000)
        entry.size, entry.quality, entry.request_id = result.size, result.quality, result.request_id
        if result.usage is not None:
            billing.record_usage(entry, result.usage)
            entry.cost_micro = self.cost(result)
        try:
            infos = [await asyncio.to_thread(imaging.inspect, image.data) for image in result.images]
        except AttachmentError as exc:
            # Billed, but unusable: the ledger keeps the cost, the user is told the call failed.
            entry.status, entry.error_code = "error", "unreadable_output"
            entry.error_message = "The image API returned an image that cannot be read."
            await self._settle(entry, ledger_id, started)
            raise ServerError(entry.error_message, request_id=result.request_id) from exc
        records = [await self.save_image(image.data, image.format, origin=origin, key=key, parent_id=parent_id,
                                         width=info.width, height=info.height)
                   for image, info in zip(result.images, infos, strict=True)]
        # Stored and known by id from here on: the bytes are dropped, so a job waiting on the db thread or for its
        # upload holds a few hundred bytes, not megabytes (a 50-burst held 120 MB of decoded PNGs this way).
        result = replace(result, images=())
        entry.image_ids = tuple(r.id for r in records)
        self.metrics.image_call(entry)
        # One transaction: the row completed, the images the next version; with several outputs the first (v3a)
        # is the context of the next edit ("use b" picks another).
        await self.io(self.store.record_outcome, entry, ledger_id=ledger_id, image_ids=list(entry.image_ids),
                      parent_image_id=parent_id)
        return result, tuple(records), (len(lost), len(lost) * (entry.estimate_micro or 0))

    async def _settle(self, entry: LedgerEntry, ledger_id: int, started: float) -> None:
        """The call's answer is in (or it failed, or was cut short): complete its ledger row and count it.
        The latency runs to the answer, not to the end of storing its images."""
        if entry.latency_ms is None:
            entry.latency_ms = round((time.perf_counter() - started) * 1000)
        self.metrics.image_call(entry)
        await self.io(self.store.record_call, entry, ledger_id=ledger_id)

    async def _delivered(self, kind: str, key: ThreadKey, user_id: str, result: ImageResult,
                         images: tuple[ImageRecord, ...], converted: tuple[str, ...] = (),
                         policy_notes: tuple[str, ...] = (), *, lost: tuple[int, int] = (0, 0)) -> Delivered:
        base_id = images[0].parent_id if kind == "edit" and images else None
        facts = await self.io(self.store.thread_facts, key, [record.id for record in images], base_id)
        cost = self.cost(result)
        now = datetime.now(self.budgets.tz)
        standing = await self.budgets.standing(key.team_id, user_id, key.channel_id, now)
        return Delivered(kind=kind, result=result, images=images, cost_micro=cost, thread_spend=facts.spend,
                         converted=converted, policy_notes=policy_notes,
                         versions=tuple(label or "?" for label in facts.labels), base_version=facts.base_label,
                         next_edit=facts.next_edit,
                         user_month_micro=standing.month_micro, budgets_left=standing.budgets,
                         alerts=tuple(await self.budgets.crossed(key.team_id, key.channel_id, now,
                                                                 standing=standing)),
                         lost_answers=lost[0], lost_micro=lost[1], month_estimated=standing.month_estimated)
