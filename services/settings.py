"""Settings from the environment and an optional `.env` file (the environment wins)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from services.execution.graph import GraphLimits
from services.providers import PROVIDERS

EMBEDDED_DATABASE_FILE = "flows.sqlite3"
SECRET_KEY_FILE = ".auth_secret_key"



class SettingsError(Exception):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Limits:
    max_graph_nodes: int = 2_000
    max_graph_edges: int = 10_000
    max_text_length: int = 100_000
    max_request_bytes: int = 4 * 1024 * 1024
    max_page_size: int = 100
    max_query_depth: int = 12
    max_query_aliases: int = 30
    max_query_tokens: int = 5_000
    max_query_cost: int = 20_000
    max_query_field_comparisons: int = 5_000
    login_attempts: int = 10
    login_window_seconds: int = 600

    @property
    def graph_limits(self) -> GraphLimits:
        return GraphLimits(
            max_nodes=self.max_graph_nodes,
            max_edges=self.max_graph_edges,
            max_text_length=self.max_text_length,
        )


# Environment variable -> Limits attribute; every limit is a setting.
LIMIT_SETTINGS = {
    "MAX_GRAPH_NODES": "max_graph_nodes",
    "MAX_GRAPH_EDGES": "max_graph_edges",
    "MAX_TEXT_LENGTH": "max_text_length",
    "MAX_REQUEST_BYTES": "max_request_bytes",
    "MAX_PAGE_SIZE": "max_page_size",
    "MAX_QUERY_DEPTH": "max_query_depth",
    "MAX_QUERY_ALIASES": "max_query_aliases",
    "MAX_QUERY_TOKENS": "max_query_tokens",
    "MAX_QUERY_COST": "max_query_cost",
    "MAX_QUERY_FIELD_COMPARISONS": "max_query_field_comparisons",
    "LOGIN_ATTEMPTS": "login_attempts",
    "LOGIN_WINDOW_SECONDS": "login_window_seconds",
}


@dataclass(frozen=True)
class ProviderSettings:
    api_key: str | None
    base_url: str | None


@dataclass(frozen=True)
class Settings:
    database_url: str
    auth_secret_key: str
    port: int = 8000
    media_dir: Path = Path("media")
    # True when DATABASE_URL was not given: the SQLite file in the working directory.
    embedded: bool = False
    providers: Mapping[str, ProviderSettings] = field(default_factory=dict)
    provider_concurrency: int = 32
    bcrypt_rounds: int = 12
    limits: Limits = Limits()


def load_settings(
    environ: Mapping[str, str] | None = None, *, workdir: Path | None = None
) -> Settings:
    workdir = workdir or Path.cwd()
    env = _merged_environment(environ, workdir)
    database_url = env.get("DATABASE_URL") or ""
    embedded = not database_url
    if embedded:
        database_url = f"sqlite+aiosqlite:///{workdir / EMBEDDED_DATABASE_FILE}"
    return Settings(
        database_url=database_url,
        auth_secret_key=_auth_secret_key(env, embedded=embedded, workdir=workdir),
        port=_int_setting(env, "PORT", 8000),
        media_dir=Path(env.get("MEDIA_DIR") or workdir / "media"),
        embedded=embedded,
        providers={
            provider.id: ProviderSettings(
                api_key=env.get(f"{provider.setting_prefix}_API_KEY") or None,
                base_url=env.get(f"{provider.setting_prefix}_BASE_URL") or None,
            )
            for provider in PROVIDERS.values()
        },
        provider_concurrency=_int_setting(env, "PROVIDER_CONCURRENCY", 32),
        bcrypt_rounds=_int_setting(env, "BCRYPT_ROUNDS", 12),
        limits=Limits(
            **{
                attribute: _int_setting(env, name, getattr(Limits, attribute))
                for name, attribute in LIMIT_SETTINGS.items()
            }
        ),
    )


def _merged_environment(environ: Mapping[str, str] | None, workdir: Path) -> dict[str, str]:
    dotenv_file = workdir / ".env"
    from_file = dotenv_values(dotenv_file) if dotenv_file.is_file() else {}
    merged = {key: value for key, value in from_file.items() if value is not None}
    merged.update(os.environ if environ is None else environ)
    return merged


def _int_setting(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {value}")
    return value


def _auth_secret_key(env: Mapping[str, str], *, embedded: bool, workdir: Path) -> str:
    key = env.get("AUTH_SECRET_KEY")
    if key:
        if len(key) < 32:
            raise SettingsError("AUTH_SECRET_KEY must be at least 32 characters long")
        return key
    if not embedded:
        raise SettingsError(
            "AUTH_SECRET_KEY is required when DATABASE_URL is set (production mode)"
        )
    # Embedded mode: a random key, generated once and kept beside the database file.
    key_file = workdir / SECRET_KEY_FILE
    if key_file.is_file():
        return key_file.read_text().strip()
    key = secrets.token_urlsafe(48)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key
