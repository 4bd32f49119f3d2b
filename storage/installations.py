"""Workspace installs (Slack OAuth v2) in imagebot's own SQLite database, behind slack_sdk's store interfaces.

Bolt's OAuth flow and its per-request `authorize` talk to an `AsyncInstallationStore` and an
`AsyncOAuthStateStore`. slack_sdk ships SQLite versions of both, but they open their own connections to their
own tables and the installation store has no async delete (Bolt's uninstall handling then fails). These keep
everything in the one database, run every statement on the db thread (`io`), and implement deletes.

Rows: `installations` (one per workspace and installing user), `bots` (one per workspace), `oauth_states`.
`enterprise_id` / `team_id` are stored as "" when absent.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from sqlite_utils import Database

T = TypeVar("T")
log = logging.getLogger(__name__)


class Io(Protocol):
    """Runs fn(*args) on the db thread and awaits its answer: bot.runtime.db_thread.DbThread."""

    def __call__(self, fn: Callable[..., T], /, *args: Any) -> Awaitable[T]: ...


def _json(model: Installation | Bot) -> str:
    def plain(key: str, value: Any) -> Any:
        if not isinstance(value, datetime):
            return value
        # slack_sdk reads installed_at back as a float and *_expires_at as a whole number of seconds.
        return int(value.timestamp()) if key.endswith("expires_at") else value.timestamp()

    return json.dumps({k: plain(k, v) for k, v in model.to_dict_for_copying().items()})


# -- synchronous, on the db thread -------------------------------------------------------------------------------

def save_installation(db: Database, installation: Installation) -> None:
    ent, team = installation.enterprise_id or "", installation.team_id or ""
    with db.atomic():
        db.table("installations").upsert({
            "enterprise_id": ent, "team_id": team, "user_id": installation.user_id or "",
            "is_enterprise_install": int(bool(installation.is_enterprise_install)),
            "installed_at": installation.installed_at, "data": _json(installation),
        }, pk=("enterprise_id", "team_id", "user_id"))
        if installation.bot_token:
            _save_bot(db, installation.to_bot())


def save_bot(db: Database, bot: Bot) -> None:
    with db.atomic():
        _save_bot(db, bot)


def _save_bot(db: Database, bot: Bot) -> None:
    db.table("bots").upsert({
        "enterprise_id": bot.enterprise_id or "", "team_id": bot.team_id or "",
        "is_enterprise_install": int(bool(bot.is_enterprise_install)), "installed_at": bot.installed_at,
        "data": _json(bot),
    }, pk=("enterprise_id", "team_id"))


def _where(enterprise_id: str | None, team_id: str | None,
           is_enterprise_install: bool | None) -> tuple[str, dict[str, str]]:
    # An org-wide install is found by its enterprise id alone, whichever workspace of the org the request is from.
    if is_enterprise_install or (enterprise_id and not team_id):
        return "enterprise_id = :ent AND is_enterprise_install = 1", {"ent": enterprise_id or ""}
    return "enterprise_id = :ent AND team_id = :team", {"ent": enterprise_id or "", "team": team_id or ""}


def find_bot(db: Database, enterprise_id: str | None, team_id: str | None,
             is_enterprise_install: bool | None = False) -> Bot | None:
    clause, params = _where(enterprise_id, team_id, is_enterprise_install)
    row = db.execute(f"SELECT data FROM bots WHERE {clause} ORDER BY installed_at DESC LIMIT 1", params).fetchone()
    return Bot(**json.loads(row[0])) if row else None


def find_installation(db: Database, enterprise_id: str | None, team_id: str | None, user_id: str | None = None,
                      is_enterprise_install: bool | None = False) -> Installation | None:
    clause, params = _where(enterprise_id, team_id, is_enterprise_install)
    if user_id is not None:
        clause, params = f"{clause} AND user_id = :user", {**params, "user": user_id}
    row = db.execute(f"SELECT data FROM installations WHERE {clause} ORDER BY installed_at DESC LIMIT 1",
                     params).fetchone()
    return Installation(**json.loads(row[0])) if row else None


def delete_bot(db: Database, enterprise_id: str | None, team_id: str | None) -> None:
    with db.atomic():
        db.execute("DELETE FROM bots WHERE enterprise_id = ? AND team_id = ?", [enterprise_id or "", team_id or ""])


def delete_installation(db: Database, enterprise_id: str | None, team_id: str | None,
                        user_id: str | None = None) -> None:
    """With no user, every install of the workspace and its bot: what uninstalling or revoking means."""
    with db.atomic():
        if user_id is None:
            db.execute("DELETE FROM installations WHERE enterprise_id = ? AND team_id = ?",
                       [enterprise_id or "", team_id or ""])
            db.execute("DELETE FROM bots WHERE enterprise_id = ? AND team_id = ?",
                       [enterprise_id or "", team_id or ""])
        else:
            db.execute("DELETE FROM installations WHERE enterprise_id = ? AND team_id = ? AND user_id = ?",
                       [enterprise_id or "", team_id or "", user_id])


def installed_teams(db: Database) -> list[tuple[str, str]]:
    """(enterprise_id, team_id) of every workspace with a bot installed."""
    return [(row[0], row[1]) for row in db.execute("SELECT enterprise_id, team_id FROM bots ORDER BY team_id")]


def installed_bots(db: Database) -> list[Bot]:
    """The bot of every workspace (or org) with imagebot installed, by team id."""
    return [Bot(**json.loads(row[0])) for row in db.execute("SELECT data FROM bots ORDER BY team_id")]


def issue_state(db: Database, expires_in: float) -> str:
    state = secrets.token_urlsafe(24)
    now = time.time()
    with db.atomic():
        db.execute("DELETE FROM oauth_states WHERE expires_at < ?", [now])
        db.table("oauth_states").insert({"state": state, "expires_at": now + expires_in})
    return state


def consume_state(db: Database, state: str) -> bool:
    """True once for a state that was issued and has not expired; it cannot be used again."""
    with db.atomic():
        cursor = db.execute("DELETE FROM oauth_states WHERE state = ? AND expires_at >= ?", [state, time.time()])
    return cursor.rowcount == 1


# -- the async interfaces Bolt calls ------------------------------------------------------------------------------

class SQLiteInstallationStore(AsyncInstallationStore):
    def __init__(self, db: Database, io: Io) -> None:
        self._db, self._io = db, io

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        await self._io(save_installation, self._db, installation)

    async def async_save_bot(self, bot: Bot) -> None:
        await self._io(save_bot, self._db, bot)

    async def async_find_bot(self, *, enterprise_id: str | None, team_id: str | None,
                             is_enterprise_install: bool | None = False) -> Bot | None:
        return await self._io(find_bot, self._db, enterprise_id, team_id, is_enterprise_install)

    async def async_find_installation(self, *, enterprise_id: str | None, team_id: str | None,
                                      user_id: str | None = None,
                                      is_enterprise_install: bool | None = False) -> Installation | None:
        return await self._io(find_installation, self._db, enterprise_id, team_id, user_id, is_enterprise_install)

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self._io(delete_bot, self._db, enterprise_id, team_id)

    async def async_delete_installation(self, *, enterprise_id: str | None, team_id: str | None,
                                        user_id: str | None = None) -> None:
        await self._io(delete_installation, self._db, enterprise_id, team_id, user_id)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self._io(delete_installation, self._db, enterprise_id, team_id, None)

    async def async_installed_teams(self) -> list[tuple[str, str]]:
        return await self._io(installed_teams, self._db)


class SQLiteOAuthStateStore(AsyncOAuthStateStore):
    def __init__(self, db: Database, io: Io, *, expiration_seconds: float = 600) -> None:
        self._db, self._io, self.expiration_seconds = db, io, expiration_seconds

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        return await self._io(issue_state, self._db, self.expiration_seconds)

    async def async_consume(self, state: str) -> bool:
        return await self._io(consume_state, self._db, state)
