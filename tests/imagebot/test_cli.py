"""Process-level tests: the real `imagebot` command, as a deployment or a newcomer runs it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bot.settings import Settings
from imagebot.cli import _parser, ops_address
from standins.slack import SlackStandIn

IMAGEBOT = [sys.executable, "-m", "imagebot"]


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Only what a fresh shell has: no Slack or OpenAI credentials, a fresh working directory."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(Path.cwd())}
    env.update(extra)
    return env


def test_demo_runs_offline_and_writes_images_and_transcript(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    done = subprocess.run([*IMAGEBOT, "demo", "--out", str(out)], cwd=tmp_path, env=clean_env(tmp_path),
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    for expected in ("/image a lighthouse at dusk", "make the sky purple", "add this red balloon",
                     "offline, not billed", "thread so far", "is not valid"):
        assert expected in text
    images = sorted((out / "images").glob("*.png"))
    assert len(images) == 8  # v1, v2, v3, v4, v5a-c and the attached reference
    html = (out / "transcript.html").read_text(encoding="utf-8")
    assert html.count("<img") == 9 and "make the sky purple" in html  # eight pictures and the report's chart
    assert "<b>v1</b>" in html and "*v1*" not in html  # mrkdwn drawn, not shown raw
    assert "<i>Next edit uses v1; reply <code>undo</code>" in html and "<blockquote>" in html
    for expected in ("C1-D2: add a full moon", "edited region C1–D2", "Undone: the next edit uses v3",
                     "v5a/v5b/v5c"):
        assert expected in text
    assert "imagebot spend: today" in text
    [chart] = out.glob("imagebot-report-*-chart.png")  # named for the day it covers, beside its CSV
    assert (out / chart.name.replace("-chart.png", "-ledger.csv")).is_file()
    assert (out / "data" / "imagebot.db").is_file()


def test_help_says_what_a_bare_imagebot_does(tmp_path: Path) -> None:
    done = subprocess.run([*IMAGEBOT, "--help"], cwd=tmp_path, env=clean_env(tmp_path), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "With no command, imagebot serves Slack (as `imagebot serve`) when SLACK_BOT_TOKEN is set" in text
    assert "otherwise it starts the sandbox (as `imagebot sandbox`)" in text


@pytest.mark.anyio
async def test_bare_command_without_credentials_starts_the_sandbox(tmp_path: Path) -> None:
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        *IMAGEBOT, "sandbox", "--port", str(port), cwd=tmp_path, env=clean_env(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    bare = await asyncio.create_subprocess_exec(
        *IMAGEBOT, cwd=tmp_path / "..", env=clean_env(tmp_path), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    try:
        assert process.stdout is not None and bare.stdout is not None
        while b"imagebot sandbox: open http://127.0.0.1:" not in await asyncio.wait_for(process.stdout.readline(), 60):
            pass
        line = b""
        while b"imagebot sandbox: open http://127.0.0.1:" not in line:  # the bare command starts one too
            line = await asyncio.wait_for(bare.stdout.readline(), 60)
        async with httpx.AsyncClient() as client:
            page = await client.get(f"http://127.0.0.1:{port}/")
            assert page.status_code == 200 and "imagebot" in page.text
        for child in (process, bare):
            child.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(child.wait(), 60) == 0
    finally:
        for child in (process, bare):
            if child.returncode is None:
                child.kill()
                await child.wait()


@pytest.mark.parametrize(("args", "env", "variable"), [
    (["serve"], {}, "SLACK_BOT_TOKEN"),
    (["serve", "--http"], {"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
    (["serve"], {"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_APP_TOKEN for Socket Mode"),
    (["serve"], {"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN"),
    (["serve", "--http", "--port", "3001"], {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"},
     "IMAGEBOT_OPS_PORT"),  # the ops port's default, taken by the main port
    (["serve", "--http"], {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "IMAGEBOT_OPS_PORT": "70000"},
     "IMAGEBOT_OPS_PORT"),
    (["demo"], {"IMAGEBOT_PROVIDER": "openai"}, "OPENAI_API_KEY"),
    (["demo"], {"AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com", "AZURE_OPENAI_API_KEY": "k"},
     "AZURE_OPENAI_DEPLOYMENT"),
    (["demo"], {"IMAGEBOT_QUALITY": "ultra"}, "IMAGEBOT_QUALITY"),
    (["demo"], {"IMAGEBOT_LOG_LEVEL": "chatty"}, "IMAGEBOT_LOG_LEVEL"),
])
def test_bad_settings_stop_startup_with_one_line_naming_the_variable(tmp_path: Path, args: list[str],
                                                                     env: dict[str, str], variable: str) -> None:
    done = subprocess.run([*IMAGEBOT, *args], cwd=tmp_path, env=clean_env(tmp_path, **env), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0] and "configuration error" in lines[0]


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("IMAGEBOT_QUALITY=ultra\n", encoding="utf-8")
    done = subprocess.run([*IMAGEBOT, "demo"], cwd=tmp_path, env=clean_env(tmp_path), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "IMAGEBOT_QUALITY" in done.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_ops_address_flags_win_over_the_settings_which_default_to_loopback() -> None:
    settings = Settings.from_env({"IMAGEBOT_OPS_HOST": "10.0.0.5", "IMAGEBOT_OPS_PORT": "9100"}, dotenv=None)
    assert ops_address(_parser().parse_args(["serve"]), settings) == ("10.0.0.5", 9100)
    flags = _parser().parse_args(["serve", "--ops-host", "0.0.0.0", "--ops-port", "0"])
    assert ops_address(flags, settings) == ("0.0.0.0", 0)
    assert ops_address(_parser().parse_args(["serve"]), Settings.from_env({}, dotenv=None)) == ("127.0.0.1", 3001)


@pytest.mark.anyio
async def test_serve_http_answers_slack_keeps_readyz_and_metrics_on_loopback_and_stops_on_sigterm(
        tmp_path: Path) -> None:
    async with SlackStandIn() as slack:
        port = _free_port()
        env = clean_env(tmp_path, SLACK_BOT_TOKEN=slack.bot_token, SLACK_SIGNING_SECRET=slack.signing_secret,
                        SLACK_API_URL=slack.api_url, IMAGEBOT_DATA_DIR=str(tmp_path / "data"))
        # --host 0.0.0.0, as deployed: the ops endpoints stay on loopback all the same (no --ops-host given).
        process = await asyncio.create_subprocess_exec(
            *IMAGEBOT, "serve", "--http", "--host", "0.0.0.0", "--port", str(port), "--ops-port", "0", cwd=tmp_path,
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            assert process.stdout is not None
            seen = b""
            while b"operational endpoints" not in seen or b"serving Slack over HTTP" not in seen:
                seen += await asyncio.wait_for(process.stdout.readline(), 60)
            ops = re.search(rb"operational endpoints \(no authentication\) on http://([0-9.]+):(\d+)", seen)
            assert ops and ops.group(1) == b"127.0.0.1", seen
            slack.app_request_url = f"http://127.0.0.1:{port}/slack/events"
            delivery = await slack.send_command("U0ALICE", "C0GENERAL", "a lighthouse")
            assert delivery.status == 200
            card = await slack.wait_for(lambda: next((m for m in slack.messages("C0GENERAL")
                                                      if "Done" in str(m.get("blocks"))), None), timeout=60)
            assert card and any(m.get("files") for m in slack.thread("C0GENERAL", card["ts"]))
            async with httpx.AsyncClient(trust_env=False, timeout=60) as http:
                main, ops_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{int(ops.group(2))}"
                for path, status in (("/healthz", 200), ("/readyz", 404), ("/metrics", 404)):
                    assert (await http.get(main + path)).status_code == status, path  # anyone can reach this port
                assert (await http.get(ops_url + "/readyz")).json()["status"] == "ready"
                assert "imagebot_requests_total" in (await http.get(ops_url + "/metrics")).text
            process.send_signal(signal.SIGTERM)
            rest = await asyncio.wait_for(process.stdout.read(), 60)
            assert await asyncio.wait_for(process.wait(), 60) == 0
            assert b"stopped" in rest and b"Traceback" not in rest
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
