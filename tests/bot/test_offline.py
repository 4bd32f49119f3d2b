"""bot/offline.py: deterministic pictures with the API's shape of result and usage, and nothing billed."""

import io

import pytest
from PIL import Image

from bot.models import EditRequest, GenerateRequest, ImageOptions, InputImage
from bot.offline import OfflineImageAPI
from bot.pricing import Usage
from bot.tokens import input_image_tokens, output_image_tokens, prompt_text_tokens
from tests.slack_views import decoded

pytestmark = pytest.mark.anyio


def input_image(width: int, height: int, color: tuple[int, int, int] = (200, 30, 30)) -> InputImage:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return InputImage(data=out.getvalue(), format="png", width=width, height=height, name="base.png")


async def generate(prompt: str = "a lighthouse at dusk", **options) -> object:
    options.setdefault("model", "gpt-image-1")
    return await OfflineImageAPI().generate(GenerateRequest(prompt=prompt, options=ImageOptions(**options)))


async def test_provider_is_offline() -> None:
    result = await generate()

    assert OfflineImageAPI.provider == "offline"
    assert result.provider == "offline"
    assert result.request_id is None


@pytest.mark.parametrize(("size", "fmt", "pil"), [("1024x1024", "png", "PNG"), ("1536x1024", "jpeg", "JPEG"),
                                                  ("1024x1536", "webp", "WEBP")])
async def test_generate_returns_images_of_the_requested_size_and_format(size: str, fmt: str, pil: str) -> None:
    result = await generate(size=size, output_format=fmt)

    assert len(result.images) == 1
    width, height = (int(v) for v in size.split("x"))
    for image in result.images:
        assert image.format == fmt
        opened = decoded(image.data)
        assert opened.format == pil
        assert opened.size == (width, height)
    assert (result.size, result.output_format, result.model) == (size, fmt, "gpt-image-1")


async def test_generate_usage_matches_the_token_tables() -> None:
    prompt = "a red bicycle leaning on a wall"

    result = await generate(prompt, size="1536x1024", quality="high", n=3)

    assert result.usage == Usage(input_text_tokens=prompt_text_tokens(prompt),
                                 output_image_tokens=3 * output_image_tokens("gpt-image-1", "1536x1024", "high"))
    assert result.usage.output_image_tokens == 3 * 6208


async def test_generate_auto_size_and_quality_resolve_like_the_api() -> None:
    result = await generate(model="gpt-image-2", size="auto", quality="auto")

    assert (result.size, result.quality) == ("1024x1024", "medium")
    assert decoded(result.images[0].data).size == (1024, 1024)
    assert result.usage.output_image_tokens == 1756


async def test_gpt_image_2_custom_size_is_drawn_at_that_size() -> None:
    result = await generate(model="gpt-image-2", size="1280x720", quality="low")

    assert decoded(result.images[0].data).size == (1280, 720)
    assert result.usage.output_image_tokens == output_image_tokens("gpt-image-2", "1280x720", "low")


async def test_same_prompt_gives_the_same_bytes() -> None:
    first = await generate("a quiet harbour", n=2)
    second = await generate("a quiet harbour", n=2)

    assert [i.data for i in first.images] == [i.data for i in second.images]


async def test_different_prompt_gives_different_bytes() -> None:
    first = await generate("a quiet harbour")
    second = await generate("a busy harbour")

    assert first.images[0].data != second.images[0].data


async def test_generate_returns_n_images_that_differ_from_each_other() -> None:
    result = await generate("a quiet harbour", n=3)

    assert len(result.images) == 3
    assert len({image.data for image in result.images}) == 3


async def test_opaque_result_says_opaque() -> None:
    assert (await generate()).background == "opaque"


async def test_opaque_result_has_no_transparent_pixel() -> None:
    result = await generate()

    alpha = decoded(result.images[0].data).convert("RGBA").getchannel("A")
    assert alpha.getextrema() == (255, 255)


