"""What a Slack payload must look like before any listener reads it: `check_shape(body)` raises Malformed for
what Slack could not have sent.

Checked are the fields something reads: the handlers (handlers/*.py), the middleware, and Bolt itself (its
request context reads team, enterprise, user and channel off the body, its event, message and view; its
listener matchers read the command, event type, first action's action_id and callback_id). Each must have
Slack's type, and ids, timestamps and names a bounded length in a plain charset, so nothing unchecked is
stored or logged. Where a handler needs a field (a command's user_id, a submission's state), it is required.
Unknown payload types, event types and fields pass: Slack adds new ones, and nothing here reads them.

Shapes follow Slack's reference: https://docs.slack.dev/interactivity/handling-user-interaction/ (payloads),
https://docs.slack.dev/interactivity/implementing-slash-commands/ (command fields),
https://docs.slack.dev/apis/events-api/ (the event envelope), https://docs.slack.dev/reference/block-kit/
(view state values).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any

from handlers.delivery.jobs import Attachment
from handlers.ui.modals import EDIT_MODAL, IMAGE_MODAL, METADATA_LIMIT

# The key, in a Bolt request's context, of the body handlers/ingress.py has checked (the same object, not a copy).
CHECKED = "imagebot_checked_body"


class Malformed(ValueError):
    """A payload Slack could not have sent. str(error) names the field; it never quotes the payload."""


@dataclasses.dataclass(frozen=True)
class Kind:
    """A string's shape: a pattern and what to call it in a reason."""

    pattern: re.Pattern[str]
    name: str
    limit: int


