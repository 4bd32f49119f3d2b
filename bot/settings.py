"""Settings: read once from the environment (and an optional `.env` file) into one frozen object.

This is the only module that reads configuration (with the parsers in bot/settings_parsing.py). Everything else
receives a `Settings`.
The variable names are a public contract (deployments and scripts set them): add, never rename.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot import settings_parsing as parse
from bot.errors import SettingsError
from bot.settings_parsing import Get, parse_dotenv

PROVIDERS = ("openai", "azure", "offline")
# Which qualities a model takes is the catalogue's; settings only check the word's shape (start-up checks the rest).
_WORD_RE = re.compile(r"^[a-z]{2,20}$")
MODERATIONS = ("low", "auto")
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_AZURE_API_VERSION = "2025-04-01-preview"

# Every variable imagebot reads (from_env refuses to read any other): `imagebot doctor` warns about look-alikes.
VARIABLES = frozenset({
    "SLACK_API_URL", "SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET",
    "SLACK_REDIRECT_URI", "SLACK_SIGNING_SECRET",
    "OPENAI_API_KEY", "OPENAI_BASE_URL",
    "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_API_VERSION", "AZURE_OPENAI_DEPLOYMENT", "AZURE_OPENAI_ENDPOINT",
    "IMAGEBOT_ADMINS", "IMAGEBOT_ALLOWED_CHANNELS", "IMAGEBOT_BATCH_POLL_SECONDS",
    "IMAGEBOT_CHANNEL_MONTHLY_BUDGET_USD",
    "IMAGEBOT_CONFIRM_ABOVE_USD", "IMAGEBOT_DATA_DIR", "IMAGEBOT_DENIED_CHANNELS", "IMAGEBOT_LOG_FORMAT",
    "IMAGEBOT_LOG_LEVEL", "IMAGEBOT_MAX_CONCURRENT", "IMAGEBOT_MAX_CONCURRENT_PER_USER", "IMAGEBOT_MAX_QUEUE",
    "IMAGEBOT_MODEL", "IMAGEBOT_MODELS", "IMAGEBOT_MODERATION", "IMAGEBOT_SVG_MODEL", "IMAGEBOT_OPS_HOST",
    "IMAGEBOT_OPS_PORT", "IMAGEBOT_REQUEST_TIMEOUT_SECONDS",
    "IMAGEBOT_PARTIAL_IMAGES", "IMAGEBOT_PRICES", "IMAGEBOT_PROVIDER", "IMAGEBOT_QUALITY",
    "IMAGEBOT_REPORT_CHANNEL", "IMAGEBOT_REPORT_SCHEDULE", "IMAGEBOT_RETENTION_DAYS",
    "IMAGEBOT_SHUTDOWN_GRACE_SECONDS", "IMAGEBOT_SIZE", "IMAGEBOT_TIMEZONE", "IMAGEBOT_USER_DAILY_BUDGET_USD",
    "IMAGEBOT_USER_MONTHLY_BUDGET_USD", "IMAGEBOT_USER_REQUESTS_PER_MINUTE", "IMAGEBOT_WORKSPACE_MONTHLY_BUDGET_USD",
})

_SIZE_RE = re.compile(r"^(auto|[0-9]{2,5}x[0-9]{2,5})$")


@dataclass(frozen=True)
class Settings:
    # Slack
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    # Multi-workspace distribution (Slack's OAuth v2), on when both the client id and secret are set
    slack_client_id: str | None = None
    slack_client_secret: str | None = field(default=None, repr=False)
    slack_redirect_uri: str | None = None
    # OpenAI
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str = DEFAULT_OPENAI_BASE_URL
    # Azure OpenAI
    azure_endpoint: str | None = None
    azure_api_key: str | None = field(default=None, repr=False)
    azure_deployment: str | None = None
    azure_api_version: str = DEFAULT_AZURE_API_VERSION
    # imagebot
    data_dir: Path = Path("data")
    model: str | None = None  # None: the catalogue's default (bot/money/catalogue.json `defaults.model`)
    size: str = "1024x1024"
    quality: str = "medium"
    provider: str = "offline"
    admins: tuple[str, ...] = ()
    prices_path: Path | None = None
    models_path: Path | None = None  # IMAGEBOT_MODELS: a catalogue file merged over the built-in one
    moderation: str = "auto"  # IMAGEBOT_MODERATION, sent to models that have the setting
    svg_model: str | None = None  # IMAGEBOT_SVG_MODEL: the model that writes SVGs (`svg.model`); None: not sent
    # Limits and fairness
    max_concurrent: int = 16
    max_concurrent_per_user: int = 2
    max_queue: int = 500
    user_requests_per_minute: int = 10
    shutdown_grace_seconds: float = 60.0
    batch_poll_seconds: float = 60.0  # `/image batch`: the first wait before asking OpenAI how a batch stands
    # IMAGEBOT_REQUEST_TIMEOUT_SECONDS: one deadline for a whole image request, every attempt included. None: sized
    # from the model's typical latency (the catalogue's `typical_seconds`).
    request_timeout_seconds: float | None = None
    # Operational endpoints (/readyz, /metrics, /healthz) listen apart from Slack's, on loopback unless told.
    ops_host: str = "127.0.0.1"
    ops_port: int = 3001
    # Channel allow-list / deny-list (channel ids); an empty allow-list allows every channel
    allowed_channels: frozenset[str] = frozenset()
    denied_channels: frozenset[str] = frozenset()
    # Spend control: default budgets in micro-dollars (None: no budget), reports, the clock they run on
    user_monthly_budget_micro: int | None = None
    user_daily_budget_micro: int | None = None
    channel_monthly_budget_micro: int | None = None
    workspace_monthly_budget_micro: int | None = None
    report_channel: str | None = None
    report_schedule: str | None = None  # "daily 09:00" or "weekly mon 09:00"
    timezone: str = "UTC"  # budget periods, report days and the schedule follow this clock
    confirm_above_micro: int | None = 500_000  # ask before a request estimated above this (None: never ask)
    partial_images: int = 0  # 1-3: stream previews into Slack while an image is made
    log_level: str = "INFO"
    log_format: str = "text"  # "json": one JSON object per line
    retention_days: int | None = None  # image files older than this are pruned (None: kept for ever)
    # Where the values came from, for `doctor`-style explanations; not configuration itself.
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def secrets(self) -> tuple[str | None, ...]:
        """Every credential setting: redacted from logs and from doctor's output."""
        return (self.slack_bot_token, self.slack_app_token, self.slack_signing_secret, self.slack_client_secret,
                self.openai_api_key, self.azure_api_key)

    @property
    def oauth_enabled(self) -> bool:
        """Multi-workspace: installs go through /slack/install and each workspace's token is stored."""
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def has_slack_credentials(self) -> bool:
        return bool(self.slack_bot_token) or self.oauth_enabled

    def __post_init__(self) -> None:
        if not 0 <= self.partial_images <= 3:
            raise SettingsError("IMAGEBOT_PARTIAL_IMAGES", f"must be 0 to 3 (got {self.partial_images})")

    def require_slack(self, *, http: bool) -> None:
        """Check the Slack settings a `serve` in the given mode needs; raise naming the variable."""
        if not self.slack_bot_token and not self.oauth_enabled:
            raise SettingsError("SLACK_BOT_TOKEN", "is required to serve Slack (xoxb-…), unless SLACK_CLIENT_ID and "
                                "SLACK_CLIENT_SECRET are set for multi-workspace installs")
        if http:
            if not self.slack_signing_secret:
                raise SettingsError(
                    "SLACK_SIGNING_SECRET",
                    "is required in HTTP mode to verify requests (or set SLACK_APP_TOKEN for Socket Mode)",
                )
        elif not self.slack_app_token:
            raise SettingsError("SLACK_APP_TOKEN", "is required for Socket Mode (xapp-…); or use --http")

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, dotenv: Path | None = None) -> Settings:
        """Build settings from `environ`, falling back to `dotenv` (a `.env` file) for unset names."""
        values: dict[str, str] = {}
        sources: dict[str, str] = {}
        if dotenv is not None and dotenv.is_file():
            try:
                text = dotenv.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise SettingsError(str(dotenv), f"cannot be read as UTF-8 text ({exc})") from exc
            for key, value in parse_dotenv(text).items():
                values[key] = value
                sources[key] = str(dotenv)
        for key, value in environ.items():
            values[key] = value
            sources[key] = "environment"

        def get(name: str) -> str | None:
            if name not in VARIABLES:
                raise KeyError(f"{name} is read but not listed in VARIABLES")  # a programming error: add it there
            value = values.get(name, "").strip()
            return value or None

        try:
            return cls._from_values(get, sources)
        except SettingsError as error:
            error.source = sources.get(error.variable)  # where the bad value was set, for `imagebot doctor`
            raise

    @classmethod
    def _from_values(cls, get: Get, sources: dict[str, str]) -> Settings:
        # Checked in this order, so the first bad value is the one reported.
        slack_api_url, openai_base_url, azure_endpoint = _urls(get)
        provider = _provider(get, azure_endpoint)
        quality, moderation, size = _request_defaults(get)
        prices_path = parse.data_file(get, "IMAGEBOT_PRICES")
        models_path = parse.data_file(get, "IMAGEBOT_MODELS")
        admins = parse.user_ids(get, "IMAGEBOT_ADMINS")
        _check_slack_credentials(get)
        return cls(
            max_concurrent=parse.whole_number(get, "IMAGEBOT_MAX_CONCURRENT", 16),
            max_concurrent_per_user=parse.whole_number(get, "IMAGEBOT_MAX_CONCURRENT_PER_USER", 2),
            max_queue=parse.whole_number(get, "IMAGEBOT_MAX_QUEUE", 500),
            user_requests_per_minute=parse.whole_number(get, "IMAGEBOT_USER_REQUESTS_PER_MINUTE", 10),
            shutdown_grace_seconds=float(parse.whole_number(get, "IMAGEBOT_SHUTDOWN_GRACE_SECONDS", 60, minimum=0)),
            batch_poll_seconds=float(parse.whole_number(get, "IMAGEBOT_BATCH_POLL_SECONDS", 60, minimum=1)),
            request_timeout_seconds=_seconds(parse.optional_whole_number(get, "IMAGEBOT_REQUEST_TIMEOUT_SECONDS",
                                                                         minimum=10)),
            ops_host=get("IMAGEBOT_OPS_HOST") or "127.0.0.1",
            ops_port=parse.port(get, "IMAGEBOT_OPS_PORT", 3001),
            allowed_channels=parse.channel_ids(get, "IMAGEBOT_ALLOWED_CHANNELS"),
            user_monthly_budget_micro=parse.usd(get, "IMAGEBOT_USER_MONTHLY_BUDGET_USD"),
            user_daily_budget_micro=parse.usd(get, "IMAGEBOT_USER_DAILY_BUDGET_USD"),
            channel_monthly_budget_micro=parse.usd(get, "IMAGEBOT_CHANNEL_MONTHLY_BUDGET_USD"),
            workspace_monthly_budget_micro=parse.usd(get, "IMAGEBOT_WORKSPACE_MONTHLY_BUDGET_USD"),
            report_channel=parse.report_channel(get, "IMAGEBOT_REPORT_CHANNEL"),
            report_schedule=parse.schedule(get, "IMAGEBOT_REPORT_SCHEDULE", channel="IMAGEBOT_REPORT_CHANNEL"),
            timezone=parse.timezone(get, "IMAGEBOT_TIMEZONE"),
            confirm_above_micro=parse.usd(get, "IMAGEBOT_CONFIRM_ABOVE_USD", default=500_000),
            denied_channels=parse.channel_ids(get, "IMAGEBOT_DENIED_CHANNELS"),
            partial_images=parse.whole_number(get, "IMAGEBOT_PARTIAL_IMAGES", 0, minimum=0),
            log_level=parse.log_level(get, "IMAGEBOT_LOG_LEVEL"),
            log_format=parse.log_format(get, "IMAGEBOT_LOG_FORMAT"),
            retention_days=parse.optional_whole_number(get, "IMAGEBOT_RETENTION_DAYS"),
            slack_client_id=get("SLACK_CLIENT_ID"),
            slack_client_secret=get("SLACK_CLIENT_SECRET"),
            slack_redirect_uri=parse.optional_url(get, "SLACK_REDIRECT_URI"),
            slack_bot_token=get("SLACK_BOT_TOKEN"),
            slack_app_token=get("SLACK_APP_TOKEN"),
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_api_url=slack_api_url,
            openai_api_key=get("OPENAI_API_KEY"),
            openai_base_url=openai_base_url,
            azure_endpoint=azure_endpoint,
            azure_api_key=get("AZURE_OPENAI_API_KEY"),
            azure_deployment=get("AZURE_OPENAI_DEPLOYMENT"),
            azure_api_version=get("AZURE_OPENAI_API_VERSION") or DEFAULT_AZURE_API_VERSION,
            data_dir=Path(get("IMAGEBOT_DATA_DIR") or "data"),
            model=(get("IMAGEBOT_MODEL") or "").lower() or None,
            models_path=models_path,
            moderation=moderation,
            svg_model=get("IMAGEBOT_SVG_MODEL"),
            size=size,
            quality=quality,
            provider=provider,
            admins=admins,
            prices_path=prices_path,
            sources=sources,
        )


