"""The card in the channel shows the thread's current image, in the sandbox page in a real headless Chromium:
drawn from the uploaded file (an image block with slack_file), titled with its version, and following each new
version and undo (issue 15)."""

from __future__ import annotations

import pytest
from playwright.async_api import Locator, Page, expect

from standins.sandbox import Sandbox
from tests.browser.test_sandbox_browser import WAIT, page, reply, sandbox, say  # skips the module without Chromium

pytestmark = pytest.mark.anyio
__all__ = ["page", "sandbox"]  # the fixtures, from the whole-conversation test


async def shown(card: Locator) -> str:
    """The file the card's picture is drawn from, once it has loaded in the page."""
    picture = card.get_by_test_id("block-image").locator("img")
    await expect(picture).to_have_count(1, timeout=WAIT)
    await expect(picture).to_have_js_property("complete", True, timeout=WAIT)
    assert await picture.evaluate("img => img.naturalWidth") > 0  # drawn, not a broken image
    return str(await picture.get_attribute("src"))


async def test_the_card_shows_the_current_image_and_follows_edits_and_undo(page: Page, sandbox: Sandbox) -> None:
    await say(page, "/image a lighthouse at dusk")
    card = page.get_by_test_id("messages").get_by_test_id("message").filter(has_text="asked for an image")
    await expect(card).to_contain_text("Done", timeout=WAIT)
    title = card.get_by_test_id("block-image")
    await expect(title).to_contain_text("v1", timeout=WAIT)
    first = await shown(card)
    [message] = [m for m in sandbox.slack.messages("C0GENERAL") if m.get("files")]
    assert first == f"/files/{message['files'][0]['id']}"  # the uploaded result itself, the one in the thread

    await card.get_by_test_id("thread-link").click()
    await reply(page, "make the sky purple")
    await expect(title).to_contain_text("v2", timeout=WAIT)
    second = await shown(card)
    assert second != first

    await reply(page, "undo")
    await expect(title).to_contain_text("v1", timeout=WAIT)
    assert await shown(card) == first
