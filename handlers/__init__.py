"""The Slack edge: Bolt listeners per surface (listeners/), pure Block Kit builders (ui/), and what stands between
Slack and them (ingress, payload checks, Socket Mode, workspaces' tokens, Slack's files, delivery of results)."""
