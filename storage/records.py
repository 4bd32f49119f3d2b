"""What storage takes and hands back: its rows as typed records, and the one way a row writes a time."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from storage import spend


def ledger_time(moment: datetime) -> str:
    """An aware datetime as storage writes times (created_at, pruned_at…): UTC, milliseconds, "+00:00".

    Same width, same offset, so string order is time order and the strings can bound an index range.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("ledger times need an aware datetime; a naive one has no place on the clock")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def utcnow() -> str:
    return ledger_time(datetime.now(UTC))


@dataclass(frozen=True)
class ThreadKey:
    team_id: str
    channel_id: str
    thread_ts: str


@dataclass(frozen=True)
class PostedFile:
    """A Slack file that shows a stored image in a thread: `kind` is "image" (the file as the API made it),
    "preview" (the PNG beside an SVG) or "upload" (a user's own file that became a version); `drawn`: whether
    Slack draws it in an image block (PNG, JPEG, GIF)."""

    image_id: str
    file_id: str
    kind: str
    drawn: bool


@dataclass(frozen=True)
class ImageRecord:
    id: str
    path: str
    bytes: int
    format: str
    width: int | None
    height: int | None
    origin: str
    parent_id: str | None
    pruned_at: str | None = None  # when IMAGEBOT_RETENTION_DAYS removed its file (the row is kept)


@dataclass(frozen=True)
class ThreadRecord:
    key: ThreadKey
    created_by: str | None
    prompt: str | None
    last_image_id: str | None


@dataclass(frozen=True)
class Spend:
    micro: int  # sum of the calls whose cost is known, and of those that may have been billed, at estimate
    calls: int
    unknown: int  # calls whose price was unknown (not in `micro`)
    estimated: spend.Estimated = field(default_factory=spend.Estimated)  # the part of `micro` that is estimates


@dataclass(frozen=True)
class ThreadFacts:
    """What a delivered call's footnote reads from the thread, in one trip: what the thread has cost, each new
    image's version label, the label of the image an edit started from, the label the next edit starts from."""
    spend: Spend
    labels: tuple[str | None, ...]
    base_label: str | None
    next_edit: str | None


@dataclass(frozen=True)
class JobRecord:
    id: int
    dedupe_key: str
    kind: str
    status: str
    team_id: str
    channel_id: str
    user_id: str
    thread_ts: str | None
    message_ts: str | None
    response_url: str | None
    payload: dict[str, Any]
    result: dict[str, Any] | None
    error_code: str | None
    retry_of: int | None
    created_at: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> JobRecord:
        return cls(
            id=row["id"], dedupe_key=row["dedupe_key"], kind=row["kind"], status=row["status"],
            team_id=row["team_id"], channel_id=row["channel_id"], user_id=row["user_id"],
            thread_ts=row["thread_ts"], message_ts=row["message_ts"], response_url=row["response_url"],
            payload=json.loads(row["payload"] or "{}"),
            result=json.loads(row["result"]) if row["result"] else None,
            error_code=row["error_code"], retry_of=row["retry_of"], created_at=row["created_at"],
        )


@dataclass(frozen=True)
class BatchRecord:
    """One `/image batch` (storage/batches.py)."""

    id: int
    team_id: str
    channel_id: str
    thread_ts: str | None
    user_id: str
    model: str
    status: str
    requests: list[dict[str, Any]]
    estimate_micro: int | None
    remote_id: str | None
    remote_status: str | None
    output_file_id: str | None
    error_file_id: str | None
    poll_seconds: float | None
    next_poll_at: str | None
    cancel_requested: bool
    summary: dict[str, Any] | None
    created_at: str = ""

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> BatchRecord:
        return cls(
            id=row["id"], team_id=row["team_id"], channel_id=row["channel_id"], thread_ts=row["thread_ts"],
            user_id=row["user_id"], model=row["model"], status=row["status"],
            requests=json.loads(row["requests"] or "[]"), estimate_micro=row["estimate_micro"],
            remote_id=row["remote_id"], remote_status=row["remote_status"], output_file_id=row["output_file_id"],
            error_file_id=row["error_file_id"], poll_seconds=row["poll_seconds"], next_poll_at=row["next_poll_at"],
            cancel_requested=bool(row["cancel_requested"]),
            summary=json.loads(row["summary"]) if row["summary"] else None, created_at=row["created_at"] or "")

    @property
    def key(self) -> ThreadKey | None:
        return ThreadKey(self.team_id, self.channel_id, self.thread_ts) if self.thread_ts else None


@dataclass
class LedgerEntry:
    key: ThreadKey
    user_id: str
    kind: str
    provider: str
    model: str
    size: str
    quality: str
    n: int
    prompt: str
    input_images: int = 0
    input_text_tokens: int | None = None
    input_image_tokens: int | None = None
    output_image_tokens: int | None = None
    output_text_tokens: int | None = None
    cost_micro: int | None = None
    status: str = "ok"
    error_code: str | None = None
    error_message: str | None = None
    latency_ms: int | None = None
    request_id: str | None = None
    image_ids: tuple[str, ...] = ()
    job_id: int | None = None
    # What the call was estimated to cost, written with the row before the call. Kept on an error row only while
    # the API may have billed it (spend then counts it at this figure); None for a refusal.
    estimate_micro: int | None = None


@dataclass(frozen=True)
class RecentImage:
    """One successful image API call of a user, as their App Home lists it."""

    created_at: str  # ledger time (ISO UTC)
    channel_id: str
    thread_ts: str
    kind: str  # generate | edit
    provider: str
    model: str
    size: str
    quality: str
    prompt: str
    images: int
    cost_micro: int | None
    versions: tuple[str, ...]  # the thread's labels for what the call made (v3, or v3a, v3b…)
