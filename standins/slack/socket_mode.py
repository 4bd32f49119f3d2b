"""Socket Mode: apps.connections.open's single-use URLs, the WebSocket behind them (hello, envelopes, acks,
disconnects)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
import uuid

from aiohttp import WSCloseCode, WSMsgType, web

from standins.slack.payloads import decode_json
from standins.slack.records import JSON, Delivery, SocketConnection
from standins.slack.state import SlackState

APP_TOKEN_SCOPES = "connections:write"
SOCKET_HOST = "applink-standin"  # what hello and disconnect messages name in debug_info.host
# Socket Mode envelope type per delivery kind; only Slack's own names are used on the wire.
_ENVELOPE_TYPES = {"command": "slash_commands", "event": "events_api", "interaction": "interactive"}
# Interactions whose HTTP response body means something (response_action, options) accept an ack payload;
# block_actions and shortcuts do not (python-slack-sdk's recorded envelopes have false for a shortcut).
_INTERACTIONS_WITH_RESPONSE = frozenset({"view_submission", "block_suggestion"})


class SocketMode(SlackState):
    """The Socket Mode side of Slack: connections, and envelopes sent over them until the app acks."""

    def _connections_open(self, token: str) -> web.Response:
        # Only the app-level token works here. Slack is said to answer a bot token with
        # not_allowed_token_type; unconfirmed, so the stand-in says invalid_auth as for any wrong token.
        if token != self.app_token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        ticket = secrets.token_hex(16)
        self._tickets.add(ticket)
        host = self.base_url.removeprefix("http://").rstrip("/")
        url = f"ws://{host}/link/?ticket={ticket}&app_id={self.app_id}"  # Slack: wss://wss-….slack.com/link/?…
        return web.json_response({"ok": True, "url": url}, headers={"x-oauth-scopes": APP_TOKEN_SCOPES})

    def open_connections(self) -> list[SocketConnection]:
        return [c for c in self.connections if c.is_open]

    async def wait_for_socket(self, timeout: float = 30.0) -> SocketConnection:
        """The newest open Socket Mode connection, once an app has connected (waiting up to `timeout` s)."""
        connection: SocketConnection = await self.wait_for(lambda: next(reversed(self.open_connections()), None),
                                                           timeout)
        return connection

    async def disconnect_sockets(self, reason: str = "refresh_requested", *, grace: float = 10.0) -> None:
        """Ask every connected app to go away, as Slack does when it recycles connections, then close.

        Each app gets ``{"type": "disconnect", "reason": ...}`` (Slack's reasons: ``warning`` some seconds
        ahead, ``refresh_requested``, ``link_disabled``). Sockets the app has not closed itself within
        `grace` seconds are closed here with 1001 (going away)."""
        connections = self.open_connections()
        notice = json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": SOCKET_HOST}})
        for connection in connections:
            with contextlib.suppress(ConnectionError, RuntimeError):  # it may be closing already
                await connection.ws.send_str(notice)
        with contextlib.suppress(TimeoutError):
            await self.wait_for(lambda: not any(c.is_open for c in connections), grace)
        for connection in connections:
            if connection.is_open:
                connection.closed_by = "stand-in"
                await connection.ws.close(code=WSCloseCode.GOING_AWAY, message=reason.encode())

    async def _handle_link(self, request: web.Request) -> web.StreamResponse:
        """The WebSocket behind apps.connections.open's URL: one app connection per (single-use) ticket."""
        if self._stopping:
            return web.Response(status=503, text="Service Unavailable")
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            # A used or made-up ticket. Slack's exact answer is not verified; the handshake fails either way.
            return web.Response(status=401, text="invalid_ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse()  # autoping: the app's pings get pongs, as from Slack
        await ws.prepare(request)
        await ws.send_str(json.dumps(self._hello(len(self.open_connections()) + 1)))
        connection = SocketConnection(ticket, ws, time.time())
        self.connections.append(connection)  # only now: nothing is delivered before the hello
        self._changed()
        try:
            async for message in ws:  # ends when either side closes
                if message.type == WSMsgType.TEXT:
                    self._receive_ack(message.data)
        finally:
            connection.closed, connection.close_code = time.time(), ws.close_code
            connection.closed_by = connection.closed_by or "app"
            self._changed()
        return ws

    def _hello(self, num_connections: int) -> JSON:
        # approximate_connection_time: seconds until Slack will refresh this connection (about 5 hours).
        return {"type": "hello", "num_connections": num_connections,
                "debug_info": {"host": SOCKET_HOST, "build_number": 1, "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id}}

    def _receive_ack(self, raw: str) -> None:
        message = decode_json(raw)
        if not isinstance(message, dict) or not message.get("envelope_id"):
            return  # only acks mean anything to Slack
        self.acks.append(message)
        pending = self._pending_acks.get(message["envelope_id"])
        if pending is not None and not pending.done():
            pending.set_result(message)
        self._changed()

    def _socket_mode(self) -> bool:
        return self.transport == "socket" or (self.transport == "auto" and bool(self.open_connections()))

    def _envelope(self, kind: str, payload: JSON, retry_num: int | None, retry_reason: str) -> JSON:
        accepts = kind == "command" or (kind == "interaction" and payload.get("type") in _INTERACTIONS_WITH_RESPONSE)
        envelope = {"envelope_id": str(uuid.uuid4()), "payload": payload, "type": _ENVELOPE_TYPES[kind],
                    "accepts_response_payload": accepts}
        if kind == "event":  # even a first delivery says so: retry_attempt 0, retry_reason ""
            envelope.update(retry_attempt=retry_num or 0, retry_reason=retry_reason if retry_num else "")
        return envelope

    async def _deliver_over_socket(self, kind: str, payload: JSON, *, retry_num: int | None,
                                   retry_reason: str) -> Delivery:
        envelope = self._envelope(kind, payload, retry_num, retry_reason)
        body = json.dumps(envelope)
        started = time.perf_counter()
        ack, error = await self._send_envelope(envelope["envelope_id"], body)
        elapsed_ms = (time.perf_counter() - started) * 1000
        reply = ack.get("payload") if ack else None  # Bolt sends a text ack as {"text": ...}, JSON as is
        delivery = Delivery(kind, body, payload, {}, 200 if ack else 0, "" if reply is None else json.dumps(reply),
                            {}, elapsed_ms, error, transport="socket", envelope_id=envelope["envelope_id"])
        self.deliveries.append(delivery)
        self._changed()
        return delivery

    async def _send_envelope(self, envelope_id: str, body: str) -> tuple[JSON | None, str | None]:
        """Send on one open connection and wait for the ack; (ack, None) or (None, what went wrong)."""
        connections = self.open_connections()
        if not connections:
            return None, "no Socket Mode connection"  # Slack tells the user of a command "dispatch_failed"
        # Slack spreads envelopes over an app's connections; here, in turn. The ack may come on any of them.
        connection = connections[next(self._socket_turn) % len(connections)]
        acked: asyncio.Future[JSON | None] = asyncio.get_running_loop().create_future()
        self._pending_acks[envelope_id] = acked
        try:
            await connection.ws.send_str(body)
            ack = await asyncio.wait_for(acked, self.ack_timeout)
        except TimeoutError:
            return None, f"TimeoutError: no ack for envelope {envelope_id} within {self.ack_timeout}s"
        except (ConnectionError, RuntimeError) as e:
            return None, f"{type(e).__name__}: {e}"
        finally:
            self._pending_acks.pop(envelope_id, None)
        return (ack, None) if ack is not None else (None, "the stand-in stopped before the ack")
