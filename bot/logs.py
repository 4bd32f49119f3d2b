"""Keeping secrets out of the logs, whichever library writes the line.

`install_redaction(secrets)` is called once by the command line, right after settings are read. From then on
every log record, from any logger (imagebot's, Bolt's, slack_sdk's, httpx's, aiohttp's), has each of the
given secrets, and anything shaped like a Slack token (xoxb-…, xoxp-…, xapp-…) or an OpenAI key (sk-…,
including the half-starred "sk-abcd***wxyz" OpenAI echoes back in its 401 answers), replaced with
"[redacted]" in its message and in its formatted traceback, before any handler sees it.

Two hooks, because each misses something the other catches:

* a record factory wrapper (`logging.setLogRecordFactory`) redacts every record when it is made, whatever
  logger made it and whatever handler it goes to, including handlers added later;
* a `logging.Filter` on each handler of the root logger redacts records the factory never saw (made with
  `logging.makeLogRecord` or by code that builds `LogRecord`s itself), and anything `extra=` or another
  filter put into the message after the record was made.

The returned `Redaction` undoes both (`uninstall()`, or use it as a context manager): for tests.

`redact(text)` applies the same rules (the installed secrets, if any, and the token shapes) to any other text
that leaves the process or is kept, such as an API error message about to be stored or shown.

The format: `log_handler(settings.log_format)` is the one handler the command line installs. "text" is one
readable line per record; "json" (IMAGEBOT_LOG_FORMAT=json) is one JSON object per line, with the record's
`extra=` fields as keys beside time, level, logger and message. Both hooks above clean the message and the
traceback only; `extra=` values are set on a record after it is made, so `JsonFormatter` runs `redact` over
every value it writes as well.

One record is one line, whatever it quotes: a logged value may come from anyone (a forged request's body, a
prompt, an API's error text), and a newline in it must not start a line that reads as a record of its own.
`TextFormatter` writes control characters (C0, DEL, C1, the Unicode line and paragraph separators, the bidi
overrides) as escapes such as `\n` and `\x1b`; a traceback keeps its lines, each indented, so that only a
record's first line starts at column 0. `JsonFormatter` leaves JSON's own escaping to json.dumps and escapes
the few of those characters json.dumps writes raw.

`LogThrottle` is a token bucket for a line that anyone can cause (a rejected request): a few lines a second,
then one line saying how many were left out.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import IO, Any

REDACTED = "[redacted]"
# Shorter values cannot be real credentials, and replacing them everywhere would garble every line.
MIN_SECRET_LENGTH = 8
# Slack tokens: bot xoxb-, user xoxp-, app-level xapp-, and the rest of the xox?- family (also rotated
# "xoxe.xoxb-1-…" ones). OpenAI keys: sk-…, sk-proj-…, sk-svcacct-…, and the masked "sk-abcd****wxyz".
TOKEN_SHAPES = re.compile(
    r"\b(?:xox[a-z](?:\.xox[a-z])?|xapp)-[A-Za-z0-9-]{4,}"
    r"|\bsk-[A-Za-z0-9_*-]{6,}"
)


class Redactor:
    """Replaces the known secrets and the well-known token shapes in a string."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        unique = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
        # Longest first, so a secret that contains another is replaced whole.
        ordered = sorted(unique, key=len, reverse=True)
        self._secrets = re.compile("|".join(re.escape(s) for s in ordered)) if ordered else None

    def __call__(self, text: str) -> str:
        if self._secrets is not None:
            text = self._secrets.sub(REDACTED, text)
        return TOKEN_SHAPES.sub(REDACTED, text)

    def record(self, record: logging.LogRecord) -> None:
        """Redact a record in place: its message (formatted with its args) and its traceback text."""
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it for the handler to report as logging always does
            message = None
        if message is not None:
            cleaned = self(message)
            if cleaned != message:
                record.msg, record.args = cleaned, ()
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            # Formatters reuse exc_text when it is set, so the unredacted traceback is never formatted again.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self(record.exc_text)
        if record.stack_info:
            record.stack_info = self(record.stack_info)


_active: list[Redactor] = []  # the redactors of installed Redactions, for `redact`


def redact(text: str) -> str:
    """`text` without the installed secrets and without anything shaped like a Slack token or an OpenAI key."""
    for redactor in list(_active):
        text = redactor(text)
    return TOKEN_SHAPES.sub(REDACTED, text)


