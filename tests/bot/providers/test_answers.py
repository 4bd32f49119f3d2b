"""bot/providers/answers.py: how much of a successful answer is read, and how its pictures are decoded.

Models come from the catalogue by what they can do (tests/catalogue_helpers.py), never named here.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import httpx
import pytest

from bot.errors import ServerError
from bot.models import ImageOptions
from bot.providers.answers import answer_cap, cut_pictures, parse_answer, read_capped
from tests.catalogue_helpers import caps, default_model, live

OPTIONS = ImageOptions(model=default_model())


def test_the_answer_cap_is_well_above_the_largest_picture_any_model_makes() -> None:
    mib = 1024 * 1024
    largest = max(caps(m).sizes.max_pixels for m in live())
    assert answer_cap(OPTIONS) == 49 * mib > largest * 4 * 4 / 3  # raw RGBA, as base64
    assert answer_cap(replace(OPTIONS, n=3)) == 3 * 48 * mib + mib
    assert answer_cap(replace(OPTIONS, output_format="gif", frames=16)) == 16 * 12 * mib + mib
    assert answer_cap(replace(OPTIONS, output_format="gif")) == answer_cap(replace(OPTIONS, output_format="gif",
                                                                                   frames=16))
    assert answer_cap(replace(OPTIONS, output_format="gif", frames=2)) == 49 * mib


# Reading the pictures: cut out of the answer's bytes and decoded there, or the whole answer parsed when it is
# laid out otherwise. Either way the images and usage are what a JSON parser reads.

PICTURES = (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, b"GIF89a" + bytes(range(255, -1, -1)) * 7)
USAGE = {"input_tokens": 12, "output_tokens": 4160, "total_tokens": 4172,
         "input_tokens_details": {"text_tokens": 12, "image_tokens": 0}}


def _answer(text: str) -> bytearray:
    return bytearray(text.encode())


def _parse(content: bytearray, options: ImageOptions = OPTIONS) -> tuple[bytes, ...]:
    response = httpx.Response(200, headers={"x-request-id": "req_1"})
    return tuple(image.data for image in parse_answer(response, content, options, "openai").images)


def _encoded(picture: bytes) -> str:
    return base64.b64encode(picture).decode()


def test_pictures_are_cut_out_of_the_answer_and_decoded_as_a_json_parser_would() -> None:
    answer = {"created": 1, "data": [{"b64_json": _encoded(p), "revised_prompt": "a lighthouse"} for p in PICTURES],
              "usage": USAGE}
    for text in (json.dumps(answer), json.dumps(answer, indent=2), json.dumps(answer, separators=(",", ":")),
                 json.dumps(answer).replace('"b64_json": ', '"b64_json" :\n\t ')):
        cut = cut_pictures(_answer(text))
        assert cut is not None
        rest, views = cut
        assert [bytes(v) for v in views] == [_encoded(p).encode() for p in PICTURES]
        assert [item["b64_json"] for item in json.loads(rest)["data"]] == ["", ""]
        assert _parse(_answer(text)) == PICTURES
    usage = parse_answer(httpx.Response(200), _answer(json.dumps(answer)), OPTIONS, "openai").usage
    assert usage is not None and usage.output_image_tokens == 4160


@pytest.mark.parametrize("layout", [
    # JSON may escape "/" (some encoders do): only a JSON parser reads that right.
    lambda text: text.replace("/", "\\/"),
    # A revised prompt that quotes the key, and an extra object that carries one: the cut cannot be trusted.
    lambda text: text.replace('"revised_prompt": "x"', '"revised_prompt": "say \\"b64_json\\": \\"QUFB\\""'),
    lambda text: text.replace('"created": 1', '"created": 1, "debug": {"b64_json": "QUFB"}'),
    lambda text: text.replace('"created": 1', '"created": 1, "x\\"b64_json": "QUFB"'),
])
def test_an_answer_laid_out_otherwise_is_parsed_whole(layout: object) -> None:
    picture = b"\xff\xfe/\xff" * 300  # its base64 has "/" in it
    text = json.dumps({"created": 1, "data": [{"b64_json": _encoded(picture), "revised_prompt": "x"}]})
    changed = layout(text)  # type: ignore[operator]
    assert changed != text
    assert _parse(_answer(changed)) == (picture,)


@pytest.mark.parametrize(("text", "message"), [
    ('{"data": [{"b64_json": "QUFB!"}]}', "not valid base64"),
    ('{"data": [{"b64_json": "QUF"}]}', "not valid base64"),
    ('{"data": [{"b64_json": "QU\nFB"}]}', "not valid base64"),  # a raw newline: neither JSON nor base64
    ('{"data": [{"b64_json": ""}]}', "empty image"),
    ('{"data": [{"b64_json": null}]}', "without image data"),
    ('{"data": [{"b64_json": "QUFB"}, {"url": "https://x"}]}', "without image data"),
    ('{"data": [{"b64_json": "QUFB"}', "not JSON"),
    ('{"data": [{"b64_json": "QUFB', "not JSON"),
    ('[{"b64_json": "QUFB"}]', "without any image"),
    ('{"data": []}', "without any image"),
])
def test_an_answer_without_a_readable_picture_is_a_server_error(text: str, message: str) -> None:
    with pytest.raises(ServerError, match=message) as caught:
        _parse(_answer(text))
    assert caught.value.request_id == "req_1"


@pytest.mark.anyio
@pytest.mark.parametrize("headers", [{"content-length": "33"}, {"content-length": "90"}, {"content-length": "3"},
                                     {"content-length": "x"},
                                     {}, {"content-length": "10", "content-encoding": "identity"}])
async def test_the_body_is_read_whole_whatever_its_length_says(headers: dict[str, str]) -> None:
    """One buffer of the stated length, grown or cut when the length was wrong; chunks joined without one."""
    class Chunks(httpx.AsyncByteStream):
        async def __aiter__(self):  # type: ignore[override]
            for chunk in (b'{"data": ', b'[{"b64_json": "QUFB"}]', b"}"):
                yield chunk

    body = await read_capped(httpx.Response(200, headers=headers, stream=Chunks()), cap=1000)
    assert bytes(body) == b'{"data": [{"b64_json": "QUFB"}]}'
