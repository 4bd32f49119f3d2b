"""What a reply in an image thread asks for. Some replies need no image API call at all.

    undo                    the context goes back to the image the current one was made from
    undo to v2              the context goes back to v2, said as an undo (what the Undo button under v3 sends)
    use v2 / back to v2     the context becomes v2
    use #2 / use b          pick another output of the latest call that made several (v3b …)
    grid                    post the current image with a labelled grid, for region edits
    v2: make it red         edit v2 explicitly (a branch); the result becomes the newest version
    anything else           edit the current image with these words
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Undo:
    pass


@dataclass(frozen=True)
class UseVersion:
    label: str
    undo: bool = False  # "undo to v2": the move is an undo, and is answered as one


@dataclass(frozen=True)
class UseOutput:
    index: int  # 0-based: "use #2" and "use b" are both 1


@dataclass(frozen=True)
class ShowGrid:
    pass


@dataclass(frozen=True)
class Edit:
    text: str
    base: str | None = None  # a version label for a branch ("v2: …"), or None for the current image


ReplyCommand = Undo | UseVersion | UseOutput | ShowGrid | Edit

_LABEL = r"v\d{1,4}[a-j]?"
_UNDO = re.compile(r"^undo[.!]?$", re.IGNORECASE)
_USE_VERSION = re.compile(rf"^(?:use|back to|go back to)\s+({_LABEL})[.!]?$", re.IGNORECASE)
_UNDO_TO = re.compile(rf"^undo\s+(?:back\s+)?to\s+({_LABEL})[.!]?$", re.IGNORECASE)
_USE_OUTPUT = re.compile(r"^use\s+(?:#(\d{1,2})|([a-j]))[.!]?$", re.IGNORECASE)
_GRID = re.compile(r"^(?:show\s+)?(?:the\s+)?grid[.!?]?$", re.IGNORECASE)
_BRANCH = re.compile(rf"^({_LABEL})\s*:\s*(.+)$", re.IGNORECASE | re.DOTALL)


def parse_reply(text: str) -> ReplyCommand:
    stripped = text.strip()
    if _UNDO.match(stripped):
        return Undo()
    if match := _USE_VERSION.match(stripped):
        return UseVersion(match.group(1).lower())
    if match := _UNDO_TO.match(stripped):
        return UseVersion(match.group(1).lower(), undo=True)
    if match := _USE_OUTPUT.match(stripped):
        number, letter = match.groups()
        return UseOutput(int(number) - 1 if number else ord(letter.lower()) - ord("a"))
    if _GRID.match(stripped):
        return ShowGrid()
    if match := _BRANCH.match(stripped):
        return Edit(match.group(2).strip(), base=match.group(1).lower())
    return Edit(stripped)
