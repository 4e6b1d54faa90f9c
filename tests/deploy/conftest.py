"""Deployment tests run real processes (manage.py, gunicorn, celery, nginx) against databases of
their own on the PostgreSQL server the suite uses, created and dropped by the fixtures in
tests/deploy/fixtures.py (shared with tests/faults/). Here: the helpers both use."""

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
MANAGE = ROOT / "manage.py"
# Variables of the calling environment that would leak into the processes under test.
_LEAKY_PREFIXES = ("DJANGO_", "LYO_", "CELERY_", "SENTRY_", "GUNICORN_", "PYTEST_", "AWS_")
_LEAKY_NAMES = {"DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR", "PORT"}


def clean_env(**overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_LEAKY_PREFIXES) and key not in _LEAKY_NAMES
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def manage(
    *args: str, settings_module: str = "lyo.settings.local", timeout: float = 180, **env: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(MANAGE), *args],
        cwd=ROOT,
        env=clean_env(DJANGO_SETTINGS_MODULE=settings_module, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def must(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, (
        f"{result.args} exited {result.returncode}\n"
        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    )
    return result


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    user: str
    password: str

    def url(self, dbname: str) -> str:
        auth = self.user + (f":{self.password}" if self.password else "")
        return f"postgres://{auth}@{self.host}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres", **kwargs) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=dbname,
            **kwargs,
        )

    def create_database(self, name: str, template: str | None = None) -> None:
        with self.connect(autocommit=True) as conn:
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            conn.execute(statement)

    def drop_database(self, name: str) -> None:
        with self.connect(autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


class TemplateDatabase:
    """A database migrated in the background; `.name` waits until it is ready."""

    def __init__(self, name: str, process: subprocess.Popen):
        self._name = name
        self._process: subprocess.Popen | None = process

    @property
    def name(self) -> str:
        if self._process is not None:
            output = self._process.communicate(timeout=300)[0]
            assert self._process.returncode == 0, f"migrating {self._name} failed:\n{output}"
            self._process = None
        return self._name
