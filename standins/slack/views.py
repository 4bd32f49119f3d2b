"""The views.* Web API methods: modals (views.open) and App Home tabs (views.publish)."""

from __future__ import annotations

import copy
import json
import secrets

from standins.slack.payloads import MAX_BLOCKS, decode_blocks, decode_json
from standins.slack.records import JSON, ApiError
from standins.slack.state import SlackState

MAX_VIEW_BLOCKS = 100  # modals and Home tabs


class ViewMethods(SlackState):
    """views.open and views.publish: kept for tests to look at, fill in and submit."""

    def _views_open(self, p: JSON) -> JSON:
        """Opens a modal: kept in `views` (newest last) so a test can fill it in and submit it."""
        view = p.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not p.get("trigger_id") or not isinstance(view, dict):
            raise ApiError("invalid_arguments")
        if view.get("type") != "modal" or not view.get("title") or len(view.get("blocks") or []) > 100:
            raise ApiError("invalid_arguments")
        opened = {**view, "id": f"V{next(self._ids):08d}", "team_id": self.team_id, "app_id": self.app_id,
                  "hash": secrets.token_hex(8), "trigger_id": p["trigger_id"]}
        self.views.append(opened)
        self._changed()
        return {"view": opened}

    def _views_publish(self, p: JSON) -> JSON:
        """Publishes a user's App Home view: kept in `home_views[user_id]` (each publish replaces the last)."""
        view = decode_json(p.get("view"))
        if not p.get("user_id") or not isinstance(view, dict):
            raise ApiError("invalid_arguments")
        if p["user_id"] not in self.users:
            raise ApiError("user_not_found")
        blocks = view.get("blocks")
        if view.get("type") != "home" or not isinstance(blocks, list) or len(blocks) > MAX_VIEW_BLOCKS:
            raise ApiError("invalid_arguments")
        for i in range(0, len(blocks), MAX_BLOCKS):  # the message checks, on each run of up to 50 blocks
            decode_blocks(blocks[i:i + MAX_BLOCKS])
        published = {**view, "id": f"V{next(self._ids):08d}", "team_id": self.team_id, "app_id": self.app_id,
                     "hash": secrets.token_hex(8)}
        self.home_views[p["user_id"]] = published
        self._changed()
        return {"view": copy.deepcopy(published)}
