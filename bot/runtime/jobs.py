"""Requests as durable jobs: admitted once, run within limits, never lost, never silently re-run.

A request becomes a row in `jobs` before the ack (storage does the dedupe: one row per event, command or
button press, across restarts). Each job then lives in one asyncio task:

    announce (card or reaction, at once) → wait for a slot → run (image API, upload) → done | failed

Slots: at most `max_concurrent` jobs run at once and at most `max_concurrent_per_user` per user; waiting jobs
start in arrival order, skipping only those whose user is at their own limit (bot/runtime/line.py). At most
`max_queue` jobs wait; a user may start `user_requests_per_minute` jobs a minute.

After a crash, jobs still `queued` run on start-up; jobs that were `running` are marked `interrupted` and
their users are told (the first attempt may already have been billed, so nothing is re-run on its own).
On shutdown: no new jobs; running ones get a grace period; the rest are interrupted and their users told.

A database that cannot take writes (a full disk, another process holding the lock) never leaves a request
hanging: admission waits for it at most until the ack's deadline (bot/runtime/db_thread.py) and then says
"unavailable"; a job whose start cannot be recorded does not run; and a job's final status that cannot be
written is retried in the background, so no job stays `running` once the database takes writes again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from bot.errors import StorageUnavailable
from bot.metrics import Metrics
from bot.runtime import admission
from bot.runtime.db_thread import DbThread, Ticket, ack_deadline
from bot.runtime.line import Line
from storage.faults import unavailable
from storage.records import JobRecord

log = logging.getLogger(__name__)
TELL_TIMEOUT = 15.0  # a refusal message to Slack, bounded like the interruption notices


@dataclass(frozen=True)
class Limits:
    """The concurrency limits, from Settings (whose defaults are the documented ones)."""

    max_concurrent: int
    max_concurrent_per_user: int
    max_queue: int
    user_requests_per_minute: int


@dataclass(frozen=True)
class Outcome:
    status: str  # done | failed
    error_code: str | None = None
    error_message: str | None = None
    result: dict[str, Any] | None = None


class JobHandler(Protocol):
    """What the Slack edge does for a job; the queue decides when."""

    async def announce(self, job: JobRecord, ahead: int | None) -> JobRecord | None:
        """Show the request was heard: `ahead` jobs wait before it (None: it starts now). None: cannot go on."""

    async def run(self, job: JobRecord) -> Outcome: ...

    async def interrupted(self, job: JobRecord) -> None:
        """Tell the user the job was cut short and offer to run it again."""

    async def tell(self, job: JobRecord, text: str, /) -> None:
        """A private message to the job's user (a refusal: the job cannot go on)."""


@dataclass(frozen=True)
class Admission:
    """The answer to a submitted request."""

    status: str  # accepted | duplicate | queue_full | rate_limited | shutting_down | unavailable (database)
    job: JobRecord | None = None
    ahead: int | None = None
    retry_in: int | None = None  # rate_limited: seconds until the user may ask again


