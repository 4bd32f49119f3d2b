"""Take the README's sandbox screenshots: the real sandbox (offline images) in Debian's headless Chromium.

    .venv/bin/python bench/screenshots.py docs

Writes sandbox-thread.png (a card and its thread of versions), sandbox-report.png (an admin's report with its
chart), sandbox-home.png (the App Home tab), sandbox-dm.png (a direct message to the bot), sandbox-workflow.png
(the Workflow Builder step run from the sidebar) and sandbox-batch.png (`/image batch`, done). The Chromium here
has no emoji font: the page draws its own emoji, so a box in a screenshot is a bug. docs/using-thread.png comes
from bench/example_thread.py, docs/admin-report-chart.png from bench/example_report.py.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.async_api import Page, async_playwright, expect

from bot.settings import Settings
from standins.sandbox import Sandbox

WAIT = 30_000  # ms, a bound on each wait for the page
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]


async def say(page: Page, text: str) -> None:
    await page.get_by_test_id("composer-input").fill(text)
    await page.get_by_test_id("send-button").click()


async def reply(page: Page, text: str, files: list[Path] | None = None) -> None:
    if files:
        await page.get_by_test_id("thread-file").set_input_files([str(f) for f in files])
    await page.get_by_test_id("thread-input").fill(text)
    await page.get_by_test_id("thread-send").click()


async def conversation(page: Page, out: Path, work: Path) -> None:
    """A card and its thread (generate, edit, a reference, variations), then Home, a DM and a report."""
    await say(page, "/image a lighthouse at dusk, oil painting --size landscape")
    card = page.get_by_test_id("message").filter(has_text="asked for an image")
    await expect(card.get_by_test_id("thread-link")).to_be_visible(timeout=WAIT)
    await card.get_by_test_id("thread-link").click()
    thread = page.get_by_test_id("thread-messages")
    await expect(thread).to_contain_text("v1", timeout=WAIT)
    await reply(page, "make the sky purple")
    await expect(thread).to_contain_text("(from v1)", timeout=WAIT)
    balloon = work / "balloon.png"
    Image.new("RGB", (256, 256), (220, 30, 40)).save(balloon)
    await reply(page, "add this red balloon", files=[balloon])
    await expect(thread).to_contain_text("(from v2)", timeout=WAIT)
    await page.get_by_test_id("thread-messages").evaluate("node => { node.scrollTop = node.scrollHeight; }")
    await page.screenshot(path=str(out / "sandbox-thread.png"))

    await page.get_by_test_id("thread-close").click()
    await page.get_by_test_id("app-home-link").click()
    await expect(page.get_by_test_id("home")).to_contain_text("Your spend", timeout=WAIT)
    await page.screenshot(path=str(out / "sandbox-home.png"))

    await page.get_by_test_id("dm-imagebot").click()
    await say(page, "a paper boat on a pond")
    dm = page.get_by_test_id("message").filter(has_text="a paper boat on a pond")
    await expect(dm.get_by_test_id("thread-link")).to_be_visible(timeout=WAIT)
    await dm.get_by_test_id("thread-link").click()
    await expect(page.get_by_test_id("thread-messages").locator("img[src^='/files/']")).to_have_count(1,
                                                                                                      timeout=WAIT)
    await page.screenshot(path=str(out / "sandbox-dm.png"))

    await page.get_by_test_id("thread-close").click()
    await page.get_by_test_id("channel-general").click()
    await page.get_by_test_id("user-picker").select_option(value="U0ADMIN")
    await say(page, "/image-admin report today")
    messages = page.get_by_test_id("messages")
    await expect(messages).to_contain_text("-ledger.csv", timeout=WAIT)
    await expect(messages.locator("img[src^='/files/']").last).to_be_visible(timeout=WAIT)
    await messages.evaluate("node => { node.scrollTop = node.scrollHeight; }")
    await page.screenshot(path=str(out / "sandbox-report.png"))
    await workflow(page, out)


async def workflow(page: Page, out: Path) -> None:
    """The one-step workflow: Workflow Builder runs imagebot's step, which posts in the channel and completes."""
    await page.get_by_test_id("user-picker").select_option(value="U0ALICE")
    await page.get_by_test_id("workflow-prompt").fill("a red kite over green hills, watercolour")
    await page.get_by_test_id("workflow-run").click()
    runs = page.get_by_test_id("workflow-runs")
    await expect(runs).to_contain_text("completed: a red kite", timeout=WAIT)
    card = page.get_by_test_id("message").filter(has_text="a red kite over green hills")
    await card.get_by_test_id("thread-link").click()
    await expect(page.get_by_test_id("thread-messages").locator("img[src^='/files/']").last).to_be_visible(
        timeout=WAIT)
    await page.screenshot(path=str(out / "sandbox-workflow.png"))
    await batch(page, out)


async def batch(page: Page, out: Path) -> None:
    """`/image batch`: the card with its estimate, Submit, then the images and the summary in its thread (the
    sandbox's Batch API takes a few seconds)."""
    await page.get_by_test_id("thread-close").click()
    await say(page, "/image batch --quality low\na lighthouse at dusk, watercolour\n"
                    "a red barn in snow --size portrait")
    card = page.get_by_test_id("message").filter(has_text="asked for a batch of 2 images")
    await card.get_by_test_id("button-imagebot_batch_submit").click()
    await expect(card).to_contain_text("Batch done", timeout=60_000)
    await card.get_by_test_id("thread-link").click()
    await expect(page.get_by_test_id("thread-messages")).to_contain_text("Batch done", timeout=WAIT)
    await page.get_by_test_id("thread-messages").evaluate("node => { node.scrollTop = node.scrollHeight; }")
    await page.screenshot(path=str(out / "sandbox-batch.png"))


async def main(out: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("screenshots: Chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(provider="offline", user_requests_per_minute=1000)
        async with Sandbox(settings, Path(folder) / "data") as sandbox, async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            context = await browser.new_context(viewport={"width": 1400, "height": 900})
            page = await context.new_page()
            await page.goto(sandbox.url)
            try:
                await conversation(page, out, Path(folder))
            finally:
                await context.close()
                await browser.close()
    print(f"wrote sandbox-thread.png, sandbox-home.png, sandbox-dm.png, sandbox-report.png, sandbox-workflow.png and "
          f"sandbox-batch.png to {out}")


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "docs")
    folder.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(folder))
