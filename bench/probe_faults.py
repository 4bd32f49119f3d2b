"""Scripted image API faults: one /image per fault, each on a fresh imagebot and a fresh image API stand-in, so a
fault left queued (or a call still hanging) in one case cannot leak into the next.

A case holds when the request ended in an image or a message to its user, nothing was uploaded twice, the card
does not claim an image that never came, and the ledger has a row for every attempt the provider may have billed
(an answered 200, whatever its body, and a call that never got an answer). Returns a summary row, then one row per
case that broke.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.probe_harness import (
    ACTIVE,
    ALICE,
    CHANNEL,
    Row,
    bot_replies,
    card_text,
    cards,
    files_in,
    rows,
    until,
    world,
)
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn

DEADLINE = 20  # IMAGEBOT_REQUEST_TIMEOUT_SECONDS for these cases (its minimum is 10)
CAP = 75.0  # seconds a case may take to end in an image or a message
HUGE_MB = {"all": 400, "quick": 100, "smoke": 100}
# What the stand-in cannot act out (the probe says so instead of pretending).
NOT_EMULATED = ("a connection reset (RST) mid-answer", "an answer trickling in byte by byte")


@dataclass(frozen=True)
class Case:
    name: str
    queue: Callable[[ImageAPIStandIn], None]
    needs: str = ""  # a stand-in method the case needs (newer stand-ins have more faults)
    slow: bool = False  # left out of --quick


def _json_200(body: dict[str, Any]) -> Callable[[ImageAPIStandIn], None]:
    return lambda api: api.queue_error(200, body)


def cases(size: str) -> list[Case]:
    huge = HUGE_MB[size]
    every = 10  # more than any retry budget
    found = [
        Case("500, then an answer", lambda api: api.server_error(500)),
        Case("502, then an answer", lambda api: api.server_error(502)),
        Case("503, then an answer", lambda api: api.server_error(503)),
        Case("500 every time", lambda api: api.server_error(500, times=every)),
        Case("429 Retry-After 1, then an answer", lambda api: api.rate_limit(1)),
        Case("429 without Retry-After, then an answer", lambda api: api.rate_limit(None)),
        Case("429 Retry-After 1 every time", lambda api: api.rate_limit(1, times=every)),
        Case("429 Retry-After 3600", lambda api: api.rate_limit(3600)),
        Case("429 insufficient_quota", lambda api: api.quota_exhausted()),
        Case("401 (a revoked key)", lambda api: api.auth_error()),
        Case("403 organisation not verified", lambda api: api.org_not_verified()),
        Case("400 moderation_blocked", lambda api: api.moderation_blocked(stage="input")),
        Case("400 invalid_request_error", lambda api: api.queue_error(400, {"error": {
            "message": "Invalid value for 'size'.", "type": "invalid_request_error", "param": "size",
            "code": "invalid_value"}})),
        Case("200, not JSON (an HTML page)", lambda api: api.garbage()),
        Case("200, empty data", _json_200({"created": int(time.time()), "data": []})),
        Case("200, bad base64", _json_200({"created": int(time.time()), "data": [{"b64_json": "!!not base64!!"}]})),
        Case("200, base64 of no image", _json_200({"created": int(time.time()), "data": [
            {"b64_json": base64.b64encode(b"hello, not a picture").decode()}]})),
        Case("answer dropped mid-body", lambda api: api.break_off(4096), needs="break_off"),
        Case(f"a {huge} MB answer", lambda api: api.huge_answer(huge), needs="huge_answer"),
        Case("a hang, then an answer", lambda api: api.hang(), slow=True),
        Case("three hangs in a row", lambda api: api.hang(times=3)),
    ]
    if size == "smoke":
        return [found[0], found[13]]
    return [c for c in found if size == "all" or not c.slow]


@dataclass
class Outcome:
    case: str
    ack: int
    images: int = 0
    repeats: int = 0
    told: bool = False
    claims_image: bool = False  # the card or a status says an image came when none did
    status: str = "?"
    attempts: int = 0
    billable: int = 0
    ledger: int = 0
    seconds: float = 0.0
    peak_mb: float | None = None

    @property
    def held(self) -> bool:
        return (bool(self.images) or self.told) and not self.repeats and not self.claims_image and \
            self.ledger >= self.billable

    def broke(self) -> str:
        problems = []
        if not (self.images or self.told):
            problems.append(f"no image and no message after {self.seconds:.0f} s (job {self.status})")
        if self.repeats:
            problems.append(f"{self.repeats} duplicate upload(s)")
        if self.claims_image:
            problems.append("the card says an image came; none did")
        if self.ledger < self.billable:
            problems.append(f"{self.billable} billable attempt(s), {self.ledger} ledger row(s)")
        return "; ".join(problems)


async def api_faults(root: Path, size: str) -> list[Row]:
    planned = cases(size)
    supported = [c for c in planned if not c.needs or hasattr(ImageAPIStandIn, c.needs)]
    missing = [c.name for c in planned if c not in supported]
    outcomes = [await _one(root / f"case{i}", case) for i, case in enumerate(supported)]
    broken = [o for o in outcomes if not o.held]
    attempts, billable, ledger = (sum(getattr(o, k) for o in outcomes) for k in ("attempts", "billable", "ledger"))
    peak = max((o.peak_mb for o in outcomes if o.peak_mb), default=None)
    images = sum(1 for o in outcomes if o.images)
    messages = sum(1 for o in outcomes if o.told and not o.images)
    longest = max(o.seconds for o in outcomes)
    what = (f"{images} ended in an image, {messages} in a message; {len(broken)} broke; {attempts} API calls, "
            f"{billable} billable, {ledger} ledger rows; duplicates {sum(o.repeats for o in outcomes)}; longest "
            f"{longest:.0f} s (deadline {DEADLINE} s)")
    if peak:
        what += f"; peak RSS {peak:.0f} MB"
    not_run = [*missing, *NOT_EMULATED]
    what += f"; not emulated by the stand-in: {', '.join(not_run)}"
    table = [Row.judged("scripted image API faults", len(outcomes), not broken, what)]
    table += [Row("  api fault: " + o.case, 1, "no", o.broke()) for o in broken]
    return table


async def _one(root: Path, case: Case) -> Outcome:
    async with world(root, IMAGEBOT_REQUEST_TIMEOUT_SECONDS=str(DEADLINE)) as (slack, api, bot):
        case.queue(api)
        started = time.monotonic()
        delivery = await slack.send_command(ALICE, CHANNEL, f"{case.name}: a lighthouse")
        outcome = Outcome(case.name, delivery.status)
        if delivery.response_text.strip():
            outcome.told = True  # refused in the ack, before any call
        job = await until(lambda: _job(bot.data_dir, terminal=True), CAP, every=0.1)
        await slack.drain()
        outcome.seconds = time.monotonic() - started
        outcome.peak_mb = bot.peak_rss_mb()
        _read(outcome, slack, api, bot.data_dir, job or _job(bot.data_dir, terminal=False))
    return outcome


def _job(data: Path, *, terminal: bool) -> dict[str, Any] | None:
    where = " WHERE status NOT IN ('queued', 'running')" if terminal else ""
    found = rows(data, f"SELECT id, status, thread_ts FROM jobs{where} ORDER BY id LIMIT 1")
    return found[0] if found else None


def _read(outcome: Outcome, slack: SlackStandIn, api: ImageAPIStandIn, data: Path, job: dict[str, Any] | None) -> None:
    calls = [r for r in api.requests if r.operation in ("generations", "edits")]
    outcome.attempts = len(calls)
    outcome.billable = sum(1 for r in calls if r.status in (0, 200))  # answered, or never answered: may be billed
    if job is None:
        return
    outcome.status = job["status"]
    outcome.ledger = int(rows(data, "SELECT count(*) AS n FROM ledger WHERE job_id = ?", job["id"])[0]["n"])
    if job["status"] in ACTIVE:
        return  # still at it when the cap came: its "Working… N s" replies are no answer
    if job["thread_ts"]:
        outcome.images, outcome.repeats = files_in(slack, job["thread_ts"])
        replies = bot_replies(slack, job["thread_ts"])
        card = next((c for c in cards(slack) if c["ts"] == job["thread_ts"]), None)
        said = "\n".join([card_text(card) if card else "", *(card_text(m) for m in replies)])
        outcome.told = outcome.told or bool(replies) or _card_says_failed(said)
        outcome.claims_image = not outcome.images and any(w in said for w in ("image is below", "in the thread",
                                                                                ":white_check_mark: Done"))
    outcome.told = outcome.told or bool(slack.ephemerals(user_id=ALICE))


def _card_says_failed(text: str) -> bool:
    return any(word in text.lower() for word in (":warning:", ":x:", "failed", "could not", "did not", "try again"))
