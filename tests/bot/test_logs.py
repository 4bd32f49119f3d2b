"""bot/logs.py's formats: text lines, JSON lines (IMAGEBOT_LOG_FORMAT=json), and redaction in both.

(Redaction across a whole scenario, every library's records included, is tests/test_security.py's.)"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import REDACTED, install_redaction, key_values, log_handler

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
