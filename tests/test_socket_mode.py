"""Process-level: `imagebot serve` in Socket Mode, as deployed, against the Slack stand-in on loopback.

The real command runs in a subprocess with only an app token, a bot token and the stand-in's API URL: it opens
a Socket Mode connection (apps.connections.open, then the WebSocket), answers a slash command and a thread
reply that arrive as envelopes, and stops cleanly on SIGTERM. No signing secret and no OpenAI key: the image
provider is the offline renderer.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from standins.slack import SlackStandIn

pytestmark = pytest.mark.anyio
IMAGEBOT = [sys.executable, "-m", "bot", "serve"]
REPO = Path(__file__).resolve().parents[1]
CHANNEL = "C0GENERAL"
WAIT = 60.0  # a bound for the subprocess and its jobs, never a delay


def socket_mode_env(tmp_path: Path, slack: SlackStandIn) -> dict[str, str]:
    """What a fresh shell plus a Socket Mode deployment has: two tokens and where Slack is, nothing else."""
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(REPO),
            "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_APP_TOKEN": slack.app_token,
            "SLACK_API_URL": slack.api_url, "IMAGEBOT_DATA_DIR": str(tmp_path / "data")}


def first_card(slack: SlackStandIn) -> dict[str, Any] | None:
    """The bot's top-level card, once it says Done."""
    return next((m for m in slack.messages(CHANNEL)
                 if m.get("bot_id") and m.get("thread_ts", m["ts"]) == m["ts"] and "Done" in str(m.get("blocks"))),
                None)


def images_in_thread(slack: SlackStandIn, thread_ts: str) -> list[dict[str, Any]]:
    return [m for m in slack.thread(CHANNEL, thread_ts)[1:] if m.get("bot_id") and m.get("files")]


async def test_serve_socket_mode_generates_edits_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    async with SlackStandIn() as slack:
        slack.transport = "socket"  # Socket Mode is on: nothing goes over HTTP, there is no request URL
        process = await asyncio.create_subprocess_exec(
            *IMAGEBOT, "--host", "127.0.0.1", "--port", "0", cwd=tmp_path, env=socket_mode_env(tmp_path, slack),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        output = bytearray()

        async def collect() -> None:  # keep the pipe drained so the app never blocks on logging
            assert process.stdout is not None
            while chunk := await process.stdout.read(65536):
                output.extend(chunk)

        reader = asyncio.create_task(collect())
        waiting = asyncio.create_task(slack.wait_for_socket(timeout=WAIT))
        try:
            await asyncio.wait([waiting, reader], return_when=asyncio.FIRST_COMPLETED)
            assert waiting.done(), f"imagebot exited before connecting:\n{output.decode(errors='replace')}"
            connection = waiting.result()
            [opened] = slack.calls_to("apps.connections.open")
            assert opened.token == slack.app_token

            command = await slack.send_command("U0ALICE", CHANNEL, "a lighthouse")
            assert (command.transport, command.status, command.error) == ("socket", 200, None)
            card = await slack.wait_for(lambda: first_card(slack), timeout=WAIT)
            first = await slack.wait_for(lambda: images_in_thread(slack, card["ts"]), timeout=WAIT)
            assert first[0]["files"][0]["mimetype"] == "image/png"

            # Socket Mode has no request URL, but the health endpoints are served (for container health checks).
            health = re.search(r"health and metrics on (http://[0-9.:]+)/healthz", output.decode(errors="replace"))
            assert health, output.decode(errors="replace")
            async with httpx.AsyncClient(trust_env=False) as http:
                assert (await http.get(f"{health.group(1)}/healthz")).text == "ok"
                ready = await http.get(f"{health.group(1)}/readyz")
                assert ready.status_code == 200 and ready.json()["checks"]["slack"] == "ok", ready.text
                assert (await http.post(f"{health.group(1)}/slack/events")).status_code in (404, 405)

            reply = await slack.post_message("U0ALICE", CHANNEL, "make the sky purple", thread_ts=card["ts"])
            assert slack.deliveries[-1].status == 200 and slack.deliveries[-1].transport == "socket"
            both = await slack.wait_for(lambda: len(images_in_thread(slack, card["ts"])) >= 2 and
                                        images_in_thread(slack, card["ts"]), timeout=WAIT)
            assert float(both[-1]["ts"]) > float(reply["ts"])
            assert slack.file_bytes(both[-1]["files"][0]["id"]) != slack.file_bytes(first[0]["files"][0]["id"])
            await slack.drain()  # the echoes of the bot's own posts went over the socket too, and were acked
            assert all(d.transport == "socket" and d.status == 200 for d in slack.deliveries), [
                (d.kind, d.status, d.error) for d in slack.deliveries]

            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), WAIT) == 0
            await asyncio.wait_for(reader, WAIT)
            text = output.decode(errors="replace")
            assert "stopped" in text and "Traceback" not in text, text
            await slack.wait_for(lambda: not connection.is_open, timeout=WAIT)
            assert connection.closed_by == "app" and connection.close_code == 1000
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            for task in (waiting, reader):
                task.cancel()
            await asyncio.gather(waiting, reader, return_exceptions=True)
