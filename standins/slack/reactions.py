"""The reactions.* Web API methods: the bot's own reactions on a message."""

from __future__ import annotations

from standins.slack.records import JSON, ApiError
from standins.slack.state import SlackState


class ReactionMethods(SlackState):
    """reactions.add and reactions.remove."""

    def _reactions_add(self, p: JSON) -> JSON:
        message, name = self._reaction_target(p)
        reactions = message.setdefault("reactions", [])
        reaction = next((r for r in reactions if r["name"] == name), None)
        if reaction is None:
            reaction = {"name": name, "users": [], "count": 0}
            reactions.append(reaction)
        if self.bot_user_id in reaction["users"]:
            raise ApiError("already_reacted")
        reaction["users"].append(self.bot_user_id)
        reaction["count"] = len(reaction["users"])
        return {}

    def _reactions_remove(self, p: JSON) -> JSON:
        message, name = self._reaction_target(p)
        reactions = message.get("reactions", [])
        reaction = next((r for r in reactions if r["name"] == name), None)
        if reaction is None or self.bot_user_id not in reaction["users"]:
            raise ApiError("no_reaction")
        reaction["users"].remove(self.bot_user_id)
        reaction["count"] = len(reaction["users"])
        if not reaction["users"]:
            reactions.remove(reaction)
        if not reactions:
            message.pop("reactions", None)
        return {}

    def _reaction_target(self, p: JSON) -> tuple[JSON, str]:
        channel = self._channel(p.get("channel"), allow_user=False)
        if not p.get("name"):
            raise ApiError("invalid_name")
        if not p.get("timestamp"):
            raise ApiError("no_item_specified")
        message = self._find(channel["id"], p.get("timestamp"))
        if message is None:
            raise ApiError("message_not_found")
        return message, p["name"]
