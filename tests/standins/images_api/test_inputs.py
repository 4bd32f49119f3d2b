"""Edits: multipart and JSON bodies, their input images, masks and markup, checked as the API checks them."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from bot.money import tokens
from tests.standins.images_api.helpers import (
    CATALOGUE,
    EDIT,
    GEN,
    MODEL,
    assert_error,
    decode,
    gen_body,
    marks,
    ok,
    png,
)
from tests.standins.openapi import openapi_validator

pytestmark = pytest.mark.anyio  # the plugin runs only the async tests on the event loop


async def test_multipart_edit_with_two_images_and_a_mask(api, client):
    first, second = png((1536, 1024), colour=(255, 0, 0)), png((1536, 1024), colour=(0, 0, 255))
    mask = Image.new("RGBA", (1536, 1024), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 512, 1536, 1024))  # edit only the bottom half
    mask_buffer = io.BytesIO()
    mask.save(mask_buffer, "PNG")
    prompt = "make it look like a watercolour"
    response = await client.post(
        EDIT,
        data={"model": MODEL, "prompt": prompt, "n": "1", "quality": "low"},
        files=[("image[]", ("red.png", first, "image/png")), ("image[]", ("blue.png", second, "image/png")),
               ("mask", ("mask.png", mask_buffer.getvalue(), "image/png"))],
    )

    result = ok(response)
    assert result["size"] == "1536x1024"  # auto → the standard size closest to the first image
    text = tokens.prompt_text_tokens(prompt, input_images=2)
    # 2.x models read every input at high fidelity: 65 + 129 × 2 tiles + 6240 each; the mask is not billed.
    assert result["usage"]["input_tokens_details"] == {"text_tokens": text, "image_tokens": 2 * (323 + 6240)}
    assert result["usage"]["output_tokens"] == 158
    image = decode(result["data"][0]["b64_json"]).convert("RGB")
    assert image.size == (1536, 1024)
    assert image.getpixel((10, 10)) == (255, 0, 0)  # outside the mask's transparent area: the first image
    r, g, b = image.getpixel((10, 1000))  # inside it: the first image, tinted
    assert (r, g, b) != (255, 0, 0) and r > 150 and g < 100 and b < 100

    record = api.requests[-1]
    assert (record.operation, record.content_type, record.json) == ("edits", "multipart/form-data", None)
    assert record.params() == {"model": MODEL, "prompt": prompt, "n": 1, "quality": "low"}
    assert [(name, kind, data) for name, kind, data in record.files["image[]"]] == [
        ("red.png", "image/png", first), ("blue.png", "image/png", second)]
    assert record.files["mask"][0][0] == "mask.png"
    assert record.markup is None


async def test_edit_differs_from_a_generation(client):
    edit = ok(await client.post(EDIT, data={"model": MODEL, "prompt": "p"},
                                files={"image": ("a.png", png((1024, 1024)))}))
    generation = ok(await client.post(GEN, json=gen_body(prompt="p")))
    assert edit["data"] != generation["data"]
    assert decode(edit["data"][0]["b64_json"]).convert("RGB").getpixel((5, 5))[0] > 150


async def test_input_fidelity_is_ignored_where_the_model_takes_none(client):
    files = {"image": ("a.png", png((1024, 1024)))}
    for fidelity in ("low", "high"):  # gpt-image-2 and later: always high fidelity (the SDK: omit it)
        result = ok(await client.post(EDIT, data={"model": "gpt-image-2", "prompt": "p", "input_fidelity": fidelity},
                                      files=files))
        assert result["usage"]["input_tokens_details"]["image_tokens"] == 194 + 4160


async def test_markup_guides_an_edit(api, client):
    base = png((64, 64))
    result = ok(await client.post(EDIT, data={"model": MODEL, "prompt": "put a hat where I drew"},
                                  files=[("image", ("a.png", base)), ("markup", ("marks.png", marks((64, 64))))]))
    assert result["usage"]["input_tokens_details"]["image_tokens"] == tokens.input_image_tokens(
        CATALOGUE.inputs, 64, 64, high_fidelity=True)  # the markup is not billed as an input
    assert api.requests[-1].markup == marks((64, 64))


def rotated_jpeg(size=(64, 32)) -> bytes:
    """A JPEG whose EXIF orientation (6: rotate 90°) makes it size[1] × size[0] once turned."""
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.new("RGB", size, (0, 128, 0)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


async def test_markup_matches_the_first_image_after_orientation(client):
    files = [("image", ("a.jpg", rotated_jpeg((64, 32))))]
    ok(await client.post(EDIT, data={"model": MODEL, "prompt": "p"}, files=[*files, ("markup", ("m.png", marks((32,
                                                                                                              64))))]))
    wrong = await client.post(EDIT, data={"model": MODEL, "prompt": "p"}, files=[*files, ("markup", ("m.png", marks(
        (64, 32))))])
    assert_error(wrong, 400, param="markup", code="invalid_value")


@pytest.mark.parametrize(
    ("model", "markup", "mask", "code"),
    [
        ("gpt-image-2", marks(), None, "unsupported_parameter"),  # no markup on gpt-image-2
        (MODEL, marks(), png((64, 64), "RGBA", (0, 0, 0, 0)), "unsupported_parameter"),  # never with a mask
        (MODEL, png((64, 64), fmt="JPEG"), None, "invalid_image_file"),  # not a PNG
        (MODEL, marks((32, 32)), None, "invalid_value"),  # not the first image's size
        (MODEL, png((64, 64), "RGBA", (255, 0, 0, 255)), None, "invalid_value"),  # no transparent pixel
        (MODEL, png((64, 64), "RGB"), None, "invalid_value"),  # no alpha at all
    ],
    ids=["model-without-markup", "with-a-mask", "jpeg", "wrong-size", "opaque", "no-alpha"],
)
async def test_bad_markup_is_400_on_markup(client, model, markup, mask, code):
    files = [("image", ("a.png", png((64, 64)))), ("markup", ("m.png", markup))]
    if mask is not None:
        files.append(("mask", ("mask.png", mask)))
    assert_error(await client.post(EDIT, data={"model": model, "prompt": "p"}, files=files), 400, param="markup",
                 code=code)


async def test_image_type_is_sniffed_from_the_bytes(client):
    data = {"model": MODEL, "prompt": "p"}
    text = await client.post(EDIT, data=data, files={"image[]": ("notes.png", b"just some text\n", "image/png")})
    error = assert_error(text, 400, param="image", type="invalid_request_error")
    assert error["message"] == "Invalid image file or mode for image 1, please check your image file."
    second = await client.post(EDIT, data=data, files=[("image[]", ("a.png", png())),
                                                       ("image[]", ("b.gif", png(fmt="GIF")))])
    assert "for image 2," in assert_error(second, 400, param="image")["message"]
    jpeg_labelled_text = await client.post(EDIT, data=data, files={"image": ("a.txt", png(fmt="JPEG"), "text/plain")})
    assert jpeg_labelled_text.status_code == 200


@pytest.mark.parametrize(
    "mask",
    [
        png((64, 64), mode="RGB"),  # no alpha channel
        png((32, 32), mode="RGBA", colour=(0, 0, 0, 0)),  # not the first image's size
        png((64, 64), mode="RGB", fmt="JPEG"),  # not a PNG
        b"GIF89a not a mask",
    ],
    ids=["no-alpha", "wrong-size", "jpeg", "garbage"],
)
async def test_bad_masks_are_400_on_mask(client, mask):
    response = await client.post(EDIT, data={"model": MODEL, "prompt": "p"},
                                 files=[("image[]", ("a.png", png((64, 64)))), ("mask", ("m.png", mask))])
    assert_error(response, 400, param="mask")


ONE_IMAGE = [("image[]", ("a.png", png((8, 8))))]
NO_FILES = [("model", (None, MODEL))]  # a text part sent as multipart, so httpx sends no file


@pytest.mark.parametrize(
    ("data", "files", "param", "code"),
    [
        ({"moderation": "low"}, ONE_IMAGE, "moderation", "unknown_parameter"),  # generations only
        ({"response_format": "b64_json"}, ONE_IMAGE, "response_format", "unknown_parameter"),
        ({"style": "vivid"}, ONE_IMAGE, "style", "unknown_parameter"),
        ({"colour[of]": "red"}, ONE_IMAGE, "colour[of]", "unknown_parameter"),
        ({"quality": "standard"}, ONE_IMAGE, "quality", "invalid_value"),
        ({"model": "gpt-image-2", "quality": "xhigh"}, ONE_IMAGE, "quality", "invalid_value"),
        ({"model": "gpt-image-2.5-flare", "complexity": "low"}, ONE_IMAGE, "complexity", "unsupported_value"),
        ({"n": "many"}, ONE_IMAGE, "n", "invalid_type"),
        ({"n": "11"}, ONE_IMAGE, "n", "integer_above_max_value"),
        ({"stream": "maybe"}, ONE_IMAGE, "stream", "invalid_type"),
        ({"size": "1000x1000"}, ONE_IMAGE, "size", "invalid_value"),
        ({}, NO_FILES, "image", "missing_required_parameter"),
        ({"prompt": ""}, ONE_IMAGE, "prompt", "empty_string"),
        ({}, ONE_IMAGE * 17, "image", "array_above_max_length"),
        ({}, [("images[]", ("a.png", png((8, 8))))], "images[]", "unknown_parameter"),
        ({"image": "not a file"}, ONE_IMAGE, "image", "invalid_type"),
        ({"markup": "not a file"}, ONE_IMAGE, "markup", "invalid_type"),
        ({"output_format": "gif", "output_compression": "10"}, ONE_IMAGE, "output_compression",
         "unsupported_parameter"),
        ({"output_format": "svg", "n": "2"}, ONE_IMAGE, "n", "unsupported_value"),
    ],
)
async def test_edit_validation(client, data, files, param, code):
    response = await client.post(EDIT, data={"model": MODEL, "prompt": "p", **data}, files=files)
    assert_error(response, 400, param=param, code=code)


async def test_edit_file_size_limit(api, client):
    api.max_image_bytes = 1000
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 50).convert("RGB").save(buffer, "PNG")
    assert len(buffer.getvalue()) > 1000
    response = await client.post(EDIT, data={"model": MODEL, "prompt": "p"},
                                 files={"image": ("a.png", buffer.getvalue())})
    assert_error(response, 400, param="image", code="image_too_large")


async def test_json_edit_with_data_urls(client):
    image_url = "data:image/png;base64," + base64.b64encode(png((1024, 1536))).decode()
    mask_url = "data:image/png;base64," + base64.b64encode(png((1024, 1536), "RGBA", (0, 0, 0, 0))).decode()
    body = {"model": MODEL, "prompt": "p", "images": [{"image_url": image_url}],
            "mask": {"image_url": mask_url}, "moderation": "low", "output_format": "jpeg"}
    openapi_validator("EditImageBodyJsonParam").validate(body)
    result = ok(await client.post(EDIT, json=body))
    assert result["size"] == "1024x1536"
    assert decode(result["data"][0]["b64_json"]).format == "JPEG"


@pytest.mark.parametrize(
    ("images", "param"),
    [
        ([{"image_url": "https://example.com/a.png"}], "images[0].image_url"),
        ([{"file_id": "file-abc"}], "images[0].file_id"),
        ([{"image_url": "data:image/png;base64,aGVsbG8="}], "images[0]"),
        ([], "images"),
        ([{"image_url": "data:image/png;base64,xx", "detail": "high"}], "images[0].detail"),
        ([{"image_url": "data:,x", "file_id": "file-abc"}], "images[0]"),
        ([{}], "images[0].image_url"),
        ("data:image/png;base64,xx", "images"),
    ],
)
async def test_json_edit_rejections(client, images, param):
    response = await client.post(EDIT, json={"model": MODEL, "prompt": "p", "images": images})
    assert_error(response, 400, param=param)


async def test_json_edits_know_only_their_base_fields(client):
    image_url = "data:image/png;base64," + base64.b64encode(png()).decode()
    response = await client.post(EDIT, json={"model": MODEL, "prompt": "p", "images": [{"image_url": image_url}],
                                             "safety_identifier": "h1"})
    assert_error(response, 400, param="safety_identifier", code="unknown_parameter")
