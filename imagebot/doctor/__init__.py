"""`imagebot doctor`: every setting checked, printed as a checklist with the fix for each failure.

It is the first thing to run when imagebot misbehaves. In order:

    Settings          every variable parses (a bad one is named, never a traceback); the price table loads
                      and prices the default model; variables that look like settings but are not read
    Slack             the connection mode's credentials (app token for Socket Mode, checked with
                      apps.connections.open; signing secret for HTTP); the bot token (auth.test) and its scopes
                      against the manifest's (auth.test's x-oauth-scopes header); the bot's membership of
                      IMAGEBOT_REPORT_CHANNEL; IMAGEBOT_ADMINS are users. Multi-workspace (SLACK_CLIENT_ID and
                      SLACK_CLIENT_SECRET): the OAuth settings, how many workspaces are installed, and each one's token
    Image API         OpenAI: the key and the model (GET /models/{model}, free). Azure: the key and the
                      deployment (a request without a prompt, refused before any work: not billed).
                      Organisation verification (OpenAI): from the ledger, as no free call reveals it
    Storage           the data dir is writable; free disk space

Exit status 0 when nothing failed (warnings do not fail), 1 otherwise. Every network call has a bound
(`bounds.CALL_TIMEOUT`), and none is retried: a diagnosis should be quick and say what it saw. Nothing here writes
to Slack, the image API or the database; the data dir check writes and removes one temporary file.

A module per role: `program` (the command: settings, then every check, then the checklist), `checklist` (a
check's shape and how the list is printed), `bounds` (the time each call may take), `settings`, `slack` (with
`slack_calls`, how one Slack call is made and its failure told), `image_api` and `data_dir`, one per section above.
"""
