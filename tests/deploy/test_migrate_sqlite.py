"""`manage.py migrate_sqlite_to_postgres`: a demo SQLite database (every table filled) copied into
a freshly migrated PostgreSQL database, with real processes on both ends."""

import datetime as dt
import decimal
import json
import re
import shutil
import sqlite3
import uuid
from pathlib import Path

import pytest

from apps.core.sqlite_to_postgres import (
    SEEDED_APPS,
    SEEDED_MODELS,
    MigrationError,
    build_plan,
    canonical,
    canonical_row,
    copyable_models,
    dependency_order,
    migrate_sqlite_to_postgres,
)
from tests.deploy.conftest import manage, must

COMMAND = "migrate_sqlite_to_postgres"
REPORT_LINE = re.compile(
    r"^(?P<table>\w+)\s+(?P<src>\d+)\s+(?P<dst>-?\d+)\s+(?P<sha>[0-9a-f]{16})\s+(?P<ok>ok|MISMATCH)\s*$"
)


@pytest.fixture(scope="session")
def demo_sqlite(tmp_path_factory, migrated_template) -> Path:
    """`make run`'s database: migrated and seeded, plus awkward rows in every table (built
    while the PostgreSQL template migrates in the background)."""
    path = tmp_path_factory.mktemp("sqlite") / "db.sqlite3"
    filled = must(
        manage(
            "shell",
            "-c",
            "from django.core.management import call_command;"
            "call_command('migrate', interactive=False, verbosity=0);"
            "call_command('seed_demo', verbosity=0);"
            "from tests.deploy.sqlite_source import fill; fill()",
            DATABASE_URL=f"sqlite:///{path}",
        )
    )
    outcome = json.loads(filled.stdout.strip().splitlines()[-1])
    assert outcome["failed"] == {}, outcome["failed"]
    assert all(count >= 2 for count in outcome["filled"].values()), outcome["filled"]
    return path


@pytest.fixture
def source(demo_sqlite, tmp_path) -> Path:
    """A private copy each test may corrupt."""
    copy = tmp_path / "source.sqlite3"
    shutil.copyfile(demo_sqlite, copy)
    return copy


def run_command(source: Path, target_url: str, *extra: str):
    return manage(
        COMMAND,
        "--source",
        str(source),
        "--target-url",
        target_url,
        *extra,
        DATABASE_URL="sqlite:///unused-default.sqlite3",
    )


def parse_report(stdout: str) -> dict[str, dict]:
    rows = {}
    for line in stdout.splitlines():
        match = REPORT_LINE.match(line)
        if match:
            rows[match["table"]] = match.groupdict()
    return rows


