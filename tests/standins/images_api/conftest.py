"""The Images API stand-in, tested over real loopback HTTP with httpx: here, the stand-in and a client per flavour.

Requests and responses are checked against OpenAI's own OpenAPI description (shipped in standins/schemas/, read by
tests/standins/openapi.py) so the stand-in cannot drift from the real wire format; what each model can do and what
it is billed come from imagebot's catalogue (bot/money/catalogue.json), which the stand-in reads too.
Every test lives on a fixed day (TODAY), so the outcome never depends on the calendar.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from standins.images_api import ImageAPIStandIn, request_schema
from tests.standins.images_api.helpers import AZURE_KEY, KEY, TODAY
from tests.standins.openapi import openapi_validator


def assert_accepted_requests_match_the_schema(api: ImageAPIStandIn) -> None:
    """Whatever the stand-in answered with 200 is a request OpenAI's schema accepts (multipart as its object)."""
    for record in api.requests:
        if record.status == 200 and record.operation != "models":
            kind = "json" if record.json is not None else "multipart"
            openapi_validator(request_schema(record.operation, kind)).validate(record.body())


@pytest.fixture
async def api() -> AsyncIterator[ImageAPIStandIn]:
    async with ImageAPIStandIn(today=TODAY) as standin:
        yield standin
    assert_accepted_requests_match_the_schema(standin)


@pytest.fixture
async def client(api):
    async with httpx.AsyncClient(base_url=api.openai_base_url, headers={"Authorization": f"Bearer {KEY}"},
                                 timeout=30) as http:
        yield http


@pytest.fixture
async def azure(api):
    async with httpx.AsyncClient(base_url=api.azure_endpoint, headers={"api-key": AZURE_KEY}, timeout=30) as http:
        yield http