class RedactingFilter(logging.Filter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        self.redactor.record(record)
        return True


class Redaction:
    """What `install_redaction` put in place; `uninstall()` takes it away again."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.filter = RedactingFilter(redactor)
        self._previous_factory: Callable[..., logging.LogRecord] | None = None
        self._factory: Callable[..., logging.LogRecord] | None = None
        self._handlers: list[logging.Handler] = []

    def install(self) -> Redaction:
        previous = logging.getLogRecordFactory()
        redactor = self.redactor

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if self._factory is factory:  # inert once uninstalled, even if another factory now wraps this one
                redactor.record(record)
            return record

        self._previous_factory, self._factory = previous, factory
        logging.setLogRecordFactory(factory)
        for handler in logging.getLogger().handlers:
            handler.addFilter(self.filter)
            self._handlers.append(handler)
        _active.append(self.redactor)
        return self

    def uninstall(self) -> None:
        if self.redactor in _active:
            _active.remove(self.redactor)
        for handler in self._handlers:
            handler.removeFilter(self.filter)
        self._handlers.clear()
        if self._factory is not None and logging.getLogRecordFactory() is self._factory:
            logging.setLogRecordFactory(self._previous_factory or logging.LogRecord)
        self._factory = None

    def __enter__(self) -> Redaction:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.uninstall()


def install_redaction(secrets: Iterable[str | None]) -> Redaction:
    """Redact `secrets` (None and empty values are skipped) and token-shaped strings from every log record."""
    return Redaction(Redactor(secrets)).install()


# Formats ---------------------------------------------------------------------------------------------------
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# What every LogRecord has of its own: anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
# What could break a line or rewrite what a terminal shows: C0 controls (\n, \r, \x1b…), DEL, C1 controls
# (\x85 is a line break to str.splitlines, \x9b a CSI to some terminals), U+2028/U+2029 (line breaks to
# many readers) and the bidirectional overrides (https://trojansource.codes/).
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# json.dumps(ensure_ascii=False) escapes C0 controls but writes these raw.
_JSON_RAW = re.compile("[\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
TRACEBACK_INDENT = "    "


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    return _SHORT_ESCAPES.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def escape_controls(text: str) -> str:
    """`text` on one line: every control character written as an escape (a newline as `\\n`)."""
    return _CONTROLS.sub(_escape_one, text)


def indent_lines(text: str) -> str:
    """A traceback or stack for a text log: its own lines kept, each escaped and indented, so none of them can
    read as a record (which starts at column 0 with its time)."""
    return "\n".join(TRACEBACK_INDENT + escape_controls(line) for line in text.split("\n"))


def key_values(fields: Mapping[str, Any]) -> str:
    """`request_id=12 model=gpt-image-1 cost=$0.04` for a text log line: None is "-", values with spaces quoted."""
    parts = []
    for name, value in fields.items():
        text = "-" if value is None else str(value)
        if not text or any(c.isspace() or c in '"=' for c in text):
            text = json.dumps(text, ensure_ascii=False)
        parts.append(f"{name}={text}")
    return " ".join(parts)


class TextFormatter(logging.Formatter):
    """TEXT_FORMAT, one line per record: the line (message, arguments, logger name, everything) with its control
    characters escaped, then any traceback or stack with its lines indented."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        line = escape_controls(self.formatMessage(record))
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + indent_lines(record.exc_text)
        if record.stack_info:
            line += "\n" + indent_lines(self.formatStack(record.stack_info))
        return line


def _clean(value: Any) -> Any:
    """A value ready for json.dumps, with every string in it redacted."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v) for v in value]
    return redact(value if isinstance(value, str) else str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the record's `extra=` fields,
    and the traceback as `exception` when there is one. Every string value is redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in record.__dict__.items():
            if name not in _RECORD_ATTRIBUTES and name not in entry and not name.startswith("_"):
                entry[name] = value
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # Those characters can only be inside JSON strings here, where \uXXXX means the same.
        return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(_clean(entry), ensure_ascii=False))


def log_handler(log_format: str, stream: IO[str] | None = None) -> logging.Handler:
    """The handler for IMAGEBOT_LOG_FORMAT ("text" or "json"), writing to `stream` (default stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    return handler


class LogThrottle:
    """A token bucket for log lines that anyone can cause: `burst` lines at once, then `rate` a second; the
    lines left out are counted, and the next line that gets through is preceded by one saying how many."""

    def __init__(self, logger: logging.Logger, *, rate: float = 2.0, burst: int = 10,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger, self.rate, self.burst, self.clock = logger, rate, burst, clock
        self.tokens = float(burst)
        self.suppressed = 0
        self._last = clock()

    def log(self, level: int, msg: str, *args: object) -> bool:
        """Log the line if the bucket allows (True), else count it (False)."""
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self._last) * self.rate)
        self._last = now
        if self.tokens < 1:
            self.suppressed += 1
            return False
        self.tokens -= 1
        if self.suppressed:
            self.logger.log(level, "%d similar lines were not logged (at most %g a second)", self.suppressed,
                            self.rate)
            self.suppressed = 0
        self.logger.log(level, msg, *args)
        return True
