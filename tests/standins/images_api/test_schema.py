"""The shipped OpenAPI description, and the schema's view of requests (pure: no server)."""

from __future__ import annotations

import json

import pytest

from standins.images_api import DALLE_ONLY_PARAMS, FILE_FIELDS, RecordedRequest, closest_standard_size, form_object
from tests.standins.images_api.helpers import CATALOGUE
from tests.standins.openapi import openapi_document, openapi_validator

pytestmark = pytest.mark.anyio  # the plugin runs only the async tests on the event loop


def test_the_schema_ships_with_the_stand_in_package():
    document = openapi_document()
    assert document["openapi"].startswith("3.1")
    assert {"CreateImageRequest", "CreateImageEditRequest", "ImagesResponse", "SvgUsage"} <= set(
        document["components"]["schemas"])
    assert "f85dbe223d40e1a31cba812ab2d755c7e98a92a3" in json.dumps(document["info"])


def test_file_fields_are_the_schemas_binary_properties():
    properties = openapi_document()["components"]["schemas"]["CreateImageEditRequest"]["properties"]
    binary = {name for name, node in properties.items() if '"binary"' in json.dumps(node)}
    assert binary == {"image", "mask", "markup"}
    assert set(FILE_FIELDS) == binary | {"image[]"}
    assert set(openapi_document()["components"]["schemas"]["CreateImageRequest"]["properties"]) >= DALLE_ONLY_PARAMS


def test_every_model_the_schema_names_is_in_the_catalogue():
    named = set(openapi_document()["components"]["schemas"]["ImageModel"]["enum"])
    assert {m for m in named if CATALOGUE.get(m) is None and CATALOGUE.gone(m) is None} == set()


def test_size_helper():
    assert closest_standard_size(1920, 1080) == "1536x1024"
    assert closest_standard_size(1080, 1920) == "1024x1536"
    assert closest_standard_size(1100, 1000) == "1024x1024"


def test_recorded_request_params_flatten_multipart_fields():
    record = RecordedRequest(
        flavor="openai", operation="edits", path="/v1/images/edits", content_type="multipart/form-data",
        fields={"prompt": ["x"], "n": ["2"], "output_compression": ["80"], "user": ["a", "b"], "stream": ["true"],
                "frame_count": ["4"], "svg[model]": ["gpt-5.2"], "svg[reasoning][effort]": ["low"]},
        files={"image[]": [("a.png", "image/png", b"a"), ("b.png", "image/png", b"b")],
               "markup": [("m.png", "image/png", b"m")]},
    )
    assert record.params() == {"prompt": "x", "n": 2, "output_compression": 80, "user": ["a", "b"], "stream": "true",
                               "frame_count": 4, "svg[model]": "gpt-5.2", "svg[reasoning][effort]": "low"}
    assert record.body() == {"prompt": "x", "n": 2, "output_compression": 80, "user": "b", "stream": True,
                             "frame_count": 4, "svg": {"model": "gpt-5.2", "reasoning": {"effort": "low"}},
                             "image": ["<binary>", "<binary>"], "markup": "<binary>"}
    assert (record.svg, record.markup, record.frame_count, record.user) == (
        {"model": "gpt-5.2", "reasoning": {"effort": "low"}}, b"m", 4, "b")
    assert RecordedRequest("openai", "generations", "/", json={"n": 1}).params() == {"n": 1}


def test_a_form_is_the_schemas_object():
    one = form_object({"prompt": ["p"], "partial_images": ["2"], "stream": ["False"]}, {"image": [("a", "b", b"")]})
    assert one == {"prompt": "p", "partial_images": 2, "stream": False, "image": "<binary>"}
    openapi_validator("CreateImageEditRequest").validate(one)
    # What the API would refuse stays refusable: text where a number belongs is not coerced.
    assert form_object({"n": ["many"]}, {})["n"] == "many"