def _urls(get: Get) -> tuple[str, str, str | None]:
    """Slack's Web API URL (with a trailing slash), OpenAI's base URL and the Azure endpoint (without)."""
    slack_api_url = parse.url(get("SLACK_API_URL") or DEFAULT_SLACK_API_URL, "SLACK_API_URL")
    if not slack_api_url.endswith("/"):
        slack_api_url += "/"
    openai_base_url = parse.url(get("OPENAI_BASE_URL") or DEFAULT_OPENAI_BASE_URL, "OPENAI_BASE_URL").rstrip("/")
    azure_endpoint = get("AZURE_OPENAI_ENDPOINT")
    if azure_endpoint:
        azure_endpoint = parse.url(azure_endpoint, "AZURE_OPENAI_ENDPOINT").rstrip("/")
    return slack_api_url, openai_base_url, azure_endpoint


def _request_defaults(get: Get) -> tuple[str, str, str]:
    """The quality, moderation and size a request gets unless it says otherwise (their shapes: start-up checks
    them against the model)."""
    quality = (get("IMAGEBOT_QUALITY") or "medium").lower()
    if not _WORD_RE.match(quality):
        raise SettingsError("IMAGEBOT_QUALITY", f"must be a quality such as low, medium or high (got {quality!r})")
    moderation = (get("IMAGEBOT_MODERATION") or "auto").lower()
    if moderation not in MODERATIONS:
        raise SettingsError("IMAGEBOT_MODERATION", f"must be one of {', '.join(MODERATIONS)} (got {moderation!r})")
    size = (get("IMAGEBOT_SIZE") or "1024x1024").lower()
    if not _SIZE_RE.match(size):
        raise SettingsError("IMAGEBOT_SIZE", f"must be auto or WIDTHxHEIGHT such as 1024x1024 (got {size!r})")
    return quality, moderation, size


