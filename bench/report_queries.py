"""Report query times over a year of heavy use. Prints figures; asserts nothing.

    .venv/bin/python bench/report_queries.py [--sizes 10000 100000 1000000] [--runs 7] [--tz Europe/Berlin]

For each size, fills a fresh temporary database (storage.db.open_db: WAL, the real schema and indexes) with
that many ledger rows spread over the year before NOW, as a busy workspace makes them: a few hundred users and
tens of channels with a long tail, 4 models, 3 qualities, mostly n=1, ~3 % failures (some billed), a few
unpriced and offline calls, real-looking prompts and image ids; 2 % of rows belong to another workspace. Then
times `build_report` and the budget sums, warm (median of `--runs` runs after one untimed run), and prints
one table row per (rows, query). Without ANALYZE, as a fresh imagebot database is.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.usecases.reports import build_report, report_window
from storage import spend as queries
from storage.db import open_db
from storage.records import ledger_time

NOW = datetime(2026, 11, 21, 19, 44, 39, 679000, tzinfo=UTC)
TEAM, OTHER_TEAM = "T0HEAVY", "T0SMALL"
MODELS = {  # model: (share, micro-dollars per image at low / medium / high)
    "gpt-image-1": (0.30, (11_000, 42_000, 167_000)),
    "gpt-image-1-mini": (0.35, (5_000, 11_000, 36_000)),
    "gpt-image-1.5": (0.20, (9_000, 34_000, 133_000)),
    "gpt-image-2": (0.15, (8_000, 32_000, 125_000)),
}
QUALITIES = (("low", 0.35), ("medium", 0.45), ("high", 0.20))
SUBJECTS = ("a red fox", "a lighthouse", "our team offsite", "a product mockup", "a watercolor city", "a robot",
            "a birthday card", "an isometric office", "a cozy cabin", "a logo sketch", "a mountain lake")
STYLES = ("in the style of a 1970s travel poster", "photorealistic, golden hour", "flat vector illustration",
          "as a pencil sketch", "low-poly 3D render", "on a white background, studio lighting")
ERRORS = (("moderation_blocked", "The safety system refused the prompt."),
          ("rate_limited", "Too many requests."), ("server_error", "The image API did not answer in time."))
COLUMNS = ("created_at", "team_id", "user_id", "channel_id", "thread_ts", "kind", "provider", "model", "size",
           "quality", "n", "prompt", "input_images", "input_text_tokens", "input_image_tokens",
           "output_image_tokens", "output_text_tokens", "total_tokens", "cost_micro", "status", "error_code",
           "error_message", "latency_ms", "request_id", "image_ids", "images", "job_id")


def ledger_rows(count: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """`count` ledger rows in time order over the year before NOW."""
    year = 365 * 24 * 3600
    start = NOW - timedelta(seconds=year)
    offsets = sorted(rng.random() * year for _ in range(count))
    users = [f"U{i:08d}" for i in range(300)]
    user_weights = [1 / (i + 1) ** 0.8 for i in range(len(users))]
    channels = [f"C{i:08d}" for i in range(40)]
    channel_weights = [1 / (i + 1) for i in range(len(channels))]
    models = list(MODELS)
    model_weights = [MODELS[m][0] for m in models]
    prompts = [f"{s} {t}, {rng.randint(2, 9)} variations, warm palette" for s in SUBJECTS for t in STYLES]
    picked_users = rng.choices(users, user_weights, k=count)
    picked_channels = rng.choices(channels, channel_weights, k=count)
    picked_models = rng.choices(models, model_weights, k=count)
    picked_qualities = rng.choices([q for q, _ in QUALITIES], [w for _, w in QUALITIES], k=count)
    for i, offset in enumerate(offsets):
        created = (start + timedelta(seconds=offset)).isoformat(timespec="milliseconds")
        model, quality = picked_models[i], picked_qualities[i]
        n = 1 if rng.random() < 0.8 else rng.randint(2, 4)
        per_image = MODELS[model][1][("low", "medium", "high").index(quality)]
        team = OTHER_TEAM if rng.random() < 0.02 else TEAM
        provider = "offline" if rng.random() < 0.01 else "openai"
        roll = rng.random()
        status, code, message, cost, ids = "ok", None, None, per_image * n + rng.randint(0, 900), n
        if roll < 0.03:
            status, ids = "error", 0
            code, message = ("unreadable_output", "The image API returned an image that cannot be read.") \
                if roll < 0.003 else rng.choice(ERRORS)
            cost = cost if code == "unreadable_output" else None  # billed, then failed
        elif roll < 0.035:
            cost = None  # a model with no published price
        text_in, image_out = rng.randint(20, 120), per_image // 40 * n if cost else None
        image_ids = json.dumps([f"{rng.getrandbits(256):064x}" for _ in range(ids)])
        yield (created, team, picked_users[i], picked_channels[i], f"{1_750_000_000 + i}.{i % 1_000_000:06d}",
               "edit" if rng.random() < 0.25 else "generate", provider, model, "1024x1024", quality, n,
               rng.choice(prompts), 0, text_in, None, image_out, None, text_in + (image_out or 0), cost, status,
               code, message, rng.randint(8_000, 60_000), f"req_{rng.getrandbits(64):016x}", image_ids, ids, i + 1)


def fill(path: Path, count: int, seed: int = 7) -> tuple[float, str, str]:
    """Create the database with `count` rows; (seconds, busiest user, busiest channel) of TEAM."""
    started = time.perf_counter()
    db = open_db(path)
    insert = f"INSERT INTO ledger ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    users: Counter[str] = Counter()
    channels: Counter[str] = Counter()
    batch: list[tuple[Any, ...]] = []
    with db.conn:  # one transaction
        for row in ledger_rows(count, random.Random(seed)):
            if row[1] == TEAM:
                users[row[2]] += 1
                channels[row[3]] += 1
            batch.append(row)
            if len(batch) == 50_000:
                db.conn.executemany(insert, batch)
                batch.clear()
        db.conn.executemany(insert, batch)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return time.perf_counter() - started, users.most_common(1)[0][0], channels.most_common(1)[0][0]


def timed(run: Callable[[], object], runs: int) -> tuple[float, float]:
    """(median, fastest) milliseconds of `runs` runs, after one untimed run that warms the page cache."""
    run()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), min(samples)


def bench(count: int, runs: int, tz: ZoneInfo, folder: Path) -> list[tuple[int, str, tuple[float, float]]]:
    path = folder / f"ledger-{count}.db"
    seconds, user, channel = fill(path, count)
    print(f"# {count:,} rows written in {seconds:.1f} s ({path.stat().st_size / 1e6:.0f} MB)", file=sys.stderr)
    db = open_db(path)
    start, end, _ = report_window("month", NOW, tz)
    month = (ledger_time(start), ledger_time(end))
    cases: list[tuple[str, Callable[[], object]]] = [
        ("build_report 30d", lambda: build_report(db, TEAM, "30d", NOW, tz)),
        ("build_report month", lambda: build_report(db, TEAM, "month", NOW, tz)),
        ("build_report 2026-10", lambda: build_report(db, TEAM, "2026-10", NOW, tz)),
        ("build_report month, one user", lambda: build_report(db, TEAM, "month", NOW, tz, user_id=user)),
        ("build_report month, one channel", lambda: build_report(db, TEAM, "month", NOW, tz, channel_id=channel)),
        ("user_spend month", lambda: queries.user_spend(db, TEAM, user, *month)),
        ("channel_spend month", lambda: queries.channel_spend(db, TEAM, channel, *month)),
        ("workspace_spend month", lambda: queries.workspace_spend(db, TEAM, *month)),
    ]
    results = [(count, name, timed(run, runs)) for name, run in cases]
    db.close()
    path.unlink()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tz", default="Europe/Berlin")
    args = parser.parse_args()
    tz = ZoneInfo(args.tz)
    print(f"# SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}, days in {args.tz}, "
          f"median and fastest of {args.runs} warm runs")
    print(f"{'rows':>10}  {'query':<34} {'median ms':>10} {'min ms':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for count in args.sizes:
            for rows, name, (median, fastest) in bench(count, args.runs, tz, Path(folder)):
                print(f"{rows:>10,}  {name:<34} {median:>10.1f} {fastest:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
