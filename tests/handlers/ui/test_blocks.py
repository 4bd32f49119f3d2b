"""handlers/ui/blocks.py and handlers/ui/errors.py: pure builders of Block Kit dicts and the words users read.

Models come from the catalogue (tests/catalogue_helpers.py). The help text's tests are in test_help.py.
"""

import pytest

from bot import errors
from bot.models import ImageOptions
from handlers.ui.blocks import (
    CARD_BLOCK_ID,
    SECTION_LIMIT,
    CardImage,
    Footnote,
    build_card,
    build_progress,
    footnote_text,
    is_card,
    settings_line,
    status_done,
    status_failed,
    status_uploaded,
    status_working,
    with_card_image,
    with_card_status,
)
from handlers.ui.errors import explain
from storage.records import Spend
from tests.catalogue_helpers import default_model, live, shut_down

MODEL = default_model()
OPTIONS = ImageOptions(model=MODEL)
OTHER = next(m for m in live() if m != MODEL)  # a second live model


def note(**fields) -> Footnote:
    base = {"provider": "openai", "model": MODEL, "size": "1024x1024", "quality": "medium", "images": 1,
            "input_text_tokens": 12, "input_image_tokens": None, "output_tokens": 1056, "cost_micro": 42_300,
            "thread": Spend(micro=84_600, calls=2, unknown=0)}
    return Footnote(**{**base, **fields})


def all_texts(blocks: list[dict]) -> list[str]:
    texts = []
    for block in blocks:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts.extend(element["text"] for element in block.get("elements", []))
    return texts


# the card -------------------------------------------------------------------------------------------------


def test_build_card_returns_fallback_text_and_three_blocks() -> None:
    text, blocks = build_card("U1", "a lighthouse at dusk", OPTIONS, status_working())

    assert text == "<@U1> asked for an image: a lighthouse at dusk"
    assert [b["type"] for b in blocks] == ["section", "context", "context"]
    assert blocks[0]["text"] == {"type": "mrkdwn", "text": "*<@U1> asked for an image*\n> a lighthouse at dusk"}
    assert blocks[1]["elements"] == [{"type": "mrkdwn", "text": f"{MODEL} · 1024x1024 · medium"}]
    assert blocks[2]["elements"] == [{"type": "mrkdwn", "text": ":hourglass_flowing_sand: Generating…"}]


def test_build_card_shows_the_current_image_under_the_prompt_with_its_label() -> None:
    _, blocks = build_card("U1", "a lighthouse at dusk", OPTIONS, "done", CardImage("F0123", "v3b", "a lighthouse"))

    assert [b["type"] for b in blocks] == ["section", "image", "context", "context"]
    assert blocks[1] == {"type": "image", "block_id": "imagebot_card_image", "slack_file": {"id": "F0123"},
                         "alt_text": "a lighthouse", "title": {"type": "plain_text", "text": "v3b"}}
    assert blocks[0]["block_id"] == CARD_BLOCK_ID and is_card(blocks)


def test_a_cards_picture_is_replaced_or_removed_and_its_other_blocks_kept() -> None:
    _, card = build_card("U1", "a lighthouse", OPTIONS, "done", CardImage("F1", "v1", "a lighthouse"))

    moved = with_card_image(card, CardImage("F2", "v2", " "))
    assert [b.get("slack_file") for b in moved] == [None, {"id": "F2"}, None, None]
    assert moved[1]["alt_text"] == "v2"  # alt text is required: the label when there are no words
    assert with_card_image(card, None) == [card[0], *card[2:]]
    assert with_card_image(with_card_image(card, None), None) == [card[0], *card[2:]]
    long = with_card_image(card, CardImage("F3", "v3", "x" * 5_000))
    assert len(long[1]["alt_text"]) == 2000


def test_a_cards_status_line_is_replaced_and_nothing_else() -> None:
    _, card = build_card("U1", "a lighthouse", OPTIONS, "working", CardImage("F1", "v1"))

    done = with_card_status(card, status_uploaded(1))
    assert done[:-1] == card[:-1] and card[-1]["elements"][0]["text"] == "working"
    assert done[-1]["elements"][0]["text"] == (
        ":white_check_mark: Done: the image is in the thread, uploaded again. Reply in the thread to edit it.")
    assert "the 2 images are" in status_uploaded(2)
    plain = [{"type": "context", "elements": [{"type": "mrkdwn", "text": "not a card"}]}]
    assert with_card_status(plain, "x") == plain