def _check_slack_credentials(get: Get) -> None:
    """Both halves of the OAuth client, or neither; each token of the kind its name says."""
    if bool(get("SLACK_CLIENT_ID")) != bool(get("SLACK_CLIENT_SECRET")):
        missing = "SLACK_CLIENT_SECRET" if get("SLACK_CLIENT_ID") else "SLACK_CLIENT_ID"
        raise SettingsError(missing, "is required too: multi-workspace installs need both SLACK_CLIENT_ID and "
                            "SLACK_CLIENT_SECRET")
    for name, prefix in (("SLACK_BOT_TOKEN", "xoxb-"), ("SLACK_APP_TOKEN", "xapp-")):
        token = get(name)
        if token and not token.startswith(prefix):
            raise SettingsError(name, f"should start with {prefix} (is it the right token?)")


def _seconds(value: int | None) -> float | None:
    return float(value) if value is not None else None


def _provider(get: Get, azure_endpoint: str | None) -> str:
    explicit = get("IMAGEBOT_PROVIDER")
    if explicit:
        provider = explicit.lower()
        if provider not in PROVIDERS:
            raise SettingsError("IMAGEBOT_PROVIDER", f"must be one of {', '.join(PROVIDERS)} (got {explicit!r})")
    elif azure_endpoint:
        provider = "azure"
    elif get("OPENAI_API_KEY"):
        provider = "openai"
    else:
        provider = "offline"

    if provider == "openai" and not get("OPENAI_API_KEY"):
        raise SettingsError("OPENAI_API_KEY", "is required when IMAGEBOT_PROVIDER=openai")
    if provider == "azure":
        if not azure_endpoint:
            raise SettingsError("AZURE_OPENAI_ENDPOINT", "is required when IMAGEBOT_PROVIDER=azure")
        if not get("AZURE_OPENAI_API_KEY"):
            raise SettingsError("AZURE_OPENAI_API_KEY", "is required when AZURE_OPENAI_ENDPOINT is set")
        if not get("AZURE_OPENAI_DEPLOYMENT"):
            raise SettingsError(
                "AZURE_OPENAI_DEPLOYMENT", "is required when AZURE_OPENAI_ENDPOINT is set (the image deployment name)"
            )
    return provider
