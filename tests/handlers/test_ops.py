"""/healthz, /readyz and /metrics over real HTTP, on the ops address apart from the real app's /slack/events (which
keeps only /healthz beside it), with requests sent through the Slack stand-in to the image API stand-in; and the
one log line each request leaves."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.logs import log_handler
from bot.metrics import Metrics
from bot.money.pricing import Usage
from bot.providers.image_api import ImageAPI
from bot.providers.targets import OpenAITarget
from bot.runtime.services import Services
from bot.settings import Settings
from handlers.app import EVENTS_PATH
from imagebot.compose import Imagebot
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import settings_for
from tests.catalogue_helpers import default_model, priced
from tests.conftest import Sleeps

pytestmark = pytest.mark.anyio
CHANNEL = "C0GENERAL"
ALICE = "U0ALICE"
WAIT = 60.0  # a bound for anything the app does in the background, never a delay
REQUEST_FIELDS = {"request_id", "slack_id", "team", "user", "channel", "kind", "provider", "model", "status", "error",
                  "latency_ms", "api_calls", "api_ms", "cost_micro", "cost"}


async def _fine() -> str | None:
    return None


@dataclass
class Ops:
    """The app served over HTTP with the ops routes; `slack_answer` is what the Slack check says next."""

    url: str  # the ops address: /healthz, /readyz, /metrics
    services: Services
    http: httpx.AsyncClient
    slack_answer: Callable[[], Awaitable[str | None]] = _fine
    main_url: str = ""  # what Slack reaches: /slack/events and /healthz

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(self.url + path, **kwargs)

    async def settle(self, slack: SlackStandIn) -> None:
        assert await self.services.jobs.wait_idle(WAIT)
        await slack.drain()

    async def metric(self, name: str, **labels: str) -> float | None:
        response = await self.get("/metrics")
        assert response.status_code == 200
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return float(sample.value)
        return None


OpsFactory = Callable[..., Awaitable[Ops]]


@pytest.fixture
async def ops_factory(slack: SlackStandIn, image_api: ImageAPIStandIn, tmp_path: Path,
                      sleeps: Sleeps) -> AsyncIterator[OpsFactory]:
    """Built as `imagebot serve --http` builds it: /slack/events and /healthz on one port, the ops routes on another.
    `socket_answer`: a Socket Mode connection check for /readyz, as Socket Mode has."""
    stack = contextlib.AsyncExitStack()
    http = await stack.enter_async_context(httpx.AsyncClient(timeout=httpx.Timeout(WAIT), trust_env=False))

    async def start(*, timeout: float = 3.0, socket_answer: Callable[[], Awaitable[str | None]] | None = None,
                    **overrides: Any) -> Ops:
        settings = settings_for(slack, tmp_path / "data", Settings(
            provider="openai", openai_api_key=image_api.api_key, openai_base_url=image_api.openai_base_url),
            **overrides)
        bot = Imagebot.build(settings, provider=ImageAPI(
            http, OpenAITarget(settings.openai_base_url, image_api.api_key), sleep=sleeps))
        stack.push_async_callback(bot.stop, 1.0)
        ops = Ops(url="", services=bot.services, http=http)
        await bot.start(host="127.0.0.1", port=0, ops=("127.0.0.1", 0), slack_check=lambda: ops.slack_answer(),
                        socket_check=socket_answer, ops_timeout=timeout)
        slack.app_request_url = f"http://127.0.0.1:{bot.port}{EVENTS_PATH}"
        ops.url, ops.main_url = f"http://127.0.0.1:{bot.ops_port}", f"http://127.0.0.1:{bot.port}"
        return ops

    async with stack:
        yield start


@pytest.fixture
async def ops(ops_factory: OpsFactory) -> Ops:
    return await ops_factory()


# /healthz and /readyz ----------------------------------------------------------------------------------------
async def test_healthz_answers_ok_even_when_dependencies_are_down(ops: Ops) -> None:
    async def slack_down() -> str:
        return "invalid_auth"

    ops.slack_answer = slack_down
    response = await ops.get("/healthz")
    assert (response.status_code, response.text) == (200, "ok")
    assert (await ops.get("/readyz")).status_code == 503


async def test_readyz_and_metrics_are_only_on_the_ops_address_and_healthz_on_both(ops: Ops) -> None:
    for path, status in (("/healthz", 200), ("/readyz", 404), ("/metrics", 404)):  # the port Slack reaches
        assert (await ops.http.get(ops.main_url + path)).status_code == status, path
    for path in ("/healthz", "/readyz", "/metrics"):
        assert (await ops.get(path)).status_code == 200, path
    assert (await ops.get(EVENTS_PATH)).status_code == 404  # and Slack's paths are not on the ops address


async def test_readyz_names_the_socket_mode_connection(ops_factory: OpsFactory) -> None:
    state: dict[str, str | None] = {"answer": None}

    async def socket() -> str | None:
        return state["answer"]

    ops = await ops_factory(socket_answer=socket)
    response = await ops.get("/readyz")
    assert response.status_code == 200 and response.json()["checks"]["socket"] == "ok"
    state["answer"] = "not connected since 2026-12-06T22:00:00Z (ClientConnectorError: Cannot connect to host)"
    response = await ops.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "not ready", "checks": {
        "database": "ok", "slack": "ok", "socket": state["answer"], "jobs": "ok"}}
    assert (await ops.get("/healthz")).text == "ok"  # alive all the same: a restart would not bring Slack back


async def test_readyz_is_200_with_each_check_when_all_is_well(ops: Ops) -> None:
    response = await ops.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "slack": "ok", "jobs": "ok"}}


async def test_readyz_is_503_naming_slack_when_its_check_fails_hangs_or_raises(slack: SlackStandIn,
                                                                               ops_factory: OpsFactory) -> None:
    ops = await ops_factory(timeout=0.2)

    async def refused() -> str:
        return "auth.test: invalid_auth"

    async def hangs() -> str | None:
        await asyncio.Event().wait()  # never set: the probe's own bound must answer
        return None

    async def raises() -> str | None:
        raise ConnectionError(f"could not reach Slack with {slack.bot_token}")

    ops.slack_answer = refused
    response = await ops.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    # The short bound is the database check's too: a real write that a busy machine may not finish within 0.2 s.
    # What the database says is test_readyz_is_200_with_each_check_when_all_is_well's business; here either is fine.
    assert body["checks"].pop("database") in ("ok", "no answer within 0.2 s")
    assert body == {"status": "not ready", "checks": {"slack": "auth.test: invalid_auth", "jobs": "ok"}}
    ops.slack_answer = hangs
    response = await ops.get("/readyz")
    assert response.status_code == 503 and response.json()["checks"]["slack"] == "no answer within 0.2 s"
    ops.slack_answer = raises
    response = await ops.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["slack"] == "ConnectionError: could not reach Slack with [redacted]"
    assert slack.bot_token not in response.text


async def test_readyz_is_503_while_another_writer_holds_the_database_and_recovers_after(ops_factory: OpsFactory,
                                                                                       tmp_path: Path) -> None:
    ops = await ops_factory(timeout=0.3)
    # Another process (a second imagebot on the same data folder, a backup tool) holds the write lock.
    other = sqlite3.connect(tmp_path / "data" / "imagebot.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        response = await ops.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"] == {"database": "no answer within 0.3 s", "slack": "ok", "jobs": "ok"}
    finally:
        other.execute("ROLLBACK")
        other.close()
    for _ in range(int(WAIT * 10)):  # until the db thread is through the probe stuck behind the lock
        if (response := await ops.get("/readyz")).status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert response.status_code == 200
    rows = await ops.services.db(lambda: list(ops.services.db.store.db.query(
        "SELECT * FROM report_runs WHERE schedule = 'readyz'")))
    assert rows == []  # the probe's write was rolled back


async def test_readyz_is_503_once_shutdown_has_begun(ops: Ops) -> None:
    await ops.services.jobs.shutdown(0)
    response = await ops.get("/readyz")
    assert response.status_code == 503 and response.json()["checks"]["jobs"] == "shutting down"


# /metrics ----------------------------------------------------------------------------------------------------
async def test_metrics_count_requests_latency_and_spend_after_real_requests(
        slack: SlackStandIn, image_api: ImageAPIStandIn, ops: Ops) -> None:
    response = await ops.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert await ops.metric("imagebot_requests_total", kind="generate", status="done") is None

    assert (await slack.send_command(ALICE, CHANNEL, "a lighthouse at dusk")).status == 200
    await ops.settle(slack)
    image_api.auth_error(times=1)
    assert (await slack.send_command(ALICE, CHANNEL, "a fox")).status == 200
    await ops.settle(slack)

    assert await ops.metric("imagebot_requests_total", kind="generate", status="done") == 1
    assert await ops.metric("imagebot_requests_total", kind="generate", status="failed") == 1
    call = {"provider": "openai", "model": default_model(), "kind": "generate"}
    assert await ops.metric("imagebot_image_api_latency_seconds_count", **call, outcome="ok") == 1
    assert await ops.metric("imagebot_image_api_latency_seconds_count", **call, outcome="error") == 1
    assert await ops.metric("imagebot_image_api_latency_seconds_bucket", **call, outcome="ok", le="+Inf") == 1
    [billed] = [row for row in await ops.services.db(ops.services.db.store.ledger_rows) if row["status"] == "ok"]
    tokens = Usage(**{kind: billed[kind] or 0 for kind in ("input_text_tokens", "input_image_tokens",
                                                            "output_image_tokens", "output_text_tokens")})
    assert billed["cost_micro"] == priced(default_model()).cost(tokens) > 0  # the catalogue's price, its tokens
    spend = await ops.metric("imagebot_spend_dollars_total", provider="openai", model=default_model())
    assert spend == pytest.approx(billed["cost_micro"] / 1_000_000)
    assert await ops.metric("imagebot_queue_depth") == 0


async def test_metrics_show_the_queue_depth_and_running_jobs_at_scrape_time(
        slack: SlackStandIn, image_api: ImageAPIStandIn, ops_factory: OpsFactory) -> None:
    ops = await ops_factory(max_concurrent=1, max_concurrent_per_user=10)
    image_api.pause()
    try:
        await slack.send_command(ALICE, CHANNEL, "first")
        await image_api.wait_for_waiting(1, timeout=WAIT)
        await slack.send_command(ALICE, CHANNEL, "second")
        await slack.wait_for(lambda: ops.services.jobs.waiting == 1, timeout=WAIT)
        assert await ops.metric("imagebot_queue_depth") == 1
        assert await ops.metric("imagebot_jobs_running") == 1
    finally:
        image_api.resume()
    await ops.settle(slack)
    assert await ops.metric("imagebot_queue_depth") == 0 and await ops.metric("imagebot_jobs_running") == 0


async def test_metrics_speak_openmetrics_when_the_scraper_asks(ops: Ops) -> None:
    response = await ops.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


def test_each_metrics_instance_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()  # the global registry would refuse the second set of names
    first.requests.labels("generate", "done").inc()
    assert first.registry.get_sample_value("imagebot_requests_total", {"kind": "generate", "status": "done"}) == 1
    assert second.registry.get_sample_value("imagebot_requests_total", {"kind": "generate", "status": "done"}) is None


# the request log line ----------------------------------------------------------------------------------------
def request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "imagebot.requests"]


async def test_each_request_leaves_exactly_one_log_line_with_its_fields(
        slack: SlackStandIn, ops: Ops, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="imagebot.requests")
    assert (await slack.send_command(ALICE, CHANNEL, "a lighthouse at dusk")).status == 200
    await ops.settle(slack)

    [line] = request_lines(caplog)
    [job] = await ops.services.db(ops.services.db.store.jobs_with_status, "done")
    [ledger] = await ops.services.db(ops.services.db.store.ledger_rows)
    fields = {name: getattr(line, name) for name in REQUEST_FIELDS}
    assert fields["latency_ms"] >= fields["api_ms"] >= 0
    assert fields == {
        "request_id": job.id, "slack_id": job.dedupe_key, "team": slack.team_id, "user": ALICE, "channel": CHANNEL,
        "kind": "generate", "provider": "openai", "model": default_model(), "status": "done", "error": None,
        "latency_ms": fields["latency_ms"], "api_calls": 1, "api_ms": ledger["latency_ms"],
        "cost_micro": ledger["cost_micro"], "cost": fields["cost"],
    }
    assert fields["cost"].startswith("$") and job.dedupe_key.startswith("command:")
    text = line.getMessage()  # the text format's line: the same fields as key=value
    assert text.startswith(f"request request_id={job.id} slack_id={job.dedupe_key} ")
    assert "status=done error=- " in text and f"cost_micro={ledger['cost_micro']} " in text
    assert "a lighthouse" not in text  # prompts are not logged


async def test_a_refused_request_leaves_one_line_too(slack: SlackStandIn, ops_factory: OpsFactory,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    ops = await ops_factory(user_requests_per_minute=1)
    caplog.set_level(logging.INFO, logger="imagebot.requests")
    for prompt in ("one", "two"):
        assert (await slack.send_command(ALICE, CHANNEL, prompt)).status == 200
        await ops.settle(slack)
    assert [(r.status, r.request_id) for r in request_lines(caplog)] == [("done", 1), ("rate_limited", None)]
    assert await ops.metric("imagebot_requests_total", kind="generate", status="rate_limited") == 1


async def test_json_logs_carry_the_request_fields_as_keys(slack: SlackStandIn, ops: Ops) -> None:
    stream = io.StringIO()
    handler = log_handler("json", stream)
    logger = logging.getLogger("imagebot.requests")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        assert (await slack.send_command(ALICE, CHANNEL, "a lighthouse at dusk")).status == 200
        await ops.settle(slack)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    [entry] = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert set(entry) >= REQUEST_FIELDS
    assert {k: entry[k] for k in ("level", "logger", "kind", "status", "user", "model")} == {
        "level": "INFO", "logger": "imagebot.requests", "kind": "generate", "status": "done", "user": ALICE,
        "model": default_model()}
    assert isinstance(entry["cost_micro"], int) and entry["cost_micro"] > 0 and entry["error"] is None
