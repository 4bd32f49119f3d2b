"""Hostile input, sent to a fresh `imagebot serve --http` per scenario: forged requests, signed malformed ones,
fuzzed /image commands and forged log lines. Each function returns one table row; none asserts."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp

from bench.probe_bodies import (
    FORM,
    JSON,
    command_form,
    event_envelope,
    forged_command,
    fuzz_text,
    interaction,
    malformed_cases,
    message_event,
    signature_cases,
    view_submission,
)
from bench.probe_harness import (
    ACTIVE,
    CHANNEL,
    Row,
    bot_replies,
    files_in,
    post_raw,
    rows,
    settle_jobs,
    signed_headers,
    world,
)
from bot.money.catalogue import Catalogue
from standins.slack import Delivery, SlackStandIn

LOG_PER_REJECTION = 500  # bytes: "a few hundred" per rejected request is the most the probe calls small
T = TypeVar("T")


async def bounded_gather(items: Iterable[T], send: Callable[[T], Awaitable[Any]], at_once: int) -> list[Any]:
    """send(item) for every item, at most `at_once` in flight, results in order."""
    gate = asyncio.Semaphore(at_once)

    async def one(item: T) -> Any:
        async with gate:
            return await send(item)

    return await asyncio.gather(*(one(item) for item in items))


def statuses(found: Iterable[int]) -> str:
    counts = Counter(found)
    return ", ".join(f"{status or 'no answer'}: {n}" for status, n in sorted(counts.items()))


def worst(names: Iterable[str], limit: int = 4) -> str:
    counts = Counter(names)
    return "; ".join(f"{name} ({n})" if n > 1 else name for name, n in counts.most_common(limit))


async def signatures(root: Path) -> Row:
    """Each forged or stale request gets 401 before any parsing, and is logged in a few hundred bytes at most."""
    async with world(root) as (slack, _api, bot), aiohttp.ClientSession() as session:
        cases = signature_cases(slack)
        results = []
        since = bot.log_size
        for name, body, headers in cases:
            before = await bot.settle_log(quiet=0.1, cap=2)
            answer = await post_raw(session, bot.url, body, headers)
            results.append((name, answer.status, await bot.settle_log(quiet=0.1, cap=2) - before))
    grown = sorted(size for _, _, size in results)
    not_401 = [f"{name} -> {status or 'no answer'}" for name, status, _ in results if status != 401]
    server_errors = sum(1 for _, status, _ in results if status >= 500)
    ok = not not_401 and grown[-1] <= LOG_PER_REJECTION
    what = (f"{statuses(s for _, s, _ in results)}; log per rejection: median {grown[len(grown) // 2]} B, "
            f"max {grown[-1]} B; tracebacks {bot.tracebacks(since)}")
    if server_errors or not_401:
        what += f"; not 401: {worst(not_401, 5)}"
    return Row.judged("signature cases", len(results), ok, what)


async def forged_large(root: Path, count: int, size: int = 900_000) -> Row:
    """Forged bodies of `size` bytes: rejected, and the log grows by a short line each, not by the body."""
    rng = random.Random(2)
    async with world(root) as (slack, _api, bot), aiohttp.ClientSession() as session:
        forged = [forged_command(slack, size, rng) for _ in range(count)]
        before = await bot.settle_log()
        started = time.perf_counter()
        answers = await bounded_gather(forged, lambda f: post_raw(session, bot.url, f[0], f[1]), 4)
        seconds = time.perf_counter() - started
        added = await bot.settle_log(quiet=0.3, cap=10) - before
    ok = all(a.status in (401, 413) for a in answers) and added <= count * LOG_PER_REJECTION
    return Row.judged(f"forged bodies of {size // 1000} KB, bad signature", count, ok,
                      f"{statuses(a.status for a in answers)} in {seconds:.1f} s; log +{added:,} B "
                      f"({added // max(count, 1):,} B each); tracebacks {bot.tracebacks(before)}")


async def malformed(root: Path, count: int) -> Row:
    """Signed bodies Slack could not have sent: a 400 (or a 200 with nothing done), never a 500."""
    rng = random.Random(3)
    async with world(root) as (slack, _api, bot), aiohttp.ClientSession() as session:
        cases = malformed_cases(slack, count, rng)
        since = bot.log_size

        async def send(case: tuple[str, bytes, str]) -> tuple[str, int]:
            answer = await post_raw(session, bot.url, case[1], signed_headers(slack.signing_secret, case[1], case[2]))
            return case[0], answer.status

        results = await bounded_gather(cases, send, 8)
        settled = await settle_jobs(bot.data_dir, cap=60)
        jobs = rows(bot.data_dir, "SELECT count(*) AS n FROM jobs")[0]["n"]
        alive = bot.process.returncode is None
        await bot.settle_log()
    failed = [name for name, status in results if status >= 500 or status == 0]
    what = (f"{statuses(s for _, s in results)}; tracebacks {bot.tracebacks(since)}; jobs created {jobs}"
            f"{'' if settled else ' (some still running after 60 s)'}; process {'alive' if alive else 'DEAD'}")
    if failed:
        what += f"; 5xx: {worst(failed)}"
    return Row.judged("malformed signed bodies", len(results), not failed and alive, what)


async def fuzz(root: Path, count: int, seed: int = 13) -> Row:
    """Random /image option soup from `count` users (one command each, so every answer can be traced to its
    command): each gets an ack text, a form, an image or a message, and none a 500."""
    rng = random.Random(seed)
    models = Catalogue.load().ids
    texts = [fuzz_text(rng, models) for _ in range(count)]
    lifted = {"IMAGEBOT_USER_REQUESTS_PER_MINUTE": "100000", "IMAGEBOT_MAX_QUEUE": str(count + 100)}
    async with world(root, **lifted) as (slack, api, bot):
        users = [f"U0FZ{i:05d}" for i in range(count)]
        for user in users:
            slack.add_user(user, user.lower())
        since = bot.log_size
        started = time.perf_counter()
        deliveries = await bounded_gather(range(count), lambda i: slack.send_command(users[i], CHANNEL, texts[i]), 16)
        settled = await settle_jobs(bot.data_dir, cap=60 + count * 0.25)
        await asyncio.wait_for(slack.drain(), 60)
        seconds = time.perf_counter() - started
        outcomes = _fuzz_outcomes(slack, bot.data_dir, users, deliveries)
        tracebacks = bot.tracebacks(since)
    kinds = Counter(kind for kind, _ in outcomes)
    unanswered = kinds["no answer"] + sum(n for kind, n in kinds.items() if kind.startswith("HTTP"))
    duplicates = sum(extra for _, extra in outcomes)
    what = (f"{kinds['image']} made images, {kinds['ack text']} refused or helped in the ack, {kinds['message']} "
            f"told later, {kinds['form']} got the form, {unanswered} unanswered "
            f"({worst(k for k, _ in outcomes if k == 'no answer' or k.startswith('HTTP')) or 'none'}); "
            f"duplicate images {duplicates}; {len(api.requests)} API calls; tracebacks {tracebacks}; {seconds:.0f} s"
            f"{'' if settled else '; jobs still active at the cap'}")
    return Row.judged("fuzzed /image commands", count, unanswered == 0 and duplicates == 0, what)


def _fuzz_outcomes(slack: SlackStandIn, data_dir: Path, users: list[str],
                   deliveries: list[Delivery]) -> list[tuple[str, int]]:
    """Per command: (what the user got, duplicate uploads)."""
    jobs: dict[str, list[dict[str, Any]]] = {}
    # Only jobs that ended: a job still running at the cap has "Working… N s" replies, which answer nothing.
    for job in rows(data_dir, f"SELECT user_id, thread_ts FROM jobs WHERE status NOT IN {ACTIVE}"):
        jobs.setdefault(job["user_id"], []).append(job)
    private = Counter(e["user"] for e in slack.ephemerals())
    forms = {view.get("trigger_id") for view in slack.views}
    found = []
    for user, delivery in zip(users, deliveries, strict=True):
        if delivery.status != 200:
            found.append((f"HTTP {delivery.status or 'no answer'}", 0))
        elif delivery.response_text.strip():
            found.append(("ack text", 0))
        elif delivery.payload.get("trigger_id") in forms:
            found.append(("form", 0))
        else:
            found.append(_job_outcome(slack, jobs.get(user, []), private[user]))
    return found


def _job_outcome(slack: SlackStandIn, jobs: list[dict[str, Any]], private: int) -> tuple[str, int]:
    images = repeats = 0
    replied = False
    for thread in {job["thread_ts"] for job in jobs if job["thread_ts"]}:
        made, repeated = files_in(slack, thread)
        images, repeats = images + made, repeats + repeated
        replied = replied or bool(bot_replies(slack, thread))
    if images:
        return "image", repeats
    return ("message", 0) if replied or private else ("no answer", 0)


async def log_injection(root: Path) -> Row:
    """A newline in a request must not start a log line: forged bodies (unsigned and signed) carrying a fake
    `imagebot.requests … cost=$999.00` line after a newline."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S,000")
    forged = f"{stamp} INFO imagebot.requests: request request_id=forged-13 status=done cost=$999.00"
    carried = f"a lighthouse\n{forged}\nmore"
    async with world(root) as (slack, _api, bot), aiohttp.ClientSession() as session:
        since = bot.log_size
        bodies = _injection_bodies(slack, carried)
        for _name, body, content_type, signed in bodies:
            headers = signed_headers(slack.signing_secret, body, content_type)
            if not signed:
                headers["X-Slack-Signature"] = "v0=" + "0" * 64
            await post_raw(session, bot.url, body, headers)
        await slack.send_command("U0ALICE", CHANNEL, carried)
        await settle_jobs(bot.data_dir, cap=30)
        await bot.settle_log(quiet=0.3)
        lines = bot.log_text(since).splitlines()
    injected = sum(1 for line in lines if line.startswith(forged[:60]))
    mentions = sum(1 for line in lines if "forged-13" in line)
    return Row.judged("log injection (text log format)", len(bodies) + 1, injected == 0,
                      f"{injected} forged line(s) in the log; the forged text appears inside {mentions - injected} "
                      f"other line(s)")


def _injection_bodies(slack: SlackStandIn, carried: str) -> list[tuple[str, bytes, str, bool]]:
    raw_form = f"token=x&team_id=T0STANDIN&user_id=U0ALICE&command=/image&text={carried}".encode()
    event = event_envelope(slack, message_event(carried, thread_ts="1.000001"))
    return [("unsigned raw form", raw_form, FORM, False),
            ("unsigned JSON with a raw newline", ('{"type": "x", "text": "' + carried + '"}').encode(), JSON, False),
            ("signed raw form", raw_form, FORM, True),
            ("signed command, odd user_id", urlencode({**command_form(slack), "user_id": carried}).encode(), FORM,
             True),
            ("signed thread reply", json.dumps(event).encode(), JSON, True),
            ("signed view without state", interaction({**view_submission(slack, "imagebot_image_modal", {}),
                                                       "view": {"callback_id": "imagebot_image_modal",
                                                                "private_metadata": carried}}), FORM, True),
            ("signed JSON, not valid", ('{"type": "event_callback", "x": "' + carried).encode(), JSON, True),
            ("signed payload not an object", interaction(json.dumps(carried)), FORM, True)]
