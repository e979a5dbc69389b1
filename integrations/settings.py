"""Settings: read once from `CARELOG_*` environment variables (and an optional `.env` file).

Composition roots (`api.cli`, `api.app`, workers) call `Settings.from_env()` and pass the result
down; nothing else reads the environment.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from dotenv import dotenv_values

from domain.values import Tier

PORTAL_TIERS = frozenset(t.value for t in Tier)


class SettingsError(ValueError):
    """A setting has a value Carelog cannot use; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A credential: its `repr` and `str` are masked, so logging settings never shows it."""

    value: str = field(repr=False)

    def __str__(self) -> str:
        return "********"

    def __repr__(self) -> str:
        return "Secret('********')"


@dataclass(frozen=True)
class JiraSettings:
    """Where product feedback goes in Jira; `url` unset means no Jira (the board still works)."""

    url: str | None = None
    """CARELOG_JIRA_URL: https://your-site.atlassian.net (or a Jira Server/Data Center URL)."""

    project: str = "FEED"
    """CARELOG_JIRA_PROJECT: the key of the project feedback issues are created in."""

    issue_type: str = "Task"
    """CARELOG_JIRA_ISSUE_TYPE: the issue type's name in that project."""

    user: str | None = None
    """CARELOG_JIRA_USER: the account email for a Cloud API token; unset: the token is a
    personal access token (Server/Data Center bearer auth)."""

    token: Secret | None = None
    """CARELOG_JIRA_TOKEN: the API token or personal access token."""

    webhook_secret: Secret | None = None
    """CARELOG_JIRA_WEBHOOK_SECRET: the secret of the Jira webhook posting to /webhooks/jira
    (checked as the `X-Hub-Signature` HMAC, or sent as the `X-Carelog-Webhook-Secret` header)."""

    timeout: float = 10.0
    """CARELOG_JIRA_TIMEOUT: seconds to connect and to read one Jira answer."""

    reconcile_seconds: float = 120.0
    """CARELOG_JIRA_RECONCILE_SECONDS: after a create whose outcome is unknown, how long only
    searches run before another create; must exceed Jira's search lag."""

    declined_statuses: frozenset[str] = frozenset()
    """CARELOG_JIRA_DECLINED_STATUSES: ids of done-category statuses that mean "declined"
    (comma-separated); every other done status means "shipped"."""

    @property
    def enabled(self) -> bool:
        return self.url is not None


TELEGRAM_MODES = ("webhook", "polling")
_WEBHOOK_KEY = Secret("carelog-telegram-webhook-v1")


@dataclass(frozen=True)
class EmailSettings:
    """Mail in (the `/inbound/email` route, an optional SMTP listener) and out (SMTP)."""

    domain: str = "carelog.invalid"
    """CARELOG_EMAIL_DOMAIN: our mail domain, the right-hand side of our Message-IDs."""

    secret: Secret | None = None
    """CARELOG_EMAIL_SECRET: signs our Message-IDs, so a reply names a case only through an id
    we made. Unset: derived from the domain (set it in production: anyone knowing the domain
    could then sign)."""

    staff_domains: frozenset[str] = frozenset()
    """CARELOG_EMAIL_STAFF_DOMAINS: our agents' mail domains, comma-separated: mail From them
    must pass DMARC at our own server, else it is held for review (never an agent reply)."""

    authserv_id: str | None = None
    """CARELOG_EMAIL_AUTHSERV_ID: our receiving server's name in Authentication-Results; only
    its verdicts count (RFC 8601)."""

    inbound_secret: Secret | None = None
    """CARELOG_EMAIL_INBOUND_SECRET: when set, POST /inbound/email needs it in the
    `X-Carelog-Inbound-Secret` header (your mail gateway sends it)."""

    max_bytes: int = 25 * 1024 * 1024
    """CARELOG_EMAIL_MAX_BYTES: larger mail is refused (413, SMTP 552) before it is parsed."""

    smtp_host: str | None = None
    """CARELOG_SMTP_HOST: where replies are handed over; unset: replies by mail wait."""

    smtp_port: int = 587
    """CARELOG_SMTP_PORT."""

    smtp_security: str = "starttls"
    """CARELOG_SMTP_SECURITY: `starttls`, `ssl` or `none`."""

    smtp_user: str | None = None
    """CARELOG_SMTP_USER."""

    smtp_password: Secret | None = None
    """CARELOG_SMTP_PASSWORD."""

    from_address: str = "support@carelog.invalid"
    """CARELOG_SMTP_FROM: the address our replies come from."""

    from_name: str | None = None
    """CARELOG_SMTP_FROM_NAME: the name shown with it."""

    listen: str | None = None
    """CARELOG_SMTP_LISTEN: host:port for an SMTP listener that receives client mail for
    CARELOG_EMAIL_DOMAIN (e.g. 127.0.0.1:2525 behind your MX); unset: none."""

    @property
    def signing_secret(self) -> str:
        return self.secret.value if self.secret is not None else f"carelog:{self.domain}"


