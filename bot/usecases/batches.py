"""`/image batch`: many prompts at once through OpenAI's Batch API, at batch prices (the catalogue's `batch`).

The life of a batch, each step kept in the batches table (storage/batches.py) so a restart resumes it:

    ask     the prompts and their estimate at batch prices: a row `asked`; nothing is sent or spent
    submit  (the asker's Submit) budgets checked against the estimate; one JSONL file uploaded, one batch
            created; its calls written to the ledger as pending at their estimates (budgets count them meanwhile)
    poll    every IMAGEBOT_BATCH_POLL_SECONDS at first, then less often (doubling, at most MAX_POLL_SECONDS), until
            the provider says it ended: then its output and error files are read, each prompt's images kept and
            its ledger row settled from its own usage at the batch price (or its error), and the Slack edge told
    cancel  (`cancel` in its thread) asked of the provider; what it made by then is still read and posted

The core knows nothing of Slack: the edge shows what `Finished` says.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from bot.errors import ImagebotError, ServerError, UserInputError
from bot.models import GenerateRequest, ImageOptions
from bot.money import billing
from bot.money.pricing import Usage
from bot.providers.batch_results import BatchFailure, BatchSuccess
from bot.providers.batches import BatchAPI, BatchInfo
from bot.providers.wire import end_user_id
from bot.rules.batch_lines import BatchLine
from bot.usecases.image_service import ImageService
from storage.records import BatchRecord, ImageRecord, LedgerEntry, ThreadKey

log = logging.getLogger(__name__)
BATCH_PROVIDER = "openai"  # the one Batch API imagebot speaks (bot/providers/batches.py)
MAX_POLL_SECONDS = 30 * 60.0  # the longest wait between two looks at a batch
GIVE_UP_SECONDS = 48 * 3600.0  # a batch whose results still cannot be read this long after it was asked


@dataclass(frozen=True)
class Line:
    """One prompt of a batch, as the edge shows it."""

    number: int
    prompt: str
    options: ImageOptions
    images: tuple[ImageRecord, ...] = ()
    cost_micro: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Finished:
    batch: BatchRecord
    how: str  # completed | failed | expired | cancelled
    lines: tuple[Line, ...]
    error: str | None = None  # a batch that failed as a whole: why

    @property
    def total_micro(self) -> int:
        return sum(line.cost_micro or 0 for line in self.lines if line.images)


class BatchRefused(UserInputError):
    """A batch imagebot will not send: no model takes batches here, or batches are off for this provider."""


class Batches:
    def __init__(self, images: ImageService, client: BatchAPI | None, *, first_poll_seconds: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.images, self.client = images, client
        self.first_poll = max(1.0, first_poll_seconds)
        self.clock = clock
        self.catalogue = images.catalogue

    # asking -----------------------------------------------------------------------------------------
    def model_for(self, options: ImageOptions, *, chosen: bool) -> str:
        """The model a batch uses: the one asked for (`chosen`), else the default when it takes batches, else the
        first live model OpenAI says takes them, else the first any source says does. BatchRefused when none can."""
        provider = BATCH_PROVIDER
        if self.client is None or provider not in self.catalogue.batch.providers:
            raise BatchRefused("Batches go through OpenAI's Batch API, which imagebot does not use with this "
                               "provider. Use `/image` for each prompt instead.")
        if self.catalogue.supports_batch(options.model, provider):
            return options.model
        if chosen:
            raise BatchRefused(f"`{options.model}` does not take batches. Models that do: {self._batch_models()}.")
        live = [m for m in self.images.choices().models if self.catalogue.supports_batch(m, provider)]
        if not live:
            raise BatchRefused("No model available here takes batches.")
        confirmed = [m for m in live if (caps := self.catalogue.capabilities(m, provider)) and caps.batch_confirmed]
        return (confirmed or live)[0]  # OpenAI's own word first, before a reseller's

    def _batch_models(self) -> str:
        provider = BATCH_PROVIDER
        found = [m for m in self.images.choices().models if self.catalogue.supports_batch(m, provider)]
        return ", ".join(f"`{m}`" for m in found) or "none here"

    def batch_estimate(self, lines: Sequence[BatchLine]) -> tuple[int | None, int | None]:
        """(at batch prices, at the usual prices) for every line; None when a line's price is unknown."""
        return self._totals([self.images.estimate(line.options, line.prompt) for line in lines])

    def _totals(self, usuals: Sequence[int | None]) -> tuple[int | None, int | None]:
        known = [value for value in usuals if value is not None]
        if len(known) < len(usuals):
            return None, None
        return sum(self._discount(value) for value in known), sum(known)

    def _discount(self, micro: int) -> int:
        keep = 100 - self.catalogue.batch.discount_percent
        return (micro * keep + 50) // 100

    async def ask(self, team_id: str, channel_id: str, user_id: str, model: str,
                  lines: Sequence[BatchLine]) -> tuple[BatchRecord, int | None]:
        """The batch as asked (nothing sent): its row, and the estimate at the usual prices beside its own."""
        lines = [replace(line, options=replace(line.options, model=model)) for line in lines]
        usuals = [self.images.estimate(line.options, line.prompt) for line in lines]
        requests = [{"custom_id": f"line-{n}", "prompt": line.prompt, "options": dataclasses.asdict(line.options),
                     "estimate_micro": None if e is None else self._discount(e)}
                    for n, (line, e) in enumerate(zip(lines, usuals, strict=True), 1)]
        estimate, usual = self._totals(usuals)
        batch = await self.images.io(self.images.store.create_batch, team_id=team_id, channel_id=channel_id,
                                     user_id=user_id, model=model, requests=requests, estimate_micro=estimate)
        return batch, usual

    async def posted(self, batch_id: int, thread_ts: str, channel_id: str) -> None:
        await self.images.io(self.images.store.update_batch, batch_id, thread_ts=thread_ts, channel_id=channel_id)

    async def get(self, batch_id: int) -> BatchRecord | None:
        return await self.images.io(self.images.store.get_batch, batch_id)

    async def in_thread(self, key: ThreadKey) -> BatchRecord | None:
        return await self.images.io(self.images.store.batch_in_thread, key)

    async def decline(self, batch_id: int) -> bool:
        return bool(await self.images.io(self.images.store.claim_batch, batch_id, "asked", "declined"))

    # submitting -------------------------------------------------------------------------------------
    async def submit(self, batch: BatchRecord) -> BatchRecord | None:
        """Send an asked batch (once: None if it was submitted or declined already). Budgets are checked against
        its estimate first (BudgetExceeded: nothing is sent, and it can be submitted again later)."""
        assert self.client is not None and batch.key is not None
        store = self.images.store
        if not await self.images.io(store.claim_batch, batch.id, "asked", "submitting"):
            return None  # a second press, or declined: one submit only
        reservation = object()
        try:
            await self.images.budgets.reserve(reservation, batch.team_id, batch.user_id, batch.channel_id,
                                              batch.estimate_micro, model=batch.model)
            remote, input_file = await self._send(batch)
            await self.images.io(store.batch_submitted, batch.id, remote_id=remote.id, input_file_id=input_file,
                                 entries=[self._entry(batch, batch.key, r) for r in batch.requests],
                                 next_poll_at=self._at(self.first_poll), poll_seconds=self.first_poll)
        except ServerError:  # creating it failed with a 5xx or a lost answer: it may exist, so never sent again
            await self.unknown(batch)
            raise
        except ImagebotError:  # a budget, or the API refused (4xx): nothing exists at the provider
            await self.images.io(store.update_batch, batch.id, status="asked")
            raise
        finally:
            self.images.budgets.release(reservation)  # the batched ledger rows hold the estimate from here on
        return await self.get(batch.id)

    async def _send(self, batch: BatchRecord) -> tuple[BatchInfo, str]:
        """Upload the JSONL and create the batch. An upload that fails is a 4xx-like refusal for the caller (a file
        alone costs nothing), so it is raised as it came only when it is not a ServerError."""
        assert self.client is not None
        requests = [(r["custom_id"], GenerateRequest(prompt=r["prompt"], options=ImageOptions(**r["options"]),
                                                     user=end_user_id(batch.team_id, batch.user_id)))
                    for r in batch.requests]
        try:
            uploaded = await self.client.upload(requests, filename=f"imagebot-batch-{batch.id}.jsonl")
        except ServerError as error:  # no batch without the file: nothing can exist yet
            raise ImagebotError(str(error)) from error
        return await self.client.create(uploaded.id, metadata={"imagebot_batch": str(batch.id)}), uploaded.id

    async def unknown(self, batch: BatchRecord) -> None:
        """A batch that may or may not exist at the provider (its create went unanswered, or a restart came
        between): failed here, never resent; its calls written as errors that may have been billed, so spend
        counts them at their estimate (as a synchronous call whose answer was lost) until someone looks."""
        assert batch.key is not None
        entries = [self._entry(batch, batch.key, r) for r in batch.requests]
        for entry in entries:
            entry.status, entry.error_code = "error", "batch_unknown"
            entry.error_message = "imagebot could not tell whether OpenAI took this batch; it may have been billed"
        await self.images.io(self.images.store.batch_unknown, batch.id, entries,
                             summary={"made": 0, "failed": len(entries), "stuck": True})

    def _entry(self, batch: BatchRecord, key: ThreadKey, request: dict[str, Any]) -> LedgerEntry:
        options = ImageOptions(**request["options"])
        return LedgerEntry(key=key, user_id=batch.user_id, kind="batch", provider=self.images.provider.provider,
                           model=options.model, size=options.size, quality=options.quality, n=options.n,
                           prompt=request["prompt"], status="batched", estimate_micro=request["estimate_micro"])

    def _at(self, seconds: float) -> str:
        return datetime.fromtimestamp(self.clock() + seconds, UTC).isoformat(timespec="seconds")

    # cancelling -------------------------------------------------------------------------------------
    async def cancel(self, batch: BatchRecord) -> BatchInfo | None:
        """Ask the provider to stop the batch; its results so far come with the next poll. None if not running."""
        if batch.status != "submitted" or batch.remote_id is None or self.client is None:
            return None
        remote = await self.client.cancel(batch.remote_id)
        await self.images.io(self.images.store.update_batch, batch.id, cancel_requested=1,
                             remote_status=remote.status, next_poll_at=self._at(0), poll_seconds=self.first_poll)
        return remote

    # polling ----------------------------------------------------------------------------------------
    async def open(self) -> list[BatchRecord]:
        """The batches at the provider (or read and not yet shown)."""
        return [b for b in await self.images.io(self.images.store.open_batches) if b.status != "submitting"]

    async def due(self) -> list[BatchRecord]:
        """Those to look at now (a batch read but not yet shown, a restart between, is due at once)."""
        now = self._at(0)
        return [b for b in await self.open() if (b.next_poll_at or "") <= now]

    async def stuck(self) -> list[BatchRecord]:
        """Batches left `submitting` by a dead process (BatchPoller.recover): unknown to imagebot now (`unknown`)."""
        found = [b for b in await self.images.io(self.images.store.open_batches) if b.status == "submitting"]
        for batch in found:
            await self.unknown(batch)
        return found

    async def give_up(self, batch: BatchRecord, reason: str) -> None:
        """A batch whose results cannot be had (unreadable, too large, gone at the provider) long after it should
        have ended: its calls settled as errors that may have been billed (spend keeps their estimate), the batch
        failed."""
        await self.images.io(self.images.store.batch_given_up, batch.id, "batch_unreadable", reason,
                             summary={"made": 0, "failed": len(batch.requests), "gave_up": reason})

    def overdue(self, batch: BatchRecord) -> bool:
        """Past OpenAI's 24 h window and a day more: a batch still not read by then will not be."""
        started = datetime.fromisoformat(batch.created_at).timestamp() if batch.created_at else self.clock()
        return self.clock() - started > GIVE_UP_SECONDS

    async def later(self, batch: BatchRecord) -> None:
        """The next look, further off (twice the last wait, at most MAX_POLL_SECONDS)."""
        wait = min(MAX_POLL_SECONDS, (batch.poll_seconds or self.first_poll) * 2)
        await self.images.io(self.images.store.update_batch, batch.id, next_poll_at=self._at(wait), poll_seconds=wait)

    async def shown(self, finished: Finished) -> None:
        """The edge has shown a finished batch: it ends (done, failed, expired or cancelled)."""
        status = {"completed": "done"}.get(finished.how, finished.how)
        await self.images.io(self.images.store.update_batch, finished.batch.id, status=status)

    def next_due_in(self, batches: Sequence[BatchRecord]) -> float | None:
        """Seconds until the first of `batches` is due (0 if one is), None for none."""
        times = [datetime.fromisoformat(b.next_poll_at).timestamp() for b in batches if b.next_poll_at]
        return max(0.0, min(times) - self.clock()) if times else None

    async def poll(self, batch: BatchRecord) -> Finished | BatchInfo:
        """One look: the batch as it stands (next look scheduled further off), or Finished once it has ended."""
        assert self.client is not None and batch.remote_id is not None
        remote = await self.client.retrieve(batch.remote_id)
        if not remote.ended:
            await self.later(batch)
            if remote.status != batch.remote_status:
                await self.images.io(self.images.store.update_batch, batch.id, remote_status=remote.status)
            return remote
        return await self._finish(batch, remote)

    async def _finish(self, batch: BatchRecord, remote: BatchInfo) -> Finished:
        """Read the ended batch's files and settle each prompt; the batch is `delivering` until the edge has shown
        it (`shown`), so a restart between shows it again without charging anything again."""
        assert self.client is not None
        found: dict[str, BatchSuccess | BatchFailure] = {}
        for file_id in (remote.output_file_id, remote.error_file_id):
            if file_id:
                found.update({line.custom_id: line for line in await self.client.results(file_id)})
        calls = await self.images.io(self.images.store.batch_calls, batch.id)
        lines = [await self._settle(batch, n, request, call, found.get(request["custom_id"]), remote.status)
                 for n, (request, call) in enumerate(zip(batch.requests, calls, strict=True), 1)]
        summary = {"made": sum(1 for line in lines if line.images), "failed": sum(1 for line in lines if line.error)}
        await self.images.io(self.images.store.update_batch, batch.id, status="delivering",
                             remote_status=remote.status, output_file_id=remote.output_file_id,
                             error_file_id=remote.error_file_id, summary=summary, next_poll_at=self._at(0))
        ended = await self.get(batch.id)
        assert ended is not None
        problem = "; ".join(p.message for p in remote.problems) or None
        return Finished(ended, remote.status, tuple(lines), problem)

    async def _settle(self, batch: BatchRecord, number: int, request: dict[str, Any], call: dict[str, Any],
                      line: BatchSuccess | BatchFailure | None, how: str) -> Line:
        """One prompt's outcome: its images kept and its ledger row settled (once: a row settled before a restart
        is read back, not charged again)."""
        options, prompt = ImageOptions(**request["options"]), request["prompt"]
        entry = self._entry(batch, batch.key or ThreadKey(batch.team_id, batch.channel_id, ""), request)
        if call["status"] != "batched":  # settled before a restart: as recorded
            ids = tuple(json.loads(call["image_ids"] or "[]"))
            images = tuple([await self.images.io(self.images.store.get_image, i) for i in ids])
            return Line(number, prompt, options, images, call["cost_micro"], call["error_message"] if not ids else None)
        if not isinstance(line, BatchSuccess):
            reason = (line.message if line else None) or _unfinished(how)
            if line is not None and line.error is not None:
                billing.settle_failure(entry, line.error)  # as a synchronous call's error (its words redacted)
            else:
                entry.status, entry.error_code, entry.error_message = "error", (line.code if line else how), reason
            entry.estimate_micro = None  # a request the batch did not run or that failed is not billed
            await self.images.io(self.images.store.settle_batch_call, call["id"], entry)
            return Line(number, prompt, options, error=reason)
        records = [await self.images.save_image(image.data, image.format, origin="generated", key=entry.key)
                   for image in line.images]
        entry.status, entry.image_ids, entry.request_id = "ok", tuple(r.id for r in records), line.request_id
        entry.size, entry.quality = line.size or entry.size, line.quality or entry.quality
        tokens = line.tokens
        if tokens is not None:
            billing.record_usage(entry, tokens)
            entry.cost_micro = self.batch_cost(options.model, tokens)
        await self.images.io(self.images.store.settle_batch_call, call["id"], entry)
        return Line(number, prompt, options, tuple(records), entry.cost_micro)

    def batch_cost(self, model: str, tokens: Usage) -> int | None:
        """What one request cost: its usage at the model's price with the batch discount taken off."""
        price = self.images.prices.price_for(model)
        return None if price is None else self.catalogue.batch.discounted(price).cost(tokens)


def _unfinished(how: str) -> str:
    return {"expired": "The batch expired before OpenAI ran this prompt.",
            "cancelled": "The batch was cancelled before OpenAI ran this prompt.",
            "failed": "The batch failed before OpenAI ran this prompt."}.get(how, "OpenAI returned no result for it.")

