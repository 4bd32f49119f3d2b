"""What `/image batch` asks for: the prompts, one per line of the command's text or of an attached TXT, or the rows of
an attached CSV (a `prompt` column; optional `size`, `quality` and `n` columns), each with its options.

    /image batch --size landscape --quality low      <- options for every line (optional)
    a lighthouse at dusk
    a red barn in snow --size portrait               <- a line's own options win
    # a line starting with # is a comment

Each line is read by the same rules as `/image` (bot/rules/options.py) over the batch's options, and every mistake
is refused at once, naming its line. A batch holds at most MAX_PROMPTS prompts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

from bot.errors import InvalidOption, UserInputError
from bot.models import ImageOptions
from bot.rules.options import Choices, ParsedCommand, parse_command, parse_fields

MAX_PROMPTS = 100  # a batch's prompts; OpenAI takes up to 50,000 requests a file, Slack threads read worse past this
MAX_FILE_BYTES = 1024 * 1024
CSV_COLUMNS = ("prompt", "size", "quality", "n")
BATCH_WORD = "batch"


@dataclass(frozen=True)
class BatchLine:
    prompt: str
    options: ImageOptions


def is_batch(text: str) -> bool:
    words = text.strip().split(maxsplit=1)
    return bool(words) and words[0].lower() == BATCH_WORD


def batch_defaults(first_line: str, defaults: ImageOptions, choices: Choices) -> ImageOptions:
    """The options given after `batch` on the command's first line (no prompt there), over `defaults`."""
    rest = first_line.strip()[len(BATCH_WORD):].strip()
    if not rest:
        return defaults
    # Parsed as a command with a stand-in prompt: the first line holds options only.
    parsed = parse_command(f"{rest} -- (options)", defaults, choices)
    return parsed.options


def names_model(text: str) -> bool:
    """Whether the batch's first line asks for a model (`--model`, or Slack's em dash for the two hyphens)."""
    first = text.strip().partition("\n")[0]
    return "--model" in first or "\u2014model" in first


def batch_options(text: str, defaults: ImageOptions, choices: Choices) -> ImageOptions:
    """The options for every line: those after `batch` on the text's first line, over `defaults`."""
    return _no_stream(batch_defaults(text.strip().partition("\n")[0], defaults, choices))


def lines_of_text(text: str, defaults: ImageOptions, choices: Choices, *,
                  file: bool = False) -> tuple[ImageOptions, list[BatchLine]]:
    """The batch's options and its prompts from `/image batch`'s text (the prompts on the lines after the first).
    With `file` (a TXT or CSV attached holds the prompts), the text may have none."""
    options = batch_options(text, defaults, choices)
    rest = text.strip().partition("\n")[2]
    if file and not rest.strip():
        return options, []
    return options, _read_lines(rest.splitlines(), options, choices)


def lines_of_file(name: str, data: bytes, options: ImageOptions, choices: Choices) -> list[BatchLine]:
    """The prompts of an attached `.txt` (one per line) or `.csv` (a header row with a `prompt` column)."""
    if len(data) > MAX_FILE_BYTES:
        raise UserInputError(f"{name} is over {MAX_FILE_BYTES // 1024} KB: a batch file holds prompts, not images.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserInputError(f"{name} is not UTF-8 text.") from None
    if name.lower().endswith(".csv"):
        return _read_csv(name, text, options, choices)
    return _read_lines(text.splitlines(), options, choices)


def _read_lines(lines: list[str], options: ImageOptions, choices: Choices) -> list[BatchLine]:
    found: list[tuple[int, str]] = [(number, line.strip()) for number, line in enumerate(lines, 1)
                                    if line.strip() and not line.strip().startswith("#")]
    check_count(len(found))
    return _each([(f"Line {number}", partial(parse_command, line, options, choices)) for number, line in found])


def _read_csv(name: str, text: str, options: ImageOptions, choices: Choices) -> list[BatchLine]:
    try:
        rows = list(csv.DictReader(io.StringIO(text)))
    except csv.Error as error:
        raise UserInputError(f"{name} is not a CSV file I can read ({error}).") from None
    if not rows or "prompt" not in {(key or "").strip().lower() for key in rows[0]}:
        raise UserInputError(f"{name} needs a header row with a `prompt` column (and optionally "
                             f"{', '.join(CSV_COLUMNS[1:])}).")
    cleaned = [(number, {(key or "").strip().lower(): (value or "").strip() for key, value in row.items() if key})
               for number, row in enumerate(rows, 2)]  # row 1 is the header
    cleaned = [(number, row) for number, row in cleaned if row.get("prompt")]
    check_count(len(cleaned))
    return _each([(f"Row {number}", partial(parse_fields, row["prompt"],
                                            {column: row.get(column, "") for column in CSV_COLUMNS[1:]}, options,
                                            choices)) for number, row in cleaned])


def _each(items: list[tuple[str, Callable[[], ParsedCommand]]]) -> list[BatchLine]:
    """Each item read, or every mistake at once, each named by where it is (`Line 3`, `Row 4`)."""
    problems: list[InvalidOption] = []
    read: list[BatchLine] = []
    for where, parse in items:
        try:
            parsed = parse()
        except UserInputError as error:
            problems.append(InvalidOption(f"{where}: {error}", option="prompt"))
            continue
        read.append(BatchLine(parsed.prompt, _no_stream(parsed.options)))
    if problems:
        raise InvalidOption.joined(problems)
    return read


def check_count(count: int) -> None:
    """Refuse a batch with no prompts, or more than MAX_PROMPTS."""
    if count == 0:
        raise UserInputError("Put one prompt on each line after `/image batch` (or attach a .txt or .csv file).")
    if count > MAX_PROMPTS:
        raise UserInputError(f"A batch holds at most {MAX_PROMPTS} prompts; this one has {count}. Split it.")


def _no_stream(options: ImageOptions) -> ImageOptions:
    return replace(options, partial_images=0)  # a batch answers whole images, later: nothing to stream
