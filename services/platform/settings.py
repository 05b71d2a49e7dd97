"""Settings from the environment and an optional `.env` file (the environment wins)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from services.execution.graph import GraphLimits
from services.execution.providers.known import PROVIDERS, ProviderSettings

EMBEDDED_DATABASE_FILE = "flows.sqlite3"
SECRET_KEY_FILE = ".auth_secret_key"
# Where editors are served from in development (Vite's and Create React App's default ports);
# production mode allows no other origin unless CORS_ORIGINS names it.
DEV_ORIGINS = (
    "http://localhost:5173",
    "http://127.0.0.1:5173",
    "http://localhost:3000",
    "http://127.0.0.1:3000",
)

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
    max_query_cost: int = 50_000
    max_query_field_comparisons: int = 5_000
    max_json_depth: int = 64
    login_attempts: int = 10
    login_window_seconds: int = 600
    max_runs_per_user: int = 20
    # Distributed mode: a worker whose heartbeat is missing this long is dead; its runs are
    # taken over (or ended: STALLED_RUNS), looked for every STALLED_RUN_CHECK_SECONDS.
    worker_dead_after_seconds: int = 10
    stalled_run_check_seconds: int = 5
    # Distributed mode: the runs one worker process executes at once.
    worker_concurrency: int = 200
    # How long a run waits for an unreachable database before it is ended (with RunFailed).
    run_storage_timeout_seconds: int = 30
    signups_per_address_per_hour: int = 20
    # How stale a login session's state may be: revocations made by another process (or
    # tokens expiring) are seen within this, and open websockets are re-checked this often.
    session_check_seconds: int = 5
    max_websocket_message_bytes: int = 4 * 1024 * 1024
    websocket_init_timeout_seconds: int = 5
    # A request's headers, then its body, must arrive within these (slow clients hold sockets).
    header_timeout_seconds: int = 10
    body_timeout_seconds: int = 60

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
    "MAX_JSON_DEPTH": "max_json_depth",
    "LOGIN_ATTEMPTS": "login_attempts",
    "LOGIN_WINDOW_SECONDS": "login_window_seconds",
    "MAX_RUNS_PER_USER": "max_runs_per_user",
    "WORKER_DEAD_AFTER_SECONDS": "worker_dead_after_seconds",
    "STALLED_RUN_CHECK_SECONDS": "stalled_run_check_seconds",
    "WORKER_CONCURRENCY": "worker_concurrency",
    "RUN_STORAGE_TIMEOUT_SECONDS": "run_storage_timeout_seconds",
    "SIGNUPS_PER_ADDRESS_PER_HOUR": "signups_per_address_per_hour",
    "SESSION_CHECK_SECONDS": "session_check_seconds",
    "MAX_WEBSOCKET_MESSAGE_BYTES": "max_websocket_message_bytes",
    "WEBSOCKET_INIT_TIMEOUT_SECONDS": "websocket_init_timeout_seconds",
    "HEADER_TIMEOUT_SECONDS": "header_timeout_seconds",
    "BODY_TIMEOUT_SECONDS": "body_timeout_seconds",
}


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
    # Database connections kept open for reuse; None: the database's default (db.engine).
    database_pool_size: int | None = None
    bcrypt_rounds: int = 12
    # Consecutive text deltas of one node within this window go out as one event (0: off).
    delta_window_ms: int = 30
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or CIDRs, or "*");
    # none by default, so a client cannot pick the address the rate limits count against.
    trusted_proxies: tuple[str, ...] = ()
    # Distributed mode (several processes on one PostgreSQL database) when set: runs' live
    # events, cancel requests and notifications cross processes through this Redis.
    redis_url: str | None = None
    redis_prefix: str = "flows:"
    # Distributed mode: what becomes of a run whose worker died: "resume" (another worker goes
    # on from its completed nodes) or "interrupt" (it ends as interrupted).
    stalled_runs: str = "resume"
    # Browser origins other than the server's own that may call the API (CORS, websockets).
    cors_origins: tuple[str, ...] = ()
    # On SIGTERM, live runs get this long to end before they are cancelled (no new ones start).
    shutdown_grace_seconds: int = 30
    # "text" or "json" (one JSON object a line, for log collectors).
    log_format: str = "text"
    # The OTEL_* variables: tracing is configured by OpenTelemetry's standard settings.
    telemetry: Mapping[str, str] = field(default_factory=dict)
    limits: Limits = Limits()

    @property
    def distributed(self) -> bool:
        return self.redis_url is not None


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
        database_pool_size=_optional_int_setting(env, "DATABASE_POOL_SIZE"),
        bcrypt_rounds=_int_setting(env, "BCRYPT_ROUNDS", 12),
        delta_window_ms=_int_setting(env, "DELTA_WINDOW_MS", 30, minimum=0),
        trusted_proxies=_list_setting(env, "TRUSTED_PROXIES"),
        redis_url=_redis_url(env, database_url=database_url),
        redis_prefix=env.get("REDIS_PREFIX") or "flows:",
        stalled_runs=_choice_setting(env, "STALLED_RUNS", ("resume", "interrupt")),
        cors_origins=_cors_origins(env, embedded=embedded),
        shutdown_grace_seconds=_int_setting(env, "SHUTDOWN_GRACE_SECONDS", 30, minimum=0),
        log_format=_choice_setting(env, "LOG_FORMAT", ("text", "json")),
        telemetry={name: value for name, value in env.items() if name.startswith("OTEL_")},
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


def _int_setting(env: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _redis_url(env: Mapping[str, str], *, database_url: str) -> str | None:
    url = env.get("REDIS_URL") or None
    if url is not None and not database_url.startswith("postgresql"):
        raise SettingsError(
            "REDIS_URL is for several processes sharing one PostgreSQL database: "
            "set DATABASE_URL to a postgresql+asyncpg:// address too"
        )
    if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(f"REDIS_URL must start with redis://, rediss:// or unix://, got {url!r}")
    return url


def _choice_setting(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (the first when unset)."""
    value = (env.get(name) or choices[0]).strip().lower()
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _optional_int_setting(env: Mapping[str, str], name: str) -> int | None:
    return _int_setting(env, name, 0) or None


def _list_setting(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list; empty when unset."""
    return tuple(item.strip() for item in (env.get(name) or "").split(",") if item.strip())
def _cors_origins(env: Mapping[str, str], *, embedded: bool) -> tuple[str, ...]:
    """CORS_ORIGINS, comma-separated; set but empty allows none."""
    if env.get("CORS_ORIGINS") is None:
        return DEV_ORIGINS if embedded else ()
    origins = _list_setting(env, "CORS_ORIGINS")
    for origin in origins:
        _check_origin(origin)
    return origins


def _check_origin(origin: str) -> None:
    # Browsers send the Origin header as scheme://host[:port], nothing more; anything else would
    # never match. "*" is refused: with credentials allowed it would let any site call as the user.
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc or origin != f"{parts.scheme}://{parts.netloc}":
        raise SettingsError(
            f"CORS_ORIGINS: {origin!r} is not an origin (scheme://host[:port], http or https, no path)"
        )


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
