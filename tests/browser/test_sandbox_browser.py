"""The sandbox page in a real headless Chromium (Debian's, driven by Playwright): a whole conversation.

Generate, edit by reply, attach a reference, undo, press a button, fill the form, and an admin's report with
its chart, asserting on what the page shows and on the bot's own state; the Home tab and a DM; the card's
picture, grouped results and a replaced confirmation. Set IMAGEBOT_SCREENSHOTS=DIR to keep screenshots (the
README's are taken by bench/screenshots.py).
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from bot.settings import Settings
from handlers.ui.modals import PROMPT_BLOCK
from standins.sandbox import Sandbox

pytestmark = pytest.mark.anyio
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WAIT = 30_000  # ms, a bound on each wait for the page: state, not time, decides when it passes

if not CHROMIUM:
    if os.environ.get("CI"):
        raise RuntimeError("CI must run the browser tests: .ci/run installs Debian's chromium")
    pytest.skip("Chromium is not installed (apt-get install chromium); .ci/run installs it", allow_module_level=True)

from playwright.async_api import Locator, Page, async_playwright, expect  # noqa: E402


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    settings = Settings(provider="offline", user_requests_per_minute=1000)
    async with Sandbox(settings, tmp_path / "data") as running:
        yield running


@pytest.fixture
async def page(sandbox: Sandbox) -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"])
        context = await browser.new_context(viewport={"width": 1400, "height": 1000})
        opened = await context.new_page()
        await opened.goto(sandbox.url)
        yield opened
        await context.close()
        await browser.close()


async def shot(page: Page, name: str) -> None:
    folder = os.environ.get("IMAGEBOT_SCREENSHOTS")
    if folder:
        await page.screenshot(path=str(Path(folder) / f"{name}.png"))


async def height(locator: Locator) -> float:
    box = await locator.bounding_box()
    assert box is not None, "not on screen"
    return box["height"]


async def say(page: Page, text: str) -> None:
    await page.get_by_test_id("composer-input").fill(text)
    await page.get_by_test_id("send-button").click()


async def reply(page: Page, text: str, files: list[Path] | None = None) -> None:
    if files:
        await page.get_by_test_id("thread-file").set_input_files([str(f) for f in files])
    await page.get_by_test_id("thread-input").fill(text)
    await page.get_by_test_id("thread-send").click()


async def test_a_whole_conversation_in_the_browser(page: Page, sandbox: Sandbox, tmp_path: Path) -> None:
    await expect(page.get_by_test_id("provider")).to_contain_text("offline", timeout=WAIT)

    # Generate: the card appears in the channel, the image in its thread.
    await say(page, "/image a lighthouse at dusk --size landscape")
    card = page.get_by_test_id("message").filter(has_text="asked for an image")
    await expect(card).to_contain_text("Done", timeout=WAIT)
    await card.get_by_test_id("thread-link").click()  # "N replies", as in Slack
    thread = page.get_by_test_id("thread-messages")
    files = thread.get_by_test_id("file")  # uploads in the thread (the card above it shows the current one too)
    await expect(files.locator("img[src^='/files/']")).to_have_count(1, timeout=WAIT)
    await expect(thread).to_contain_text("v1", timeout=WAIT)

    # Edit by reply, then with an attached reference image.
    await reply(page, "make the sky purple")
    await expect(thread).to_contain_text("(from v1)", timeout=WAIT)
    balloon = tmp_path / "balloon.png"
    Image.new("RGB", (256, 256), "red").save(balloon)
    await reply(page, "add this balloon", files=[balloon])
    await expect(thread).to_contain_text("(from v2)", timeout=WAIT)
    await expect(files.locator("img[src^='/files/']")).to_have_count(4, timeout=WAIT)  # 3 results + the balloon
    await shot(page, "sandbox-thread")

    # Undo (no API call), then a button: "Use this one" under v3.
    calls = sandbox.workspace.services.images.store.db["ledger"].count
    await reply(page, "undo")
    await expect(thread).to_contain_text("the next edit uses v2", timeout=WAIT)
    await thread.get_by_test_id("button-imagebot_use").last.click()
    await expect(thread).to_contain_text("The next edit uses v3", timeout=WAIT)
    assert sandbox.workspace.services.images.store.db["ledger"].count == calls  # neither called the image API

    # The form: /image with no text.
    await say(page, "/image")
    modal = page.get_by_test_id("modal")
    await expect(modal).to_be_visible(timeout=WAIT)
    await page.get_by_test_id(f"modal-field-{PROMPT_BLOCK}").fill("a fox in the snow")
    await page.get_by_test_id("modal-submit").click()
    await expect(modal).to_be_hidden(timeout=WAIT)
    fox = page.get_by_test_id("message").filter(has_text="a fox in the snow")
    await expect(fox).to_contain_text("Done", timeout=WAIT)

    # An admin's report, with its chart, posted in the channel.
    await page.get_by_test_id("user-picker").select_option(value="U0ADMIN")
    await say(page, "/image-admin report today")
    report = page.get_by_test_id("message").filter(has_text="imagebot spend")
    await expect(report).to_be_visible(timeout=WAIT)
    messages = page.get_by_test_id("messages")
    await expect(messages).to_contain_text("imagebot-report-", timeout=WAIT)  # the chart, shown inline
    await expect(messages.locator("img[src^='/files/']").last).to_be_visible(timeout=WAIT)
    await expect(messages).to_contain_text("-ledger.csv", timeout=WAIT)  # and the CSV beside it
    await shot(page, "sandbox-report")

    # The bot's own state agrees with the page.
    store = sandbox.workspace.services.images.store
    rows = store.ledger_rows()
    assert [r["kind"] for r in rows] == ["generate", "edit", "edit", "generate"]
    assert all(r["status"] == "ok" for r in rows)
    assert store.db["audit"].count == 1
    last_png = sandbox.slack.file_bytes(sandbox.slack.messages("C0GENERAL")[-1]["files"][0]["id"])
    with Image.open(io.BytesIO(last_png)) as image:
        assert image.format == "PNG" and image.size == (1000, 500)  # the report's chart


async def test_the_home_tab_and_a_direct_message_with_the_bot(page: Page, sandbox: Sandbox) -> None:
    # Home: opening it sends app_home_opened; the page shows what the app published, emoji drawn without a font.
    await page.get_by_test_id("app-home-link").click()
    home = page.get_by_test_id("home")
    await expect(home).to_contain_text("Your spend", timeout=WAIT)
    await expect(home).to_contain_text("None yet", timeout=WAIT)  # no images yet
    assert "U0ALICE" in sandbox.slack.home_views
    await expect(page.get_by_test_id("composer")).to_be_hidden()

    # Messages: the DM with the bot, where a prompt is a request answered in its thread.
    await page.get_by_test_id("tab-messages").click()
    await expect(page.get_by_test_id("channel-title")).to_have_text("imagebot")
    await say(page, "a paper boat on a pond")
    asked = page.get_by_test_id("message").filter(has_text="a paper boat on a pond")
    await asked.get_by_test_id("thread-link").click(timeout=WAIT)
    thread = page.get_by_test_id("thread-messages")
    await expect(thread.get_by_test_id("file").locator("img[src^='/files/']")).to_have_count(1, timeout=WAIT)
    await expect(thread.locator("code", has_text="undo")).to_be_visible(timeout=WAIT)  # inline code in italics
    await expect(thread.locator("i code")).not_to_have_count(0)

    # Back to Home: it now lists that image.
    await page.get_by_test_id("tab-home").click()
    await expect(home).to_contain_text("a paper boat on a pond", timeout=WAIT)


async def test_mrkdwn_and_emoji_are_drawn_as_slack_draws_them(page: Page, sandbox: Sandbox) -> None:
    await say(page, "/image a lighthouse")
    card = page.get_by_test_id("message").filter(has_text="asked for an image")
    await expect(card.locator(".mention")).to_have_text("@alice", timeout=WAIT)  # <@U0ALICE>
    await expect(card.locator("svg.emoji").first).to_be_visible(timeout=WAIT)  # :white_check_mark:, no font
    assert ":white_check_mark:" not in await card.inner_text()
    html = await page.evaluate("mrkdwn('_use `undo` or <#C0GENERAL>_ <https://example.com|a link> :nope:', "
                               "{user: () => undefined, channel: () => 'general'})")
    assert html.startswith("<i>use <code>undo</code> or <span class=\"mention\">#general</span></i>")
    assert '<a href="https://example.com"' in html and html.endswith(":nope:")  # an unknown name stays text


async def test_the_card_shows_the_picture_and_several_images_get_one_row_of_labelled_buttons(
        page: Page, sandbox: Sandbox) -> None:
    await say(page, "/image a fox in the snow --n 3")
    card = page.get_by_test_id("message").filter(has_text="asked for an image")
    picture = card.get_by_test_id("block-image").locator("img[src^='/files/']")  # slack_file, drawn in the channel
    await expect(picture).to_be_visible(timeout=WAIT)
    assert await picture.evaluate("img => img.complete && img.naturalWidth > 0")
    await card.get_by_test_id("thread-link").click()
    thread = page.get_by_test_id("thread-messages")
    await expect(thread.get_by_test_id("file").locator("img[src^='/files/']")).to_have_count(3, timeout=WAIT)
    rows = thread.get_by_test_id("actions")
    await expect(rows).to_have_count(1, timeout=WAIT)  # one actions message for the request's three images
    for label in ("Use a", "Use b", "Use c", "Retry", "Variations"):
        await expect(rows.get_by_role("button", name=label, exact=True)).to_be_visible()


@pytest.fixture
async def careful(tmp_path: Path) -> AsyncIterator[Sandbox]:
    """A sandbox that asks before any request (an estimate above $0.000001)."""
    settings = Settings(provider="offline", user_requests_per_minute=1000, confirm_above_micro=1)
    async with Sandbox(settings, tmp_path / "careful") as running:
        yield running


async def test_an_answered_confirmation_is_replaced_with_no_live_buttons(careful: Sandbox) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            await page.goto(careful.url)
            await say(page, "/image a lighthouse")
            card = page.get_by_test_id("message").filter(has_text="asked for an image")
            await expect(card).to_contain_text("to confirm", timeout=WAIT)
            await card.get_by_test_id("thread-link").click()
            thread = page.get_by_test_id("thread-messages")  # the estimate, with Generate / Cancel
            await thread.get_by_test_id("button-imagebot_confirm").click(timeout=WAIT)
            await expect(thread.get_by_test_id("file").locator("img")).to_have_count(1, timeout=WAIT)
            await expect(thread.get_by_test_id("button-imagebot_confirm")).to_have_count(0, timeout=WAIT)
            await expect(thread.get_by_test_id("button-imagebot_cancel")).to_have_count(0)  # replaced, not left live
            await expect(card.get_by_test_id("block-image").locator("img")).to_be_visible(timeout=WAIT)
        finally:
            await browser.close()


async def test_the_thread_composer_shrinks_back_after_sending_and_errors_do_not_cover_it(page: Page) -> None:
    await say(page, "/image a lighthouse")
    card = page.get_by_test_id("message").filter(has_text="asked for an image")
    await card.get_by_test_id("thread-link").click(timeout=WAIT)
    box = page.get_by_test_id("thread-input")
    empty = await height(box)
    await box.fill("/nope")
    await page.get_by_test_id("thread-send").click()
    toast = page.get_by_test_id("error")
    await expect(toast).to_contain_text("is not a command here", timeout=WAIT)
    composer = await page.get_by_test_id("thread-composer").bounding_box()
    shown = await toast.bounding_box()
    assert composer is not None and shown is not None
    assert shown["y"] + shown["height"] < composer["y"]  # above it, not over it
    await box.fill("make it brighter\nand warmer\nwith a boat\nat sunset")
    grown = await height(box)
    assert grown > empty * 2
    await page.get_by_test_id("thread-send").click()
    await expect(box).to_have_value("", timeout=WAIT)
    assert await height(box) == empty  # back to one line
