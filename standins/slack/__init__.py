"""A local stand-in for Slack, served over real HTTP on loopback.

`SlackStandIn` plays both sides of Slack that an app touches:

* **The Web API** (``POST /api/<method>``): an ``AsyncWebClient(base_url=standin.api_url)`` talks to it as
  it would to ``https://slack.com/api/``. Bearer tokens are checked, JSON and form bodies are accepted, and
  answers use Slack's shapes and error codes (``{"ok": false, "error": "channel_not_found"}`` with HTTP 200,
  429 + ``Retry-After`` when rate limited). The files_upload_v2 flow works end to end: an upload URL
  (``/upload/<file_id>``), file objects whose ``url_private`` is served under ``/files-pri/...``, and the
  ``response_url`` of slash commands (``/response/<id>``).
* **Slack calling the app**: slash commands, Events API envelopes and interactions are POSTed to
  ``app_request_url``, signed with the signing secret exactly as Slack does (Bolt verifies them).
* **Socket Mode**: ``apps.connections.open`` (app-level token only) hands out a single-use
  ``ws://…/link/?ticket=…`` URL; the WebSocket there greets with ``hello``, and while an app is connected
  (or with ``transport = "socket"``) the same commands, events and interactions travel as envelopes
  (``{"envelope_id", "type": "slash_commands" | "events_api" | "interactive", "payload", ...}``) that the
  app acks with ``{"envelope_id", "payload"?}``. The ``Delivery`` records look the same either way:
  status 200 once acked, ``response_text`` the ack's payload as JSON. ``wait_for_socket()`` waits for a
  connection; ``disconnect_sockets()`` acts out Slack's connection refresh; ``stop()`` says
  ``disconnect`` before closing.

Slack quirks reproduced on purpose, because the app has to cope with them:

* The app's own messages come back to it as ``message`` events carrying ``bot_id`` (no ``bot_message``
  subtype, as with modern bot tokens); file uploads come back with ``subtype: "file_share"``.
* ``files.completeUploadExternal`` returns no message ``ts``, and its file objects have empty
  ``mimetype``/``filetype`` and no ``shares`` yet; ``files.info`` later has the full object.
* ``url_private`` without the bot token answers 200 with an HTML login page, not an error status.
* Text over 40,000 characters is truncated with a ``message_truncated`` warning.
* A ``response_url`` works at most 5 times.
* Slash-command ack bodies become an ephemeral reply (or a channel message with ``response_type: in_channel``).
* Socket Mode: first Events API deliveries already carry ``retry_attempt: 0, retry_reason: ""`` (Bolt turns
  them into an ``x-slack-retry-num: 0`` header); the app token works only for ``apps.connections.open`` and
  the bot token does not work there; a WebSocket URL works once.

What it does not do: real retries of failed event deliveries (use ``deliver_event(..., retry_num=1)``),
the 3-second ack timeout (``Delivery.elapsed_ms`` is recorded instead; a Socket Mode delivery gives up after
``ack_timeout``), Block Kit validation beyond a few limits (image blocks' ``slack_file`` is checked), pagination,
thumbnails, expiry of Socket Mode URLs, the 10-connection limit. A response_url takes ``replace_original`` and
``delete_original`` for the message whose button made it, as Slack's does.

Nothing here imports the app: it is a fake Slack, not part of imagebot.

The package, by role
    ``standin``        SlackStandIn, the server and its routes, put together from the parts below
    ``state``          what it holds and how tests look at it; ``records``: calls, deliveries, connections
    ``chat``, ``reactions``, ``files``, ``views``, ``conversations``   the Web API methods
    ``oauth``          installs, token rotation and revocation
    ``functions``      Workflow Builder running the app's custom step: function_executed, functions.complete*
    ``delivery``       events sent to the app (signed HTTP or Socket Mode); ``commands``: slash commands and
                       response_urls; ``socket_mode``: the WebSocket side
    ``faults``         rate limits and other failures a test queues; ``payloads``: pure helpers

This ``__init__`` is the package's interface: the stand-in and the records tests look at.
"""

from standins.slack.delivery import DELIVERY_TIMEOUT
from standins.slack.records import Delivery, RecordedCall, SocketConnection
from standins.slack.standin import SlackStandIn

__all__ = ["DELIVERY_TIMEOUT", "Delivery", "RecordedCall", "SlackStandIn", "SocketConnection"]
