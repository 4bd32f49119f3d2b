"""A local stand-in for the OpenAI Images API and Azure OpenAI's image deployments, as they are in December 2026.

It plays the far side of the wire for imagebot's tests, benchmarks and sandbox: a real aiohttp server on 127.0.0.1
that answers the same routes, with the same auth, validation, bodies and headers as the real services, so the app's
image client can be tested over a real socket without a network or a bill.

Where its facts come from
    Requests: every request is validated against OpenAI's own OpenAPI description of the image endpoints, shipped in
    this package (``standins/schemas/openai-images-2026-12.openapi.json``; provenance in ``standins/schemas/README.md``:
    https://github.com/openai/openai-openapi at f85dbe2 with the request/response types of
    https://github.com/openai/openai-python 3.60.0 laid over it). What each model can do (sizes, qualities,
    formats, complexity, markup, GIF, SVG, limits) and what it is billed come from imagebot's model catalogue
    (``bot/money/catalogue.json`` via ``bot.money.catalogue`` and ``bot.money.tokens``).
    Which models the *provider* still serves is
    the stand-in's own world: by default the catalogue's status on that provider on ``today``, and tests can shut
    models down, move shutdown dates or add models at run time (see "The world" below).
    Shutdowns: https://platform.openai.com/docs/deprecations. Azure: https://learn.microsoft.com/azure/ai-foundry/openai/how-to/dall-e.

What it emulates
    OpenAI   POST /v1/images/generations (JSON) and POST /v1/images/edits (multipart/form-data with ``image`` /
             ``image[]``, ``mask`` and ``markup`` files and bracketed nested fields such as ``svg[model]``, or the
             JSON variant with ``images: [{image_url}]``), ``Authorization: Bearer <api_key>``.
             GET /v1/models (the list, with ``shutdown_date``) and GET /v1/models/{model}, after the same auth and
             queued faults (operation "models") as the image routes. Both are recorded in ``model_requests``; the
             retrieves also in ``requests``, the list not (the app reads it at start-up; tests count image calls).
             The Batch API for image generations (``batches``): POST /v1/files (multipart ``file`` + ``purpose``),
             GET /v1/files/{id} and /v1/files/{id}/content (FileObjects; output and error files too), POST
             /v1/batches, GET /v1/batches/{id}, POST /v1/batches/{id}/cancel (Batch objects). A batch moves only on
             the stand-in's batch clock (``batch_now``, ``advance(seconds)``): validating, in_progress (finalizing),
             completed; failed when the input file is wrong as a whole (not JSON lines, a repeated custom_id, another
             url, a model the catalogue says takes no batches); expired past 24 h and cancelling/cancelled, the
             finished requests in the output file and the rest in the error file (batch_expired/batch_cancelled).
             Each request is validated and answered as the synchronous generation would be, so a bad body fails that
             line only (in the error file, with its 4xx body). Controls: ``fail_batch(id)``, ``expire_batch(id)``,
             ``fail_lines(*custom_ids, kind="moderation"|"server_error")``; ``files``, ``batches`` and
             ``batch_requests`` (recorded apart from ``requests``); faults reach these routes only when queued for
             operation "files" or "batches". Batch listing and /v1/images/edits batches are not emulated.
    Azure    POST /openai/deployments/{deployment}/images/generations|edits?api-version=..., ``api-key:
             <azure_api_key>``; the model is the deployment's. The 2025-04-01-preview API knows ``user`` but not
             ``safety_identifier`` (400 unknown_parameter), and answers PNG or JPEG only.
    Both     OpenAI-style 400s with ``param`` and ``code`` for anything the schema or the model refuses; 404
             model_not_found for shut-down models and 400 invalid_value for IDs nobody serves; real, decodable
             images of the requested format and resolved size (transparent backgrounds carry alpha; ``gif`` is an
             animated GIF of ``frame_count`` frames; ``svg`` is an SVG document, with ``svg_usage``); ``usage`` from
             the catalogue's token figures; SSE streaming with partial images; ``x-request-id`` /
             ``openai-processing-ms`` (and Azure's ``apim-request-id``) headers; and queued faults (429 with
             Retry-After, quota, 5xx, moderation blocks, Azure content filters, 401, 403, garbage bodies, hangs,
             a 200 whose body breaks off or stalls, and a 200 with a body of any size streamed from a generator).
             Faults answer in OpenAI's body shape on both flavours, except rate_limit() and auth_error(), which use
             Azure's own {"error": {"code", "message"}} shape on Azure routes.

The world
    ``today``            the day the stand-in lives on (constructor ``today=``; default: the real UTC date, read per
                         request). Statuses, shutdown dates and release dates apply from their day.
    ``shut_down``        a set of model IDs the provider has shut down whatever the catalogue says (both flavours).
    ``shutdown_dates``   model ID -> date (or "YYYY-MM-DD", or None): replaces the catalogue's shutdown date; the
                         model is shut down from that day on and /v1/models lists the date.
    ``add_model(id, like=...)``  serve a model the catalogue does not know, with another model's capabilities.
    ``other_models``     non-image models /v1/models also lists (clients must filter): gpt-5.2, text-embedding-3-small.
    ``model_list_status`` / ``model_list_empty``  make GET /v1/models fail with that status, or list nothing.
    ``svg_model_required``  a missing ``svg.model`` is a 400, as when a project has SVG model selection enabled.

What it does not emulate
    The pictures are deterministic drawings (generations: a gradient plus shapes seeded by the prompt; edits: the
    first input image, tinted and banded, only inside the mask's transparent area), not model output, and they carry
    no C2PA provenance. Remote ``image_url``s and ``file_id``s (the Files API) are refused with a 400 because only
    loopback exists here. Access gating (GIF preview, SVG access, organisation verification) is not enforced unless a
    fault is queued; nor is rate limiting or quota. Microsoft Entra ID tokens, Azure's v1 API (/openai/v1/...) and
    /images/variations (which no longer accepts requests) are not emulated. ``latency`` delays successful answers
    only (errors are fast, like the real thing). Token counts for xhigh, max and GIF are the catalogue's stated
    upper bounds, because OpenAI publishes none.

The pause gate
    ``pause()`` holds every following request that would be answered successfully (after auth, faults and
    validation, before ``latency`` and the picture) until ``resume()`` or ``stop()``; errors still answer at once.
    ``waiting`` counts the requests held now and ``held`` lists them (recorded, status 0); ``wait_for_waiting(n)``
    waits until n are held. ``resume()`` releases exactly the requests held at that moment, so ``resume(); pause()``
    lets one batch through and holds the next. It is how a test freezes a job "at the image API" to look at the app
    while the call is in flight.

Typical use::

    async with ImageAPIStandIn(today=date(2026, 12, 8)) as api:
        client = httpx.AsyncClient(base_url=api.openai_base_url, headers={"Authorization": "Bearer sk-standin"})
        api.rate_limit(retry_after=2)            # the next request gets a 429
        api.shut_down.add("gpt-image-2")         # the API says it is gone, whatever the catalogue says
        ...
        assert api.requests[-1].params()["model"] == "gpt-image-2.6-sunburst"

The package, by role
    ``standin``       ImageAPIStandIn: the aiohttp server, its routes and its controls (built from the mixins below)
    ``world``         which models the provider serves on ``today`` (the catalogue, narrowed by the world's changes)
    ``faults``        the queued faults and the answers they give; ``gate``: the pause gate
    ``bodies``        request bodies read (JSON or multipart) and seen as the schema's objects; ``records``: what
                      tests look at
    ``schema``        OpenAI's OpenAPI description, read from the package data; ``validation``: a request checked
                      against it in the API's order; ``capabilities``: what the model can do, from the catalogue
    ``inputs``        input images, masks and markup decoded and checked; ``jobs``: a checked request, and what
                      "auto" turns into
    ``usage``         the token figures billed; ``pictures``: the images drawn; ``answers``: the bodies written
    ``errors``        OpenAI's and Azure's error bodies; ``facts``: the API's defaults and limits
    ``batches``       the Files and Batch routes and a batch's life on the batch clock; ``batch_lines``: a batch's
                      state, its checks and its files' lines; ``files``: uploaded and written files

This ``__init__`` is the package's interface: the stand-in and the few helpers tests use.
"""

from standins.images_api.bodies import form_object
from standins.images_api.facts import DALLE_ONLY_PARAMS, FILE_FIELDS, closest_standard_size
from standins.images_api.records import RecordedRequest
from standins.images_api.schema import SCHEMA_FILE, openapi_document, request_schema, schema_validator
from standins.images_api.standin import ImageAPIStandIn

__all__ = [
    "DALLE_ONLY_PARAMS",
    "FILE_FIELDS",
    "SCHEMA_FILE",
    "ImageAPIStandIn",
    "RecordedRequest",
    "closest_standard_size",
    "form_object",
    "openapi_document",
    "request_schema",
    "schema_validator",
]
