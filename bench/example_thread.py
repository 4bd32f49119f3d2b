"""The README's demo examples, made by the demo itself (offline), so they cannot drift from what it prints.

    .venv/bin/python bench/example_thread.py docs/using-thread.png    the thread (v1 … v5c) as a contact sheet
    .venv/bin/python bench/example_thread.py --readme README.md       rewrite the README's demo blocks

The README holds two blocks the demo prints, each between `<!-- demo:NAME -->` and `<!-- /demo:NAME -->`: the
thread (every request and reply up to the admin's report) and the report. tests/test_bench.py runs the demo and
checks the README against them; the day the demo ran is the one thing allowed to differ (`undated`).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.settings import Settings
from standins.demo import run_demo

STEPS = ["v1: /image a lighthouse at dusk", "v2: make the sky purple", "v3: + a balloon (reference)",
         "v4: C1-D2: add a full moon", "v5a: Variations of v4", "v5b", "v5c"]
BLOCK = re.compile(r"(<!-- demo:(\w+) -->\n```text\n)(.*?)(```\n<!-- /demo:\2 -->)", re.S)
_DAY = re.compile(r"today \(\w{3} \d{1,2} \w{3}\)|\d{4}-\d{2}-\d{2}")


def demo(out: Path) -> str:
    """Run the demo into `out`; what it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        asyncio.run(run_demo(Settings(), out))
    return printed.getvalue()


def examples(printed: str) -> dict[str, str]:
    """The README's blocks from the demo's output: "thread" (from the first request to the admin's) and
    "report" (the admin's request and the report, to the blank line after it)."""
    lines = printed.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("alice: /image"))
    admin = next(i for i, line in enumerate(lines) if line.startswith("admin: /image-admin"))
    end = next(i for i in range(admin, len(lines)) if not lines[i].strip())
    return {"thread": "\n".join(lines[first:admin]).strip() + "\n", "report": "\n".join(lines[admin:end]) + "\n"}


def readme_blocks(readme: str) -> dict[str, str]:
    return {match.group(2): match.group(3) for match in BLOCK.finditer(readme)}


def undated(text: str) -> str:
    """The day the demo ran (the report's "today (Mon 7 Dec)", its files' dates) as DAY."""
    return _DAY.sub("DAY", text)


def update_readme(path: Path, made: dict[str, str]) -> None:
    text = path.read_text(encoding="utf-8")
    missing = set(made) - set(readme_blocks(text))
    if missing:
        raise SystemExit(f"{path} has no <!-- demo:NAME --> block for {sorted(missing)}")
    path.write_text(BLOCK.sub(lambda m: m.group(1) + made[m.group(2)] + m.group(4), text), encoding="utf-8")
    print(f"rewrote the demo blocks in {path}: {', '.join(sorted(made))}")


def contact_sheet(out: Path, printed: str, target: Path) -> None:
    names = list(dict.fromkeys(re.findall(r"images/(imagebot-[0-9a-f]+\.png)", printed)))
    thumbs = []
    for name in names[: len(STEPS)]:
        with Image.open(out / "images" / name) as image:
            thumbs.append(image.convert("RGB").resize((384, 256)))
    columns, pad, label = 4, 12, 28
    rows = (len(thumbs) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * (384 + pad) + pad, rows * (256 + label + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=16)
    for index, (thumb, step) in enumerate(zip(thumbs, STEPS, strict=False)):
        x = pad + (index % columns) * (384 + pad)
        y = pad + (index // columns) * (256 + label + pad)
        draw.text((x, y + 4), step, fill=(29, 28, 29), font=font)
        sheet.paste(thumb, (x, y + label))
    sheet.save(target, optimize=True)
    print(f"wrote {target}: {len(thumbs)} versions of the demo thread")


def main(argv: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "demo"
        printed = demo(out)
        if argv[:1] == ["--readme"]:
            update_readme(Path(argv[1] if len(argv) > 1 else "README.md"), examples(printed))
        else:
            contact_sheet(out, printed, Path(argv[0] if argv else "docs/using-thread.png"))


if __name__ == "__main__":
    main(sys.argv[1:])