def test_only_a_card_is_a_card() -> None:
    assert not is_card(None) and not is_card([])
    assert not is_card([{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}])


def test_build_card_quotes_every_line_of_a_multiline_prompt() -> None:
    _, blocks = build_card("U1", "first line\n\nthird line", OPTIONS, "s")

    assert blocks[0]["text"]["text"].endswith("> first line\n>\n> third line")


def test_build_card_clips_a_40000_character_prompt_to_slack_limits() -> None:
    prompt = "word " * 8_000

    text, blocks = build_card("U1", prompt, OPTIONS, "x" * 5_000)

    section = blocks[0]["text"]["text"]
    assert len(section) == SECTION_LIMIT == 3000
    assert section.endswith("…")
    assert len(text) <= 3000
    assert all(len(t) <= 3000 for t in all_texts(blocks))


def test_settings_line_shows_only_what_differs_from_plain_defaults() -> None:
    assert settings_line(OPTIONS) == f"{MODEL} · 1024x1024 · medium"
    busy = ImageOptions(model=OTHER, size="1536x1024", quality="high", n=3, transparent=True,
                        output_format="webp")
    assert settings_line(busy) == f"{OTHER} · 1536x1024 · high · 3 images · transparent · webp"


def test_build_card_escapes_slack_control_characters_in_the_prompt() -> None:
    text, blocks = build_card("U1", "a sign saying <!channel> & <https://evil.example|click>", OPTIONS, "s")

    for rendered in (text, blocks[0]["text"]["text"]):
        assert "<!channel>" not in rendered
        assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in rendered


# status lines ---------------------------------------------------------------------------------------------


def test_status_lines() -> None:
    assert status_working("edit") == ":hourglass_flowing_sand: Editing…"
    assert status_done(1, 42_240, "openai") == (
        ":white_check_mark: Done: 1 image in the thread, $0.04224. Reply in the thread to edit it.")
    assert "2 images in the thread, price unknown." in status_done(2, None, "azure")
    assert "$0.04224 (offline: nothing billed)" in status_done(1, 42_240, "offline")
    assert status_failed("nope") == ":warning: nope"
    assert len(status_failed("x" * 1000)) < 420


# footnotes ------------------------------------------------------------------------------------------------


def test_footnote_shows_model_size_quality_tokens_cost_and_thread_total() -> None:
    """Issue 15: what it is and what it cost on the first line; tokens and totals on a quieter second."""
    assert footnote_text(note()) == (
        f"{MODEL} · 1024x1024 · medium · this image: $0.0423\n"
        "_tokens: 12 text in, 1,056 out · thread so far: $0.0846_"
    )


def test_footnote_first_line_has_the_version_and_the_second_the_month_and_budgets() -> None:
    text = footnote_text(note(versions=("v3",), base_version="v2", user_month_micro=1_500_000,
                              budgets_left=(("monthly user budget", 3_500_000, 5_000_000),)))

    first, second = text.split("\n")[:2]
    assert first == f"*v3* (from v2) · {MODEL} · 1024x1024 · medium · this image: $0.0423"
    assert second == ("_tokens: 12 text in, 1,056 out · thread so far: $0.0846 · your month: $1.50 · "
                      "monthly user budget: $3.50 left of $5.00_")


def test_footnote_counts_input_image_tokens_and_several_images() -> None:
    text = footnote_text(note(images=2, input_text_tokens=25, input_image_tokens=4354, output_tokens=2112))

    assert "tokens: 25 text + 4,354 image in, 2,112 out" in text
    assert "these 2 images: $0.0423" in text


def test_footnote_says_price_unknown_for_an_unknown_cost() -> None:
    text = footnote_text(note(model="house-model", cost_micro=None))

    assert "this image: price unknown" in text


def test_footnote_thread_total_is_a_lower_bound_when_some_prices_are_unknown() -> None:
    one = footnote_text(note(thread=Spend(micro=42_300, calls=2, unknown=1)))
    two = footnote_text(note(thread=Spend(micro=0, calls=2, unknown=2)))

    assert "thread so far: ≥ $0.0423 (1 call price unknown)" in one
    assert "thread so far: ≥ $0.00 (2 calls price unknown)" in two


