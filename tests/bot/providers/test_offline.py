"""bot/providers/offline.py: deterministic pictures with the API's shape of result and usage, and nothing billed."""

import io
import math
import xml.etree.ElementTree as ET

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageSequence, ImageStat

from bot.errors import InvalidRequest
from bot.images import imaging
from bot.models import EditRequest, GenerateRequest, ImageOptions, InputImage
from bot.money.catalogue import Catalogue
from bot.money.pricing import SvgUsage, Usage
from bot.money.tokens import input_image_tokens, output_image_tokens, prompt_text_tokens
from bot.providers.offline import OFFLINE_SVG_AUTHOR, OfflineImageAPI
from tests.slack_views import decoded

pytestmark = pytest.mark.anyio

CATALOGUE = Catalogue.load()
ANIMATED = "gpt-image-2.6-sunburst"  # a model that makes GIFs and SVGs
SVG = "{http://www.w3.org/2000/svg}"


def caps(model: str):
    found = CATALOGUE.capabilities(model, "offline")
    assert found is not None
    return found


def api() -> OfflineImageAPI:
    return OfflineImageAPI(catalogue=CATALOGUE)


def input_image(width: int, height: int, color: tuple[int, int, int] = (200, 30, 30)) -> InputImage:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return InputImage(data=out.getvalue(), format="png", width=width, height=height, name="base.png")


async def generate(prompt: str = "a lighthouse at dusk", **options) -> object:
    options.setdefault("model", "gpt-image-1")
    return await api().generate(GenerateRequest(prompt=prompt, options=ImageOptions(**options)))


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
                                 output_image_tokens=3 * output_image_tokens(caps("gpt-image-1"), "1536x1024",
                                                                                 "high"))
    assert result.usage.output_image_tokens == 3 * 6208


async def test_generate_auto_size_and_quality_resolve_like_the_api() -> None:
    result = await generate(model="gpt-image-2", size="auto", quality="auto")

    assert (result.size, result.quality) == ("1024x1024", "medium")
    assert decoded(result.images[0].data).size == (1024, 1024)
    assert result.usage.output_image_tokens == 1756


async def test_gpt_image_2_custom_size_is_drawn_at_that_size() -> None:
    result = await generate(model="gpt-image-2", size="1280x720", quality="low")

    assert decoded(result.images[0].data).size == (1280, 720)
    assert result.usage.output_image_tokens == output_image_tokens(caps("gpt-image-2"), "1280x720", "low")


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

    result = await api().edit(request)

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

    result = await api().edit(request)

    assert result.size == size
    assert decoded(result.images[0].data).size == tuple(int(v) for v in size.split("x"))


async def test_edit_with_explicit_size_uses_it() -> None:
    request = EditRequest(prompt="add a moon", options=ImageOptions(model="gpt-image-1", size="1024x1536", n=2),
                          images=(input_image(1024, 1024),))

    result = await api().edit(request)

    assert len(result.images) == 2
    assert all(decoded(image.data).size == (1024, 1536) for image in result.images)


async def test_edit_usage_counts_every_input_image_and_the_outputs() -> None:
    images = (input_image(1024, 1024), input_image(1536, 1024, (0, 90, 0)), input_image(512, 512, (0, 0, 90)))
    prompt = "put the plant and the cup on the table"
    request = EditRequest(prompt=prompt, options=ImageOptions(model="gpt-image-1", size="1024x1024", quality="low"),
                          images=images)

    result = await api().edit(request)

    assert result.usage == Usage(
        input_text_tokens=prompt_text_tokens(prompt, input_images=3),
        input_image_tokens=194 + 323 + 194,
        output_image_tokens=272,
    )


async def test_edit_on_gpt_image_2_counts_inputs_at_high_fidelity() -> None:
    base = input_image(1024, 1024)
    request = EditRequest(prompt="warmer light", options=ImageOptions(model="gpt-image-2"), images=(base,))

    result = await api().edit(request)

    assert result.usage.input_image_tokens == input_image_tokens(CATALOGUE.inputs, 1024, 1024,
                                                                 high_fidelity=True) == 194 + 4160


