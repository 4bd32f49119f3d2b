"""Spend reports: which window a report covers, what it says, its chart and its CSV. No SQL here.

    /image-admin report [today|7d|30d|month|YYYY-MM] [#channel|@user]

Time. The ledger stores UTC; people think in local days. A window is made of local midnights in the
workspace's time zone (the `timezone` setting), turned into the ledger's UTC strings by `storage.store.ledger_time`.
SQLite cannot shift a timestamp by a DST-aware zone, so spend comes back per UTC hour (storage/spend.py)
and is put into local days here; a day is 23 or 25 hours long when the clocks change, and zones whose
offset is not whole hours (Asia/Kolkata, Asia/Kathmandu) get half- or quarter-hour slots, so that no
slot straddles a local midnight.

Windows: today, and the last 7 or 30 days, are whole local days ending today (so every bar in the chart
is a whole day), up to now; `month` is this calendar month up to now; YYYY-MM is that month (up to now,
if it is this month).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw, ImageFont
from sqlite_utils import Database

from bot.errors import InvalidOption
from bot.money.billing import estimated_note
from bot.money.pricing import MICRO, format_usd
from storage import spend as queries
from storage.records import ledger_time
from storage.spend import Row, Scope, Totals

WINDOW_FORMS = "today, 7d, 30d, month or a month as YYYY-MM (e.g. 2026-11)"
TOP = 10  # users and channels listed in a report

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


# time -----------------------------------------------------------------------------------------------------


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    # Local midnight exists everywhere but in a few zones whose clocks jump at 00:00; there zoneinfo gives
    # the pre-transition offset, which is the instant the day really starts.
    return datetime.combine(day, time(0), tzinfo=tz)


def report_window(spec: str, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime, str]:
    """(start, end, label) of a report window: aware datetimes in `tz`, start inclusive, end exclusive."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    local_now = now.astimezone(tz)
    today = local_now.date()
    word = spec.strip().lower()
    if word == "today":
        return _midnight(today, tz), local_now, f"today ({today:%a} {today.day} {today:%b})"
    if word in ("7d", "30d"):
        days = int(word[:-1])
        return _midnight(today - timedelta(days=days - 1), tz), local_now, f"the last {days} days"
    if word == "month":
        first = today.replace(day=1)
        return _midnight(first, tz), local_now, f"{first:%B %Y}"
    match = _MONTH_RE.match(word)
    if match:
        year, month = int(match[1]), int(match[2])
        if not (1 <= month <= 12 and year >= 1):
            raise InvalidOption(f"{spec.strip()!r} is not a month. Valid: {WINDOW_FORMS}.", option="window")
        first = date(year, month, 1)
        if first > today:
            raise InvalidOption(f"{first:%B %Y} has not started yet. Valid: {WINDOW_FORMS}.", option="window")
        following = date(year + month // 12, month % 12 + 1, 1)  # a month that has started is before 9999-12
        end = local_now if following > today else _midnight(following, tz)
        return _midnight(first, tz), end, f"{first:%B %Y}"
    problem = f"{spec.strip()!r} is not a report window." if word else "Which window?"
    raise InvalidOption(f"{problem} Valid: {WINDOW_FORMS}.", option="window")


def local_days(start: datetime, end: datetime, tz: ZoneInfo) -> list[date]:
    """Every local day the window [start, end) touches, in order; at least the start's day."""
    first = start.astimezone(tz).date()
    last = (end.astimezone(tz) - timedelta(microseconds=1)).date() if end > start else first
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _slot_minutes(days: list[date], tz: ZoneInfo) -> int:
    """The widest UTC slot (60, 30, 15, 5 or 1 minutes) that no local midnight of these days falls inside."""
    boundaries = [_midnight(d, tz).astimezone(UTC) for d in [*days, days[-1] + timedelta(days=1)]]
    for minutes in (60, 30, 15, 5):
        if all(b.minute % minutes == 0 and b.second == 0 for b in boundaries):
            return minutes
    return 1


def bucket_days(slots: Iterable[tuple[str, int]], days: list[date], tz: ZoneInfo) -> list[tuple[date, int]]:
    """Spend per local day from spend per UTC slot ("2026-10-25T01:00"), every day present, zeros included."""
    totals = dict.fromkeys(days, 0)
    for slot, micro in slots:
        day = datetime.fromisoformat(slot).replace(tzinfo=UTC).astimezone(tz).date()
        # A slot outside the days cannot happen for rows inside the window; keep the money anyway.
        totals[day] = totals.get(day, 0) + micro
    return sorted(totals.items())


# the report -----------------------------------------------------------------------------------------------


@dataclass
class Report:
    team_id: str
    label: str  # "November 2026", "the last 7 days", "today (Sat 21 Nov)"
    start: datetime  # local, inclusive
    end: datetime  # local, exclusive
    timezone: str  # IANA name the days are counted in
    scope: Scope  # the same window as ledger strings, with the channel or user filter
    totals: Totals
    top_users: list[Row]
    top_channels: list[Row]
    by_model: list[Row]
    by_quality: list[Row]
    by_day: list[tuple[date, int]]  # every local day of the window, zeros included

    @property
    def channel_id(self) -> str | None:
        return self.scope.channel_id

    @property
    def user_id(self) -> str | None:
        return self.scope.user_id


def build_report(db: Database, team_id: str, spec: str, now: datetime, tz: ZoneInfo,
                 channel_id: str | None = None, user_id: str | None = None) -> Report:
    start, end, label = report_window(spec, now, tz)
    return build_report_between(db, team_id, start, end, label, tz, channel_id=channel_id, user_id=user_id)


def build_report_between(db: Database, team_id: str, start: datetime, end: datetime, label: str, tz: ZoneInfo,
                         channel_id: str | None = None, user_id: str | None = None) -> Report:
    """A report for an explicit local window [start, end) (scheduled reports: the day or week before)."""
    scope = Scope(team_id=team_id, start=ledger_time(start), end=ledger_time(end), channel_id=channel_id,
                  user_id=user_id)
    days = local_days(start, end, tz)
    slots = queries.spend_by_hour(db, scope, minutes=_slot_minutes(days, tz))
    # Model and quality from one GROUP BY (a dozen groups): each GROUP BY sorts the whole window.
    kinds = queries.breakdowns(db, scope, ("model", "quality"), TOP)
    return Report(
        team_id=team_id, label=label, start=start, end=end, timezone=tz.key, scope=scope,
        totals=queries.totals(db, scope),
        top_users=queries.breakdown(db, scope, "user_id", TOP),
        top_channels=queries.breakdown(db, scope, "channel_id", TOP),
        by_model=kinds["model"],
        by_quality=kinds["quality"],
        by_day=bucket_days(slots, days, tz),
    )


# the chart ------------------------------------------------------------------------------------------------

WIDTH, HEIGHT = 1000, 500
_PLOT = (90, 84, WIDTH - 30, HEIGHT - 62)  # left, top, right, bottom of the bars' area
_INK = (33, 37, 41)
_MUTED = (108, 117, 125)
_GRID = (222, 226, 230)
_BAR = (54, 110, 190)
_NICE = (1, 2, 2.5, 5)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _nice_step(top: int, lines: int = 4) -> int:
    """A round step (1, 2, 2.5 or 5 × 10^k micro-dollars) giving about `lines` gridlines up to `top`."""
    raw = max(top / lines, 1)
    magnitude = 1
    while magnitude * 10 <= raw:
        magnitude *= 10
    for factor in _NICE:
        step = int(factor * magnitude)
        if step >= raw and step > 0:
            return step
    return 10 * magnitude


def _axis_label(micro: int, step: int) -> str:
    # Whole dollars when the step is whole dollars; otherwise the exact amount (format_usd: ≥ 2 decimals).
    if step % MICRO == 0:
        return f"${micro // MICRO:,}"
    return format_usd(micro)


def _bar_label(micro: int) -> str:
    """A bar's amount to the cent (the exact figures are in the message and the CSV)."""
    if micro < MICRO // 100:
        return "< $0.01"
    cents = (micro + MICRO // 200) // (MICRO // 100)
    return format_usd(cents * (MICRO // 100))


def _day_label(day: date, width: float) -> str:
    if width >= 96:
        return f"{day:%a} {day.day} {day:%b}"
    if width >= 52:
        return f"{day:%a} {day.day}"
    return str(day.day)


@dataclass(frozen=True)
class _Fonts:
    title: ImageFont.FreeTypeFont | ImageFont.ImageFont
    text: ImageFont.FreeTypeFont | ImageFont.ImageFont
    small: ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class _Axis:
    """The dollar axis: gridlines every `step` micro-dollars up to `ceiling`, the peak rounded up to a whole step."""

    step: int
    ceiling: int

    @classmethod
    def up_to(cls, peak: int) -> _Axis:
        step = _nice_step(peak) if peak > 0 else MICRO // 4
        return cls(step, step * max(1, -(-peak // step)))

    def y_of(self, micro: int) -> float:
        _, top, _, bottom = _PLOT
        return bottom - (bottom - top) * micro / self.ceiling


def render_chart(report: Report) -> bytes:
    """A PNG bar chart of spend per local day: title, dollar axis with gridlines, day labels, total."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    fonts = _Fonts(title=_font(22), text=_font(14), small=_font(12))
    _draw_heading(draw, report, fonts)
    peak = max((micro for _, micro in report.by_day), default=0)
    axis = _Axis.up_to(peak)
    _draw_grid(draw, axis, fonts)
    _draw_days(draw, report.by_day, axis, fonts)
    if peak == 0:
        left, top, right, bottom = _PLOT
        draw.text(((left + right) / 2, (top + bottom) / 2), "No spend in this period", font=fonts.text,
                  fill=_MUTED, anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=6)
    return out.getvalue()


def _draw_heading(draw: ImageDraw.ImageDraw, report: Report, fonts: _Fonts) -> None:
    """The title and the days' time zone on the left, the total (and what of it was offline) on the right."""
    who = (f" · channel {report.channel_id}" if report.channel_id else "") + (
        f" · user {report.user_id}" if report.user_id else "")
    draw.text((24, 18), f"Spend per day, {report.label}{who}", font=fonts.title, fill=_INK)
    draw.text((24, 48), f"Days in {report.timezone}. Failed calls that were billed are included.",
              font=fonts.small, fill=_MUTED)
    totals = report.totals
    estimated = estimated_note(totals.estimated)
    if estimated:
        draw.text((24, 64), f"The total {estimated}.", font=fonts.small, fill=_MUTED)
    draw.text((WIDTH - 24, 18), f"Total {format_usd(totals.spend_micro)}", font=fonts.title, fill=_INK, anchor="ra")
    if totals.offline_micro:
        draw.text((WIDTH - 24, 48), f"of which {format_usd(totals.offline_micro)} offline, not billed",
                  font=fonts.small, fill=_MUTED, anchor="ra")


def _draw_grid(draw: ImageDraw.ImageDraw, axis: _Axis, fonts: _Fonts) -> None:
    """A gridline and a dollar label at each step, the zero line darker."""
    left, _, right, _ = _PLOT
    for tick in range(0, axis.ceiling + 1, axis.step):
        y = round(axis.y_of(tick))
        draw.line([(left, y), (right, y)], fill=_GRID if tick else _MUTED, width=1)
        draw.text((left - 8, y), _axis_label(tick, axis.step), font=fonts.small, fill=_MUTED, anchor="rm")


def _draw_days(draw: ImageDraw.ImageDraw, by_day: list[tuple[date, int]], axis: _Axis, fonts: _Fonts) -> None:
    """A bar per day with spend (its amount above it in a short window), and the days' labels under the axis."""
    left, _, right, bottom = _PLOT
    count = max(1, len(by_day))
    slot = (right - left) / count
    bar = min(120.0, max(1.0, slot * 0.7))
    label_every = 1
    while slot * label_every < 26:  # two digits and a gap, for windows longer than a month
        label_every += 1
    previous_month = None
    for i, (day, micro) in enumerate(by_day):
        centre = left + slot * (i + 0.5)
        if micro > 0:
            x0 = round(centre - bar / 2)
            y0 = min(round(axis.y_of(micro)), bottom - 2)  # a cent on a $1,000 axis still shows
            draw.rectangle([(x0, y0), (max(x0, round(centre + bar / 2) - 1), bottom - 1)], fill=_BAR)
            if count <= 10:
                draw.text((centre, axis.y_of(micro) - 4), _bar_label(micro), font=fonts.small, fill=_INK,
                          anchor="md")
        if i % label_every == 0:
            draw.text((centre, bottom + 8), _day_label(day, slot), font=fonts.text, fill=_INK, anchor="ma")
        if slot < 96 and (day.month, day.year) != previous_month:
            # Short labels are day numbers: name the month under its first day in the window.
            draw.text((centre, bottom + 28), f"{day:%b}", font=fonts.small, fill=_MUTED, anchor="ma")
        previous_month = (day.month, day.year)


# the CSV --------------------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "id", "created_at", "team_id", "user_id", "channel_id", "thread_ts", "job_id", "kind", "provider", "model",
    "size", "quality", "n", "images", "status", "error_code", "error_message", "cost_micro", "cost_usd",
    "estimate_micro", "input_images", "input_text_tokens", "input_image_tokens", "output_image_tokens",
    "output_text_tokens", "total_tokens", "latency_ms", "request_id", "prompt", "image_ids", "batch_id",
)
_DERIVED = ("images", "cost_usd")
# A cell starting with one of these is a formula (or becomes one) in Excel, LibreOffice or Google Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")


def usd_decimal(micro: int | None) -> str:
    """Exact dollars as a plain decimal ("0.042240") for spreadsheets; "" for an unknown price."""
    if micro is None:
        return ""
    sign = "-" if micro < 0 else ""
    dollars, rest = divmod(abs(micro), MICRO)
    return f"{sign}{dollars}.{rest:06d}"


def _safe(value: Any) -> Any:
    """Neutralise formula injection the way OWASP recommends: a leading ' makes the cell text."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _delivered(row: dict[str, Any]) -> int:
    if row.get("status") != "ok" or not row.get("image_ids"):
        return 0
    return len(json.loads(row["image_ids"]))


def render_csv(db: Database, scope: Scope) -> bytes:
    """Every ledger row of the scope as UTF-8 CSV with a header, oldest first; money in micro-dollars and
    dollars; text cells that a spreadsheet would run as a formula are prefixed with '."""
    out = io.StringIO()
    writer = csv.writer(out)
    columns: list[str] | None = None
    for row in queries.rows(db, scope):
        if columns is None:
            # Columns added to the ledger later are exported too, after the known ones.
            columns = [*CSV_COLUMNS, *(name for name in row if name not in CSV_COLUMNS)]
            writer.writerow(columns)
        full = {**row, "images": _delivered(row), "cost_usd": usd_decimal(row.get("cost_micro"))}
        writer.writerow([_safe(full.get(name)) if name not in _DERIVED else full[name] for name in columns])
    if columns is None:
        writer.writerow(CSV_COLUMNS)
    return out.getvalue().encode("utf-8")