@pytest.mark.parametrize("fmt", ["png", "webp"])
async def test_transparent_result_has_an_alpha_channel_with_transparent_pixels(fmt: str) -> None:
    result = await generate("a logo", transparent=True, output_format=fmt)

    assert result.background == "transparent"
    image = decoded(result.images[0].data)
    assert "A" in image.getbands()
    low, high = image.getchannel("A").getextrema()
    assert low == 0
    assert high == 255


async def test_edit_differs_from_its_input_and_keeps_a_square_base_size_when_auto() -> None:
    base = input_image(1024, 1024)
    request = EditRequest(prompt="make it blue", options=ImageOptions(model="gpt-image-1", size="auto"),
                          images=(base,))

    result = await OfflineImageAPI().edit(request)

    assert result.size == "1024x1024"
    assert result.images[0].data != base.data
    edited = decoded(result.images[0].data)
    assert edited.size == (1024, 1024)
    assert edited.convert("RGB").tobytes() != decoded(base.data).convert("RGB").tobytes()


@pytest.mark.parametrize(("width", "height", "size"), [(1536, 1024, "1536x1024"), (800, 600, "1536x1024"),
                                                       (1024, 1536, "1024x1536"), (600, 900, "1024x1536")])
async def test_edit_with_auto_size_follows_the_base_orientation(width: int, height: int, size: str) -> None:
    request = EditRequest(prompt="add a moon", options=ImageOptions(model="gpt-image-1", size="auto"),
                          images=(input_image(width, height),))

    result = await OfflineImageAPI().edit(request)

    assert result.size == size
    assert decoded(result.images[0].data).size == tuple(int(v) for v in size.split("x"))


async def test_edit_with_explicit_size_uses_it() -> None:
    request = EditRequest(prompt="add a moon", options=ImageOptions(model="gpt-image-1", size="1024x1536", n=2),
                          images=(input_image(1024, 1024),))

    result = await OfflineImageAPI().edit(request)

    assert len(result.images) == 2
    assert all(decoded(image.data).size == (1024, 1536) for image in result.images)


async def test_edit_usage_counts_every_input_image_and_the_outputs() -> None:
    images = (input_image(1024, 1024), input_image(1536, 1024, (0, 90, 0)), input_image(512, 512, (0, 0, 90)))
    prompt = "put the plant and the cup on the table"
    request = EditRequest(prompt=prompt, options=ImageOptions(model="gpt-image-1", size="1024x1024", quality="low"),
                          images=images)

    result = await OfflineImageAPI().edit(request)

    assert result.usage == Usage(
        input_text_tokens=prompt_text_tokens(prompt, input_images=3),
        input_image_tokens=194 + 323 + 194,
        output_image_tokens=272,
    )


async def test_edit_on_gpt_image_2_counts_inputs_at_high_fidelity() -> None:
    base = input_image(1024, 1024)
    request = EditRequest(prompt="warmer light", options=ImageOptions(model="gpt-image-2"), images=(base,))

    result = await OfflineImageAPI().edit(request)

    assert result.usage.input_image_tokens == input_image_tokens(1024, 1024, model="gpt-image-2") == 194 + 4160


async def test_edit_is_deterministic_and_depends_on_the_prompt() -> None:
    base = input_image(1024, 1024)

    def request(prompt: str) -> EditRequest:
        return EditRequest(prompt=prompt, options=ImageOptions(model="gpt-image-1"), images=(base,))

    first = await OfflineImageAPI().edit(request("make it blue"))
    again = await OfflineImageAPI().edit(request("make it blue"))
    other = await OfflineImageAPI().edit(request("make it green"))

    assert first.images[0].data == again.images[0].data
    assert first.images[0].data != other.images[0].data


async def test_one_instance_draws_new_variants_on_each_call() -> None:
    api = OfflineImageAPI()
    request = GenerateRequest(prompt="a quiet harbour", options=ImageOptions(model="gpt-image-1"))
    first, second = await api.generate(request), await api.generate(request)
    assert first.images[0].data != second.images[0].data  # a retry looks like a retry, not a copy
