"""The Batch API client, over a real socket against the image API stand-in and its batch clock (moved by `advance`,
never by sleeping). Models come from the catalogue by what they can do, never named here."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image

from bot import errors
from bot.models import GenerateRequest, ImageOptions
from bot.providers.batch_results import BatchFailure, BatchSuccess, parse_results
from bot.providers.batches import BatchAPI, BatchUnsupported, batch_line, input_file
from bot.providers.image_api import ImageAPI
from bot.providers.targets import AzureTarget, OpenAITarget
from standins.images_api import ImageAPIStandIn
from tests.catalogue_helpers import TODAY, catalogue
from tests.conftest import Sleeps

pytestmark = pytest.mark.anyio

START = 1_800_000_000.0
BATCH_MODEL = next(m for m in catalogue().live("openai", TODAY) if catalogue().supports_batch(m))
NO_BATCH_MODEL = next(m for m in catalogue().live("openai", TODAY) if not catalogue().supports_batch(m))


def ask(prompt: str = "a red kite over a beach", **options) -> GenerateRequest:
    return GenerateRequest(prompt, ImageOptions(model=options.pop("model", BATCH_MODEL), quality="low", **options),
                           user="slack-0123456789abcdef01234567")


@pytest.fixture
async def api() -> AsyncIterator[ImageAPIStandIn]:
    async with ImageAPIStandIn(today=TODAY) as standin:
        standin.batch_now = START
        yield standin


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0), trust_env=False) as client:
        yield client


@pytest.fixture
def batches(api: ImageAPIStandIn, http: httpx.AsyncClient, sleeps: Sleeps) -> BatchAPI:
    return BatchAPI(http, OpenAITarget(api.openai_base_url, api.api_key), sleep=sleeps)


async def run(api: ImageAPIStandIn, batches: BatchAPI, *requests: tuple[str, GenerateRequest],
              seconds: float = 3600) -> tuple[str, ...]:
    """Upload, create, let `seconds` pass on the batch clock; the batch's id and its output and error files."""
    uploaded = await batches.upload(list(requests))
    created = await batches.create(uploaded.id)
    api.advance(seconds)
    return created.id, uploaded.id


async def test_a_batch_runs_and_its_results_are_the_images_and_usage(api, batches):
    uploaded = await batches.upload([("one", ask()), ("two", ask("a blue kite", size="1536x1024"))])
    assert (uploaded.purpose, uploaded.filename) == ("batch", "imagebot-batch.jsonl")
    assert uploaded.id.startswith("file-") and uploaded.bytes == len(api.files[uploaded.id].data)

    created = await batches.create(uploaded.id, metadata={"thread": "C1/1.2"})
    assert (created.status, created.ended, created.metadata) == ("validating", False, {"thread": "C1/1.2"})
    api.advance(10)
    running = await batches.retrieve(created.id)
    assert (running.status, running.total, running.completed, running.model) == ("in_progress", 2, 0, BATCH_MODEL)
    assert running.times["in_progress"] == START + 10
    api.advance(20)
    done = await batches.retrieve(created.id)
    assert (done.status, done.ended, done.completed, done.failed, done.error_file_id) == ("completed", True, 2, 0,
                                                                                         None)

    results = await batches.results(done.output_file_id)
    assert [r.custom_id for r in results] == ["one", "two"]
    assert all(isinstance(r, BatchSuccess) for r in results)
    second = results[1]
    assert isinstance(second, BatchSuccess)
    assert Image.open(io.BytesIO(second.images[0].data)).size == (1536, 1024)
    assert (second.images[0].format, second.size, second.quality) == ("png", "1536x1024", "low")
    assert second.usage["output_tokens"] > 0 and second.tokens is not None
    assert second.tokens.output_tokens == second.usage["output_tokens"]
    assert second.request_id and second.request_id.startswith("req_")


async def test_a_batch_line_is_what_the_synchronous_call_sends(api, batches, http):
    request = ask("a lighthouse at dusk", size="1024x1536", n=2, moderation="low")
    await batches.upload([("only", request)])
    await ImageAPI(http, OpenAITarget(api.openai_base_url, api.api_key)).generate(request)

    [line] = api.files[next(iter(api.files))].lines()
    assert (line["custom_id"], line["method"], line["url"]) == ("only", "POST", "/v1/images/generations")
    assert line["body"] == api.requests[-1].json
    assert line["body"]["safety_identifier"] == request.user
    assert batch_line("x", request).startswith('{"custom_id":"x","method":"POST"')


async def test_requests_that_fail_come_back_as_the_errors_a_synchronous_call_raises(api, batches):
    api.fail_lines("rude")
    batch_id, _ = await run(api, batches, ("fine", ask()), ("rude", ask()), ("odd", ask(size="1000x1000")))
    done = await batches.retrieve(batch_id)
    assert (done.completed, done.failed) == (1, 2)

    failures = {r.custom_id: r for r in await batches.results(done.error_file_id)}
    rude, odd = failures["rude"], failures["odd"]
    assert isinstance(rude, BatchFailure) and isinstance(rude.error, errors.ModerationBlocked)
    assert (rude.status, rude.code, rude.error.stage) == (400, "moderation_blocked", "input")
    assert isinstance(odd, BatchFailure) and isinstance(odd.error, errors.InvalidRequest)
    assert (odd.status, odd.error.param) == (400, "size")
    assert [r.custom_id for r in await batches.results(done.output_file_id)] == ["fine"]


