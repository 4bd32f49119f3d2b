"""What imagebot counts for Prometheus, and the one log line every request leaves behind.

The metrics live in a `CollectorRegistry` of their own, one per `Services` (never the client library's global
registry), so two apps in one process, as in the tests, neither share nor collide. `/metrics`
(handlers/ops.py) renders it:

    imagebot_requests_total{kind, status}       requests that ended. kind: generate | edit. status: done,
                                                 failed, interrupted, awaiting_confirmation (an estimate shown,
                                                 nothing spent), or the refusal at the door: rate_limited,
                                                 queue_full, shutting_down
    imagebot_image_api_latency_seconds{provider, model, kind, outcome}
                                                 histogram of each image API call; outcome ok | error
    imagebot_spend_dollars_total{provider, model}
                                                 what the image API calls cost, in US dollars (the ledger keeps
                                                 the same amounts as integer micro-dollars); provider "offline"
                                                 is what offline renders would have cost: nothing was billed
    imagebot_unpriced_calls_total{provider, model}
                                                 successful calls the price table has no price for (not in spend)
    imagebot_queue_depth                         jobs waiting for a slot, read from the job queue at each scrape
    imagebot_jobs_running                        jobs holding a slot, likewise

Label values come from short, closed sets (job kinds, statuses, providers, the models imagebot allows), never
from users, teams or prompts: each label combination is a time series kept for ever.

The request log line (logger `imagebot.requests`, INFO, one per request when it ends) carries the request's
ids and outcome as `extra=` fields, so JSON logs (IMAGEBOT_LOG_FORMAT=json) have them as keys; its message is
the same fields as `key=value` for text logs. Prompts are never logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from bot.logs import key_values
from bot.money.pricing import MICRO, format_usd
from storage.records import JobRecord, LedgerEntry

request_log = logging.getLogger("imagebot.requests")

# Image API calls take seconds to minutes (a high-quality gpt-image-1 edit can pass 60 s); the library's default
# buckets stop at 10 s.
LATENCY_BUCKETS = (0.5, 1, 2.5, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300)


class Queue(Protocol):
    """What the metrics read from the job queue (bot/runtime/jobs.py's JobQueue) at each scrape."""

    @property
    def waiting(self) -> int: ...

    @property
    def running(self) -> int: ...


@dataclass
class _JobCalls:
    """The image API calls one job made so far: what its log line reports."""

    provider: str | None = None
    model: str | None = None
    calls: int = 0
    api_ms: int = 0
    cost_micro: int = 0
    unpriced: int = 0


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("imagebot_requests", "Requests that ended, by kind and status.",
                                ["kind", "status"], registry=self.registry)
        self.api_latency = Histogram("imagebot_image_api_latency_seconds",
                                     "Image API call latency in seconds, by provider, model, kind and outcome.",
                                     ["provider", "model", "kind", "outcome"], buckets=LATENCY_BUCKETS,
                                     registry=self.registry)
        self.spend = Counter("imagebot_spend_dollars",
                             "Image API spend in US dollars (the ledger's micro-dollars / 1e6); provider "
                             "offline: not billed.", ["provider", "model"], registry=self.registry)
        self.unpriced = Counter("imagebot_unpriced_calls",
                                "Successful image API calls with no price in the price table (not in spend).",
                                ["provider", "model"], registry=self.registry)
        self.queue_depth = Gauge("imagebot_queue_depth", "Jobs waiting for a slot.", registry=self.registry)
        self.jobs_running = Gauge("imagebot_jobs_running", "Jobs running (holding a slot).", registry=self.registry)
        self._calls: dict[int, _JobCalls] = {}

    def watch_queue(self, jobs: Queue) -> None:
        """Read the queue's depth when scraped, rather than on every change."""
        self.queue_depth.set_function(lambda: jobs.waiting)
        self.jobs_running.set_function(lambda: jobs.running)

    # hooks -------------------------------------------------------------------------------------------
    def image_call(self, entry: LedgerEntry) -> None:
        """An image API call ended: its ledger row (ok or error) is final."""
        outcome = "ok" if entry.status == "ok" else "error"
        if entry.latency_ms is not None:
            self.api_latency.labels(entry.provider, entry.model, entry.kind, outcome).observe(entry.latency_ms / 1000)
        if entry.cost_micro:
            self.spend.labels(entry.provider, entry.model).inc(entry.cost_micro / MICRO)
        elif entry.status == "ok" and entry.cost_micro is None:
            self.unpriced.labels(entry.provider, entry.model).inc()
        if entry.job_id is None:
            return
        calls = self._calls.setdefault(entry.job_id, _JobCalls())
        calls.provider, calls.model = entry.provider, entry.model
        calls.calls += 1
        calls.api_ms += entry.latency_ms or 0
        calls.cost_micro += entry.cost_micro or 0
        calls.unpriced += int(entry.status == "ok" and entry.cost_micro is None)

    def request_finished(self, job: JobRecord, status: str, error_code: str | None, seconds: float) -> None:
        """A job ended (once per job, whatever the ending): count it and write its log line."""
        if error_code == "awaiting_confirmation":  # "done" for the queue, but nothing was made yet
            status, error_code = error_code, None
        calls = self._calls.pop(job.id, None) or _JobCalls()
        options = job.payload.get("options") or {}
        self._finished(job.kind, status, {
            "request_id": job.id,
            "slack_id": job.dedupe_key,
            "team": job.team_id,
            "user": job.user_id,
            "channel": job.channel_id,
            "kind": job.kind,
            "provider": calls.provider,
            "model": calls.model or options.get("model"),
            "status": status,
            "error": error_code,
            "latency_ms": round(seconds * 1000),
            "api_calls": calls.calls,
            "api_ms": calls.api_ms,
            "cost_micro": calls.cost_micro,
            "cost": format_usd(calls.cost_micro) + (" + unpriced calls" if calls.unpriced else ""),
        })

    def request_refused(self, status: str, *, dedupe_key: str, kind: str, team_id: str, channel_id: str,
                        user_id: str, payload: dict[str, Any]) -> None:
        """A request turned away before it became a job (rate_limited, queue_full, shutting_down)."""
        self._finished(kind, status, {
            "request_id": None, "slack_id": dedupe_key, "team": team_id, "user": user_id, "channel": channel_id,
            "kind": kind, "provider": None, "model": (payload.get("options") or {}).get("model"), "status": status,
            "error": None, "latency_ms": 0, "api_calls": 0, "api_ms": 0, "cost_micro": 0, "cost": format_usd(0),
        })

    def _finished(self, kind: str, status: str, fields: dict[str, Any]) -> None:
        self.requests.labels(kind, status).inc()
        request_log.info("request %s", key_values(fields), extra=fields)