@dataclass(frozen=True)
class TelegramSettings:
    """The Telegram bot client groups talk to; `token` unset means no Telegram."""

    token: Secret | None = None
    """CARELOG_TELEGRAM_TOKEN: the bot token from @BotFather (123456:ABC-...)."""

    api_url: str = "https://api.telegram.org"
    """CARELOG_TELEGRAM_API_URL: the Bot API server (a local `telegram-bot-api` works too)."""

    webhook_secret: Secret | None = None
    """CARELOG_TELEGRAM_WEBHOOK_SECRET: the `secret_token` Telegram repeats in the
    `X-Telegram-Bot-Api-Secret-Token` header (1-256 of A-Z a-z 0-9 _ -). Unset: derived from
    the bot token (an HMAC of it), so every replica agrees without another secret to share."""

    mode: str = "webhook"
    """CARELOG_TELEGRAM_MODE: `webhook` (Telegram POSTs to /webhooks/telegram) or `polling`
    (a worker long-polls getUpdates: for installations Telegram cannot reach)."""

    public_url: str | None = None
    """CARELOG_TELEGRAM_PUBLIC_URL: https://carelog.example.com, where Telegram reaches this
    installation; with it, webhook mode calls setWebhook at start."""

    timeout: float = 10.0
    """CARELOG_TELEGRAM_TIMEOUT: seconds to connect and to read one Bot API answer."""

    @property
    def enabled(self) -> bool:
        return self.token is not None

    @property
    def secret_token(self) -> Secret | None:
        """The webhook secret token in force: the configured one, else the derived one."""
        if self.webhook_secret is not None:
            return self.webhook_secret
        if self.token is None:
            return None
        from integrations.telegram.webhook import derive_secret_token
        return derive_secret_token(self.token, _WEBHOOK_KEY)

    @property
    def webhook_url(self) -> str | None:
        return f"{self.public_url}/webhooks/telegram" if self.public_url else None


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    """CARELOG_DATABASE_URL: postgresql://user:password@host:port/db. Unset: embedded SQLite."""

    data_dir: Path = Path("var")
    """CARELOG_DATA_DIR: where the embedded SQLite files live (events and views)."""

    host: str = "127.0.0.1"
    """CARELOG_HOST: address `carelog serve` listens on."""

    port: int = 8000
    """CARELOG_PORT: port `carelog serve` listens on."""

    environment: str = "development"
    """CARELOG_ENV: `development` (GraphiQL on) or `production` (GraphiQL and introspection off)."""

    currency: str = "EUR"
    """CARELOG_CURRENCY: the reporting currency of revenue KPIs and rankings."""

    fx_rates: Mapping[str, Decimal] = field(default_factory=dict)
    """CARELOG_FX_RATES: fixed budget rates into the reporting currency: `USD=0.92,GBP=1.17`."""

    key_accounts: int = 200
    """CARELOG_KEY_ACCOUNTS: how many accounts, top by ARR, count as key accounts."""

    db_pool_size: int = 5
    """CARELOG_DB_POOL_SIZE: PostgreSQL connections per process for the log and for the views."""

    wait_timeout: float = 5.0
    """CARELOG_WAIT_TIMEOUT: longest a query with `waitFor` waits for the views, in seconds."""

    projection_page_size: int = 2000
    """CARELOG_PROJECTION_PAGE_SIZE: notifications folded per view transaction (and per batch
    pulled from the stream): larger pages commit less often when catching up."""

    reactor_interval: float = 30.0
    """CARELOG_REACTOR_INTERVAL: seconds between rounds of the SLA clock and health alerts."""

    answer_cache: int = 256
    """CARELOG_ANSWER_CACHE: answers to plain queries kept while the views they read are
    unchanged (per process); 0 keeps none."""

    vip_line: int = 1
    """CARELOG_VIP_LINE: the support line VIP clients' new cases open on; 2 routes them
    straight to line 2."""

    feedback_outcomes: str = "note"
    """CARELOG_FEEDBACK_OUTCOMES: when feedback ships or is declined, `note` leaves a message in
    each requesting account's room for its manager to pass on; `send` posts it to the room."""

    form_limit_per_address: int = 5
    """CARELOG_FORM_LIMIT_PER_ADDRESS: web form requests per hour from one email address."""

    form_limit_per_ip: int = 30
    """CARELOG_FORM_LIMIT_PER_IP: web form requests per hour from one client IP."""

    session_minutes: int = 720
    """CARELOG_SESSION_MINUTES: how long a login session lasts before signing in again."""

    auth_recheck_seconds: float = 1.0
    """CARELOG_AUTH_RECHECK_SECONDS: a process trusts a token or session it accepted for this
    long before reading the log again; so a revocation by another process takes at most this
    long to be seen there (a logout here, none). 0 reads the log on every request."""

    login_limit_per_user: int = 10
    """CARELOG_LOGIN_LIMIT_PER_USER: login attempts per 15 minutes for one username."""

    login_limit_per_ip: int = 30
    """CARELOG_LOGIN_LIMIT_PER_IP: login attempts per 15 minutes from one client IP."""

    portal_tiers: frozenset[str] = PORTAL_TIERS
    """CARELOG_PORTAL_TIERS: the tiers whose accounts have the client portal (for example
    `vip`), unless it is granted or revoked for one account; default: every tier."""

    public_url: str | None = None
    """CARELOG_PUBLIC_URL: https://carelog.example.com, where people reach Carelog, for the
    links we mail; unset: http://CARELOG_HOST:CARELOG_PORT."""

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    nats_url: str | None = None
    """CARELOG_NATS_URL: nats://host:port[,nats://…]; unset: the in-process bus, one process."""

    nats_prefix: str = "carelog"
    """CARELOG_NATS_PREFIX: subjects `<prefix>.events.…`, `<prefix>.views.…`; the stream is
    named after it in capitals (CARELOG)."""

    nats_replicas: int = 1
    """CARELOG_NATS_REPLICAS: JetStream replicas of the stream (3 on a three-node cluster)."""

    nats_duplicate_window: float = 120.0
    """CARELOG_NATS_DUPLICATE_WINDOW: seconds JetStream remembers message ids to drop
    re-sends; must exceed the longest relay outage between publish and position."""

    nats_monitor_url: str | None = None
    """CARELOG_NATS_MONITOR_URL: http://host:8222, to check the server's fsync setting."""

    jira: JiraSettings = field(default_factory=JiraSettings)
    """CARELOG_JIRA_*: the Jira project that receives product feedback."""

    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    email: EmailSettings = field(default_factory=EmailSettings)
    """CARELOG_TELEGRAM_*: the bot that links client groups to rooms and carries replies."""

    @property
    def is_postgres(self) -> bool:
        return self.database_url is not None

    @property
    def is_distributed(self) -> bool:
        return self.nats_url is not None

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def currencies(self) -> frozenset[str]:
        return frozenset({self.currency, *self.fx_rates})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None,
                 dotenv: Path | None = Path(".env")) -> Settings:
        """Settings from the environment; values in `.env` fill in what the environment lacks."""
        values: dict[str, str] = {}
        if dotenv is not None and dotenv.is_file():
            values.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
        values.update(os.environ if environ is None else environ)

        def get(name: str) -> str | None:
            raw = values.get(f"CARELOG_{name}")
            return raw.strip() if raw is not None and raw.strip() else None

        url = get("DATABASE_URL")
        if url is not None and not url.startswith(("postgresql://", "postgres://")):
            raise SettingsError(
                "CARELOG_DATABASE_URL must be a postgresql:// URL; leave it unset for SQLite")
        env = get("ENV") or "development"
        if env not in ("development", "production"):
            raise SettingsError("CARELOG_ENV must be development or production")
        currency = (get("CURRENCY") or "EUR").upper()
        if not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
            raise SettingsError(
                f"CARELOG_CURRENCY must be a three-letter ISO 4217 code, not {currency!r}")
        return cls(
            database_url=url,
            data_dir=Path(get("DATA_DIR") or "var"),
            host=get("HOST") or "127.0.0.1",
            port=_port(get("PORT")),
            environment=env,
            currency=currency,
            fx_rates=_rates(get("FX_RATES"), currency),
            key_accounts=_int(get("KEY_ACCOUNTS"), 200, "KEY_ACCOUNTS"),
            db_pool_size=_int(get("DB_POOL_SIZE"), 5, "DB_POOL_SIZE"),
            wait_timeout=_seconds(get("WAIT_TIMEOUT"), 5.0, "WAIT_TIMEOUT"),
            projection_page_size=_int(get("PROJECTION_PAGE_SIZE"), 2000, "PROJECTION_PAGE_SIZE"),
            reactor_interval=_seconds(get("REACTOR_INTERVAL"), 30.0, "REACTOR_INTERVAL"),
            answer_cache=_count(get("ANSWER_CACHE"), 256, "ANSWER_CACHE"),
            vip_line=int(_choice(get("VIP_LINE"), ("1", "2"), "VIP_LINE")),
            feedback_outcomes=_choice(get("FEEDBACK_OUTCOMES"), ("note", "send"),
                                      "FEEDBACK_OUTCOMES"),
            form_limit_per_address=_int(get("FORM_LIMIT_PER_ADDRESS"), 5,
                                        "FORM_LIMIT_PER_ADDRESS"),
            form_limit_per_ip=_int(get("FORM_LIMIT_PER_IP"), 30, "FORM_LIMIT_PER_IP"),
            session_minutes=_int(get("SESSION_MINUTES"), 720, "SESSION_MINUTES"),
            auth_recheck_seconds=_recheck(get("AUTH_RECHECK_SECONDS")),
            login_limit_per_user=_int(get("LOGIN_LIMIT_PER_USER"), 10, "LOGIN_LIMIT_PER_USER"),
            login_limit_per_ip=_int(get("LOGIN_LIMIT_PER_IP"), 30, "LOGIN_LIMIT_PER_IP"),
            portal_tiers=_tiers(get("PORTAL_TIERS")),
            public_url=_public_url(get("PUBLIC_URL")),
            nats_url=_nats_url(get("NATS_URL")),
            nats_prefix=_prefix(get("NATS_PREFIX") or "carelog"),
            nats_replicas=_int(get("NATS_REPLICAS"), 1, "NATS_REPLICAS"),
            nats_duplicate_window=_seconds(get("NATS_DUPLICATE_WINDOW"), 120.0,
                                           "NATS_DUPLICATE_WINDOW"),
            nats_monitor_url=get("NATS_MONITOR_URL"),
            jira=_jira(get),
            telegram=_telegram(get),
            email=_email(get),
        )


