"""The parsers Settings.from_env reads each variable with (bot/settings.py): whole numbers, ports, dollar amounts,
Slack ids, URLs, files, the log level and format, the report schedule, a time zone, and the `.env` format.

Each takes `get` (a variable's trimmed value, None when unset) and the variable's name, and raises SettingsError
naming it. The names themselves are written where they are read, in bot/settings.py, next to the list of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import SettingsError
from bot.money.pricing import parse_usd

Get = Callable[[str], str | None]

SCHEDULE_RE = re.compile(r"^(daily|weekly (mon|tue|wed|thu|fri|sat|sun)) ([01][0-9]|2[0-3]):([0-5][0-9])$")


def whole_number(get: Get, name: str, default: int, *, minimum: int = 1) -> int:
    raw = get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", raw) or int(raw) < minimum:
        raise SettingsError(name, f"must be a whole number ≥ {minimum} (got {raw!r})")
    return int(raw)


def optional_whole_number(get: Get, name: str, *, minimum: int = 1) -> int | None:
    """A whole number, or None when unset."""
    return whole_number(get, name, 0, minimum=minimum) if get(name) else None


def port(get: Get, name: str, default: int) -> int:
    number = whole_number(get, name, default, minimum=0)
    if number > 65535:
        raise SettingsError(name, f"must be a TCP port, 0 to 65535 (got {number})")
    return number


def channel_ids(get: Get, name: str) -> frozenset[str]:
    ids = frozenset(c.strip() for c in (get(name) or "").split(",") if c.strip())
    for channel in ids:
        if not re.fullmatch(r"[CGD][A-Z0-9]{2,}", channel):
            raise SettingsError(name, f"{channel!r} is not a Slack channel id (like C012ABCDEF)")
    return ids


def user_ids(get: Get, name: str) -> tuple[str, ...]:
    ids = tuple(a.strip() for a in (get(name) or "").split(",") if a.strip())
    for user in ids:
        if not re.fullmatch(r"[UW][A-Z0-9]{2,}", user):
            raise SettingsError(name, f"{user!r} is not a Slack user id (like U012ABCDEF)")
    return ids


def usd(get: Get, name: str, default: int | None = None) -> int | None:
    """A dollar amount such as 25 or 12.50, as micro-dollars; unset means `default`, "none" means no budget."""
    raw = get(name)
    if raw is None:
        return default
    try:
        return parse_usd(raw)
    except ValueError:
        raise SettingsError(name, f"must be an amount in US dollars such as 25 or 12.50 (got {raw!r})") from None


def data_file(get: Get, name: str) -> Path | None:
    """The path of a file that must exist, or None when unset."""
    raw = get(name)
    path = Path(raw) if raw else None
    if path is not None and not path.is_file():
        raise SettingsError(name, f"file not found: {path}")
    return path


def log_level(get: Get, name: str) -> str:
    level = (get(name) or "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise SettingsError(name, f"must be DEBUG, INFO, WARNING or ERROR (got {level!r})")
    return level


def log_format(get: Get, name: str) -> str:
    fmt = (get(name) or "text").lower()
    if fmt not in ("text", "json"):
        raise SettingsError(name, f"must be text or json (got {fmt!r})")
    return fmt


def report_channel(get: Get, name: str) -> str | None:
    channel = get(name)
    if channel is not None and not re.fullmatch(r"[CG][A-Z0-9]{2,}", channel):
        raise SettingsError(name, f"{channel!r} is not a Slack channel id (like C012ABCDEF)")
    return channel


def schedule(get: Get, name: str, *, channel: str) -> str | None:
    """A report schedule, 'daily 09:00' or 'weekly mon 09:00', which needs the variable `channel` set too."""
    value = get(name)
    if value is None:
        return None
    value = " ".join(value.lower().split())
    if not SCHEDULE_RE.match(value):
        raise SettingsError(name, f"must be like 'daily 09:00' or 'weekly mon 09:00' (got {value!r})")
    if not get(channel):
        raise SettingsError(channel, f"is required when {name} is set")
    return value


def timezone(get: Get, name: str) -> str:
    zone = get(name) or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError(name, f"{zone!r} is not an IANA time zone such as Europe/Berlin") from exc
    return zone


def url(value: str, name: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(name, f"must be an http(s) URL (got {value!r})")
    return value


def optional_url(get: Get, name: str) -> str | None:
    """An http(s) URL, or None when unset."""
    value = get(name)
    return url(value, name) if value else None


def parse_dotenv(text: str) -> dict[str, str]:
    """Parse the common `.env` subset: KEY=value lines, `export` prefixes, quotes, # comments."""
    result: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            continue
        value = value.strip()
        if value[:1] in ("'", '"') and value.find(value[0], 1) > 0:
            value = value[1 : value.find(value[0], 1)]  # what follows the closing quote is a comment
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        result[key] = value
    return result