async def test_a_cancelled_batch_gives_what_finished_and_says_what_never_ran(api, batches):
    batch_id, _ = await run(api, batches, ("a", ask()), ("b", ask()), seconds=25)
    cancelling = await batches.cancel(batch_id)
    assert (cancelling.status, cancelling.ended) == ("cancelling", False)
    api.advance(60)
    cancelled = await batches.retrieve(batch_id)

    assert (cancelled.status, cancelled.completed, cancelled.failed) == ("cancelled", 1, 1)
    [never] = await batches.results(cancelled.error_file_id)
    assert isinstance(never, BatchFailure)
    assert (never.custom_id, never.code, never.status, never.error) == ("b", "batch_cancelled", None, None)
    with pytest.raises(errors.InvalidRequest) as raised:
        await batches.cancel(batch_id)
    assert raised.value.status == 409


async def test_an_expired_batch_says_which_requests_expired(api, batches):
    batch_id, _ = await run(api, batches, ("a", ask()), ("b", ask()), seconds=25)
    api.expire_batch(batch_id)
    expired = await batches.retrieve(batch_id)

    assert expired.status == "expired" and expired.ended
    [never] = await batches.results(expired.error_file_id)
    assert (never.custom_id, never.code) == ("b", "batch_expired")


async def test_a_batch_of_a_model_without_batches_fails_with_its_reason(api, batches):
    batch_id, _ = await run(api, batches, ("a", ask(model=NO_BATCH_MODEL)))
    failed = await batches.retrieve(batch_id)

    assert (failed.status, failed.output_file_id) == ("failed", None)
    [problem] = failed.problems
    assert (problem.code, problem.line, problem.param) == ("model_not_found", 1, "body.model")
    assert NO_BATCH_MODEL in problem.message


async def test_reads_are_retried_after_a_rate_limit_honouring_retry_after(api, batches, sleeps):
    batch_id, _ = await run(api, batches, ("a", ask()))
    api.rate_limit(retry_after=7, operation="batches")

    assert (await batches.retrieve(batch_id)).status == "completed"
    assert sleeps.delays and sleeps.delays[0] >= 7


async def test_creating_is_not_retried_after_a_server_error_but_is_after_a_429(api, batches, sleeps):
    uploaded = await batches.upload([("a", ask())])
    api.server_error(502, operation="batches")
    with pytest.raises(errors.ServerError):
        await batches.create(uploaded.id)
    assert api.batches == {} and sleeps.delays == []

    api.rate_limit(retry_after=1, operation="batches")
    created = await batches.create(uploaded.id)
    assert list(api.batches) == [created.id] and len(sleeps.delays) == 1


async def test_a_lost_answer_to_create_is_not_tried_again(api, http):
    api.hang(operation="batches")
    quick = BatchAPI(http, OpenAITarget(api.openai_base_url, api.api_key), timeout=httpx.Timeout(0.2))
    uploaded = await quick.upload([("a", ask())])

    with pytest.raises(errors.ServerError, match="may exist"):
        await quick.create(uploaded.id)
    assert [r.operation for r in api.batch_requests].count("batches") == 1


async def test_errors_are_mapped_like_image_calls(api, http, batches):
    wrong = BatchAPI(http, OpenAITarget(api.openai_base_url, "sk-not-the-key-at-all"))
    with pytest.raises(errors.AuthenticationFailed):
        await wrong.retrieve("batch_x")
    with pytest.raises(errors.InvalidRequest) as raised:
        await batches.retrieve("batch_nope")
    assert raised.value.status == 404
    with pytest.raises(errors.InvalidRequest):
        await batches.retrieve("../files")


async def test_a_download_over_its_cap_is_refused(api, http, batches):
    batch_id, _ = await run(api, batches, ("a", ask()))
    done = await batches.retrieve(batch_id)
    small = BatchAPI(http, OpenAITarget(api.openai_base_url, api.api_key), max_download_bytes=1000)

    with pytest.raises(errors.AnswerTooLarge):
        await small.content(done.output_file_id)
    assert len(await batches.content(done.output_file_id)) > 1000


async def test_azure_has_no_batches_here(http):
    with pytest.raises(BatchUnsupported) as raised:
        BatchAPI(http, AzureTarget("https://example.openai.azure.com", "key", "gpt-image-2", "2025-04-01-preview"))
    assert raised.value.provider == "azure" and isinstance(raised.value, errors.ImagebotError)


def test_an_input_file_is_refused_before_anything_is_sent():
    with pytest.raises(errors.InvalidRequest, match="own custom_id"):
        input_file([("a", ask()), ("a", ask())])
    with pytest.raises(errors.InvalidRequest, match="1 to"):
        input_file([])
    with pytest.raises(errors.InvalidRequest) as raised:
        input_file([("a", ask(partial_images=2))])
    assert raised.value.param == "partial_images"
    assert input_file([("a", ask()), ("b", ask())]).count(b"\n") == 2


@pytest.mark.parametrize(("line", "problem"), [
    (b"nope", "is not JSON"),
    (b'{"id": "x"}', "no custom_id"),
    (b'{"custom_id": "a", "response": {"status_code": 200, "body": {"data": []}}}', "without any image"),
    (b'{"custom_id": "a", "response": {"status_code": 200, "body": {"data": [{"b64_json": "@@"}]}}}', "base64"),
])
def test_a_results_line_that_is_not_a_request_output_is_a_server_error(line, problem):
    with pytest.raises(errors.ServerError, match=problem):
        parse_results(b"\n" + line + b"\n")
