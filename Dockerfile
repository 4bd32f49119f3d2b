# imagebot in a container: `docker build -t imagebot .`, then see deploy/compose.yaml (or README "Deploying").
#
# Two stages: the first builds imagebot's wheel and installs it with its dependencies into a virtualenv at
# /opt/imagebot; the second is a clean slim image with only that virtualenv copied in (no compiler, no
# build files, no pip cache). Every dependency ships manylinux wheels, so nothing is compiled.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# Only what the wheel needs (.dockerignore keeps .env, data and the venv out of the context anyway).
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
COPY standins ./standins
COPY imagebot ./imagebot
RUN python -m pip wheel --no-deps --wheel-dir /dist . \
 && python -m venv /opt/imagebot \
 && /opt/imagebot/bin/pip install /dist/*.whl \
 && /opt/imagebot/bin/pip uninstall --yes pip

FROM python:${PYTHON_VERSION}-slim
LABEL org.opencontainers.image.title="imagebot" \
      org.opencontainers.image.description="OpenAI's GPT Image models in Slack" \
      org.opencontainers.image.licenses="MIT"
# A fixed, unprivileged uid/gid: files in the data volume keep the same owner across rebuilds, and platforms
# that insist on a numeric non-root user (Kubernetes runAsNonRoot) accept it.
RUN groupadd --system --gid 10001 imagebot \
 && useradd --system --uid 10001 --gid imagebot --create-home --home-dir /home/imagebot \
           --shell /usr/sbin/nologin imagebot \
 && mkdir /data && chown imagebot:imagebot /data
COPY --from=build /opt/imagebot /opt/imagebot
ENV PATH=/opt/imagebot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    IMAGEBOT_DATA_DIR=/data \
    PORT=3000 \
    IMAGEBOT_OPS_PORT=3001
# The SQLite database and the image files. Mount a named volume or a host folder here; back it up.
VOLUME ["/data"]
# The working directory (the user's home) is empty on purpose: imagebot reads ./.env, and a container gets its
# settings from the environment (docker run --env-file, compose env_file), never from a file in the image.
WORKDIR /home/imagebot
USER 10001:10001
# HTTP mode: Slack's requests on /slack/events; both modes: /healthz. /readyz and /metrics listen apart, on
# 127.0.0.1:$IMAGEBOT_OPS_PORT inside the container (they ask for no credentials): not exposed. For a scraper on
# a private network, set IMAGEBOT_OPS_HOST=0.0.0.0 and publish that port to it alone.
EXPOSE 3000
# imagebot stops gracefully on SIGTERM: running requests get IMAGEBOT_SHUTDOWN_GRACE_SECONDS (60) to finish.
# Give it longer than that before the kill (docker stop -t 75, compose stop_grace_period: 75s).
STOPSIGNAL SIGTERM
# Slim images have no curl: ask Python. /readyz, not /healthz: a bot that cannot reach Slack (Socket Mode not
# connected, auth failing) or write its database is alive but of no use, and only /readyz says so (503, which
# urlopen raises on). It runs inside the container, so the loopback-only ops address answers it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('IMAGEBOT_OPS_PORT', '3001'), timeout=4)"]
# Socket Mode when SLACK_APP_TOKEN is set, HTTP otherwise (add --http to force it). `exec` makes imagebot
# PID 1's only process, so it receives the SIGTERM itself. Other commands: `docker run IMAGE imagebot …`.
CMD ["sh", "-c", "exec imagebot serve --port \"$PORT\""]
