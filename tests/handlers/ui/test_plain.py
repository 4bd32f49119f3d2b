"""handlers/ui/errors.py `plain`: a message's words where Slack draws no mrkdwn (a workflow step's error)."""

from __future__ import annotations

import pytest

from handlers.ui.errors import plain


@pytest.mark.parametrize(("text", "expected"), [
    (":no_entry: Your *daily* budget is spent.", "Your daily budget is spent."),
    ("`--quality ultra` is not valid: low, medium or high.", "--quality ultra is not valid: low, medium or high."),
    ("Ask <@U0ADMIN> or see <https://example.com/help|the help>.", "Ask @U0ADMIN or see the help."),
    ("Posted in <#C0GENERAL>, see <https://example.com/x>.", "Posted in #C0GENERAL, see https://example.com/x."),
    ("a ratio of 3:2 stays", "a ratio of 3:2 stays"),
    (":warning:\n  Two   lines\nof words", "Two lines of words"),
])
def test_plain_keeps_the_words_and_drops_the_marks(text: str, expected: str) -> None:
    assert plain(text) == expected
