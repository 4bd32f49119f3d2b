"""Replies in an image thread: which need no API call, which edit which version."""

from __future__ import annotations

import pytest

from bot.rules.replies import Edit, ShowGrid, Undo, UseOutput, UseVersion, parse_reply


@pytest.mark.parametrize(("text", "expected"), [
    ("undo", Undo()),
    ("  Undo! ", Undo()),
    ("use v2", UseVersion("v2")),
    ("back to V3b", UseVersion("v3b")),
    ("go back to v10", UseVersion("v10")),
    ("undo to v2", UseVersion("v2", undo=True)),  # what the Undo button under v3 sends
    ("Undo back to V3b.", UseVersion("v3b", undo=True)),
    ("undo to the blue one", Edit("undo to the blue one")),
    ("use #2", UseOutput(1)),
    ("use b", UseOutput(1)),
    ("use A", UseOutput(0)),
    ("grid", ShowGrid()),
    ("show the grid?", ShowGrid()),
    ("v2: make it red", Edit("make it red", base="v2")),
    ("V3A:add snow", Edit("add snow", base="v3a")),
    ("make the sky purple", Edit("make the sky purple")),
    ("undo the last change and make it blue", Edit("undo the last change and make it blue")),
    ("use a warmer palette", Edit("use a warmer palette")),
    ("use v2 but brighter", Edit("use v2 but brighter")),
    ("C2-D3: add a balloon", Edit("C2-D3: add a balloon")),  # regions are read by the edit, not here
])
def test_replies(text: str, expected: object) -> None:
    assert parse_reply(text) == expected