async def test_edit_is_deterministic_and_depends_on_the_prompt() -> None:
    base = input_image(1024, 1024)

    def request(prompt: str) -> EditRequest:
        return EditRequest(prompt=prompt, options=ImageOptions(model="gpt-image-1"), images=(base,))

    first = await api().edit(request("make it blue"))
    again = await api().edit(request("make it blue"))
    other = await api().edit(request("make it green"))

    assert first.images[0].data == again.images[0].data
    assert first.images[0].data != other.images[0].data


async def test_one_instance_draws_new_variants_on_each_call() -> None:
    offline = api()
    request = GenerateRequest(prompt="a quiet harbour", options=ImageOptions(model="gpt-image-1"))
    first, second = await offline.generate(request), await offline.generate(request)
    assert first.images[0].data != second.images[0].data  # a retry looks like a retry, not a copy


# the catalogue ------------------------------------------------------------------------------------------------


async def test_without_a_catalogue_it_loads_the_built_in_one_when_constructed() -> None:
    offline = OfflineImageAPI()

    assert offline.catalogue.ids == CATALOGUE.ids
    result = await offline.generate(GenerateRequest(prompt="x", options=ImageOptions(model="gpt-image-2")))
    assert result.usage.output_image_tokens == 1756


async def test_a_model_the_catalogue_does_not_know_is_refused_like_the_api_does() -> None:
    with pytest.raises(InvalidRequest) as caught:
        await generate(model="dall-e-9")

    assert caught.value.param == "model"