def _jira(get: Callable[[str], str | None]) -> JiraSettings:
    url = get("JIRA_URL")
    if url is not None and not url.startswith(("https://", "http://")):
        raise SettingsError("CARELOG_JIRA_URL must be an http(s):// URL")
    token = get("JIRA_TOKEN")
    secret = get("JIRA_WEBHOOK_SECRET")
    declined = get("JIRA_DECLINED_STATUSES") or ""
    return JiraSettings(
        url=url.rstrip("/") if url else None,
        project=get("JIRA_PROJECT") or "FEED",
        issue_type=get("JIRA_ISSUE_TYPE") or "Task",
        user=get("JIRA_USER"),
        token=Secret(token) if token else None,
        webhook_secret=Secret(secret) if secret else None,
        timeout=_seconds(get("JIRA_TIMEOUT"), 10.0, "JIRA_TIMEOUT"),
        reconcile_seconds=_seconds(get("JIRA_RECONCILE_SECONDS"), 120.0,
                                   "JIRA_RECONCILE_SECONDS"),
        declined_statuses=frozenset(p.strip() for p in declined.split(",") if p.strip()),
    )


def _telegram(get: Callable[[str], str | None]) -> TelegramSettings:
    token = get("TELEGRAM_TOKEN")
    if token is not None and ("/" in token or ":" not in token):
        raise SettingsError("CARELOG_TELEGRAM_TOKEN must be a bot token like 123456:ABC-DEF...")
    api_url = (get("TELEGRAM_API_URL") or "https://api.telegram.org").rstrip("/")
    if not api_url.startswith(("https://", "http://")):
        raise SettingsError("CARELOG_TELEGRAM_API_URL must be an http(s):// URL")
    secret = get("TELEGRAM_WEBHOOK_SECRET")
    if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
        raise SettingsError("CARELOG_TELEGRAM_WEBHOOK_SECRET must be 1-256 of A-Z a-z 0-9 _ -")
    mode = (get("TELEGRAM_MODE") or "webhook").lower()
    if mode not in TELEGRAM_MODES:
        raise SettingsError("CARELOG_TELEGRAM_MODE must be webhook or polling")
    public = get("TELEGRAM_PUBLIC_URL")
    if public is not None and not public.startswith("https://"):
        raise SettingsError("CARELOG_TELEGRAM_PUBLIC_URL must be an https:// URL (Telegram "
                            "delivers webhooks over HTTPS only)")
    return TelegramSettings(
        token=Secret(token) if token else None, api_url=api_url,
        webhook_secret=Secret(secret) if secret else None, mode=mode,
        public_url=public.rstrip("/") if public else None,
        timeout=_seconds(get("TELEGRAM_TIMEOUT"), 10.0, "TELEGRAM_TIMEOUT"))