def test_footnote_says_usage_not_reported_when_there_is_no_usage() -> None:
    text = footnote_text(note(input_text_tokens=None, output_tokens=None, cost_micro=None))

    assert "usage not reported" in text
    assert "tokens:" not in text
    assert "price unknown" in text


def test_offline_footnote_says_nothing_was_billed() -> None:
    text = footnote_text(note(provider="offline"))

    assert text.split("\n")[0] == f"{MODEL} · 1024x1024 · medium · this image: $0.0423 · offline, not billed"
    assert "offline" not in footnote_text(note())


def test_footnote_second_line_is_italic_mrkdwn_and_the_first_is_not() -> None:
    first, second = footnote_text(note()).split("\n")

    assert "_" not in first
    assert second.startswith("_") and second.endswith("_") and second.count("_") == 2


# explain --------------------------------------------------------------------------------------------------


def every_error() -> dict[str, errors.ImagebotError]:
    return {
        "moderation": errors.ModerationBlocked("rejected", stage="input", categories=("violence",)),
        "rate": errors.RateLimited("slow down", retry_after=51.84),
        "quota": errors.QuotaExhausted("insufficient_quota", status=429),
        "auth": errors.AuthenticationFailed("Incorrect API key provided", status=401),
        "org": errors.OrganizationNotVerified("Your organization must be verified", status=403),
        "permission": errors.PermissionDenied("Country, region, or territory not supported", status=403),
        "invalid": errors.InvalidRequest("Unknown parameter: 'response_format'.", param="response_format"),
        "server": errors.ServerError("engine overloaded.", status=503),
        "deadline": errors.DeadlineExceeded("The image API did not finish within 3 min (3 attempts)."),
        "lost": errors.AnswerLost("The image API's answer broke off (RemoteProtocolError)."),
        "too large": errors.AnswerTooLarge("The image API's answer was larger than 49 MB; stopped reading it."),
        "api": errors.ImageAPIError("something odd"),
        "option": errors.InvalidOption("`--n 9` is not valid: a whole number from 1 to 4.", option="n"),
        "long": errors.PromptTooLong(40_000, 32_000),
        "attachment": errors.AttachmentError("cat.txt is not an image I can read.", filename="cat.txt"),
        "settings": errors.SettingsError("OPENAI_API_KEY", "is required"),
        "budget": errors.BudgetExceeded(scope="channel", target="C1", period="monthly", limit_micro=5_000_000,
                                        spent_micro=4_990_000, estimate_micro=42_240, resets_at="Tue 1 Dec 2026"),
        "policy": errors.PolicyRefused(f"This channel allows only {OTHER}."),
        "model gone": errors.ModelUnavailable(f"The model `{shut_down()[0]}` has been deprecated", model=shut_down()[0],
                                              status=404, api_code="model_not_found"),
        "not installed": errors.NotInstalled("T0OTHER"),
        "storage": errors.StorageUnavailable(),
    }


def test_budget_refusal_says_which_budget_what_is_left_and_when_it_resets() -> None:
    text = explain(every_error()["budget"])
    for expected in ("<#C1>'s monthly budget of $5.00", "$0.01 is left", "about $0.04224", "resets Tue 1 Dec 2026",
                     "Nothing was spent"):
        assert expected in text
    unknown = errors.BudgetExceeded(scope="workspace", target="", period="monthly", limit_micro=1, spent_micro=0,
                                    estimate_micro=None, resets_at="", model="house-model")
    assert "no price is known for `house-model`" in explain(unknown)


def test_every_error_class_gets_its_own_message() -> None:
    messages = {name: explain(error) for name, error in every_error().items()}

    assert len(set(messages.values())) == len(messages)
    classes = {type(error) for error in every_error().values()}
    tree = {c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.ImagebotError)}
    assert tree - {errors.ImagebotError, errors.UserInputError} <= classes


def test_moderation_mentions_rephrasing_and_the_categories() -> None:
    text = explain(errors.ModerationBlocked("rejected", stage="input", categories=("violence", "gore")))

    assert "safety system" in text
    assert "rephras" in text
    assert "violence, gore" in text
    assert "this request" in text


def test_moderation_of_the_output_says_the_result_was_blocked() -> None:
    text = explain(errors.ModerationBlocked("rejected", stage="output"))

    assert "blocked the result" in text
    assert "flagged" not in text


@pytest.mark.parametrize(("retry_after", "wait"), [(51.84, "in about 52 seconds"), (3, "in about 3 seconds"),
                                                   (None, "in a minute")])