def table_counts(pg_server, dbname: str) -> dict[str, int]:
    with pg_server.connect(dbname) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def sqlite_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def test_copies_every_table_keeps_keys_resets_sequences_and_verifies(
    source, fresh_database, pg_server
):
    target = fresh_database()
    result = run_command(source, pg_server.url(target), "--batch-size", "7")
    must(result)

    report = parse_report(result.stdout)
    expected = sqlite_counts(source)
    expected.pop("django_migrations")
    assert set(report) == set(expected), "every table of the source is in the report"
    for table, row in report.items():
        assert row["ok"] == "ok", row
        assert int(row["src"]) == int(row["dst"]) == expected[table] >= 2, row
    assert "all match" in result.stdout
    assert "Committed" in result.stdout
    # The progress bar went to stderr, the report to stdout.
    assert "[" in result.stderr and "accounts_user" in result.stderr

    counts = table_counts(pg_server, target)
    assert {t: counts[t] for t in expected} == expected

    with sqlite3.connect(source) as lite, pg_server.connect(target) as pg:
        # Primary keys and values survive, including unicode, JSON and microseconds.
        lite_users = lite.execute(
            "SELECT id, email, display_name, date_joined FROM accounts_user ORDER BY id"
        ).fetchall()
        pg_users = pg.execute(
            "SELECT id, email, display_name, date_joined FROM accounts_user ORDER BY id"
        ).fetchall()
        assert [u[:3] for u in pg_users] == [u[:3] for u in lite_users]
        # Every JSON and datetime value, table by table, reads back the same.
        compared = 0
        for item in build_plan():
            pk = item.model._meta.pk.column
            for model_field in item.fields:
                kind = model_field.get_internal_type()
                if kind not in ("JSONField", "DateTimeField"):
                    continue
                query = f'SELECT "{pk}", "{model_field.column}" FROM "{item.table}"'
                pg_values = dict(pg.execute(query).fetchall())
                for key, raw in lite.execute(query):
                    if raw is None:
                        assert pg_values[_pg_key(key, item)] is None
                    elif kind == "JSONField":
                        assert pg_values[_pg_key(key, item)] == json.loads(raw), item.table
                    else:
                        expected = dt.datetime.fromisoformat(raw).replace(tzinfo=dt.UTC)
                        assert pg_values[_pg_key(key, item)] == expected, item.table
                    compared += 1
        assert compared > 100

        # Catalog search works on PostgreSQL: the search vectors were built.
        assert pg.execute(
            "SELECT count(*) FROM courses_course WHERE search_vector IS NULL"
        ).fetchone() == (0,)

        # Sequences moved past the copied keys: new rows get fresh ids everywhere.
        serial_tables = pg.execute(
            """SELECT c.table_name, c.column_name FROM information_schema.columns c
               WHERE c.table_schema = 'public' AND c.is_identity = 'YES'"""
        ).fetchall()
        assert len(serial_tables) > 30
        for table, column in serial_tables:
            (max_id,) = pg.execute(f'SELECT coalesce(max("{column}"), 0) FROM "{table}"').fetchone()
            (next_id,) = pg.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s))", [f'"{table}"', column]
            ).fetchone()
            assert next_id > max_id, table
        (new_id,) = pg.execute(
            "INSERT INTO courses_tag (name, slug) VALUES ('fresh', 'fresh-after-copy') RETURNING id"
        ).fetchone()
        (max_lite,) = lite.execute("SELECT max(id) FROM courses_tag").fetchone()
        assert new_id > max_lite
        pg.rollback()

    # The copied database serves the app: demo accounts sign in with their old password, roles
    # (groups -> permissions through the copied content types) still grant what they did.
    check = manage(
        "shell",
        "-c",
        "from django.contrib.auth import authenticate;"
        "from apps.courses.models import Course;"
        "from apps.accounts.models import User;"
        "u = authenticate(email='learner1@lyo.local', password='lyo-demo-password-1');"
        "print('OK' if u else 'NO', u.has_perm('accounts.author_courses') if u else '-',"
        " User.objects.get(email='instructor@lyo.local').has_perm('accounts.author_courses'),"
        " Course.objects.filter(search_vector__isnull=False).count())",
        DATABASE_URL=pg_server.url(target),
    )
    assert must(check).stdout.strip().splitlines()[-1].split() == [
        "OK",
        "False",
        "True",
        str(_courses(source)),
    ]


def _pg_key(sqlite_key, item):
    """SQLite keeps UUID primary keys as 32 hex digits; psycopg returns uuid.UUID."""
    if item.model._meta.pk.get_internal_type() == "UUIDField":
        return uuid.UUID(sqlite_key)
    return sqlite_key