ID = Kind(re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*"), "Slack id", 64)  # U0ALICE, C0GENERAL, T…, E…, V…, Ev…
TS = Kind(re.compile(r"[0-9]+(?:\.[0-9]+)?"), "Slack timestamp", 32)  # "1800000000.000100", "1515449522000016"
TRIGGER = Kind(re.compile(r"[A-Za-z0-9._-]+"), "trigger id", 255)
TYPE = Kind(re.compile(r"[A-Za-z0-9_.-]+"), "type name", 64)
COMMAND = Kind(re.compile(r"/[\w.-]+"), "slash command", 64)
URL = Kind(re.compile(r"https?://[!-~]+"), "URL", 2048)  # printable ASCII, no spaces
NAME = Kind(re.compile(r"[^\x00-\x1f\x7f]*"), "name", 255)  # callback_id, action_id, block_id, user names
FILE_NAME = dataclasses.replace(NAME, limit=1024)
VALUE = dataclasses.replace(NAME, pattern=re.compile(r".*", re.DOTALL), name="value", limit=3000)
TEXT = dataclasses.replace(VALUE, name="text", limit=40_000)  # Slack cuts message text at 40,000 characters
LIST_LIMIT = 100  # items in any list read here (Slack: 25 actions, 10 files a message, 100 blocks a view)

_NAMES = {str: "a string", dict: "an object", list: "a list", int: "an integer", bool: "true or false"}


def _field(obj: dict[str, Any], key: str, where: str, kinds: tuple[type, ...], *, required: bool = False) -> Any:
    """obj[key] when it is one of `kinds` (None when absent or null and not required); else Malformed."""
    value = obj.get(key)
    if value is None:
        if required:
            raise Malformed(f"{where}{key} is missing")
        return None
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise Malformed(f"{where}{key} is not {' or '.join(_NAMES[k] for k in kinds)}")
    if isinstance(value, list | dict) and len(value) > LIST_LIMIT:
        raise Malformed(f"{where}{key} has over {LIST_LIMIT} items")
    return value


def _str(obj: dict[str, Any], key: str, where: str, kind: Kind, *, required: bool = False) -> str | None:
    value: str | None = _field(obj, key, where, (str,), required=required)
    if value is not None:
        if len(value) > kind.limit:
            raise Malformed(f"{where}{key} is over {kind.limit} characters")
        if not kind.pattern.fullmatch(value):
            raise Malformed(f"{where}{key} is not a {kind.name}")
    return value


def _dict(obj: dict[str, Any], key: str, where: str, *, required: bool = False) -> dict[str, Any]:
    return _field(obj, key, where, (dict,), required=required) or {}


def _dicts(obj: dict[str, Any], key: str, where: str, *, required: bool = False) -> list[dict[str, Any]]:
    items: list[Any] = _field(obj, key, where, (list,), required=required) or []
    if required and not items:
        raise Malformed(f"{where}{key} is empty")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise Malformed(f"{where}{key}[{i}] is not an object")
    return items


def _ref(obj: dict[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    """A team, enterprise, user or channel: its id as a string, or an object with an `id`."""
    value = _field(obj, key, where, (str, dict), required=required)
    if isinstance(value, dict):
        _context(value, f"{where}{key}.")
        return _str(value, "id", f"{where}{key}.", ID, required=required)
    return _str(obj, key, where, ID)


_CONTEXT_IDS = ("id", "team_id", "enterprise_id", "user_id", "channel_id", "api_app_id", "app_id", "bot_id",
                "context_team_id", "context_enterprise_id", "user_team", "app_installed_team_id", "view_id",
                "function_execution_id")
_CONTEXT_TS = ("ts", "thread_ts", "event_ts", "message_ts", "action_ts")
_CONTEXT_OBJECTS = ("event", "message", "previous_message", "item", "assistant_thread", "function_data", "view",
                    "state", "tokens", "container")
# Looked into by Bolt (its request context) or a handler, with the same fields read off them.
_NESTED = ("message", "previous_message", "item", "assistant_thread", "view", "container")


def _context(obj: dict[str, Any], where: str) -> None:
    """The fields Bolt and the middleware read off a payload and every object they look into. Only the fields
    present are looked at, in _CONTEXT_FIELDS' order (a payload has a dozen of its forty): walking all forty took a
    fifth of an ack's CPU (issue 16)."""
    for key, check in _CONTEXT_FIELDS:
        if key in obj:
            check(obj, key, where)


def _list_of_contexts(obj: dict[str, Any], key: str, where: str) -> None:
    for i, item in enumerate(_dicts(obj, key, where)):
        _context(item, f"{where}{key}[{i}].")


def _files(obj: dict[str, Any], key: str, where: str) -> None:
    for i, file in enumerate(_dicts(obj, key, where)):
        _file(file, f"{where}{key}[{i}].")


def _nested(obj: dict[str, Any], key: str, where: str) -> None:
    if obj[key] is not None:  # an object (or null): its own _CONTEXT_OBJECTS check ran before
        _context(obj[key], f"{where}{key}.")


def _kind_of(kind: Kind) -> Callable[[dict[str, Any], str, str], object]:
    return lambda obj, key, where: _str(obj, key, where, kind)


# (field, its check), in the order the checks ran when every field was looked at: the first problem found is the
# one named.
_CONTEXT_FIELDS: tuple[tuple[str, Callable[[dict[str, Any], str, str], object]], ...] = (
    *((key, _ref) for key in ("team", "enterprise", "user", "channel")),
    *((key, _kind_of(ID)) for key in _CONTEXT_IDS),
    *((key, _kind_of(TS)) for key in _CONTEXT_TS),
    *((key, _kind_of(TYPE)) for key in ("type", "subtype", "channel_type", "tab")),
    *((key, _kind_of(NAME)) for key in ("callback_id", "name", "username", "token", "hash", "bot_access_token")),
    ("text", _kind_of(TEXT)),
    ("response_url", _kind_of(URL)),
    ("trigger_id", _kind_of(TRIGGER)),
    ("is_enterprise_install", lambda obj, key, where: _field(obj, key, where, (bool, str))),
    *((key, _dict) for key in _CONTEXT_OBJECTS),
    *((key, _list_of_contexts) for key in ("authorizations", "response_urls")),
    ("files", _files),
    *((key, _nested) for key in _NESTED),
)


def _file(file: dict[str, Any], where: str) -> None:
    """A shared file, as handlers/listeners/messages.py's attachments_of reads it."""
    _str(file, "id", where, ID)
    for key in ("name", "title"):
        _str(file, key, where, FILE_NAME)
    for key in ("url_private", "url_private_download"):
        _str(file, key, where, URL)
    _str(file, "mimetype", where, NAME)
    size = _field(file, "size", where, (int,))
    if size is not None and size < 0:
        raise Malformed(f"{where}size is negative")


def _user(body: dict[str, Any], *, team: bool = False) -> None:
    """An interaction's `user`: an object with an id (and, where a handler reads it, the user's team_id)."""
    user = _dict(body, "user", "", required=True)
    _context(user, "user.")
    _str(user, "id", "user.", ID, required=True)
    _str(user, "team_id", "user.", ID, required=team)


def _team_known(body: dict[str, Any]) -> None:
    team = body.get("team")
    if not (isinstance(team, dict) and team.get("id")) and not body["user"].get("team_id"):
        raise Malformed("neither team.id nor user.team_id is there")


def _command(body: dict[str, Any]) -> None:
    _str(body, "command", "", COMMAND, required=True)
    # Checked by _context when present, as the same kinds (text, the ids, trigger_id): here only that they are.
    for key in ("text", "user_id", "channel_id", "team_id", "trigger_id"):  # text is "" when the user typed nothing
        if body.get(key) is None:
            raise Malformed(f"{key} is missing")
    for key in ("user_name", "channel_name", "team_domain", "enterprise_name"):
        _str(body, key, "", NAME)


def _event_callback(body: dict[str, Any]) -> None:
    _str(body, "team_id", "", ID, required=True)
    event = _dict(body, "event", "", required=True)
    _context(event, "event.")
    kind = _str(event, "type", "event.", TYPE, required=True)
    if kind in ("message", "app_mention"):  # threads.py reads channel, ts (and user) off each of them
        _str(event, "channel", "event.", ID, required=True)
        _str(event, "ts", "event.", TS, required=True)
        _str(event, "user", "event.", ID)  # an id here, never an object (as in user_change)
    if kind in ("app_mention", "app_home_opened"):
        _str(event, "user", "event.", ID, required=True)
    for name, tokens in _dict(event, "tokens", "event.").items():
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise Malformed(f"event.tokens.{_key(name)} is not a list of strings")


def _block_actions(body: dict[str, Any]) -> None:
    _user(body)
    _team_known(body)
    for i, action in enumerate(_dicts(body, "actions", "", required=True)):
        where = f"actions[{i}]."
        _str(action, "action_id", where, NAME, required=True)
        _str(action, "block_id", where, NAME)
        _str(action, "value", where, VALUE)
        _str(action, "type", where, TYPE)
        _str(action, "action_ts", where, TS)
    container = _dict(body, "container", "", required=True)
    channel = body.get("channel")
    if container.get("type") == "message" and not (isinstance(channel, dict) and channel.get("id")) \
            and not container.get("channel_id"):
        raise Malformed("a press on a message names no channel")


def _view(body: dict[str, Any]) -> None:
    """view_submission and view_closed: handlers/listeners/views.py reads user.id, user.team_id, view.id,
    view.state.values (block → action → state) and the view's private_metadata."""
    _user(body, team=True)
    view = _dict(body, "view", "", required=True)
    _str(view, "id", "view.", ID, required=True)
    callback = _str(view, "callback_id", "view.", NAME, required=True)
    if _str(view, "type", "view.", TYPE, required=True) == "workflow_step":  # Bolt reads body.workflow_step
        _dict(body, "workflow_step", "", required=True)
    metadata = _str(view, "private_metadata", "view.", dataclasses.replace(VALUE, limit=METADATA_LIMIT)) or ""
    state = _dict(view, "state", "view.", required=body["type"] == "view_submission")
    values = _dict(state, "values", "view.state.", required=body["type"] == "view_submission")
    for block_id, actions in values.items():
        if not isinstance(actions, dict):
            raise Malformed(f"view.state.values.{_key(block_id)} is not an object")
        for action_id, value in actions.items():
            _state_value(value, f"view.state.values.{_key(block_id)}.{_key(action_id)}")
    if body["type"] == "view_submission":
        _private_metadata(callback, metadata)


def _state_value(value: Any, where: str) -> None:
    """One input's state, as handlers/ui/modals.py reads it: value, selected_option(s)."""
    if not isinstance(value, dict):
        raise Malformed(f"{where} is not an object")
    _str(value, "type", f"{where}.", TYPE)
    _str(value, "value", f"{where}.", VALUE)
    options = [_dict(value, "selected_option", f"{where}."), *_dicts(value, "selected_options", f"{where}.")]
    for option in options:
        _str(option, "value", f"{where}.selected_option.", VALUE)


def _private_metadata(callback: str | None, metadata: str) -> None:
    """What our own modals put there (handlers/listeners/views.py), and Slack hands back unchanged."""
    if callback == IMAGE_MODAL and metadata and not ID.pattern.fullmatch(metadata):
        raise Malformed("the image form's private_metadata is not a channel id")
    if callback != EDIT_MODAL:
        return
    try:
        found = json.loads(metadata)
    except (ValueError, RecursionError):
        raise Malformed("the edit form's private_metadata is not JSON") from None
    if not isinstance(found, dict):
        raise Malformed("the edit form's private_metadata is not an object")
    _str(found, "c", "private_metadata.", ID, required=True)
    for key in ("ts", "thread"):
        _str(found, key, "private_metadata.", TS, required=True)
    fields = {f.name for f in dataclasses.fields(Attachment)}
    for i, file in enumerate(_dicts(found, "files", "private_metadata.", required=True)):
        where = f"private_metadata.files[{i}]."
        if set(file) != fields:
            raise Malformed(f"{where[:-1]} does not have exactly {', '.join(sorted(fields))}")
        _str(file, "id", where, ID)
        _str(file, "name", where, FILE_NAME, required=True)
        _str(file, "url", where, URL, required=True)
        _str(file, "mimetype", where, NAME, required=True)
        _field(file, "size", where, (int,))


def _shortcut(body: dict[str, Any]) -> None:
    _user(body)
    _str(body, "callback_id", "", NAME, required=True)
    _str(body, "trigger_id", "", TRIGGER, required=True)


def _message_action(body: dict[str, Any]) -> None:
    """The "Edit with imagebot" message shortcut (handlers/listeners/views.py): channel.id, message.ts, its files."""
    _shortcut(body)
    _ref(body, "channel", "", required=True)
    if not isinstance(body["channel"], dict):
        raise Malformed("channel is not an object")
    _str(_dict(body, "message", "", required=True), "ts", "message.", TS, required=True)


def _url_verification(body: dict[str, Any]) -> None:
    _str(body, "challenge", "", dataclasses.replace(NAME, limit=1024), required=True)  # Bolt echoes it


def _legacy_action(body: dict[str, Any]) -> None:
    """interactive_message (attachment buttons): Bolt reads the first action and the callback_id."""
    _str(body, "callback_id", "", NAME, required=True)
    _dicts(body, "actions", "", required=True)


def _workflow_step_edit(body: dict[str, Any]) -> None:
    """Steps from Apps (retired by Slack, still read by Bolt on every payload of the type)."""
    if "callback_id" in body:
        _dict(body, "workflow_step", "", required=True)


def _key(name: str) -> str:
    """A key of the payload, for a reason: shortened and escaped, so a reason never carries the payload."""
    return json.dumps(name[:40])


CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "event_callback": _event_callback, "block_actions": _block_actions, "view_submission": _view,
    "view_closed": _view, "shortcut": _shortcut, "message_action": _message_action,
    "url_verification": _url_verification, "interactive_message": _legacy_action,
    "workflow_step_edit": _workflow_step_edit,
}


def check_shape(body: Any) -> None:
    """Raise Malformed unless `body` is shaped like a payload Slack sends (unknown types pass)."""
    if not isinstance(body, dict):
        raise Malformed("payload is not a JSON object")
    _context(body, "")
    if "command" in body:  # Bolt takes anything with a "command" for a slash command
        _command(body)
        return
    kind = body.get("type")
    if kind is None:
        if "ssl_check" in body:  # Slack checking a slash command's certificate: Bolt answers it
            return
        raise Malformed("payload has no type")
    check = CHECKS.get(kind)
    if check is not None:
        check(body)
