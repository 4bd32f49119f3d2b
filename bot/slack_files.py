"""Downloading files users attach in Slack (`url_private`), with the bot token, from Slack's hosts only.

The bot token goes only to Slack's file host and the host of SLACK_API_URL. Redirects are followed by
hand, at most three, and only to those hosts: the token never travels anywhere else.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import httpx

from bot.errors import AttachmentError
from bot.imaging import MAX_INPUT_BYTES

SLACK_FILE_HOSTS = frozenset({"files.slack.com", "slack-files.com", "files-edu.slack.com", "files-gov.slack.com"})
MAX_REDIRECTS = 3


class SlackFiles:
    def __init__(self, http: httpx.AsyncClient, token: str | None, slack_api_url: str) -> None:
        self._http = http
        self._token = token
        api_host = urlsplit(slack_api_url).hostname or ""
        self.allowed_hosts = SLACK_FILE_HOSTS | {api_host}

    def is_allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("https", "http") and (parts.hostname or "") in self.allowed_hosts and (
            parts.scheme == "https" or parts.hostname in ("127.0.0.1", "localhost", "::1")
        )

    async def download(self, url: str, *, name: str, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
        if not self._token:
            raise AttachmentError(f"I cannot download {name}: no Slack bot token is configured.", filename=name)
        for _ in range(MAX_REDIRECTS + 1):
            if not self.is_allowed(url):
                raise AttachmentError(f"{name} is not hosted by Slack, so I will not fetch it.", filename=name)
            headers = {"Authorization": f"Bearer {self._token}"}
            async with self._http.stream("GET", url, headers=headers, follow_redirects=False) as response:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("location", ""))
                    continue
                if response.status_code != 200:
                    raise AttachmentError(f"Slack answered {response.status_code} for {name}.", filename=name)
                if response.headers.get("content-type", "").startswith("text/html"):
                    # Slack serves its login page, not the file, when the token cannot read it.
                    raise AttachmentError(
                        f"Slack would not give me {name}: the app may lack the files:read scope.", filename=name
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise AttachmentError(f"{name} is over the {max_bytes // 2**20} MB limit.", filename=name)
                    chunks.append(chunk)
                return b"".join(chunks)
        raise AttachmentError(f"Slack redirected {name} too many times.", filename=name)
