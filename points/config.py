"""Settings from environment variables: each one parsed and checked here, once.

A bad value raises ConfigError naming the variable, so start-up stops with a
message an operator can act on. The README lists every variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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
    session_hours: int
    pg_pool_max: int
    log_level: str

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
            session_hours=_int(env, "JIFEN_SESSION_HOURS", 24 * 7, 1, 24 * 90),
            pg_pool_max=_int(env, "JIFEN_PG_POOL_MAX", 10, 1, 200),
            log_level=_choice(env, "JIFEN_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
        )


_settings: Settings | None = None


def settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
    return _settings