def _email(get: Callable[[str], str | None]) -> EmailSettings:
    domain = (get("EMAIL_DOMAIN") or "carelog.invalid").strip().lower()
    if not re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,63}|[a-z0-9.-]+\.invalid", domain):
        raise SettingsError(f"CARELOG_EMAIL_DOMAIN must be a mail domain, not {domain!r}")
    staff = frozenset(d.strip().lower() for d in (get("EMAIL_STAFF_DOMAINS") or "").split(",")
                      if d.strip())
    security = _choice(get("SMTP_SECURITY"), ("starttls", "ssl", "none"), "SMTP_SECURITY")
    listen = get("SMTP_LISTEN")
    if listen is not None and not re.fullmatch(r"[^:\s]+:\d{1,5}", listen):
        raise SettingsError("CARELOG_SMTP_LISTEN must be host:port, e.g. 127.0.0.1:2525")
    secret, inbound, password = (get("EMAIL_SECRET"), get("EMAIL_INBOUND_SECRET"),
                                 get("SMTP_PASSWORD"))
    return EmailSettings(
        domain=domain, secret=Secret(secret) if secret else None, staff_domains=staff,
        authserv_id=get("EMAIL_AUTHSERV_ID"),
        inbound_secret=Secret(inbound) if inbound else None,
        max_bytes=_int(get("EMAIL_MAX_BYTES"), 25 * 1024 * 1024, "EMAIL_MAX_BYTES"),
        smtp_host=get("SMTP_HOST"), smtp_port=_int(get("SMTP_PORT"), 587, "SMTP_PORT"),
        smtp_security=security, smtp_user=get("SMTP_USER"),
        smtp_password=Secret(password) if password else None,
        from_address=get("SMTP_FROM") or f"support@{domain}",
        from_name=get("SMTP_FROM_NAME"), listen=listen)


