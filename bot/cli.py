"""`imagebot`: the command line. The composition root: it reads settings, builds services and the app.

    imagebot                 serve Slack if SLACK_BOT_TOKEN is set, otherwise start the sandbox
    imagebot sandbox [--port 8080] [--data DIR]
                             a local Slack-like workspace in the browser, wired to the real app
    imagebot serve [--http] [--port 3000] [--host 0.0.0.0]
                             Socket Mode when SLACK_APP_TOKEN is set (unless --http); else HTTP on /slack/events
    imagebot demo [--out DIR]
                             a scripted conversation against the built-in Slack stand-in, offline

Commands and flags are a public contract: add, never rename.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.errors import SettingsError
from bot.settings import Settings

log = logging.getLogger("imagebot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imagebot", description="OpenAI's GPT Image models in Slack.")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="serve Slack (Socket Mode, or HTTP with --http)")
    serve.add_argument("--http", action="store_true", help="serve HTTP on /slack/events even if SLACK_APP_TOKEN is set")
    serve.add_argument("--port", type=int, default=3000, help="HTTP port (default 3000)")
    serve.add_argument("--host", default="0.0.0.0", help="HTTP bind address (default 0.0.0.0)")
    sandbox = sub.add_parser("sandbox", help="a local workspace in the browser, wired to the real app")
    sandbox.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080; 0 picks one)")
    sandbox.add_argument("--data", type=Path, default=Path("imagebot-sandbox"),
                         help="folder for the sandbox's database and images (default ./imagebot-sandbox)")
    demo = sub.add_parser("demo", help="play a scripted conversation offline, against a local Slack stand-in")
    demo.add_argument("--out", type=Path, default=Path("imagebot-demo"),
                      help="folder for the images and the HTML transcript (default ./imagebot-demo)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env(os.environ, dotenv=Path(".env"))
        logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per HTTP request is noise at INFO
        from bot.logs import install_redaction  # every log record, from any library, loses these from here on

        install_redaction([settings.slack_bot_token, settings.slack_app_token, settings.slack_signing_secret,
                           settings.openai_api_key, settings.azure_api_key])
        command = args.command or ("serve" if settings.has_slack_credentials else "sandbox")
        if command == "serve":
            http = getattr(args, "http", False) or not settings.slack_app_token
            settings.require_slack(http=http)
            return asyncio.run(serve(settings, http=http, host=getattr(args, "host", "0.0.0.0"),
                                     port=getattr(args, "port", 3000)))
        if command == "sandbox":
            from standins.sandbox import run_sandbox

            return asyncio.run(run_sandbox(settings, port=getattr(args, "port", 8080),
                                           data_dir=getattr(args, "data", Path("imagebot-sandbox")).resolve()))
        from standins.demo import run_demo

        out = getattr(args, "out", Path("imagebot-demo")).resolve()
        return asyncio.run(run_demo(settings, out))
    except SettingsError as error:
        print(f"imagebot: configuration error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


async def serve(settings: Settings, *, http: bool, host: str, port: int) -> int:
    from bot.services import build_services
    from handlers.app import build_app, start_http

    services = build_services(settings)
    app = build_app(settings, services, socket_mode=not http)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("imagebot serving over %s, image provider %s, model %s, data in %s", "HTTP" if http else "Socket Mode",
             settings.provider, settings.model, settings.data_dir)
    # Recovery first: jobs a dead process left behind are settled before any new request can arrive.
    await services.jobs.recover()
    services.start_scheduler()
    stop_transport: Callable[[], Awaitable[None]]
    if http:
        runner, _ = await start_http(app, host=host, port=port)
        stop_transport = runner.cleanup
    else:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(app, settings.slack_app_token)
        await handler.connect_async()
        stop_transport = handler.close_async
    try:
        await stop.wait()
    finally:
        log.info("stopping: no new requests; running jobs get up to %.0fs", settings.shutdown_grace_seconds)
        await stop_transport()
        cut = await services.close()
        if cut:
            log.info("%d job(s) interrupted; their users were told", cut)
    log.info("stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
