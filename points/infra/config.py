"""Settings from environment variables: each one parsed and checked here, once.

A bad value raises ConfigError naming the variable, so start-up stops with a
message an operator can act on. docs/configuration.md lists every variable.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class ConfigError(ValueError):
    """A configuration variable has a value we cannot use."""


def _int(env: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: must be between {low} and {high}, got {value}")
    return value


def _choice(env: dict[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (env.get(name) or default).upper()
    if value not in choices:
        raise ConfigError(f"{name}: must be one of {', '.join(choices)}, got {env.get(name)!r}")
    return value


DAY = 86400

# name: (requests, per seconds). JIFEN_RATE_LIMITS overrides any of them: "login_ip=100/900,submit_ip=0/1"
# (0 turns one off). They guard the service; the rules file's caps are the business limits.
RATE_LIMITS = {
    "login_ip": (60, 900),          # password and code logins from one address
    "login_phone": (10, 900),       # failed logins of one phone number: then it is locked for the window
    "code_phone": (1, 60),          # login codes sent to one number: one a minute …
    "code_phone_day": (10, DAY),    # … and ten a day
    "code_ip": (30, 3600),          # login codes asked for from one address
    "register_ip": (20, 3600),      # registrations from one address
    "submit_member": (60, 3600),    # reports by one member
    "submit_ip": (300, 3600),       # reports from one address
    "site_code_member": (10, 600),  # wrong site codes one member gives for one task: then they wait
    "site_code_ip": (60, 600),      # wrong site codes from one address
}


def _rate_limits(env: dict[str, str]) -> dict[str, tuple[int, int]]:
    limits = dict(RATE_LIMITS)
    for part in filter(None, (p.strip() for p in (env.get("JIFEN_RATE_LIMITS") or "").split(","))):
        name, _, value = part.partition("=")
        count, _, seconds = value.partition("/")
        if name not in RATE_LIMITS or not count.isdigit() or not seconds.isdigit() or int(seconds) < 1:
            raise ConfigError(f"JIFEN_RATE_LIMITS: {part!r} is not name=count/seconds with a name among "
                              f"{', '.join(RATE_LIMITS)}")
        limits[name] = (int(count), int(seconds))
    return limits


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None
    rules_path: Path
    host: str
    port: int
    sweep_seconds: int
    award_batch: int
    max_photo_bytes: int
    max_photo_pixels: int
    max_photos: int
    session_seconds: int
    session_idle_seconds: int
    staff_session_seconds: int
    staff_idle_seconds: int
    secure_cookies: bool
    trusted_proxies: str
    sms_sender: str
    rate_limits: dict[str, tuple[int, int]]
    pg_pool_max: int
    log_level: str
    precise_place_days: int
    secret_key: str | None
    photo_store: str = ""  # "" (the local disk) or s3://bucket/prefix
    s3_endpoint: str | None = None
    s3_region: str | None = None
    metrics: str = "off"  # off | loopback | token: who may read /metrics
    metrics_token: str | None = None
    log_format: str = "text"  # text | json
    open311_media_hosts: tuple[str, ...] = ()  # hosts an Open311 media_url may be fetched from
    view_cache_mb: int = 64  # each app process's memory for members' views (web/view_cache.py); 0: none
    outbound_allow: tuple[str, ...] = ()  # internal networks (CIDR) Jifen may call (points/infra/outbound.py)
    outbound_seconds: int = 15  # the most one call outside may take, start to last byte (points/infra/outbound.py)

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))

    @property
    def sqlite_path(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite:///"))

    @property
    def photo_dir(self) -> Path:
        return self.data_dir / "photos"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("JIFEN_DATA_DIR") or ROOT / "data").resolve()

        database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'jifen.sqlite3'}"
        if not database_url.startswith(("sqlite:///", "postgres://", "postgresql://")):
            raise ConfigError(
                "DATABASE_URL: must start with sqlite:/// or postgresql://, "
                f"got {database_url.split('://')[0]!r}://…"
            )

        redis_url = env.get("REDIS_URL") or None
        if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("REDIS_URL: must start with redis://, rediss:// or unix://")

        rules_path = Path(env.get("JIFEN_RULES") or ROOT / "rules" / "default.toml")
        if not rules_path.is_file():
            raise ConfigError(f"JIFEN_RULES: no rules file at {rules_path}")

        return cls(
            data_dir=data_dir,
            database_url=database_url,
            redis_url=redis_url,
            rules_path=rules_path,
            host=env.get("JIFEN_HOST") or "127.0.0.1",
            port=_int(env, "JIFEN_PORT", 8000, 1, 65535),
            sweep_seconds=_int(env, "JIFEN_SWEEP_SECONDS", 60, 1, 86400),
            award_batch=_int(env, "JIFEN_AWARD_BATCH", 500, 1, 5000),
            max_photo_bytes=_int(env, "JIFEN_MAX_PHOTO_BYTES", 8_000_000, 10_000, 50_000_000),
            max_photo_pixels=_int(env, "JIFEN_MAX_PHOTO_PIXELS", 40_000_000, 10_000, 150_000_000),
            max_photos=_int(env, "JIFEN_MAX_PHOTOS", 6, 1, 20),
            session_seconds=_int(env, "JIFEN_SESSION_SECONDS", 7 * DAY, 10, 90 * DAY),
            session_idle_seconds=_int(env, "JIFEN_SESSION_IDLE_SECONDS", 3 * DAY, 10, 90 * DAY),
            staff_session_seconds=_int(env, "JIFEN_STAFF_SESSION_SECONDS", 12 * 3600, 10, 7 * DAY),
            staff_idle_seconds=_int(env, "JIFEN_STAFF_IDLE_SECONDS", 1800, 10, 7 * DAY),
            secure_cookies=_choice(env, "JIFEN_SECURE_COOKIES", "AUTO", ("AUTO", "TRUE")) == "TRUE",
            trusted_proxies=env.get("JIFEN_TRUSTED_PROXIES") or "127.0.0.1",
            sms_sender=_choice(env, "JIFEN_SMS_SENDER", "LOG", ("LOG",)).lower(),
            rate_limits=_rate_limits(env),
            pg_pool_max=_int(env, "JIFEN_PG_POOL_MAX", 10, 1, 200),
            log_level=_choice(env, "JIFEN_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
            precise_place_days=_int(env, "JIFEN_PRECISE_PLACE_DAYS", 180, 1, 36500),
            secret_key=_secret_key(env),
            photo_store=_photo_store(env),
            s3_endpoint=env.get("JIFEN_S3_ENDPOINT_URL") or None,
            s3_region=env.get("JIFEN_S3_REGION") or env.get("AWS_REGION") or None,
            metrics=_choice(env, "JIFEN_METRICS", "OFF", ("OFF", "LOOPBACK", "TOKEN")).lower(),
            metrics_token=_metrics_token(env),
            log_format=_choice(env, "JIFEN_LOG_FORMAT", "TEXT", ("TEXT", "JSON")).lower(),
            open311_media_hosts=tuple(h.strip().lower() for h in (env.get("JIFEN_OPEN311_MEDIA_HOSTS") or "").split(",")
                                      if h.strip()),
            view_cache_mb=_int(env, "JIFEN_VIEW_CACHE_MB", 64, 0, 4096),
            outbound_allow=_networks(env, "JIFEN_OUTBOUND_ALLOW"),
            outbound_seconds=_int(env, "JIFEN_OUTBOUND_SECONDS", 15, 1, 120),
        )


def _networks(env: dict[str, str], name: str) -> tuple[str, ...]:
    found = []
    for part in (env.get(name) or "").split(","):
        if part.strip():
            try:
                found.append(str(ipaddress.ip_network(part.strip(), strict=False)))
            except ValueError:
                raise ConfigError(f"{name}: {part.strip()!r} is not a network (e.g. 10.20.0.0/16 or 10.20.3.4)") from None
    return tuple(found)


def _photo_store(env: dict[str, str]) -> str:
    value = env.get("JIFEN_PHOTO_STORE") or ""
    if value in ("", "local"):
        return ""
    bucket = value.removeprefix("s3://").split("/")[0]
    if not value.startswith("s3://") or not bucket:
        raise ConfigError("JIFEN_PHOTO_STORE: local, or s3://bucket/prefix (object storage; the endpoint in "
                          "JIFEN_S3_ENDPOINT_URL, credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
    return value


def _metrics_token(env: dict[str, str]) -> str | None:
    token = env.get("JIFEN_METRICS_TOKEN") or None
    if (env.get("JIFEN_METRICS") or "").lower() == "token" and (token is None or len(token) < 32):
        raise ConfigError("JIFEN_METRICS_TOKEN: JIFEN_METRICS=token needs a token of at least 32 characters, "
                          "sent by the scraper as 'Authorization: Bearer <token>'")
    return token


def _secret_key(env: dict[str, str]) -> str | None:
    key = env.get("JIFEN_SECRET_KEY") or None
    if key is not None and len(key) < 32:
        raise ConfigError("JIFEN_SECRET_KEY: must be at least 32 characters (e.g. python -c "
                          "'import secrets; print(secrets.token_hex(32))')")
    return key


_settings: Settings | None = None


def settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
    return _settings
