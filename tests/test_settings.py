"""Settings from the environment and `.env`."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.platform.settings import SettingsError, load_settings

PRODUCTION = {"DATABASE_URL": "postgresql+asyncpg://app@db/flows", "AUTH_SECRET_KEY": "k" * 40}


def test_without_database_url_the_embedded_sqlite_file_is_used(tmp_path: Path) -> None:
    settings = load_settings({}, workdir=tmp_path)
    assert settings.embedded
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'flows.sqlite3'}"


def test_embedded_mode_generates_a_secret_key_once_and_keeps_it(tmp_path: Path) -> None:
    first = load_settings({}, workdir=tmp_path).auth_secret_key
    assert len(first) >= 32
    assert load_settings({}, workdir=tmp_path).auth_secret_key == first
    assert (tmp_path / ".auth_secret_key").stat().st_mode & 0o077 == 0


def test_production_mode_requires_a_secret_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="AUTH_SECRET_KEY"):
        load_settings({"DATABASE_URL": PRODUCTION["DATABASE_URL"]}, workdir=tmp_path)


def test_a_short_secret_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="at least 32"):
        load_settings({**PRODUCTION, "AUTH_SECRET_KEY": "short"}, workdir=tmp_path)


def test_dotenv_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PORT=9000\nMISTRAL_API_KEY=from-file\nGLM_API_KEY=from-file\n")
    settings = load_settings({**PRODUCTION, "GLM_API_KEY": "from-env"}, workdir=tmp_path)
    assert settings.port == 9000
    assert settings.providers["mistral"].api_key == "from-file"
    assert settings.providers["glm"].api_key == "from-env"


def test_provider_keys_and_base_urls_are_read_per_provider(tmp_path: Path) -> None:
    settings = load_settings(
        {**PRODUCTION, "HF_API_KEY": "hf", "HF_BASE_URL": "http://127.0.0.1:11434/v1"}, workdir=tmp_path
    )
    assert settings.providers["huggingface"].api_key == "hf"
    assert settings.providers["huggingface"].base_url == "http://127.0.0.1:11434/v1"
    assert settings.providers["claude"].api_key is None


def test_limits_are_settings(tmp_path: Path) -> None:
    settings = load_settings({**PRODUCTION, "MAX_GRAPH_NODES": "50", "MAX_PAGE_SIZE": "10"}, workdir=tmp_path)
    assert settings.limits.max_graph_nodes == 50
    assert settings.limits.max_page_size == 10
    assert settings.limits.max_query_depth == 12


def test_the_database_pool_size_is_a_setting(tmp_path: Path) -> None:
    assert load_settings(PRODUCTION, workdir=tmp_path).database_pool_size is None  # the database's default
    assert load_settings({**PRODUCTION, "DATABASE_POOL_SIZE": "8"}, workdir=tmp_path).database_pool_size == 8


@pytest.mark.parametrize("value", ["many", "-1", "0"])
def test_a_malformed_number_names_the_setting(tmp_path: Path, value: str) -> None:
    with pytest.raises(SettingsError, match="MAX_GRAPH_NODES"):
        load_settings({**PRODUCTION, "MAX_GRAPH_NODES": value}, workdir=tmp_path)


def test_trusted_proxies_are_a_comma_separated_list_and_none_by_default(tmp_path: Path) -> None:
    assert load_settings(PRODUCTION, workdir=tmp_path).trusted_proxies == ()
    settings = load_settings({**PRODUCTION, "TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16"}, workdir=tmp_path)
    assert settings.trusted_proxies == ("10.0.0.1", "192.168.0.0/16")


def test_embedded_mode_allows_the_usual_local_dev_origins(tmp_path: Path) -> None:
    assert load_settings({}, workdir=tmp_path).cors_origins == (
        "http://localhost:5173",
        "http://127.0.0.1:5173",
        "http://localhost:3000",
        "http://127.0.0.1:3000",
    )


def test_production_mode_allows_no_other_origin_by_default(tmp_path: Path) -> None:
    assert load_settings(PRODUCTION, workdir=tmp_path).cors_origins == ()


def test_cors_origins_are_a_comma_separated_list(tmp_path: Path) -> None:
    settings = load_settings(
        {**PRODUCTION, "CORS_ORIGINS": " https://editor.example.com, http://localhost:8080 ,"}, workdir=tmp_path
    )
    assert settings.cors_origins == ("https://editor.example.com", "http://localhost:8080")


@pytest.mark.parametrize("origin", ["*", "editor.example.com", "https://editor.example.com/", "ftp://x.example"])
def test_a_malformed_cors_origin_names_the_setting(tmp_path: Path, origin: str) -> None:
    with pytest.raises(SettingsError, match="CORS_ORIGINS"):
        load_settings({**PRODUCTION, "CORS_ORIGINS": origin}, workdir=tmp_path)


def test_distributed_mode_needs_a_postgresql_database(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="REDIS_URL is for several processes sharing one PostgreSQL"):
        environ = {"DATABASE_URL": "sqlite+aiosqlite:///x.db", "AUTH_SECRET_KEY": "k" * 40, "REDIS_URL": "redis://r"}
        load_settings(environ, workdir=tmp_path)


def test_the_run_queue_is_configured_by_settings(tmp_path: Path) -> None:
    distributed = {**PRODUCTION, "REDIS_URL": "redis://redis:6379/0"}
    defaults = load_settings(distributed, workdir=tmp_path)
    assert (defaults.stalled_runs, defaults.limits.stalled_run_check_seconds, defaults.limits.worker_concurrency) == (
        "resume",
        5,
        200,
    )
    configured = load_settings(
        {**distributed, "STALLED_RUNS": "interrupt", "STALLED_RUN_CHECK_SECONDS": "2", "WORKER_CONCURRENCY": "50"},
        workdir=tmp_path,
    )
    assert configured.stalled_runs == "interrupt"
    assert configured.limits.stalled_run_check_seconds == 2 and configured.limits.worker_concurrency == 50


def test_an_unknown_stalled_runs_choice_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="STALLED_RUNS must be one of resume, interrupt"):
        load_settings({**PRODUCTION, "STALLED_RUNS": "retry"}, workdir=tmp_path)
