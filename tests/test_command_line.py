"""The command line, run as a user runs it: `main.py <command>` in a fresh directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

MAIN = Path(__file__).resolve().parent.parent / "main.py"


def run(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, str(MAIN), *args],
        cwd=workdir,
        env={**environ, "BCRYPT_ROUNDS": "4"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_migrate_and_seed_set_up_the_embedded_database(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    seeded = run(tmp_path, "seed")
    assert seeded.returncode == 0, seeded.stderr
    assert (tmp_path / "flows.sqlite3").is_file()


def test_create_admin_adds_a_backoffice_user(tmp_path: Path) -> None:
    result = run(
        tmp_path, "create-admin", "--email", "root@example.com", "--username", "root", "--password", "a long passphrase"
    )
    assert result.returncode == 0, result.stderr
    assert "created backoffice user root" in result.stdout


def test_create_user_refuses_a_duplicate_with_a_clear_message(tmp_path: Path) -> None:
    args = ("create-user", "--email", "mira@example.com", "--username", "mira", "--password", "a long passphrase")
    assert run(tmp_path, *args).returncode == 0
    again = run(tmp_path, *args)
    assert again.returncode == 2
    assert "email" in again.stderr and "Traceback" not in again.stderr


def test_create_user_refuses_a_weak_password(tmp_path: Path) -> None:
    result = run(tmp_path, "create-user", "--email", "a@example.com", "--username", "ann", "--password", "short")
    assert result.returncode == 2
    assert "password" in result.stderr


def test_export_schema_writes_the_sdl(tmp_path: Path) -> None:
    target = tmp_path / "out.graphql"
    assert run(tmp_path, "export-schema", str(target)).returncode == 0
    assert "type Query" in target.read_text()


@pytest.mark.parametrize("command", [[], ["unknown-command"]])
def test_usage_errors_exit_non_zero(tmp_path: Path, command: list[str]) -> None:
    assert run(tmp_path, *command).returncode != 0


def test_production_mode_without_a_secret_key_is_refused(tmp_path: Path) -> None:
    environ = {key: value for key, value in os.environ.items() if key != "AUTH_SECRET_KEY"}
    result = subprocess.run(
        [sys.executable, str(MAIN), "migrate"],
        cwd=tmp_path,
        env={**environ, "DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/unused"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "AUTH_SECRET_KEY" in result.stderr


def test_worker_outside_distributed_mode_is_refused_naming_what_it_needs(tmp_path: Path) -> None:
    result = run(tmp_path, "worker")
    assert result.returncode == 2
    assert "REDIS_URL" in result.stderr


def test_serve_without_a_worker_outside_distributed_mode_is_refused(tmp_path: Path) -> None:
    result = run(tmp_path, "serve", "--no-worker")
    assert result.returncode == 2
    assert "--no-worker is for distributed mode" in result.stderr
