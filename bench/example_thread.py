"""Draw the README's "Using it" picture: the demo's thread (v1 … v5c) as one labelled contact sheet, offline.

    .venv/bin/python bench/example_thread.py docs/using-thread.png
"""

from __future__ import annotations

import asyncio
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


def main(target: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "demo"
        asyncio.run(run_demo(Settings(), out))
        transcript = (out / "transcript.html").read_text(encoding="utf-8")
        names = [n for n in dict.fromkeys(re.findall(r"images/(imagebot-[0-9a-f]+\.png)", transcript))]
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


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/using-thread.png"))