def _int(raw: str | None, default: int, name: str) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"CARELOG_{name} must be a whole number, not {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"CARELOG_{name} must be positive")
    return value


def _choice(raw: str | None, choices: tuple[str, ...], name: str) -> str:
    """One of `choices`; the first when unset."""
    if raw is None or not raw.strip():
        return choices[0]
    if raw.strip() not in choices:
        raise SettingsError(f"CARELOG_{name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw.strip()


def _count(raw: str | None, default: int, name: str) -> int:
    """A whole number that may be 0."""
    if raw is None:
        return default
    if not raw.isdigit():
        raise SettingsError(f"CARELOG_{name} must be a whole number of 0 or more, not {raw!r}")
    return int(raw)


def _port(raw: str | None) -> int:
    port = _int(raw, 8000, "PORT")
    if port > 65535:
        raise SettingsError(f"CARELOG_PORT must be at most 65535, not {port}")
    return port


def _recheck(raw: str | None) -> float:
    if raw is not None and raw.strip() == "0":
        return 0.0
    return _seconds(raw, 1.0, "AUTH_RECHECK_SECONDS")


def _seconds(raw: str | None, default: float, name: str) -> float:
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"CARELOG_{name} must be a number of seconds, not {raw!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise SettingsError(f"CARELOG_{name} must be a positive number of seconds")
    return value


def _rates(raw: str | None, reporting: str) -> dict[str, Decimal]:
    rates: dict[str, Decimal] = {}
    for part in (raw or "").split(","):
        if not part.strip():
            continue
        code, _, rate = part.partition("=")
        code = code.strip().upper()
        try:
            value = Decimal(rate.strip())
        except InvalidOperation:
            raise SettingsError(f"CARELOG_FX_RATES: {part!r} is not CODE=RATE") from None
        if len(code) != 3 or not code.isalpha() or not value.is_finite() or value <= 0:
            raise SettingsError(f"CARELOG_FX_RATES: {part!r} is not CODE=RATE")
        if code != reporting:
            rates[code] = value
    return rates


def _tiers(raw: str | None) -> frozenset[str]:
    if raw is None:
        return PORTAL_TIERS
    tiers = frozenset(t.strip().lower() for t in raw.split(",") if t.strip())
    unknown = sorted(tiers - PORTAL_TIERS)
    if unknown or not tiers:
        raise SettingsError(f"CARELOG_PORTAL_TIERS must name tiers among "
                            f"{', '.join(sorted(PORTAL_TIERS))}, not {raw!r}")
    return tiers


def _public_url(raw: str | None) -> str | None:
    if raw is not None and not raw.startswith(("https://", "http://")):
        raise SettingsError("CARELOG_PUBLIC_URL must be an http(s):// URL")
    return raw.rstrip("/") if raw else None


def _nats_url(raw: str | None) -> str | None:
    if raw is not None and not all(
            u.strip().startswith(("nats://", "tls://")) for u in raw.split(",")):
        raise SettingsError("CARELOG_NATS_URL must be nats:// URLs separated by commas")
    return raw


def _prefix(raw: str) -> str:
    if not raw.replace("_", "").isalnum() or not raw.isascii():
        raise SettingsError("CARELOG_NATS_PREFIX may hold only letters, digits and _")
    return raw.lower()
