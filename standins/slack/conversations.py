"""The Web API methods that read: auth.test, users.info, conversations.replies and conversations.history."""

from __future__ import annotations

import copy

from standins.slack.records import JSON, ApiError
from standins.slack.state import SlackState


class ConversationMethods(SlackState):
    """Who the token is, who a user is, and a channel's messages."""

    def _auth_test(self, token: str | None) -> JSON:
        team = self.workspaces[self.tokens.get(token or "", self.team_id)]
        return {"url": self.base_url, "team": team["domain"], "user": self.users[self.bot_user_id]["name"],
                "team_id": team["id"], "user_id": self.bot_user_id, "bot_id": self.bot_id,
                "is_enterprise_install": False}

    def _users_info(self, p: JSON) -> JSON:
        user = self.users.get(p.get("user", ""))
        if user is None:
            raise ApiError("user_not_found")
        return {"user": copy.deepcopy(user)}

    def _conversations_replies(self, p: JSON) -> JSON:
        channel = self._channel(p.get("channel"), allow_user=False)
        message = self._find(channel["id"], p.get("ts"))
        if message is None:
            raise ApiError("thread_not_found")
        # `ts` may be the parent or any reply: the whole thread comes back either way.
        root = message.get("thread_ts", message["ts"])
        return {"messages": copy.deepcopy(self.thread(channel["id"], str(root))), "has_more": False,
                "response_metadata": {"next_cursor": ""}}

    def _conversations_history(self, p: JSON) -> JSON:
        """A channel's top-level messages, newest first, at most `limit`. The bot must be a member: Slack answers
        not_in_channel for a public channel it is not in, and channel_not_found for a private one it cannot see."""
        channel = self._channel(p.get("channel"), allow_user=False)
        if self.bot_user_id not in channel["members"]:
            raise ApiError("channel_not_found" if channel["is_private"] else "not_in_channel")
        limit = min(max(int(p.get("limit") or 100), 1), 999)
        top = [m for m in reversed(self.messages(channel["id"])) if m.get("thread_ts", m["ts"]) == m["ts"]]
        return {"messages": copy.deepcopy(top[:limit]), "has_more": len(top) > limit, "pin_count": 0,
                "response_metadata": {"next_cursor": ""}}
