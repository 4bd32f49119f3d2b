"""`imagebot`: the command line. It reads the settings once and hands them to the composition root
(imagebot/compose.py), which builds and starts everything.

    imagebot                 serve Slack if SLACK_BOT_TOKEN is set, otherwise start the sandbox
    imagebot sandbox [--port 8080] [--data DIR]
                             a local Slack-like workspace in the browser, wired to the real app
    imagebot serve [--http] [--port 3000] [--host 0.0.0.0] [--ops-port 3001] [--ops-host 127.0.0.1]
                             Socket Mode when SLACK_APP_TOKEN is set (unless --http); else HTTP on /slack/events.
                             --host/--port: what Slack reaches (/slack/events, /slack/install,
                             /slack/oauth_redirect) and /healthz; --ops-host/--ops-port (default IMAGEBOT_OPS_HOST,
                             IMAGEBOT_OPS_PORT): /healthz, /readyz, /metrics, unauthenticated, on loopback unless told
    imagebot demo [--out DIR]
                             a scripted conversation against the built-in Slack stand-in, offline
    imagebot backup PATH     back up IMAGEBOT_DATA_DIR (database and image files) into a new or empty folder,
                             safely while imagebot runs
    imagebot restore PATH [--force]
                             check a backup, then restore it into IMAGEBOT_DATA_DIR (stop imagebot first); --force
                             replaces existing data, which is moved aside to replaced-<time>/, not deleted
    imagebot doctor [--http]
                             check every setting, the Slack and image API credentials and the data dir; prints
                             a checklist with the fix for each failure (exit status 1 if any failed)
    imagebot manifest [--http URL]
                             print the Slack app manifest (YAML): Socket Mode, or HTTP with URL's /slack/events

Commands and flags are a public contract: add, never rename.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from bot.errors import SettingsError
from bot.settings import Settings

log = logging.getLogger("imagebot")
BARE_COMMAND = ("With no command, imagebot serves Slack (as `imagebot serve`) when SLACK_BOT_TOKEN is set, in the\n"
                "environment or ./.env; otherwise it starts the sandbox (as `imagebot sandbox`): a Slack-like page\n"
                "on http://127.0.0.1:8080/ wired to the real app, with offline images unless an API key is set.")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagebot", description="OpenAI's GPT Image models in Slack.", epilog=BARE_COMMAND,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="serve Slack (Socket Mode, or HTTP with --http)")
    serve.add_argument("--http", action="store_true", help="serve HTTP on /slack/events even if SLACK_APP_TOKEN is set")
    serve.add_argument("--port", type=int, default=3000, help="HTTP port (default 3000)")
    serve.add_argument("--host", default="0.0.0.0", help="HTTP bind address (default 0.0.0.0)")
    serve.add_argument("--ops-port", type=int, help="port for /healthz, /readyz and /metrics (default "
                       "IMAGEBOT_OPS_PORT, or 3001; 0 picks one)")
    serve.add_argument("--ops-host", help="bind address for /healthz, /readyz and /metrics, which ask for no "
                       "credentials (default IMAGEBOT_OPS_HOST, or 127.0.0.1)")
    sandbox = sub.add_parser("sandbox", help="a local workspace in the browser, wired to the real app")
    sandbox.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080; 0 picks one)")
    sandbox.add_argument("--data", type=Path, default=Path("imagebot-sandbox"),
                         help="folder for the sandbox's database and images (default ./imagebot-sandbox)")
    demo = sub.add_parser("demo", help="play a scripted conversation offline, against a local Slack stand-in")
    demo.add_argument("--out", type=Path, default=Path("imagebot-demo"),
                      help="folder for the images and the HTML transcript (default ./imagebot-demo)")
    backup = sub.add_parser("backup", help="back up the database and image files (safe while imagebot runs)")
    backup.add_argument("path", type=Path, metavar="PATH", help="a new or empty folder for the backup")
    restore = sub.add_parser("restore", help="check a backup and restore it into IMAGEBOT_DATA_DIR")
    restore.add_argument("path", type=Path, metavar="PATH", help="a folder written by `imagebot backup`")
    restore.add_argument("--force", action="store_true",
                         help="replace existing data (it is moved to replaced-<time>/ in the data folder)")
    doctor = sub.add_parser("doctor", help="check every setting and credential; a checklist with the fix for each")
    doctor.add_argument("--http", action="store_true", help="check for HTTP mode even if SLACK_APP_TOKEN is set")
    manifest = sub.add_parser("manifest", help="print the Slack app manifest (Socket Mode, or HTTP with --http URL)")
    manifest.add_argument("--http", metavar="URL", help="the public base URL, e.g. https://imagebot.example.com: "
                          "Slack then sends to URL/slack/events")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "manifest":  # needs no settings
        from handlers.manifest import main as print_manifest

        return print_manifest(args.http)
    if args.command == "doctor":  # reads the settings itself: a bad one is a failed check, not exit 2
        from imagebot.doctor.program import main as doctor

        return doctor(os.environ, dotenv=Path(".env"), http=args.http)
    try:
        settings = Settings.from_env(os.environ, dotenv=Path(".env"))
        from bot.logs import install_redaction, log_handler

        # IMAGEBOT_LOG_FORMAT: text lines, or one JSON object per line.
        logging.basicConfig(level=settings.log_level, handlers=[log_handler(settings.log_format)])
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per HTTP request is noise at INFO
        install_redaction(settings.secrets)  # every log record, from any library, loses these from here on
        command = args.command or ("serve" if settings.has_slack_credentials else "sandbox")
        if command == "serve":
            http = getattr(args, "http", False) or not settings.slack_app_token
            settings.require_slack(http=http)
            return asyncio.run(serve(settings, http=http, host=getattr(args, "host", "0.0.0.0"),
                                     port=getattr(args, "port", 3000), ops=ops_address(args, settings)))
        if command in ("backup", "restore"):
            return backup_or_restore(command, args.path, settings, force=getattr(args, "force", False))
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


def ops_address(args: argparse.Namespace, settings: Settings) -> tuple[str, int]:
    """Where /healthz, /readyz and /metrics listen: the flags, else the settings (IMAGEBOT_OPS_HOST/PORT)."""
    host = getattr(args, "ops_host", None)
    port = getattr(args, "ops_port", None)
    return (settings.ops_host if host is None else host), (settings.ops_port if port is None else port)


async def serve(settings: Settings, *, http: bool, host: str, port: int, ops: tuple[str, int]) -> int:
    from storage.lifecycle import DataDirInUse, lock_data_dir

    if port and ops[1] == port:
        raise SettingsError("IMAGEBOT_OPS_PORT", f"{port} is also the port Slack reaches (--port); give the "
                            "operational endpoints a port of their own (--ops-port)")
    try:
        release = lock_data_dir(settings.data_dir)  # one server per data folder; restore refuses while held
    except DataDirInUse as error:
        raise SettingsError("IMAGEBOT_DATA_DIR", f"{error}; one server per data folder") from None
    try:
        return await _serve(settings, http=http, main=(host, port), ops=ops)
    finally:
        release()


async def _serve(settings: Settings, *, http: bool, main: tuple[str, int], ops: tuple[str, int]) -> int:
    from imagebot.compose import Imagebot, freeze_heap, short_gil_turns

    bot = Imagebot.build(settings, socket_mode=not http)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("imagebot serving over %s (%s), image provider %s, model %s, data in %s",
             "HTTP" if http else "Socket Mode", "multi-workspace installs" if settings.oauth_enabled
             else "one workspace", settings.provider, settings.model, settings.data_dir)
    try:
        await bot.start(host=main[0], port=main[1], ops=ops)
        freeze_heap()
        short_gil_turns()
        await bot.wait(stop)
    finally:
        log.info("stopping: no new requests; running jobs get up to %.0fs", settings.shutdown_grace_seconds)
        cut = await bot.stop()
        if cut:
            log.info("%d job(s) interrupted; their users were told", cut)
    log.info("stopped")
    return 0


def backup_or_restore(command: str, path: Path, settings: Settings, *, force: bool = False) -> int:
    """`imagebot backup PATH` / `imagebot restore PATH [--force]`: one summary on stdout, problems on stderr."""
    import sqlite3

    from storage.lifecycle import BackupError, backup, restore

    data_dir = settings.data_dir.resolve()
    try:
        if command == "backup":
            made = backup(data_dir, path.resolve())
            print(f"imagebot: backed up {data_dir} to {made.path}")
            rows = ", ".join(f"{n:,} {table}" for table, n in made.counts.items() if table in (
                "threads", "images", "ledger", "jobs"))
            print(f"  database: schema {made.schema}; {rows}; integrity ok")
            print(f"  image files: {made.files:,} ({made.bytes / 1e6:,.1f} MB), each checked against its sha256")
            for label, ids in (("missing", made.missing), ("damaged", made.corrupt)):
                if ids:
                    print(f"imagebot: warning: {len(ids)} image file(s) {label} in {data_dir} were left out and are "
                          f"marked removed in the backup: {', '.join(i[:12] for i in ids[:10])}", file=sys.stderr)
            return 0
        done = restore(path.resolve(), data_dir, force=force)
        print(f"imagebot: restored {path.resolve()} (made {done.manifest.get('created_at')}, schema "
              f"{done.manifest.get('schema')}) into {data_dir}")
        print(f"  image files: {done.files:,}, each checked against its sha256; database integrity ok")
        if done.replaced is not None:
            print(f"  the data it replaced is in {done.replaced}")
        return 0
    except (BackupError, OSError, sqlite3.Error) as error:  # a refusal, a full disk, an unreadable database
        print(f"imagebot: {command} failed: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