class JobQueue:
    def __init__(self, db: DbThread, limits: Limits, *, metrics: Metrics | None = None) -> None:
        self._db = db
        self._admissions = admission.Admissions(db)
        self.metrics = metrics or Metrics()
        self._store = db.store
        self.limits = limits
        self._handler: JobHandler | None = None
        self._line = Line(limits.max_concurrent, limits.max_concurrent_per_user)
        self._tasks: set[asyncio.Task[Any]] = set()  # every task: jobs and background work
        self._job_tasks: dict[int, asyncio.Task[Any]] = {}  # each job's lifecycle
        self._running_tasks: dict[int, asyncio.Task[Any]] = {}  # the jobs past their slot
        self._announcing: set[int] = set()  # jobs whose card is being posted: never cut there
        self._admitting = 0  # admissions between their queue check and their place in the queue
        self._idle = asyncio.Event()
        self._idle.set()
        self.accepting = True
        # Awaited before a job's first step: the Slack edge's acks go first (handlers/ingress.py's `quiet`, bounded
        # there). In a burst the jobs' cards and calls otherwise share the loop with the acks still to be sent.
        self.acks_first: Callable[[], Awaitable[None]] | None = None

    def bind(self, handler: JobHandler) -> None:
        self._handler = handler

    # admission ---------------------------------------------------------------------------------------
    async def submit(self, *, dedupe_key: str, kind: str, team_id: str, channel_id: str, user_id: str,
                     payload: dict[str, Any], thread_ts: str | None = None, message_ts: str | None = None,
                     response_url: str | None = None, retry_of: int | None = None,
                     deadline: float | None = None) -> Admission:
        """Admit a request: write its job row (or find it, for a redelivery) and start it. Never raises for
        a refusal; the Admission says why. `deadline` (time.monotonic(); default: ACK_WAIT from now) bounds the
        wait for the database: past it, or when the database cannot take the row (full, failing, locked), the
        status is "unavailable" and no job exists."""
        if not self.accepting:
            self.metrics.request_refused("shutting_down", dedupe_key=dedupe_key, kind=kind, team_id=team_id,
                                         channel_id=channel_id, user_id=user_id, payload=payload)
            return Admission("shutting_down")
        # Count admissions still on their way to the db thread, or a burst would all see the same free room.
        queue_full = len(self._line.waiting) + self._admitting >= self.limits.max_queue
        new_job = dict(dedupe_key=dedupe_key, kind=kind, team_id=team_id, channel_id=channel_id, user_id=user_id,
                       payload=payload, thread_ts=thread_ts, message_ts=message_ts, response_url=response_url,
                       retry_of=retry_of)
        # One trip to the db thread: the dedupe check, the rate count and the insert happen together.
        ticket = Ticket(ack_deadline() if deadline is None else deadline)
        self._admitting += 1
        try:
            status, job, retry_in = await self._admissions.decide(ticket, new_job, queue_full=queue_full,
                                                                  per_minute=self.limits.user_requests_per_minute)
        finally:
            self._admitting -= 1
        if status != "accepted":
            if status != "duplicate":  # a redelivery is not a new request
                self.metrics.request_refused(status, dedupe_key=dedupe_key, kind=kind, team_id=team_id,
                                             channel_id=channel_id, user_id=user_id, payload=payload)
            return Admission(status, job=job, retry_in=retry_in)
        assert job is not None
        ahead = self._start(job)
        return Admission("accepted", job=job, ahead=ahead)

    def _start(self, job: JobRecord) -> int | None:
        ahead = self._line.join(job)
        self._job_tasks[job.id] = self._spawn(self._lifecycle(job, ahead), name=f"job-{job.id}")
        return ahead

    # the life of a job -------------------------------------------------------------------------------
    async def _lifecycle(self, job: JobRecord, ahead: int | None) -> None:
        assert self._handler is not None, "bind() a handler before submitting jobs"
        handler = self._handler
        acquired = False
        started = time.monotonic()
        ended: tuple[str, str | None] | None = None  # (status, error code): for the metrics and the log line
        try:
            if self.acks_first is not None:
                await self.acks_first()
            self._announcing.add(job.id)
            try:
                announced = await handler.announce(job, ahead)
            finally:
                self._announcing.discard(job.id)
            if announced is not None and not self.accepting:
                self._line.leave(job)  # shutting down: announced, still queued, it runs on the next start
                return
            if announced is None:
                self._line.leave(job)
                ended = ("failed", "not_announced")
                await self._settle(job, "failed", error_code="not_announced",
                                   error_message="could not show the request in Slack")
                return
            job = announced
            await self._line.take(job)
            acquired = True
            self._running_tasks[job.id] = asyncio.current_task()  # type: ignore[assignment]
            if not await self._mark_running(job, handler):
                ended = ("failed", StorageUnavailable.code)
                return
            outcome = await handler.run(job)
            ended = (outcome.status, outcome.error_code)
            await self._settle(job, outcome.status, error_code=outcome.error_code,
                               error_message=outcome.error_message, result=outcome.result)
        except asyncio.CancelledError:
            if acquired:
                ended = ("interrupted", "interrupted")
                # Cut short while running (shutdown after the grace period): maybe billed, so never re-run
                # silently; tell the user, who may run it again. Tracked, so shutdown waits for it.
                self.background(self._interrupt(job), name=f"interrupted-{job.id}")
            else:
                self._line.leave(job)  # still queued in the database: it runs on the next start
            raise
        except Exception as exc:
            ended = ("failed", await self._failed(job, exc, handler, ran=acquired))
        finally:
            if ended is not None:
                self.metrics.request_finished(job, *ended, seconds=time.monotonic() - started)
            self._running_tasks.pop(job.id, None)
            self._job_tasks.pop(job.id, None)
            if acquired:
                self._line.give_back(job)

    async def _mark_running(self, job: JobRecord, handler: JobHandler) -> bool:
        """Record that the job runs, before anything it does can be billed. If the database cannot take that now
        (full, failing, locked), the job does not run: its user is told, and it is recorded as failed once the
        database takes writes (a job the database still calls queued would run again after a restart)."""
        try:
            await self._db.attempt(self._store.start_job, job.id)
        except StorageUnavailable as error:
            log.warning("job %s not run: the database cannot record its start (%s)", job.id, error.__cause__)
            await self._tell(handler, job, str(error))
            await self._settle(job, "failed", error_code=error.code,
                               error_message="the database could not record the job's start")
            return False
        return True

    async def _failed(self, job: JobRecord, exc: Exception, handler: JobHandler, *, ran: bool) -> str:
        """An error the handler did not turn into an outcome; returns its error code. One from a database that
        cannot take writes is told to the user (nothing else would tell them why); anything else is a bug,
        logged with its traceback."""
        if not ran:
            self._line.leave(job)  # it will never run: the jobs behind it must not wait for it
        code = "internal_error"
        if isinstance(exc, StorageUnavailable) or unavailable(exc):
            code = StorageUnavailable.code
            log.warning("job %s stopped: storage cannot take writes: %s", job.id, exc)
            text = StorageUnavailable.NOT_FINISHED if ran else StorageUnavailable.NOT_STARTED
            await self._tell(handler, job, text)
        else:
            log.error("job %s failed unexpectedly", job.id, exc_info=exc)
        await self._settle(job, "failed", error_code=code, error_message=f"{type(exc).__name__}: {exc}"[:500])
        return code

    async def _tell(self, handler: JobHandler, job: JobRecord, text: str) -> None:
        try:
            await asyncio.wait_for(handler.tell(job, text), TELL_TIMEOUT)
        except TimeoutError:
            log.warning("could not tell the user of job %s in %.0f s: %s", job.id, TELL_TIMEOUT, text)

    async def _settle(self, job: JobRecord, status: str, **fields: Any) -> None:
        """Record how the job ended. A database that cannot take it now (full, failing, locked) gets it later, in
        the background (DbThread.retry): no job stays `running` once the database takes writes again."""
        try:
            await self._db.attempt(self._store.finish_job, job.id, status, **fields)
        except StorageUnavailable as error:
            log.warning("job %s: could not record it as %s (%s); trying again in the background", job.id, status,
                        error.__cause__)
            self._db.retry(f"job {job.id} as {status}", self._store.finish_job, job.id, status, **fields)

    async def _interrupt(self, job: JobRecord) -> None:
        assert self._handler is not None
        await self._db(self._store.finish_job, job.id, "interrupted", error_code="interrupted",
                       error_message="imagebot stopped while this request was running")
        try:
            await asyncio.wait_for(self._handler.interrupted(job), 15)
        except Exception:
            log.exception("could not tell the user about interrupted job %s", job.id)

    @property
    def waiting(self) -> int:
        return len(self._line.waiting)

    @property
    def running(self) -> int:
        return self._line.running

    # tasks -------------------------------------------------------------------------------------------
    def background(self, work: Coroutine[Any, Any, None], *, name: str) -> None:
        """Run a small piece of Slack work after the ack (a refusal message, a re-upload), tracked."""
        self._spawn(self._guard(work, name), name=name)

    async def _guard(self, work: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await work
        except Exception:
            log.exception("background task %s failed", name)

    def _spawn(self, work: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no job or background task is left (True), or `timeout` seconds (False)."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # start-up and shutdown ---------------------------------------------------------------------------
    async def recover(self) -> tuple[int, int]:
        """After a restart: tell the users of jobs that died running; run the jobs still queued."""
        assert self._handler is not None
        # Call before taking requests. Jobs this process already owns are never treated as left behind.
        interrupted = await self._db(self._store.interrupt_running_jobs, set(self._job_tasks))
        if interrupted:
            await self._db(self._store.interrupt_pending_calls)
        for job in interrupted:
            self.background(self._handler.interrupted(job), name=f"interrupted-{job.id}")
        queued = [job for job in await self._db(self._store.jobs_with_status, "queued")
                  if job.id not in self._job_tasks]
        for job in queued:
            self._start(job)
        if interrupted or queued:
            log.info("recovered jobs: %d interrupted (users told), %d queued (running now)", len(interrupted),
                     len(queued))
        return len(interrupted), len(queued)

    async def shutdown(self, grace: float) -> int:
        """Take no new jobs; give running ones `grace` seconds; interrupt the rest. Returns how many were cut."""
        self.accepting = False
        # Jobs waiting for a slot stop waiting: they stay queued in the database and run on the next start.
        # Jobs being announced finish posting their card first (then see the shutdown and stay queued too).
        waiting = [task for job_id, task in self._job_tasks.items()
                   if job_id not in self._running_tasks and job_id not in self._announcing]
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        running = list(self._running_tasks.values())
        cut = 0
        if running:
            log.info("waiting up to %.0fs for %d running job(s)", grace, len(running))
            _, pending = await asyncio.wait(running, timeout=grace) if grace > 0 else (set(), set(running))
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            cut = len(pending)
        # Background work (refusal messages, interruption notices) is small: let it finish, boundedly.
        await self.wait_idle(timeout=15)
        return cut
