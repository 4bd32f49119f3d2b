"""Operational endpoints, for orchestrators, load balancers and Prometheus: served apart from Slack's.

    GET /healthz   200 "ok" while the process serves HTTP; touches nothing (a liveness probe must not fail
                   because a dependency did, or the orchestrator restarts a healthy process). Also on the main
                   port, beside /slack/events, for load balancers in front of HTTP mode
    GET /readyz    200 {"status": "ready", "checks": {...}} when the database takes writes, Slack auth is fine,
                   jobs are being accepted and (Socket Mode) the connection to Slack is up ("socket"); otherwise
                   503 with the same body naming each failing check. Every check is bounded (READY_TIMEOUT
                   seconds): a stuck database answers 503, never hangs
    GET /metrics   the Services' Prometheus registry (bot/metrics.py), in the text format or OpenMetrics as the
                   scraper's Accept header asks

/readyz and /metrics are only on the ops address (`imagebot serve --ops-host/--ops-port`, IMAGEBOT_OPS_HOST /
IMAGEBOT_OPS_PORT: 127.0.0.1:3001 by default), never on the port Slack reaches: they ask for no credentials, and
say how busy the bot is and how much it spends. Check results are short reasons, redacted, for the same reason:
they say what failed, never more. (HEAD works on each too.)
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from bot.logs import redact
from bot.runtime.services import Services
from handlers.app import listen

log = logging.getLogger(__name__)
# Orchestrators' probes time out after a few seconds (Kubernetes: 1 s by default, often raised); the checks run
# at the same time, so /readyz answers within about this long whatever hangs.
READY_TIMEOUT = 3.0
OK = "ok"


Check = Callable[[], Awaitable[str | None]]  # None: fine; else a short reason


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def health_routes() -> list[web.RouteDef]:
    """What the main port serves besides Slack's paths: /healthz alone."""
    return [web.get("/healthz", _healthz)]


def ops_routes(services: Services, slack_check: Check, *, socket_check: Check | None = None,
               timeout: float = READY_TIMEOUT) -> list[web.RouteDef]:
    """`slack_check()`: Slack auth; `socket_check()` (Socket Mode only): the connection. Each returns None when
    fine, else a short reason."""

    async def readyz(request: web.Request) -> web.Response:
        named = {"database": _database(services), "slack": slack_check()}
        if socket_check is not None:
            named["socket"] = socket_check()
        results = await asyncio.gather(*(_bounded(name, check, timeout) for name, check in named.items()))
        checks = {name: result or OK for name, result in zip(named, results, strict=True)}
        # Shutting down: running jobs finish, new requests are refused; send traffic elsewhere.
        checks["jobs"] = OK if services.jobs.accepting else "shutting down"
        ready = all(result == OK for result in checks.values())
        return web.json_response({"status": "ready" if ready else "not ready", "checks": checks},
                                 status=200 if ready else 503)

    async def metrics(request: web.Request) -> web.Response:
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        # aiohttp's content_type= refuses parameters (version, charset): the header is set whole.
        return web.Response(body=encode(services.metrics.registry), headers={"Content-Type": content_type})

    return [*health_routes(), web.get("/readyz", readyz), web.get("/metrics", metrics)]


async def start_ops(routes: Iterable[web.AbstractRouteDef], *, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve `routes` on their own address; returns the runner (`cleanup()` stops it) and the bound port."""
    application = web.Application()
    application.router.add_routes(list(routes))
    runner, bound = await listen(application, host=host, port=port)
    log.info("operational endpoints (no authentication) on http://%s:%s: /healthz, /readyz, /metrics", host, bound)
    return runner, bound


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
