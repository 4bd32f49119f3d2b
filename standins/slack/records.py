"""What the Slack stand-in records: the calls it received, the deliveries it made to the app, the Socket Mode
connections; and the error a Web API method answers with."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# A JSON object as Slack sends and receives it: payloads, messages, files, views.
JSON = dict[str, Any]


@dataclass
class RecordedCall:
    """One request the stand-in received (Web API method, byte upload, url_private download, response_url)."""

    method: str
    params: JSON  # form fields stay raw strings; JSON bodies keep their decoded values
    headers: dict[str, str]
    token: str | None
    status: int

    def json_param(self, name: str, default: Any = None) -> Any:
        """A parameter that may carry JSON (``files``, ``blocks``): decoded when sent as a string."""
        value = self.params.get(name, default)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return json.loads(value)
        return value


@dataclass
class Delivery:
    """One request the stand-in sent to the app (a signed POST or a Socket Mode envelope), and the answer."""

    kind: str  # "command" | "event" | "interaction"
    body: str  # the raw body, exactly as signed (or the envelope's JSON, exactly as sent)
    payload: JSON  # the same, decoded (form fields, event envelope, or the interaction payload)
    headers: dict[str, str]
    status: int  # the app's HTTP status (200 for an acked envelope); 0 if the app could not be reached
    response_text: str
    response_headers: dict[str, str]
    elapsed_ms: float
    error: str | None = None  # connection error (or, over a socket, a missing ack), if any
    transport: str = "http"  # "http" (signed POST) or "socket" (a Socket Mode envelope; headers are empty)
    envelope_id: str | None = None  # Socket Mode only

    def response_json(self) -> Any:
        return json.loads(self.response_text) if self.response_text.strip() else None


@dataclass
class SocketConnection:
    """One Socket Mode WebSocket the app opened with a ticket from apps.connections.open, and how it ended."""

    ticket: str
    ws: web.WebSocketResponse = field(repr=False)
    opened: float
    closed: float | None = None
    close_code: int | None = None  # the code the app sent (it closed) or answered (the stand-in closed)
    closed_by: str | None = None  # "app" | "stand-in"

    @property
    def is_open(self) -> bool:
        return self.closed is None and not self.ws.closed


class ApiError(Exception):
    """Raised inside Web API handlers; becomes ``{"ok": false, "error": ..., **extra}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error, self.extra = error, extra