def test_rate_limit_says_how_long_to_wait(retry_after: float | None, wait: str) -> None:
    text = explain(errors.RateLimited("slow down", retry_after=retry_after))

    assert "too many requests" in text
    assert f"Try again {wait}." in text


def test_rate_limit_never_says_to_wait_zero_seconds() -> None:
    assert "0 seconds" not in explain(errors.RateLimited("slow down", retry_after=0.4))


def test_quota_tells_an_admin_to_check_plan_billing_and_limits() -> None:
    text = explain(errors.QuotaExhausted("insufficient_quota"))

    assert "admin" in text
    for word in ("quota", "billing", "spend limits"):
        assert word in text


def test_authentication_names_the_key_variables_an_admin_must_set() -> None:
    text = explain(errors.AuthenticationFailed("Incorrect API key provided"))

    assert "admin" in text
    assert "OPENAI_API_KEY" in text
    assert "AZURE_OPENAI_API_KEY" in text


def test_organization_verification_links_the_settings_page_and_names_the_model() -> None:
    text = explain(errors.OrganizationNotVerified("must be verified"), model=MODEL)

    assert "admin" in text
    assert "https://platform.openai.com/settings/organization/general" in text
    assert f"`{MODEL}`" in text
    assert "this model" in explain(errors.OrganizationNotVerified("must be verified"))


def test_permission_denied_includes_the_api_reason() -> None:
    text = explain(errors.PermissionDenied("Country, region, or territory not supported"))

    assert "Country, region, or territory not supported" in text
    assert "admin" in text


def test_invalid_request_names_the_param() -> None:
    text = explain(errors.InvalidRequest("Unknown parameter: 'response_format'.", param="response_format"))

    assert "`response_format`" in text
    assert "Unknown parameter" in text
    assert "``" not in explain(errors.InvalidRequest("bad request"))


def test_a_model_the_api_no_longer_serves_is_named_with_nothing_charged() -> None:
    gone = shut_down()[0]
    text = explain(errors.ModelUnavailable(f"The model `{gone}` has been deprecated", model=gone, status=404))

    assert f"`{gone}`" in text and "shut down or unknown" in text
    assert "nothing was charged" in text and "Admins have been told" in text
    assert "rejected the request" not in text  # not worded as a bad request, though it is one
    # The model the request named, when the API's words do not say; "this model" when nothing does.
    assert f"`{MODEL}`" in explain(errors.ModelUnavailable("The model does not exist."), model=MODEL)
    assert "no longer serves this model" in explain(errors.ModelUnavailable("The model does not exist."))
    assert f"`{gone}`" in explain(errors.ModelUnavailable("gone", model=gone), model=MODEL)  # the API's own first


def test_server_error_says_nothing_was_delivered() -> None:
    text = explain(errors.ServerError("engine overloaded."))

    assert "engine overloaded." in text
    assert "Nothing was delivered" in text


def test_user_input_errors_are_shown_as_written() -> None:
    option = errors.InvalidOption("`--n 9` is not valid: a whole number from 1 to 4.", option="n")

    assert explain(option) == str(option)
    assert explain(errors.PromptTooLong(40_000, 32_000)) == "The prompt is 40,000 characters; the limit is 32,000."
    attachment = errors.AttachmentError("cat.txt is not an image.")
    assert explain(attachment) == ":frame_with_picture: cat.txt is not an image."


def test_settings_error_names_the_variable() -> None:
    assert explain(errors.SettingsError("OPENAI_API_KEY", "is required")) == ":warning: OPENAI_API_KEY: is required"


@pytest.mark.parametrize("name", ["moderation", "rate", "quota", "auth", "org", "permission", "invalid", "server",
                                  "api", "model gone"])
def test_request_id_is_appended_to_api_errors(name: str) -> None:
    error = every_error()[name]
    error.request_id = "req_abc123"

    text = explain(error)

    assert text.endswith(" (request id `req_abc123`)")
    assert text.count("req_abc123") == 1


def test_no_request_id_no_suffix() -> None:
    assert "request id" not in explain(errors.ServerError("boom."))


def test_progress_shows_the_text_and_the_latest_preview_by_file_id() -> None:
    assert build_progress("Working… 20 s") == [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Working… 20 s"}]}]
    [_, image] = build_progress("Preview 1…", "F123")
    assert image == {"type": "image", "slack_file": {"id": "F123"}, "alt_text": "preview"}