def _courses(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM courses_course").fetchone()[0]


def test_production_settings_use_database_url_and_dry_run_changes_nothing(
    source, fresh_database, pg_server
):
    target = fresh_database()
    before = table_counts(pg_server, target)
    result = manage(
        COMMAND,
        "--source",
        str(source),
        "--dry-run",
        settings_module="lyo.settings.production",
        DATABASE_URL=pg_server.url(target),
        DJANGO_SECRET_KEY="test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        LYO_JWT_SIGNING_KEY="test-only-jwt-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        DJANGO_ALLOWED_HOSTS="localhost",
        REDIS_URL="redis://127.0.0.1:6379/15",
        DJANGO_AWS_STORAGE_BUCKET_NAME="unused",
    )
    must(result)
    assert "all match" in result.stdout and "Dry run" in result.stdout
    assert table_counts(pg_server, target) == before


def test_a_non_empty_target_is_refused_without_force(source, fresh_database, pg_server):
    target = fresh_database()
    url = pg_server.url(target)
    with pg_server.connect(target) as conn:
        conn.execute(
            "INSERT INTO django_session (session_key, session_data, expire_date)"
            " VALUES ('live-session-in-the-target', 'x', now() + interval '1 day')"
        )
    before = table_counts(pg_server, target)

    refused = run_command(source, url, "--no-progress")
    assert refused.returncode != 0
    assert "The target database is not empty: django_session (1 rows)." in refused.stderr
    assert "--force" in refused.stderr
    # Migration-seeded tables (and the release step's beat schedule) never count as "data".
    for seeded in ("auth_permission", "django_content_type", "auth_group", "django_celery_beat"):
        assert f"{seeded}" not in refused.stderr
    assert table_counts(pg_server, target) == before

    forced = run_command(source, url, "--no-progress", "--force")
    must(forced)
    assert "Deleted before the copy (--force): django_session (1 rows)" in forced.stdout
    assert "all match" in forced.stdout
    expected = sqlite_counts(source)
    expected.pop("django_migrations")
    counts = table_counts(pg_server, target)
    assert {t: counts[t] for t in expected} == expected
    with pg_server.connect(target) as conn:
        assert not conn.execute(
            "SELECT 1 FROM django_session WHERE session_key = 'live-session-in-the-target'"
        ).fetchall()


def _late_table_with_bounded_text() -> tuple[str, str, str, int]:
    """The last table in copy order with a length-limited text column (so the earlier tables
    have already been copied when it fails)."""
    for item in reversed(build_plan()):
        for model_field in item.fields:
            bounded = model_field.get_internal_type() == "CharField" and model_field.max_length
            if bounded and not model_field.choices and not model_field.primary_key:
                pk = item.model._meta.pk.column
                return item.table, pk, model_field.column, model_field.max_length
    raise AssertionError("no table with a bounded text column")


def test_a_row_postgresql_refuses_aborts_the_run_and_leaves_the_target_unchanged(
    source, fresh_database, pg_server
):
    table, pk_column, column, max_length = _late_table_with_bounded_text()
    with sqlite3.connect(source) as conn:  # SQLite never enforces varchar lengths
        (pk,) = conn.execute(f'SELECT min("{pk_column}") FROM "{table}"').fetchone()
        conn.execute(
            f'UPDATE "{table}" SET "{column}" = ? WHERE "{pk_column}" = ?',
            ["x" * (max_length + 1), pk],
        )
    target = fresh_database()
    before = table_counts(pg_server, target)

    result = run_command(source, pg_server.url(target), "--batch-size", "1", "--no-progress")

    assert result.returncode != 0
    assert f"Copying {table} failed in the batch of primary keys {pk}..{pk}" in result.stderr
    assert f"character varying({max_length})" in result.stderr
    assert "Nothing was written to the target" in result.stderr
    assert "Traceback" not in result.stderr
    assert table_counts(pg_server, target) == before
    assert before["accounts_user"] == 0


def test_a_dangling_foreign_key_in_the_source_is_reported_and_nothing_is_written(
    source, fresh_database, pg_server
):
    with sqlite3.connect(source) as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        (pk,) = conn.execute("SELECT min(id) FROM courses_enrollment").fetchone()
        conn.execute("UPDATE courses_enrollment SET user_id = 987654 WHERE id = ?", [pk])
    target = fresh_database()
    before = table_counts(pg_server, target)

    result = run_command(source, pg_server.url(target))

    assert result.returncode != 0
    assert "foreign key points at nothing" in result.stderr
    assert "courses_enrollment rowid" in result.stderr and "accounts_user" in result.stderr
    assert table_counts(pg_server, target) == before


def test_a_checksum_mismatch_rolls_everything_back(source, fresh_database, pg_server):
    """Verification is the last step inside the transaction: a mismatch (simulated here by
    corrupting one checksum) leaves the target exactly as it was."""
    target = fresh_database()
    before = table_counts(pg_server, target)
    script = (
        "import apps.core.sqlite_to_postgres as m\n"
        "real = m.table_checksum\n"
        "def corrupted(plan, alias, chunk_size):\n"
        "    rows, digest = real(plan, alias, chunk_size)\n"
        "    return (rows, '0' * 64) if plan.table == 'courses_lesson' else (rows, digest)\n"
        "m.table_checksum = corrupted\n"
        "try:\n"
        "    m.migrate_sqlite_to_postgres(\n"
        f"        source_path={str(source)!r},\n"
        f"        target_url={pg_server.url(target)!r},\n"
        "        progress=m.Progress(enabled=False),\n"
        "    )\n"
        "except m.MigrationError as exc:\n"
        "    print('REFUSED', exc)\n"
    )
    result = must(manage("shell", "-c", script, DATABASE_URL="sqlite:///unused.sqlite3"))
    assert "REFUSED Verification failed" in result.stdout
    assert re.search(
        r"courses_lesson: rows (\d+) -> \1, sha256 [0-9a-f]{16} -> 0{16}", result.stdout
    )
    assert table_counts(pg_server, target) == before


@pytest.mark.parametrize(
    ("left", "right"), [("2001:0DB8:0000::0007", "2001:db8::7"), ("203.0.113.7", "203.0.113.7")]
)
def test_ip_addresses_compare_in_their_canonical_form(left, right):
    ip_field = [_field("GenericIPAddressField")]
    assert canonical_row(ip_field, [left]) == canonical_row(ip_field, [right])


def test_source_and_target_must_be_at_the_same_migration(source, fresh_database, pg_server):
    with sqlite3.connect(source) as conn:
        conn.execute(
            "DELETE FROM django_migrations WHERE app = 'courses' AND name = '0002_search_index'"
        )
    result = run_command(source, pg_server.url(target := fresh_database()))
    assert result.returncode != 0
    assert "not at the same migration state" in result.stderr
    assert "courses.0002_search_index" in result.stderr
    assert table_counts(pg_server, target)["accounts_user"] == 0


def test_a_missing_source_exits_non_zero_with_the_reason(tmp_path):
    missing = run_command(tmp_path / "nope.sqlite3", "postgres://postgres@127.0.0.1:5432/x")
    assert missing.returncode == 1
    assert "does not exist" in missing.stderr and "Traceback" not in missing.stderr


def test_refuses_a_non_sqlite_source_and_a_non_postgres_target(tmp_path, source):
    text = tmp_path / "text.sqlite3"
    text.write_text("not a database")
    with pytest.raises(MigrationError, match="is not an SQLite 3 database"):
        migrate_sqlite_to_postgres(source_path=text, target_url="postgres://x@127.0.0.1/x")
    with pytest.raises(MigrationError, match="The target must be PostgreSQL"):
        migrate_sqlite_to_postgres(
            source_path=source, target_url=f"sqlite:///{tmp_path / 'other.sqlite3'}"
        )
    with pytest.raises(MigrationError, match="--batch-size must be at least 1"):
        migrate_sqlite_to_postgres(
            source_path=source, target_url="postgres://x@127.0.0.1/x", batch_size=0
        )


# --- Unit level: canonical values compare equal across backends --------------------------------


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (
            dt.datetime(2024, 1, 1, 12, 0, 0, 5, tzinfo=dt.UTC),
            dt.datetime(2024, 1, 1, 13, 0, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        ),
        (decimal.Decimal("1.50"), decimal.Decimal("1.5")),
        (decimal.Decimal("100.00"), decimal.Decimal("1E+2")),
        (b"\x00\xff", memoryview(b"\x00\xff")),
        ({"b": 1, "a": [1, {"d": 2, "c": 3}]}, {"a": [1, {"c": 3, "d": 2}], "b": 1}),
        (uuid.UUID(int=5), uuid.UUID("00000000-0000-0000-0000-000000000005")),
        (dt.timedelta(days=1, microseconds=7), dt.timedelta(seconds=86400, microseconds=7)),
    ],
)
def test_canonical_forms_agree(left, right):
    assert canonical(left) == canonical(right)


