"""One result per request in the sandbox page, in a real headless Chromium (issue 15): a variations request's
images come with one actions message whose buttons name them (Use a, Use b, Use c), and an answered confirmation
is replaced where it was in the thread, with no live buttons left."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from standins.sandbox import Sandbox
from tests.browser.test_sandbox_browser import WAIT, page, sandbox, say  # skips the module without Chromium

pytestmark = pytest.mark.anyio
__all__ = ["page", "sandbox"]  # the fixtures, from the whole-conversation test
EXPENSIVE = "/image a cathedral --size landscape --quality high --n 4"  # above the default confirmation threshold


async def open_thread(page: Page) -> None:
    card = page.get_by_test_id("messages").get_by_test_id("message").filter(has_text="asked for an image")
    await expect(card.get_by_test_id("thread-link")).to_be_visible(timeout=WAIT)
    await card.get_by_test_id("thread-link").click()


async def test_a_variations_request_shows_one_message_of_buttons_naming_its_images(page: Page,
                                                                                   sandbox: Sandbox) -> None:
    await say(page, "/image a fox in the snow --n 3")
    await open_thread(page)
    thread = page.get_by_test_id("thread-messages")
    await expect(thread.get_by_test_id("file").locator("img[src^='/files/']")).to_have_count(3, timeout=WAIT)
    with_buttons = thread.get_by_test_id("thread-reply").filter(has=page.get_by_test_id("button-imagebot_retry"))
    await expect(with_buttons).to_have_count(1, timeout=WAIT)  # one actions message, not one per image
    for letter in "abc":
        await expect(with_buttons.get_by_test_id(f"button-imagebot_use_{letter}")).to_have_text(f"Use {letter}")

    await with_buttons.get_by_test_id("button-imagebot_use_b").click()
    await expect(thread).to_contain_text("The next edit uses v1b", timeout=WAIT)


async def test_an_answered_confirmation_is_replaced_in_the_thread(page: Page, sandbox: Sandbox) -> None:
    await say(page, EXPENSIVE)
    await open_thread(page)
    thread = page.get_by_test_id("thread-messages")
    prompt = thread.get_by_test_id("thread-reply").filter(has_text="This will cost about")
    await expect(prompt.get_by_test_id("button-imagebot_confirm")).to_be_visible(timeout=WAIT)
    ts = await prompt.get_attribute("data-ts")

    await prompt.get_by_test_id("button-imagebot_confirm").click()
    answered = thread.locator(f"[data-ts='{ts}']")
    await expect(answered).to_contain_text("confirmed; making it now", timeout=WAIT)
    await expect(thread.get_by_test_id("button-imagebot_confirm")).to_have_count(0, timeout=WAIT)  # no live buttons
    await expect(thread.get_by_test_id("button-imagebot_cancel")).to_have_count(0)
    await expect(page.get_by_test_id("messages")).not_to_contain_text("confirmed; making it now")  # not the channel
