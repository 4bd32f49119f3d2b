"""imagebot's Slack app manifest, as data: the one source of truth for what the app asks Slack for.

`build_manifest(None)` is the Socket Mode manifest (the repository's commented manifest.yml is kept equal to
it by tests/handlers/test_manifest.py); `build_manifest("https://host")` is the HTTP one, with every URL Slack needs
filled in: events, slash commands and interactivity all go to `/slack/events`, and the OAuth redirect (for
multi-workspace installs) to `/slack/oauth_redirect`. `imagebot doctor` compares a token's scopes with
`BOT_SCOPES`. It lives in the package, not in a file next to it, so `imagebot manifest` works from an
installed wheel.

The output is YAML: it is what Slack's "From a manifest" dialog opens with, and what people edit by hand
(the app's name, say) before pasting. Slack takes JSON as well, with the same structure.
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import urlsplit

import yaml

APP_NAME = "imagebot"
# The same paths the HTTP server serves (handlers/app.py EVENTS_PATH; Bolt's default OAuth redirect path).
EVENTS_PATH = "/slack/events"
OAUTH_REDIRECT_PATH = "/slack/oauth_redirect"

# Every bot scope, and why imagebot needs it (doctor names the reason when one is missing).
BOT_SCOPES: dict[str, str] = {
    "commands": "/image and /image-admin",
    "chat:write": "the card, and messages in image threads",
    "files:write": "uploading images into threads",
    "files:read": "downloading images people attach to replies",
    "channels:history": "replies in image threads in public channels",
    "groups:history": "replies in image threads in private channels",
    "reactions:write": 'the "working on it" reaction on a reply being edited',
    "users:read": "telling who is a workspace admin or owner, for /image-admin",
    "app_mentions:read": "@imagebot with an attached image starts an image thread",
    "im:history": "direct messages with the bot",
}

# The bot events the app subscribes to (none of the last four needs a scope).
BOT_EVENTS = (
    "app_mention",
    "message.channels",
    "message.groups",
    "message.im",
    "app_home_opened",
    "app_uninstalled",
    "tokens_revoked",
    "function_executed",  # Workflow Builder runs imagebot's step (no scope; Slack sends it to apps with functions)
)
# The Workflow Builder step (a custom step: https://docs.slack.dev/workflows/workflow-steps/): its inputs and
# outputs, as Workflow Builder shows them to a workflow's author. handlers/listeners/workflow.py reads the inputs.
WORKFLOW_STEP = "generate_image"
_STEP_INPUTS: dict[str, dict[str, str]] = {
    "prompt": {"type": "string", "title": "Prompt", "description": "What the image should show",
               "hint": "A lighthouse at dusk, watercolour"},
    "user_id": {"type": "slack#/types/user_id", "title": "Asked by",
                "description": "Whose request it is: their budgets apply and the ledger charges them",
                "hint": "Person who used this workflow"},
    "channel": {"type": "slack#/types/channel_id", "title": "Channel",
                   "description": "Where the image is posted (left empty: a direct message to the person asking)"},
    "size": {"type": "string", "title": "Size", "description": "square, landscape, portrait, auto or WxH",
             "hint": "landscape"},
    "quality": {"type": "string", "title": "Quality", "description": "low, medium, high (or auto)", "hint": "medium"},
    "model": {"type": "string", "title": "Model", "description": "A GPT Image model (left empty: imagebot's default)"},
}
_STEP_OUTPUTS: dict[str, dict[str, str]] = {
    "file_id": {"type": "string", "title": "Image file ID", "description": "The Slack file of the image"},
    "permalink": {"type": "string", "title": "Image link", "description": "A link to the image in Slack"},
    "cost_usd": {"type": "number", "title": "Cost (USD)",
                 "description": "What the image cost, from the API's usage (absent when no price is known)"},
    "version": {"type": "string", "title": "Version", "description": "The image's version label in its thread (v1)"},
}


def build_manifest(http_url: str | None = None) -> dict[str, Any]:
    """The manifest: Socket Mode when `http_url` is None, else HTTP with `http_url` (see `base_url`) filled in."""
    base = base_url(http_url) if http_url is not None else None
    events_url = base + EVENTS_PATH if base else None
    return {
        "_metadata": {"major_version": 2, "minor_version": 1},
        "display_information": {
            "name": APP_NAME,
            "description": "Make and edit images with OpenAI's GPT Image models, with the cost of every image shown.",
            "background_color": "#2c2d30",
        },
        "features": _features(events_url),
        "oauth_config": _oauth_config(base),
        "settings": _settings(base, events_url),
        "functions": {WORKFLOW_STEP: workflow_step()},
    }


def workflow_step() -> dict[str, Any]:
    """The step's definition (the manifest's `functions` entry): what Workflow Builder offers and checks."""
    return {
        "title": "Generate an image with imagebot",
        "description": "Make an image from a prompt with OpenAI's GPT Image models; posts it and returns its file",
        "input_parameters": {"properties": {name: dict(spec) for name, spec in _STEP_INPUTS.items()},
                             "required": ["prompt", "user_id"]},
        "output_parameters": {"properties": {name: dict(spec) for name, spec in _STEP_OUTPUTS.items()},
                              "required": ["file_id", "permalink", "version"]},
    }


def _features(events_url: str | None) -> dict[str, Any]:
    """The App Home, the bot user, the message shortcut and the slash commands."""
    return {
        "app_home": {
            "home_tab_enabled": True,
            "messages_tab_enabled": True,
            "messages_tab_read_only_enabled": False,
        },
        "bot_user": {"display_name": APP_NAME, "always_online": True},
        "shortcuts": [{
            "name": "Edit with imagebot",
            "type": "message",
            "callback_id": "imagebot_edit_shortcut",
            "description": "Edit this message's image with an instruction",
        }],
        "slash_commands": _slash_commands(events_url),
    }


def _slash_commands(events_url: str | None) -> list[dict[str, Any]]:
    def with_url(command: dict[str, Any]) -> dict[str, Any]:
        if not events_url:
            return command  # Socket Mode: commands arrive over the socket, and Slack wants no url
        name, *rest = command.items()
        return dict([name, ("url", events_url), *rest])  # where Slack's own exports put it

    return [
        with_url({
            "command": "/image",
            "description": "Make an image from a prompt; reply in its thread to edit it",
            "usage_hint": "<prompt> [--size landscape] [--quality high] [--n 2] | usage | help (no text: a form)",
            "should_escape": False,
        }),
        with_url({
            "command": "/image-admin",
            "description": "imagebot usage reports, budgets and channel policies (admins)",
            "usage_hint": "report [30d|month|YYYY-MM] [#channel|@user] | budget … | policy …",
            "should_escape": True,  # mentions arrive as <@U…> and <#C…> ids, not display names
        }),
    ]


def _oauth_config(base: str | None) -> dict[str, Any]:
    """The bot scopes; over HTTP, the OAuth redirect (for multi-workspace installs) first, as Slack exports it."""
    oauth_config: dict[str, Any] = {"scopes": {"bot": list(BOT_SCOPES)}}
    if base:
        oauth_config = {"redirect_urls": [base + OAUTH_REDIRECT_PATH], **oauth_config}
    return oauth_config


def _settings(base: str | None, events_url: str | None) -> dict[str, Any]:
    """Events and interactivity: over the socket, or (over HTTP) to `events_url`."""
    event_subscriptions: dict[str, Any] = {"bot_events": list(BOT_EVENTS)}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if base:
        event_subscriptions = {"request_url": events_url, **event_subscriptions}
        interactivity["request_url"] = events_url
    return {
        "event_subscriptions": event_subscriptions,
        "interactivity": interactivity,
        "org_deploy_enabled": True,  # custom steps (functions) need it
        "socket_mode_enabled": base is None,
        "token_rotation_enabled": False,
        "function_runtime": "remote",  # the step runs here, in imagebot, not on Slack's infrastructure
    }


def base_url(url: str) -> str:
    """The public base URL imagebot is served at, without a trailing slash; raises ValueError if it is not one.

    A URL already ending in /slack/events (copied from an app's settings) is taken as its base, so pasting either
    gives the same manifest. A path prefix (a reverse proxy's /imagebot) is kept."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be the public URL imagebot is served at, like https://imagebot.example.com "
                         f"(got {url!r})")
    if parts.query or parts.fragment:
        raise ValueError(f"must be a plain URL without ?query or #fragment (got {url!r})")
    path = parts.path.rstrip("/").removesuffix(EVENTS_PATH).rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path}"


def to_yaml(manifest: dict[str, Any]) -> str:
    """The manifest as YAML, in the manifest's own key order, with a header saying how to use it."""
    request_url = manifest["settings"].get("event_subscriptions", {}).get("request_url")
    mode = (f"for HTTP: events, slash commands and interactivity go to {request_url}" if request_url
            else "for Socket Mode")
    header = (f"# {APP_NAME}'s Slack app manifest, from `imagebot manifest`,\n# {mode}.\n"
              "# At https://api.slack.com/apps choose Create New App, then From a manifest, and paste it; or paste it\n"
              "# over an existing app's App Manifest page (then reinstall the app if the scopes changed).\n")
    return header + yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True, width=120)


def main(http_url: str | None) -> int:
    """`imagebot manifest [--http URL]`: print the manifest; 2 for a URL that is not one."""
    try:
        manifest = build_manifest(http_url)
    except ValueError as error:
        print(f"imagebot manifest: --http {error}", file=sys.stderr)
        return 2
    if http_url is not None and urlsplit(http_url.strip()).scheme == "http":
        print("imagebot manifest: note: Slack sends requests only to https:// URLs with a valid certificate",
              file=sys.stderr)
    sys.stdout.write(to_yaml(manifest))
    return 0