@pytest.mark.parametrize(
    ("left", "right"),
    [(True, 1), (False, 0), (None, ""), (None, "None"), (0.1 + 0.2, 0.3), ("a,b", "a")],
)
def test_canonical_forms_keep_distinct_values_apart(left, right):
    assert canonical_row([_field("X")], [left]) != canonical_row([_field("X")], [right])


def _field(kind: str):
    class Field:
        def get_internal_type(self):
            return kind

    return Field()


def test_json_scalars_differ_from_text():
    json_field = [_field("JSONField")]
    assert canonical_row(json_field, ["1"]) != canonical_row(json_field, [1])


def test_dependency_order_puts_parents_first_and_covers_every_model():
    models_in_order = dependency_order(copyable_models())
    position = {m._meta.db_table: i for i, m in enumerate(models_in_order)}
    assert len(position) == len(copyable_models())
    parents = {
        m._meta.db_table: {
            f.related_model._meta.db_table
            for f in m._meta.local_fields
            if f.is_relation and (f.many_to_one or f.one_to_one)
        }
        for m in models_in_order
    }

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            table = todo.pop()
            if table == goal:
                return True
            if table not in seen:
                seen.add(table)
                todo.extend(parents.get(table, ()))
        return False

    forward = 0
    for child, its_parents in parents.items():
        for parent in its_parents - {child}:
            if position[parent] > position[child]:
                # Only inside a cycle, where deferred constraints make it safe.
                assert reaches(parent, child), (child, parent)
                forward += 1
    assert forward <= 2


def test_seeded_tables_are_exactly_what_migrations_create(migrated_template, pg_server):
    """The tables treated as 'seeded' are the ones a freshly migrated (and released) database
    has rows in — so a fresh target is accepted and nothing else is silently replaced."""
    counts = table_counts(pg_server, migrated_template.name)
    with_rows = {t for t, n in counts.items() if n} - {"django_migrations"}
    seeded = {
        item.table
        for item in build_plan()
        if item.label in SEEDED_MODELS or item.model._meta.app_label in SEEDED_APPS
    }
    assert with_rows <= seeded, with_rows - seeded