@pytest.mark.parametrize("fmt", ["gif", "svg"])
async def test_a_format_the_model_cannot_make_is_refused(fmt: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await generate(model="gpt-image-1", output_format=fmt)

    assert caught.value.param == "output_format"


async def test_edit_with_high_input_fidelity_is_counted_at_high_fidelity() -> None:
    request = EditRequest(prompt="keep the face",
                          options=ImageOptions(model="gpt-image-1", input_fidelity="high", quality="low"),
                          images=(input_image(1536, 1024),))

    result = await api().edit(request)

    assert result.usage.input_image_tokens == input_image_tokens(CATALOGUE.inputs, 1536, 1024,
                                                                 high_fidelity=True) == 323 + 6240


# animated GIF -------------------------------------------------------------------------------------------------


def frames_of(data: bytes) -> tuple[Image.Image, list[Image.Image], list[int]]:
    """The opened GIF, each frame as RGBA, and each frame's duration in ms."""
    opened = Image.open(io.BytesIO(data))
    frames, durations = [], []
    for frame in ImageSequence.Iterator(opened):
        durations.append(frame.info["duration"])
        frames.append(frame.convert("RGBA"))
    return opened, frames, durations


async def test_gif_is_animated_with_the_asked_frames_and_durations() -> None:
    result = await generate(model=ANIMATED, size="1536x1024", output_format="gif", frames=5, frame_ms=150)

    image = result.images[0]
    assert (image.format, result.output_format, result.size) == ("gif", "gif", "1536x1024")
    opened, frames, durations = frames_of(image.data)
    assert opened.format == "GIF"
    assert opened.is_animated
    assert opened.n_frames == 5
    assert opened.info["loop"] == 0  # loops for ever
    assert durations == [150] * 5
    assert all(frame.size == (1536, 1024) for frame in frames)
    # visibly moving: every frame differs from the one before it (and the last from the first)
    for before, after in zip(frames, [*frames[1:], frames[0]], strict=True):
        assert ImageChops.difference(before.convert("RGB"), after.convert("RGB")).getbbox() is not None
    assert imaging.inspect(image.data).frames == 5


async def test_gif_without_frames_or_duration_uses_the_models_defaults() -> None:
    rule = caps(ANIMATED).gif
    assert rule is not None

    result = await generate(model=ANIMATED, output_format="gif")

    opened, _frames, durations = frames_of(result.images[0].data)
    assert opened.n_frames == rule.default_frames
    assert durations == [rule.default_frame_ms] * rule.default_frames


async def test_gif_shows_the_offline_picture_with_a_moving_disc() -> None:
    still = decoded((await generate("a red kite", model=ANIMATED)).images[0].data).convert("RGB")
    animated = await generate("a red kite", model=ANIMATED, output_format="gif", frames=4)

    _opened, frames, _ = frames_of(animated.images[0].data)
    # the caption band (the prompt and "imagebot · offline") at the bottom is the still picture's, in every frame
    band = (0, 900, 1024, 1024)
    for frame in frames:
        diff = ImageChops.difference(frame.convert("RGB").crop(band), still.crop(band)).convert("L")
        assert ImageStat.Stat(diff).mean[0] < 8  # only palette rounding


async def test_gif_usage_is_the_catalogues_gif_estimate() -> None:
    result = await generate(model=ANIMATED, output_format="gif", quality="low")

    assert result.usage.output_image_tokens == output_image_tokens(caps(ANIMATED), "1024x1024", "low", "gif")
    assert result.usage.output_image_tokens > output_image_tokens(caps(ANIMATED), "1024x1024", "low")
    assert result.svg_usage is None


async def test_transparent_gif_has_transparent_pixels() -> None:
    result = await generate(model=ANIMATED, output_format="gif", frames=3, transparent=True)

    assert result.background == "transparent"
    _opened, frames, _ = frames_of(result.images[0].data)
    assert all(frame.getchannel("A").getextrema() == (0, 255) for frame in frames)


async def test_gif_durations_are_whole_hundredths_of_a_second() -> None:
    result = await generate(model=ANIMATED, output_format="gif", frames=2, frame_ms=125)

    assert frames_of(result.images[0].data)[2] == [120, 120]  # GIF counts time in hundredths of a second


@pytest.mark.parametrize("frames", [1, 17])
async def test_gif_frame_count_outside_the_models_range_is_refused(frames: int) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await generate(model=ANIMATED, output_format="gif", frames=frames)

    assert caught.value.param == "frame_count"


async def test_edit_as_gif_is_animated_and_of_the_resolved_size() -> None:
    request = EditRequest(prompt="add snow", options=ImageOptions(model=ANIMATED, size="auto", output_format="gif",
                                                                  frames=3), images=(input_image(900, 600),))

    result = await api().edit(request)

    opened, _frames, _ = frames_of(result.images[0].data)
    assert (result.size, opened.n_frames, opened.size) == ("1536x1024", 3, (1536, 1024))


# SVG ----------------------------------------------------------------------------------------------------------


def svg_root(data: bytes) -> ET.Element:
    assert data.decode("utf-8").startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(data)


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


async def test_svg_is_a_well_formed_document_of_the_resolved_size() -> None:
    prompt = 'a <lighthouse> & "its" keeper\x01'
    result = await generate(prompt, model=ANIMATED, size="1536x1024", output_format="svg", svg_model="gpt-5.5")

    image = result.images[0]
    assert (image.format, result.output_format, result.size) == ("svg", "svg", "1536x1024")
    root = svg_root(image.data)
    assert root.tag == f"{SVG}svg"
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("1536", "1024", "0 0 1536 1024")
    assert root.findtext(f"{SVG}title") == 'a <lighthouse> & "its" keeper'  # escaped, the control character gone
    assert 'a <lighthouse> & "its" keeper' in texts(root)
    assert "imagebot · offline" in texts(root)
    assert len(list(root.iter(f"{SVG}circle"))) + len(list(root.iter(f"{SVG}rect"))) >= 4
    info = imaging.inspect(image.data)
    assert (info.format, info.width, info.height) == ("svg", 1536, 1024)


async def test_svg_usage_names_the_author_and_counts_the_svg() -> None:
    prompt = "a paper boat"
    result = await generate(prompt, model=ANIMATED, output_format="svg", svg_model="gpt-5.5", n=2)

    written = sum(math.ceil(len(image.data) / 4) for image in result.images)
    reads = prompt_text_tokens(prompt) + input_image_tokens(CATALOGUE.inputs, 1024, 1024, high_fidelity=False)
    assert result.svg_usage == SvgUsage(model="gpt-5.5", input_tokens=2 * reads, output_tokens=written,
                                        reasoning_tokens=0)
    # the reference render is billed as an image, as the API's `usage` reports it
    assert result.usage.output_image_tokens == 2 * output_image_tokens(caps(ANIMATED), "1024x1024", "medium", "svg")
    assert len({image.data for image in result.images}) == 2


async def test_svg_without_an_author_model_says_it_is_offline() -> None:
    result = await generate(model=ANIMATED, output_format="svg")

    assert result.svg_usage is not None
    assert result.svg_usage.model == OFFLINE_SVG_AUTHOR
    assert result.svg_usage.output_tokens > 0


async def test_other_formats_have_no_svg_usage() -> None:
    assert (await generate(model=ANIMATED, output_format="png")).svg_usage is None


async def test_transparent_svg_has_no_background() -> None:
    opaque = svg_root((await generate(model=ANIMATED, output_format="svg")).images[0].data)
    clear = svg_root((await generate(model=ANIMATED, output_format="svg", transparent=True)).images[0].data)

    assert opaque.find(f"{SVG}defs") is not None
    assert clear.find(f"{SVG}defs") is None


async def test_svg_renders_as_a_preview_of_its_size() -> None:
    result = await generate(model=ANIMATED, size="1536x1024", output_format="svg")

    preview = decoded(imaging.svg_preview(result.images[0].data))

    assert (preview.format, preview.size) == ("PNG", (1536, 1024))
    assert preview.convert("RGBA").getchannel("A").getextrema() == (255, 255)  # the gradient fills it


async def test_edit_as_svg_draws_the_base_and_counts_its_inputs() -> None:
    images = (input_image(1024, 1024, (0, 0, 250)), input_image(512, 512))
    request = EditRequest(prompt="add a moon", options=ImageOptions(model=ANIMATED, output_format="svg"),
                          images=images)

    result = await api().edit(request)

    root = svg_root(result.images[0].data)
    assert (root.get("width"), root.get("height")) == ("1024", "1024")
    assert "add a moon" in texts(root)
    preview = decoded(imaging.svg_preview(result.images[0].data)).convert("RGB")
    red, _green, blue = preview.getpixel((512, 512))
    assert blue > 120 and red < 140  # the blue base, tinted
    assert result.usage.input_image_tokens == 2 * 194 + 4160 * 2  # 2.6 reads every input at high fidelity
    assert result.svg_usage is not None


async def test_edit_with_markup_shows_the_marks() -> None:
    marks = Image.new("RGBA", (1024, 1024), (0, 0, 0, 0))
    ImageDraw.Draw(marks).rectangle((400, 400, 600, 600), fill=(255, 255, 0, 255))
    out = io.BytesIO()
    marks.save(out, format="PNG")
    base = input_image(1024, 1024, (0, 0, 120))

    def request(markup: bytes | None) -> EditRequest:
        return EditRequest(prompt="a window here", options=ImageOptions(model=ANIMATED), images=(base,),
                           markup=markup)

    plain = decoded((await api().edit(request(None))).images[0].data).convert("RGB")
    marked = decoded((await api().edit(request(out.getvalue()))).images[0].data).convert("RGB")

    assert marked.getpixel((500, 500)) == (255, 255, 0)
    assert plain.getpixel((500, 500)) != (255, 255, 0)
