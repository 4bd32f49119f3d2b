"""bot/logs.py's formats: text lines, JSON lines (IMAGEBOT_LOG_FORMAT=json), and redaction in both.

(Redaction across a whole scenario, every library's records included, is tests/test_security.py's.)"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import (
    REDACTED,
    TRACEBACK_INDENT,
    LogThrottle,
    escape_controls,
    install_redaction,
    key_values,
    log_handler,
)

OPENAI_KEY = "sk-proj-" + "Zq4x" * 12  # shaped like a real key
PLAIN_SECRET = "not-shaped-like-a-token-but-secret"  # caught only because it is installed


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, dict[str, io.StringIO]]]:
    """A logger writing through the text and the JSON handler, as the command line sets them up."""
    logger = logging.getLogger("imagebot.tests.logs")
    streams = {"text": io.StringIO(), "json": io.StringIO()}
    handlers = [log_handler(name, stream) for name, stream in streams.items()]
    for handler in handlers:
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, streams
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


def json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_key_values_is_one_readable_line() -> None:
    assert key_values({"request_id": 12, "error": None, "cost": "$0.04", "note": "two words", "empty": ""}) == (
        'request_id=12 error=- cost=$0.04 note="two words" empty=""')


def test_json_lines_have_the_extra_fields_as_keys(logged: tuple[logging.Logger, dict[str, io.StringIO]]) -> None:
    logger, streams = logged
    logger.info("request %s done", 7, extra={"request_id": 7, "cost_micro": 42_310, "error": None,
                                             "tags": ("a", "b")})
    logger.warning("multi\nline")
    [first, second] = json_lines(streams["json"])
    assert first["message"] == "request 7 done" and first["level"] == "INFO"
    assert first["logger"] == "imagebot.tests.logs" and str(first["time"]).endswith("+00:00")
    assert {k: first[k] for k in ("request_id", "cost_micro", "error", "tags")} == {
        "request_id": 7, "cost_micro": 42_310, "error": None, "tags": ["a", "b"]}
    assert "args" not in first and "levelno" not in first  # the record's own attributes are not repeated
    assert second["message"] == "multi\nline"  # one object per line, whatever the message holds
    assert streams["text"].getvalue().splitlines()[0].endswith(" INFO imagebot.tests.logs: request 7 done")


def test_json_lines_carry_the_traceback(logged: tuple[logging.Logger, dict[str, io.StringIO]]) -> None:
    logger, streams = logged
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    [entry] = json_lines(streams["json"])
    assert entry["message"] == "failed" and "ValueError: boom" in str(entry["exception"])


def test_secrets_are_redacted_in_json_lines_too(logged: tuple[logging.Logger, dict[str, io.StringIO]]) -> None:
    logger, streams = logged
    with install_redaction([OPENAI_KEY, PLAIN_SECRET]):
        logger.warning("OpenAI said: Incorrect API key provided: %s", OPENAI_KEY)
        # `extra=` values are set after the record is made, where the record factory cannot see them.
        logger.info("request", extra={"error": f"key {OPENAI_KEY}", "headers": {"Authorization": PLAIN_SECRET},
                                      "other": [f"Bearer {OPENAI_KEY}"]})
        try:
            raise RuntimeError(f"refused {PLAIN_SECRET}")
        except RuntimeError:
            logger.exception("call failed")
    output = streams["json"].getvalue() + streams["text"].getvalue()
    assert OPENAI_KEY not in output and PLAIN_SECRET not in output and OPENAI_KEY[:12] not in output
    first, second, third = json_lines(streams["json"])
    assert first["message"] == f"OpenAI said: Incorrect API key provided: {REDACTED}"
    assert (second["error"], second["headers"], second["other"]) == (
        f"key {REDACTED}", {"Authorization": REDACTED}, [f"Bearer {REDACTED}"])
    assert f"RuntimeError: refused {REDACTED}" in str(third["exception"])


def test_text_is_the_default_format() -> None:
    handler = log_handler("text", io.StringIO())
    record = logging.makeLogRecord({"name": "imagebot", "levelname": "INFO", "msg": "hello"})
    assert handler.format(record).endswith(" INFO imagebot: hello")


# One record, one line ----------------------------------------------------------------------------------------
FORGED = "x\n2026-12-01 12:00:00,000 INFO imagebot.requests: request_id=1 cost=$999.00"


def test_a_newline_in_a_logged_value_cannot_forge_a_text_line(
        logged: tuple[logging.Logger, dict[str, io.StringIO]]) -> None:
    logger, streams = logged
    logger.warning("refused %s", FORGED)
    logger.warning(FORGED)  # in the message itself, as a library might log a body
    lines = streams["text"].getvalue().splitlines()
    assert len(lines) == 2
    assert all(line.endswith(r"x\n2026-12-01 12:00:00,000 INFO imagebot.requests: request_id=1 cost=$999.00")
               for line in lines)


@pytest.mark.parametrize(("raw", "escaped"), [
    ("a\rb", r"a\rb"), ("tab\there", r"tab\there"), ("\x1b[2Jcleared", r"\x1b[2Jcleared"), ("nul\x00", r"nul\x00"),
    ("del\x7f", r"del\x7f"), ("nel\x85", r"nel\x85"), ("csi\x9b31m", r"csi\x9b31m"),
    ("ls\u2028ps\u2029", r"ls\u2028ps\u2029"),
    ("rtl\u202eoverride", r"rtl\u202eoverride"), ("plain é 🦄 text", "plain é 🦄 text"),
])
def test_control_characters_are_escaped_everywhere_on_a_text_line(raw: str, escaped: str) -> None:
    assert escape_controls(raw) == escaped
    handler = log_handler("text", io.StringIO())
    record = logging.makeLogRecord({"name": f"logger{raw}", "levelname": "INFO", "msg": "%s", "args": (raw,)})
    formatted = handler.format(record)
    assert formatted.endswith(f" INFO logger{escaped}: {escaped}")
    assert formatted.splitlines() == [formatted]


def test_a_traceback_keeps_its_lines_each_indented(logged: tuple[logging.Logger, dict[str, io.StringIO]]) -> None:
    logger, streams = logged
    try:
        raise ValueError(f"bad body {FORGED}\r\x1b[1m")
    except ValueError:
        logger.exception("failed")
    logger.info("with a stack", stack_info=True)
    lines = streams["text"].getvalue().splitlines()
    records = [line for line in lines if not line.startswith(TRACEBACK_INDENT)]
    assert len(records) == 2 and records[0].endswith(" ERROR imagebot.tests.logs: failed")
    assert records[1].endswith(" INFO imagebot.tests.logs: with a stack")
    assert f"{TRACEBACK_INDENT}Traceback (most recent call last):" in lines
    forged = "2026-12-01 12:00:00,000 INFO imagebot.requests: request_id=1 cost=$999.00"
    assert f"{TRACEBACK_INDENT}{forged}\\r\\x1b[1m" in lines
    assert any(line.startswith(f"{TRACEBACK_INDENT}Stack (most recent call last):") for line in lines)


def test_json_lines_escape_what_json_dumps_leaves_raw(logged: tuple[logging.Logger, dict[str, io.StringIO]]) -> None:
    logger, streams = logged
    value = f"{FORGED}\r\x1b\x85\u2028\u2029\u202e\x9b"
    logger.warning("body %s", value, extra={"field": value})
    output = streams["json"].getvalue()
    assert len(output.splitlines()) == 1 and len(output.split("\n")) == 2  # one line by every reader's rule
    assert not any(c in output for c in "\r\x1b\x85\u2028\u2029\u202e\x9b")
    [entry] = json_lines(streams["json"])
    assert entry["message"] == f"body {value}" and entry["field"] == value  # escaped, not lost


class Ticks:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_the_throttle_lets_a_burst_through_then_a_few_a_second_then_says_how_many_it_left_out(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = Ticks()
    throttle = LogThrottle(logging.getLogger("imagebot.tests.throttle"), rate=2.0, burst=3, clock=clock)
    caplog.set_level(logging.INFO)
    assert [throttle.log(logging.INFO, "refused %d", i) for i in range(10)] == [True] * 3 + [False] * 7
    clock.t = 0.4  # not yet a whole token
    assert throttle.log(logging.INFO, "refused %d", 10) is False
    clock.t = 0.5
    assert throttle.log(logging.INFO, "refused %d", 11) is True
    clock.t = 100.0  # refills to the burst, no further
    assert [throttle.log(logging.INFO, "refused %d", 12 + i) for i in range(4)] == [True] * 3 + [False]
    assert [r.getMessage() for r in caplog.records] == [
        "refused 0", "refused 1", "refused 2",
        "8 similar lines were not logged (at most 2 a second)", "refused 11",
        "refused 12", "refused 13", "refused 14"]
