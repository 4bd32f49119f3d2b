"""Downloading files users attach in Slack (`url_private`), with the bot token, from Slack's hosts only.

The bot token goes only to Slack's file hosts (over https, on the default port) and to the origin of
SLACK_API_URL (its scheme, host and port; plain http only on loopback, for local stand-ins). Any other URL is
refused before a request is made. Redirects are followed by hand, at most three, and only while they stay
on those origins: a redirect anywhere else is refused, never followed, so the token never travels elsewhere.

URLs are parsed once, by httpx, and the parsed URL is what is requested: the check and the request cannot
disagree about the host. Bodies are read in chunks and cut off past `max_bytes` (refused at once when
Content-Length already says so), so an oversized or endless answer is never read whole.
"""

from __future__ import annotations

import httpx

from bot.errors import AttachmentError
from bot.images.formats import MAX_INPUT_BYTES

SLACK_FILE_HOSTS = frozenset({"files.slack.com", "slack-files.com", "files-edu.slack.com", "files-gov.slack.com"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_REDIRECTS = 3
_DEFAULT_PORTS = {"https": 443, "http": 80}

Origin = tuple[str, str, int]


def _origin(url: httpx.URL) -> Origin | None:
    """(scheme, host, port) of an absolute http(s) URL without credentials; None for anything else."""
    if url.scheme not in _DEFAULT_PORTS or not url.host or url.userinfo:
        return None
    return url.scheme, url.host.lower(), url.port or _DEFAULT_PORTS[url.scheme]


def _parse(url: str | httpx.URL, *, base: httpx.URL | None = None) -> httpx.URL | None:
    """`url` parsed (resolved against `base` if given, as a redirect's Location is); None if it cannot be."""
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        return base.join(parsed) if base is not None else parsed
    except (httpx.InvalidURL, TypeError, ValueError):
        return None


class SlackFiles:
    def __init__(self, http: httpx.AsyncClient, token: str | None, slack_api_url: str) -> None:
        self._http = http
        self._token = token
        self.allowed_origins: frozenset[Origin] = frozenset({("https", host, 443) for host in SLACK_FILE_HOSTS})
        api = _parse(slack_api_url)
        api_origin = _origin(api) if api is not None else None
        if api_origin is not None and (api_origin[0] == "https" or api_origin[1] in LOOPBACK_HOSTS):
            self.allowed_origins |= {api_origin}

    @property
    def allowed_hosts(self) -> frozenset[str]:
        return frozenset(host for _, host, _ in self.allowed_origins)

    def is_allowed(self, url: str | httpx.URL) -> bool:
        """True if the bot token may be sent to `url`."""
        parsed = _parse(url)
        return parsed is not None and _origin(parsed) in self.allowed_origins

    async def download(self, url: str, *, name: str, max_bytes: int = MAX_INPUT_BYTES,
                       token: str | None = None) -> bytes:
        """`token`: the bot token of the file's workspace (default: the one this was built with)."""
        token = token or self._token
        if not token:
            raise AttachmentError(f"I cannot download {name}: no Slack bot token is configured.", filename=name)
        target = _parse(url)
        # Identity encoding: the limit counts the bytes that arrive, and no small compressed chunk can expand.
        headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
        for _ in range(MAX_REDIRECTS + 1):
            if target is None or not self.is_allowed(target):
                raise AttachmentError(f"{name} is not hosted by Slack, so I will not fetch it.", filename=name)
            async with self._http.stream("GET", target, headers=headers, follow_redirects=False) as response:
                if response.has_redirect_location:
                    target = _parse(response.headers["location"], base=response.url)
                    continue  # checked at the top of the loop, before anything is sent there
                return await self._read(response, name=name, max_bytes=max_bytes)
        raise AttachmentError(f"Slack redirected {name} too many times.", filename=name)

    @staticmethod
    async def _read(response: httpx.Response, *, name: str, max_bytes: int) -> bytes:
        if response.status_code != 200:
            raise AttachmentError(f"Slack answered {response.status_code} for {name}.", filename=name)
        if response.headers.get("content-type", "").lower().startswith("text/html"):
            # Slack serves its login page, not the file, when the token cannot read it.
            raise AttachmentError(
                f"Slack would not give me {name}: the app may lack the files:read scope.", filename=name
            )
        too_large = AttachmentError(f"{name} is over the {max_bytes // 2**20} MB limit.", filename=name)
        declared = response.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise too_large  # leaving the `async with` closes the connection: the rest is never read
            chunks.append(chunk)
        return b"".join(chunks)
