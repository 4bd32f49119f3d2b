"""What admins set from Slack — budget overrides, channel policies, the workspace's report channel — and the
audit of each change; and the claims that make something go out once: a budget alert per period, a scheduled
report per slot.

Functions over the database, taking it first.
"""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from storage.records import utcnow

# budgets, policies, audit -----------------------------------------------------------------------------------


def budget_overrides(db: Database, team_id: str) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM budgets WHERE team_id = ?", [team_id]))


def set_budget(db: Database, team_id: str, scope: str, target: str, period: str, limit_micro: int | None,
               set_by: str) -> None:
    db.table("budgets").upsert({"team_id": team_id, "scope": scope, "target": target, "period": period,
                                "limit_micro": limit_micro, "set_by": set_by, "set_at": utcnow()},
                               pk=("team_id", "scope", "target", "period"))


def get_policy(db: Database, team_id: str, channel_id: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM policies WHERE team_id = ? AND channel_id = ?", [team_id, channel_id]))
    if not rows:
        return None
    row = dict(rows[0])
    row["allowed_models"] = json.loads(row["allowed_models"]) if row["allowed_models"] else None
    return row


def set_policy(db: Database, team_id: str, channel_id: str, *, max_quality: str | None, max_n: int | None,
               allowed_models: list[str] | None, set_by: str) -> None:
    models = json.dumps(allowed_models) if allowed_models else None
    db.table("policies").upsert({"team_id": team_id, "channel_id": channel_id, "max_quality": max_quality,
                                 "max_n": max_n, "allowed_models": models, "set_by": set_by, "set_at": utcnow()},
                                pk=("team_id", "channel_id"))


def audit(db: Database, team_id: str, user_id: str, action: str, details: dict[str, Any]) -> None:
    db.table("audit").insert({"created_at": utcnow(), "team_id": team_id, "user_id": user_id, "action": action,
                              "details": json.dumps(details)})


def team_report_channel(db: Database, team_id: str) -> str | None:
    row = db.execute("SELECT report_channel FROM team_settings WHERE team_id = ?", [team_id]).fetchone()
    return row[0] if row and row[0] else None


def set_team_report_channel(db: Database, team_id: str, channel_id: str | None, set_by: str) -> None:
    with db.atomic():
        db.table("team_settings").upsert({"team_id": team_id, "report_channel": channel_id, "updated_by": set_by,
                                          "updated_at": utcnow()}, pk="team_id")


# sent once: budget alerts, scheduled reports ----------------------------------------------------------------


def record_alert(db: Database, team_id: str, scope: str, target: str, period: str, period_start: str,
                 threshold: int) -> bool:
    """Note that an alert was sent; False if it had been already (each is sent once per period)."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO alerts (team_id, scope, target, period, period_start, threshold, sent_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)", [team_id, scope, target, period, period_start, threshold, utcnow()])
    db.conn.commit()
    return cursor.rowcount == 1


def claim_report_slot(db: Database, schedule: str, slot: str) -> bool:
    """Claim a scheduled report's slot; False if it was claimed (posted) before, by this or an earlier run."""
    cursor = db.execute("INSERT OR IGNORE INTO report_runs (schedule, slot, posted_at) VALUES (?, ?, ?)",
                        [schedule, slot, utcnow()])
    db.conn.commit()
    return cursor.rowcount == 1


def release_report_slot(db: Database, schedule: str, slot: str) -> None:
    """Give a claim back after a post failed, so the next tick tries again."""
    with db.atomic():
        db.execute("DELETE FROM report_runs WHERE schedule = ? AND slot = ?", [schedule, slot])
