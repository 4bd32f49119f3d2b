"""What the sandbox's page shows: the page itself, its files, and the whole state for one user (``GET /api/state``),
read from the Slack stand-in. Pure reads: nothing here changes the stand-in."""

from __future__ import annotations

from collections.abc import Set
from importlib import resources
from typing import Any
from urllib.parse import quote

from aiohttp import web

from standins.sandbox_workflow import runs
from standins.slack import SlackStandIn

STATIC = {"index.html": "text/html", "app.js": "text/javascript", "app.css": "text/css",
          "emoji.js": "text/javascript", "mrkdwn.js": "text/javascript"}
SAFE_INLINE = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def _static_bytes(name: str) -> bytes:
    return resources.files("standins").joinpath("sandbox_static", name).read_bytes()


def index() -> web.Response:
    return web.Response(body=_static_bytes("index.html"), content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-cache", "Content-Security-Policy":
                                 "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
                                 "base-uri 'none'; frame-ancestors 'none'"})


def static(name: str) -> web.Response:
    if name not in STATIC or name == "index.html":
        return web.json_response({"error": "not found"}, status=404)
    return web.Response(body=_static_bytes(name), content_type=STATIC[name], charset="utf-8",
                        headers={"Cache-Control": "no-cache"})


def file(slack: SlackStandIn, file_id: str) -> web.Response:
    """A file's bytes: inline only for image types a browser shows safely, else a download."""
    try:
        found, data = slack.file(file_id), slack.file_bytes(file_id)
    except KeyError:
        return web.json_response({"error": "no such file"}, status=404)
    mimetype = found.get("mimetype") or "application/octet-stream"
    headers = {"Cache-Control": "private, max-age=3600", "Content-Security-Policy": "sandbox"}
    if mimetype not in SAFE_INLINE:  # anything else is a download, never a page on this origin
        name = quote(found.get("name") or file_id, safe="")
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{name}"
        mimetype = "application/octet-stream"
    return web.Response(body=data, content_type=mimetype, headers=headers)


def state(slack: SlackStandIn, user_id: str, provider: str, closed_views: Set[str]) -> dict[str, Any]:
    """Everything the page shows to `user_id`, at once."""
    users = [{"id": u["id"], "name": u["name"], "real_name": u["real_name"], "is_admin": u["is_admin"]}
             for u in slack.users.values() if not u["is_bot"]]
    channels = []
    for channel in slack.channels.values():
        if user_id not in channel["members"]:
            continue
        messages = slack.messages(channel["id"])
        replies: dict[str, list[dict[str, Any]]] = {}
        for m in messages:
            if m.get("thread_ts") and m["thread_ts"] != m["ts"]:
                replies.setdefault(m["thread_ts"], []).append(_render(slack, m))
        top = [{**_render(slack, m), "replies": replies.get(m["ts"], [])} for m in messages
               if m.get("thread_ts", m["ts"]) == m["ts"] or m.get("subtype") == "thread_broadcast"]
        channels.append({"id": channel["id"], "name": "imagebot" if channel["is_im"] else channel["name"],
                         "is_im": channel["is_im"], "messages": top})
    ephemerals = [{"channel": e["channel"], "ts": e["ts"], "thread_ts": e.get("thread_ts"),
                   "text": e.get("text") or "", "blocks": e.get("blocks") or []}
                  for e in slack.ephemerals(user_id=user_id)]
    return {"me": user_id, "bot_user_id": slack.bot_user_id, "provider": provider, "users": users,
            "names": {uid: u["name"] for uid, u in slack.users.items()},
            "channel_names": {cid: f"dm-{slack.users.get(c.get('user') or '', {}).get('name', cid)}" if c["is_im"]
                              else c["name"] for cid, c in slack.channels.items()},
            "channels": channels, "ephemerals": ephemerals, "view": open_view(slack, user_id, closed_views),
            "home": home_view(slack, user_id), "workflow_runs": runs(slack, user_id)}


def home_view(slack: SlackStandIn, user_id: str) -> dict[str, Any] | None:
    """The App Home the app last published for `user_id` (views.publish), or None before it has."""
    view = slack.home_views.get(user_id)
    return None if view is None else {k: view.get(k) for k in ("id", "callback_id", "blocks")}


def _render(slack: SlackStandIn, m: dict[str, Any]) -> dict[str, Any]:
    user = slack.users.get(m.get("user", ""), {})
    is_bot = bool(m.get("bot_id"))
    files = [{"id": f["id"], "name": f.get("name") or f["id"], "title": f.get("title") or "",
              "url": f"/files/{f['id']}", "mimetype": f.get("mimetype") or "",
              "is_image": (f.get("mimetype") or "") in SAFE_INLINE}
             for f in m.get("files") or []]
    blocks = [b for b in m.get("blocks") or [] if b.get("type") != "rich_text"]  # a user's own typing
    return {"ts": m["ts"], "user": m.get("user"), "user_name": "imagebot" if is_bot else user.get("name", "?"),
            "is_bot": is_bot, "text": m.get("text") or "", "blocks": blocks, "files": files,
            "thread_ts": m.get("thread_ts"), "reply_count": m.get("reply_count", 0),
            "edited": bool(m.get("edited")), "reactions": [r["name"] for r in m.get("reactions", [])]}


def opened_by(slack: SlackStandIn) -> dict[str, str]:
    """trigger_id -> user, from every command and interaction delivered (a modal opens with a trigger)."""
    owners: dict[str, str] = {}
    for d in slack.deliveries:
        if d.kind == "command" and d.payload.get("trigger_id"):
            owners[d.payload["trigger_id"]] = d.payload.get("user_id", "")
        elif d.kind == "interaction" and d.payload.get("trigger_id"):
            owners[d.payload["trigger_id"]] = (d.payload.get("user") or {}).get("id", "")
    return owners


def open_view(slack: SlackStandIn, user_id: str, closed_views: Set[str]) -> dict[str, Any] | None:
    """The modal `user_id` has open (the last one opened with their trigger and not closed), or None."""
    owners = opened_by(slack)
    for view in reversed(slack.views):
        if view["id"] not in closed_views and owners.get(view.get("trigger_id", "")) == user_id:
            return {k: view.get(k) for k in ("id", "callback_id", "title", "submit", "close", "blocks",
                                              "private_metadata")}
    return None
