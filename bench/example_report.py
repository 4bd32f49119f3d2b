"""Draw the README's example report chart from a synthetic month of ledger rows (fixed seed, offline).

    .venv/bin/python bench/example_report.py docs/admin-report-chart.png
"""

from __future__ import annotations

import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.usecases.reports import build_report, render_chart
from storage.db import open_db


def main(target: Path) -> None:
    rng = random.Random(2026)
    costs = {("gpt-image-1", "low"): 10_880, ("gpt-image-1", "medium"): 42_240, ("gpt-image-1", "high"): 166_400,
             ("gpt-image-1-mini", "medium"): 11_000}
    with tempfile.TemporaryDirectory() as folder:
        db = open_db(Path(folder) / "example.db")
        start = datetime(2026, 10, 1, tzinfo=UTC)
        rows = []
        for day in range(31):
            weekday = (start + timedelta(days=day)).weekday()
            for _ in range(rng.randint(4, 12) if weekday < 5 else rng.randint(0, 3)):
                (model, quality), cost = rng.choice(list(costs.items()))
                moment = start + timedelta(days=day, minutes=rng.randint(8 * 60, 19 * 60))
                rows.append({"created_at": moment.isoformat(timespec="milliseconds"), "team_id": "T1",
                             "user_id": rng.choice(["U1", "U2", "U3", "U4"]), "channel_id": rng.choice(["C1", "C2"]),
                             "kind": "generate", "provider": "openai", "model": model, "size": "1024x1024",
                             "quality": quality, "n": 1, "prompt": "example", "cost_micro": cost, "status": "ok",
                             "image_ids": '["x"]'})
        db["ledger"].insert_all(rows)
        report = build_report(db, "T1", "2026-10", datetime(2026, 11, 1, tzinfo=UTC), ZoneInfo("UTC"))
        target.write_bytes(render_chart(report))
        db.close()
    print(f"wrote {target} ({len(rows)} synthetic ledger rows, October 2026)")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/admin-report-chart.png"))
