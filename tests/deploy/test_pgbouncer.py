"""PgBouncer in transaction pooling mode (Debian's 1.18: no prepared statements across
transactions) in front of the suite's PostgreSQL, with the settings docs/operations.md gives
for it: DJANGO_DB_PREPARED_STATEMENTS=false, DJANGO_DB_DISABLE_SERVER_SIDE_CURSORS=true and
persistent client connections (DJANGO_CONN_MAX_AGE). The API suite's main flows (sign-in and
tokens, profile, catalog, learning, posts and the feed, gamification) run through it in a
pytest process of their own: its test database is created and migrated through PgBouncer too.
"""

import subprocess
import sys

import pytest
from django.conf import settings

from tests.deploy.conftest import ROOT, clean_env
from tests.deploy.pgbouncer import start_pgbouncer
from tests.deploy.stack import Processes
from tests.processes import RedisServer, free_port

MAIN_FLOWS = [
    "tests/accounts/test_tokens.py",
    "tests/accounts/test_profile_and_roles.py",
    "tests/courses/test_catalog.py",
    "tests/courses/test_learning.py",
    "tests/social/test_posts.py",
    "tests/social/test_feed.py",
    "tests/gamification/test_achievements_and_api.py",
]
# It asserts what prepare_threshold does, the production default that PgBouncer mode turns off.
NOT_BEHIND_PGBOUNCER = (
    "tests/social/test_feed.py::test_the_page_statement_is_prepared_on_the_connection"
)


@pytest.fixture(scope="module")
def pgbouncer(pg_server, tmp_path_factory):
    bouncer, root = start_pgbouncer(pg_server, tmp_path_factory.mktemp("pgbouncer-logs"))
    try:
        yield bouncer
    finally:
        bouncer.process.stop()
        subprocess.run(["rm", "-rf", str(root)], check=False)


def test_api_main_flows_pass_through_pgbouncer_in_transaction_mode(pg_server, pgbouncer, tmp_path):
    database = f"{settings.DATABASES['default']['NAME']}_pgbouncer"
    test_database = f"test_{database}"
    # A redis-server of the inner run's own: its throttle and lockout counters share nothing.
    processes = Processes()
    redis_port = free_port()
    RedisServer("redis", log_dir=tmp_path, on_start=processes.add, port=redis_port)
    env = clean_env(
        DJANGO_SETTINGS_MODULE="lyo.settings.test",
        DATABASE_URL=pgbouncer.pooled.url(database),
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        DJANGO_DB_PREPARED_STATEMENTS="false",
        DJANGO_DB_DISABLE_SERVER_SIDE_CURSORS="true",
        DJANGO_CONN_MAX_AGE="60",
    )
    try:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-n",
                "0",
                "-q",
                # Created afresh, and left for the drop below: PgBouncer keeps server
                # connections to it open, which pytest-django's own DROP DATABASE refuses.
                "--create-db",
                "--reuse-db",
                "--deselect",
                NOT_BEHIND_PGBOUNCER,
                *MAIN_FLOWS,
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        stats = {row["database"]: row for row in pgbouncer.show("STATS")}
        pools = [row for row in pgbouncer.show("POOLS") if row["database"] == test_database]
    finally:
        processes.stop_all()
        pg_server.drop_database(test_database)
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    assert run.returncode == 0, f"{run.stdout[-6000:]}\n{run.stderr[-3000:]}"
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
    # The run really went through the pooler, in transaction mode.
    assert test_database in stats, stats.keys()
    assert stats[test_database]["total_xact_count"] > 1000, stats[test_database]
    assert pools and all(row["pool_mode"] == "transaction" for row in pools), pools
