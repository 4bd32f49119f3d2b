"""SlackFiles: the bot token goes to Slack and nowhere else.

The far side of the wire is real: small aiohttp servers on loopback that record every request they get.
`slack_host` plays Slack (its origin is SLACK_API_URL, so it is allowed); `elsewhere` listens on another
loopback address (127.0.0.2: the whole 127.0.0.0/8 is loopback on Linux) and `other_port` on another port of
127.0.0.1. Those two play hosts that must never see the token, and must not even be asked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import anyio
import httpx
import pytest
from aiohttp import web

from bot.errors import AttachmentError
from handlers.slack_files import MAX_REDIRECTS, SlackFiles

pytestmark = pytest.mark.anyio
TOKEN = "xoxb-test-files-token"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
LOGIN_PAGE = ("<!DOCTYPE html><html><head><title>Slack</title></head>"
              "<body><h1>Sign in to Slack</h1><form action='/signin'></form></body></html>")
SAFETY_BOUND = 30.0  # a hang guard for tests that would otherwise wait forever on a wrong client; never a delay

Responder = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    path: str
    headers: dict[str, str]

    @property
    def authorization(self) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == "authorization"), None)


@dataclass
class FarSide:
    """An HTTP server on loopback that records each request, then answers with the responder for its path."""

    host: str = "127.0.0.1"
    requests: list[Seen] = field(default_factory=list)
    routes: dict[str, Responder] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    port: int = 0

    async def start(self) -> FarSide:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, 0).start()
        except OSError:
            await self._runner.cleanup()
            raise
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def serve(self, path: str, body: bytes = PNG, content_type: str = "image/png") -> None:
        async def respond(request: web.Request) -> web.StreamResponse:
            return web.Response(body=body, content_type=content_type)

        self.routes[path] = respond

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        async def respond(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, headers={"Location": location})

        self.routes[path] = respond

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Seen(request.path_qs, dict(request.headers)))
        responder = self.routes.get(request.path)
        if responder is None:
            return web.Response(status=404, text="Not Found")
        return await responder(request)


@pytest.fixture
async def slack_host() -> AsyncIterator[FarSide]:
    server = await FarSide().start()
    yield server
    await server.stop()


@pytest.fixture
async def elsewhere() -> AsyncIterator[FarSide]:
    try:
        server = await FarSide(host="127.0.0.2").start()
    except OSError as error:
        pytest.skip(f"cannot bind 127.0.0.2 on this machine ({error}); 127.0.0.0/8 is loopback on Linux only")
    yield server
    await server.stop()


@pytest.fixture
async def other_port() -> AsyncIterator[FarSide]:
    server = await FarSide().start()
    yield server
    await server.stop()


@pytest.fixture
async def files(slack_host: FarSide) -> AsyncIterator[SlackFiles]:
    async with httpx.AsyncClient(trust_env=False, timeout=httpx.Timeout(10.0)) as http:
        yield SlackFiles(http, TOKEN, slack_host.url("/api/"))


# (a) the allowed host gets the token -----------------------------------------------------------------------
async def test_download_from_slack_sends_the_bot_token(files: SlackFiles, slack_host: FarSide) -> None:
    slack_host.serve("/files-pri/T1-F1/cat.png")
    data = await files.download(slack_host.url("/files-pri/T1-F1/cat.png"), name="cat.png")
    assert data == PNG
    [seen] = slack_host.requests
    assert seen.authorization == f"Bearer {TOKEN}"


# (b) other hosts are refused before a byte is sent ------------------------------------------------------------
async def test_url_on_another_address_is_refused_and_never_requested(files: SlackFiles, elsewhere: FarSide) -> None:
    elsewhere.serve("/x.png")
    with pytest.raises(AttachmentError, match="not hosted by Slack"):
        await files.download(elsewhere.url("/x.png"), name="x.png")
    assert elsewhere.requests == []


async def test_same_host_on_another_port_is_another_host(files: SlackFiles, other_port: FarSide) -> None:
    """The allowed origin is SLACK_API_URL's scheme, host and port: another service on the same machine is not
    Slack."""
    other_port.serve("/x.png")
    with pytest.raises(AttachmentError, match="not hosted by Slack"):
        await files.download(other_port.url("/x.png"), name="x.png")
    assert other_port.requests == []


@pytest.mark.parametrize("url", [
    "https://attacker.example.com/x.png",
    "https://files.slack.com.attacker.example.com/x.png",
    "https://slack.com/x.png",  # Slack, but neither a file host nor SLACK_API_URL's host here
    "ftp://files.slack.com/x.png",
    "https://files.slack.com:8443/x.png",
    "https://user:pass@files.slack.com/x.png",  # credentials in a URL are never Slack's
    "/files-pri/T1-F1/x.png",
    "",
])
async def test_urls_not_on_slack_file_hosts_are_refused(files: SlackFiles, url: str) -> None:
    with pytest.raises(AttachmentError, match="not hosted by Slack"):
        await files.download(url, name="x.png")


async def test_userinfo_cannot_smuggle_another_host(files: SlackFiles, slack_host: FarSide, elsewhere: FarSide) -> None:
    """'http://<slack>@<elsewhere>/' goes to elsewhere, whatever the part before the @ says."""
    elsewhere.serve("/x.png")
    url = f"http://127.0.0.1:{slack_host.port}@127.0.0.2:{elsewhere.port}/x.png"
    with pytest.raises(AttachmentError, match="not hosted by Slack"):
        await files.download(url, name="x.png")
    assert elsewhere.requests == [] and slack_host.requests == []


# (c) redirects off Slack are never followed ---------------------------------------------------------------
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirect_to_another_address_is_refused_and_never_followed(
        files: SlackFiles, slack_host: FarSide, elsewhere: FarSide, status: int) -> None:
    elsewhere.serve("/stolen.png")
    slack_host.redirect("/files-pri/T1-F1/cat.png", elsewhere.url("/stolen.png"), status=status)
    with pytest.raises(AttachmentError, match="not hosted by Slack"):
        await files.download(slack_host.url("/files-pri/T1-F1/cat.png"), name="cat.png")
    assert len(slack_host.requests) == 1
    assert elsewhere.requests == []  # not asked at all, so certainly not with the token


async def test_redirect_to_another_port_is_refused(files: SlackFiles, slack_host: FarSide,
                                                   other_port: FarSide) -> None:
    other_port.serve("/stolen.png")
    slack_host.redirect("/files-pri/T1-F1/cat.png", other_port.url("/stolen.png"))
    with pytest.raises(AttachmentError, match="not hosted by Slack"):
        await files.download(slack_host.url("/files-pri/T1-F1/cat.png"), name="cat.png")
    assert other_port.requests == []


async def test_redirect_chain_leaving_slack_midway_is_refused(files: SlackFiles, slack_host: FarSide,
                                                              elsewhere: FarSide) -> None:
    slack_host.redirect("/a", "/b")
    slack_host.redirect("/b", elsewhere.url("/c"))
    elsewhere.serve("/c")
    with pytest.raises(AttachmentError, match="not hosted by Slack"):
        await files.download(slack_host.url("/a"), name="cat.png")
    assert [s.path for s in slack_host.requests] == ["/a", "/b"] and elsewhere.requests == []


# (d) redirects within Slack are followed, with the token ---------------------------------------------------
@pytest.mark.parametrize("absolute", [False, True])
async def test_redirect_within_slack_is_followed_with_the_token(files: SlackFiles, slack_host: FarSide,
                                                                absolute: bool) -> None:
    target = "/files-pri/T1-F1/download/cat.png"
    slack_host.redirect("/files-pri/T1-F1/cat.png", slack_host.url(target) if absolute else target)
    slack_host.serve(target)
    assert await files.download(slack_host.url("/files-pri/T1-F1/cat.png"), name="cat.png") == PNG
    assert [s.path for s in slack_host.requests] == ["/files-pri/T1-F1/cat.png", target]
    assert all(s.authorization == f"Bearer {TOKEN}" for s in slack_host.requests)


# (e) at most three redirects -------------------------------------------------------------------------------
async def test_three_redirects_are_followed(files: SlackFiles, slack_host: FarSide) -> None:
    for hop in range(MAX_REDIRECTS):
        slack_host.redirect(f"/r{hop}", f"/r{hop + 1}")
    slack_host.serve(f"/r{MAX_REDIRECTS}")
    assert MAX_REDIRECTS == 3
    assert await files.download(slack_host.url("/r0"), name="cat.png") == PNG
    assert len(slack_host.requests) == 4


async def test_more_than_three_redirects_are_refused(files: SlackFiles, slack_host: FarSide) -> None:
    for hop in range(MAX_REDIRECTS + 1):
        slack_host.redirect(f"/r{hop}", f"/r{hop + 1}")
    slack_host.serve(f"/r{MAX_REDIRECTS + 1}")
    with pytest.raises(AttachmentError, match=r"redirected cat\.png too many times"):
        await files.download(slack_host.url("/r0"), name="cat.png")
    assert [s.path for s in slack_host.requests] == ["/r0", "/r1", "/r2", "/r3"]  # the fourth hop is not taken


async def test_redirect_loop_is_refused(files: SlackFiles, slack_host: FarSide) -> None:
    slack_host.redirect("/loop", "/loop")
    with pytest.raises(AttachmentError, match="too many times"):
        await files.download(slack_host.url("/loop"), name="cat.png")
    assert len(slack_host.requests) == MAX_REDIRECTS + 1


# (f) Slack's answer to a token that cannot read the file ------------------------------------------------------
@pytest.mark.parametrize("content_type", ["text/html", "TEXT/HTML"])
async def test_login_page_instead_of_the_file_names_the_files_read_scope(
        files: SlackFiles, slack_host: FarSide, content_type: str) -> None:
    async def login_page(request: web.Request) -> web.StreamResponse:
        return web.Response(body=LOGIN_PAGE.encode(), headers={"Content-Type": f"{content_type}; charset=utf-8"})

    slack_host.routes["/files-pri/T1-F1/cat.png"] = login_page
    with pytest.raises(AttachmentError, match="files:read") as raised:
        await files.download(slack_host.url("/files-pri/T1-F1/cat.png"), name="cat.png")
    assert raised.value.filename == "cat.png"


@pytest.mark.parametrize("status", [403, 404, 500])
async def test_error_status_is_an_attachment_error(files: SlackFiles, slack_host: FarSide, status: int) -> None:
    async def fail(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, text="no")

    slack_host.routes["/f"] = fail
    with pytest.raises(AttachmentError, match=f"Slack answered {status} for cat.png"):
        await files.download(slack_host.url("/f"), name="cat.png")


async def test_redirect_status_without_location_is_an_error(files: SlackFiles, slack_host: FarSide) -> None:
    async def bare(request: web.Request) -> web.StreamResponse:
        return web.Response(status=302)

    slack_host.routes["/f"] = bare
    with pytest.raises(AttachmentError, match="Slack answered 302"):
        await files.download(slack_host.url("/f"), name="cat.png")


# (g) too large: cut off, never read whole ---------------------------------------------------------------------
async def test_body_over_max_bytes_is_cut_off_without_reading_it_all(files: SlackFiles, slack_host: FarSide) -> None:
    """An endless chunked body (no Content-Length): the client stops at max_bytes and hangs up. Had it read on,
    the server would have sent all of `cap`; it cannot have, as the socket buffers hold far less than that."""
    chunk, cap, sent = b"\x00" * 65536, 256 * 2**20, [0]

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        await response.prepare(request)
        try:
            while sent[0] < cap:
                await response.write(chunk)
                sent[0] += len(chunk)
        except (ConnectionError, RuntimeError):
            pass  # the client hung up
        return response

    slack_host.routes["/big.png"] = endless
    with anyio.fail_after(SAFETY_BOUND), pytest.raises(AttachmentError, match="over the"):
        await files.download(slack_host.url("/big.png"), name="big.png", max_bytes=2**20)
    assert sent[0] < cap


async def test_declared_length_over_max_bytes_is_refused_before_reading(files: SlackFiles,
                                                                        slack_host: FarSide) -> None:
    """Content-Length says too much: refused on the headers. The server sends a few bytes and then nothing, so a
    client that waited for the body would never return."""
    hang_up = anyio.Event()

    async def announced(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.content_length = 50 * 2**20
        await response.prepare(request)
        await response.write(PNG)
        await hang_up.wait()
        return response

    slack_host.routes["/big.png"] = announced
    try:
        with anyio.fail_after(SAFETY_BOUND), pytest.raises(AttachmentError, match="over the 1 MB limit"):
            await files.download(slack_host.url("/big.png"), name="big.png", max_bytes=2**20)
    finally:
        hang_up.set()


async def test_body_of_exactly_max_bytes_is_accepted(files: SlackFiles, slack_host: FarSide) -> None:
    slack_host.serve("/f.png", body=b"\x01" * 1000)
    assert len(await files.download(slack_host.url("/f.png"), name="f.png", max_bytes=1000)) == 1000
    slack_host.serve("/g.png", body=b"\x01" * 1001)
    with pytest.raises(AttachmentError, match="over the"):
        await files.download(slack_host.url("/g.png"), name="g.png", max_bytes=1000)


# (h) https outside loopback ------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["http://files.slack.com/files-pri/T1-F1/cat.png",
                                 "http://slack-files.com/files-pri/T1-F1/cat.png"])
async def test_plain_http_to_slack_file_hosts_is_refused(files: SlackFiles, url: str) -> None:
    with pytest.raises(AttachmentError, match="not hosted by Slack"):
        await files.download(url, name="cat.png")


async def test_https_file_hosts_and_the_api_origin_are_allowed() -> None:
    async with httpx.AsyncClient(trust_env=False) as http:  # never used: only the rule is checked
        # An http SLACK_API_URL off loopback gets no token either.
        check_rule(SlackFiles(http, TOKEN, "https://slack.com/api/"),
                   SlackFiles(http, TOKEN, "http://slack.example.com/api/"))


def check_rule(files: SlackFiles, plain: SlackFiles) -> None:
    assert files.is_allowed("https://files.slack.com/files-pri/T1-F1/cat.png")
    assert files.is_allowed("https://FILES.slack.com/files-pri/T1-F1/cat.png")
    assert files.is_allowed("https://files.slack.com:443/files-pri/T1-F1/cat.png")
    assert files.is_allowed("https://slack.com/files-pri/T1-F1/cat.png")
    assert not files.is_allowed("http://slack.com/files-pri/T1-F1/cat.png")
    assert not files.is_allowed("https://slack.com:8443/files-pri/T1-F1/cat.png")
    assert not plain.is_allowed("http://slack.example.com/files-pri/T1-F1/cat.png")


async def test_no_token_configured_sends_nothing(slack_host: FarSide) -> None:
    slack_host.serve("/f.png")
    async with httpx.AsyncClient(trust_env=False) as http:
        with pytest.raises(AttachmentError, match="no Slack bot token"):
            await SlackFiles(http, None, slack_host.url("/api/")).download(slack_host.url("/f.png"), name="f.png")
    assert slack_host.requests == []
