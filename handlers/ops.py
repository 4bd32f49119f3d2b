"""Operations endpoints for HTTP mode, beside /slack/events: for load balancers, orchestrators and Prometheus.

    GET /healthz   200 "ok" while the process serves HTTP; touches nothing (a liveness probe must not fail
                   because a dependency did, or the orchestrator restarts a healthy process)
    GET /readyz    200 {"status": "ready", "checks": {...}} when the database takes writes, Slack auth is fine
                   and jobs are being accepted; otherwise 503 with the same body naming each failing check.
                   Every check is bounded (READY_TIMEOUT seconds): a stuck database answers 503, never hangs
    GET /metrics   the Services' Prometheus registry (bot/metrics.py), in the text format or OpenMetrics as the
                   scraper's Accept header asks

Check results are short reasons, redacted: the endpoints are unauthenticated, so they say what failed, never
more. (HEAD works on each too.)
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from bot.logs import redact
from bot.services import Services

log = logging.getLogger(__name__)
# Orchestrators' probes time out after a few seconds (Kubernetes: 1 s by default, often raised); the checks run
# at the same time, so /readyz answers within about this long whatever hangs.
READY_TIMEOUT = 3.0
OK = "ok"


def ops_routes(services: Services, slack_check: Callable[[], Awaitable[str | None]], *,
               timeout: float = READY_TIMEOUT) -> list[web.RouteDef]:
    """`slack_check()` returns None when Slack auth is fine, else a short reason."""

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(request: web.Request) -> web.Response:
        database, slack = await asyncio.gather(_bounded("database", _database(services), timeout),
                                               _bounded("slack", slack_check(), timeout))
        checks = {"database": database or OK, "slack": slack or OK,
                  # Shutting down: running jobs finish, new requests are refused; send traffic elsewhere.
                  "jobs": OK if services.jobs.accepting else "shutting down"}
        ready = all(result == OK for result in checks.values())
        return web.json_response({"status": "ready" if ready else "not ready", "checks": checks},
                                 status=200 if ready else 503)

    async def metrics(request: web.Request) -> web.Response:
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        # aiohttp's content_type= refuses parameters (version, charset): the header is set whole.
        return web.Response(body=encode(services.metrics.registry), headers={"Content-Type": content_type})

    return [web.get("/healthz", healthz), web.get("/readyz", readyz), web.get("/metrics", metrics)]


async def _database(services: Services) -> str | None:
    try:
        await services.db(services.db.store.check_writable)
    except (sqlite3.Error, RuntimeError) as error:  # RuntimeError: the db thread is shut down
        return f"{type(error).__name__}: {error}"
    return None


async def _bounded(name: str, check: Awaitable[str | None], timeout: float) -> str | None:
    """The check's reason (None: fine), or why it gave none in time. A check that raises is a failed check (and
    logged with its traceback): a probe answers 503 with a reason, never 500."""
    try:
        reason = await asyncio.wait_for(check, timeout)
    except TimeoutError:
        reason = f"no answer within {timeout:g} s"
    except Exception as error:
        log.warning("readiness check %s raised", name, exc_info=True)
        reason = f"{type(error).__name__}: {error}"
    if reason is not None:
        reason = redact(reason)[:200]
        log.info("not ready: %s: %s", name, reason)
    return reason
