"""Databases of their own for tests that run real processes (tests/deploy/, tests/faults/):
a session-wide migrated template, cloned per test or per module. A plugin of the whole suite
(tests/conftest.py), so both directories share one template per pytest worker."""

import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings
from psycopg import sql

from tests.deploy.conftest import MANAGE, ROOT, PgServer, TemplateDatabase, clean_env, unique_name


@pytest.fixture(scope="session")
def pg_server() -> PgServer:
    db = settings.DATABASES["default"]
    return PgServer(
        host=db.get("HOST") or "127.0.0.1",
        port=int(db.get("PORT") or 5432),
        user=db.get("USER") or "postgres",
        password=db.get("PASSWORD") or "",
    )


@pytest.fixture(scope="session")
def migrated_template(pg_server: PgServer) -> Iterator[TemplateDatabase]:
    """A database as a fresh deploy leaves it: migrated, periodic tasks written (the Procfile's
    release step). Tests clone it (CREATE DATABASE ... TEMPLATE) instead of migrating again.
    It migrates in the background while the session goes on (e.g. builds an SQLite source)."""
    name = unique_name("lyo_deploy_tpl")
    pg_server.create_database(name)
    with pg_server.connect(autocommit=True) as conn:
        # Twice as fast to migrate; a database setting, so clones do not inherit it.
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET synchronous_commit = off").format(sql.Identifier(name))
        )
    process = subprocess.Popen(
        [
            sys.executable,
            str(MANAGE),
            "shell",
            "-c",
            "from django.core.management import call_command;"
            "call_command('migrate', interactive=False, verbosity=0);"
            "call_command('setup_periodic_tasks', verbosity=0)",
        ],
        cwd=ROOT,
        env=clean_env(
            DJANGO_SETTINGS_MODULE="lyo.settings.local", DATABASE_URL=pg_server.url(name)
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    template = TemplateDatabase(name, process)
    try:
        yield template
    finally:
        if template._process is not None:
            template._process.kill()
            template._process.wait()
        pg_server.drop_database(name)


@pytest.fixture
def fresh_database(
    pg_server: PgServer, migrated_template: TemplateDatabase
) -> Iterator[Callable[[], str]]:
    """Make migrated databases of this test's own; all are dropped at teardown."""
    created: list[str] = []

    def make() -> str:
        name = unique_name("lyo_deploy")
        pg_server.create_database(name, template=migrated_template.name)
        created.append(name)
        return name

    yield make
    for name in created:
        pg_server.drop_database(name)
