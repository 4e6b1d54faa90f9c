"""Copy a Lyo SQLite database into an empty, migrated PostgreSQL database.

Used by `manage.py migrate_sqlite_to_postgres` (see docs/operations.md). The whole copy runs in
ONE transaction on the target: a failure at any point (bad source row, constraint violation,
checksum mismatch) rolls everything back and the target is left exactly as it was.

Rules:
- Every installed, managed, concrete model is copied, including auto-created many-to-many tables
  and third-party apps (allauth, token_blacklist, django_celery_beat, sessions, ...), with the
  source's primary keys. Tables are copied parents first (topological order of foreign keys);
  cycles and self-references are safe because Django's PostgreSQL foreign keys are
  DEFERRABLE INITIALLY DEFERRED and the copy runs under SET CONSTRAINTS ALL DEFERRED. They are
  checked (SET CONSTRAINTS ALL IMMEDIATE) before the verification, still inside the transaction.
- Tables that migrations (or the release step's `setup_periodic_tasks`) fill in a fresh database
  — content types, permissions, groups (roles) and their permissions, sites, XP rules,
  achievements and the celery-beat schedule — are REPLACED by the source's rows, so that every
  foreign key in the source (e.g. a user's groups, an XP transaction's rule) lines up.
- Any row in any other table makes the target "not empty": the run is refused unless `force`
  is given, in which case every copied table is truncated first. (A target whose seeded rows
  were edited through the app necessarily has users, sessions or audit rows, so it counts as
  not empty too.)
- Afterwards each table's row count and a SHA-256 over its rows (ordered by primary key, each
  value in a canonical text form that reads the same from SQLite and PostgreSQL) are compared
  between source and target; any difference aborts and rolls back.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import ipaddress
import json
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import environ
from django.apps import apps
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, models, transaction
from django.db.models.functions import Collate

SOURCE_ALIAS = "lyo_sqlite_source"
TARGET_ALIAS = "lyo_postgres_target"

# Model labels (or whole app labels) whose rows exist in a freshly migrated database: the source's
# rows replace them instead of making the target count as "not empty".
SEEDED_MODELS = frozenset(
    {
        "contenttypes.ContentType",
        "auth.Permission",
        "auth.Group",
        "auth.Group_permissions",
        "sites.Site",
        "gamification.XPRule",
        "gamification.Achievement",
    }
)
SEEDED_APPS = frozenset({"django_celery_beat"})  # written by the release step
# Never copied: the target's own migration history (checked to match the source instead).
SKIPPED_TABLES = frozenset({"django_migrations", "sqlite_sequence", "sqlite_stat1"})
TEXT_PK_TYPES = frozenset({"CharField", "TextField", "SlugField", "EmailField"})


class MigrationError(Exception):
    """Anything that stops the copy; the message says why and what to do."""


@dataclass
class TablePlan:
    model: type[models.Model]
    table: str
    fields: list[models.Field]  # copied columns, in model order
    derived: list[str] = field(default_factory=list)  # columns rebuilt on the target
    seeded: bool = False

    @property
    def label(self) -> str:
        return self.model._meta.label


@dataclass
class TableReport:
    table: str
    source_rows: int
    target_rows: int = -1
    source_sha256: str = ""
    target_sha256: str = ""

    @property
    def matches(self) -> bool:
        return self.source_rows == self.target_rows and self.source_sha256 == self.target_sha256


@dataclass
class MigrationResult:
    tables: list[TableReport]
    truncated_non_empty: dict[str, int]
    ignored_source_tables: list[str]
    seconds: float
    committed: bool

    @property
    def total_rows(self) -> int:
        return sum(t.source_rows for t in self.tables)


# --- Connections ----------------------------------------------------------------------------


def _add_database(alias: str, settings_dict: dict) -> None:
    configured = connections.configure_settings({DEFAULT_DB_ALIAS: {}, alias: settings_dict})
    connections.databases[alias] = configured[alias]


def _remove_database(alias: str) -> None:
    if alias in connections.databases:
        try:
            connections[alias].close()
            del connections[alias]
        except AttributeError:
            pass
        del connections.databases[alias]


def register_source(path: str | Path) -> str:
    """A read-only Django connection to the SQLite file (the source is never modified)."""
    path = Path(path).resolve()
    if not path.is_file():
        raise MigrationError(f"Source database {path} does not exist.")
    with path.open("rb") as handle:
        if handle.read(16) != b"SQLite format 3\x00":
            raise MigrationError(f"Source {path} is not an SQLite 3 database.")
    _add_database(
        SOURCE_ALIAS,
        {"ENGINE": "django.db.backends.sqlite3", "NAME": f"file:{path}?mode=ro"},
    )
    return SOURCE_ALIAS


def register_target(url: str | None) -> str:
    """The PostgreSQL target: `url` if given, else the project's default database."""
    if url:
        config = environ.Env.db_url_config(url)
        _add_database(TARGET_ALIAS, config)
        alias = TARGET_ALIAS
    else:
        alias = DEFAULT_DB_ALIAS
    vendor = connections[alias].vendor
    if vendor != "postgresql":
        raise MigrationError(
            f"The target must be PostgreSQL, not {vendor}: pass --target-url postgres://... "
            "or run with DATABASE_URL pointing at PostgreSQL."
        )
    return alias


def unregister(*aliases: str) -> None:
    for alias in aliases:
        if alias != DEFAULT_DB_ALIAS:
            _remove_database(alias)


# --- Plan -------------------------------------------------------------------------------------


def _is_seeded(model: type[models.Model]) -> bool:
    return model._meta.label in SEEDED_MODELS or model._meta.app_label in SEEDED_APPS


def _is_derived(model_field: models.Field) -> bool:
    """Columns PostgreSQL computes (generated columns, full-text search vectors)."""
    if getattr(model_field, "generated", False):
        return True
    return model_field.get_internal_type() == "SearchVectorField" or (
        type(model_field).__name__ == "SearchVectorField"
    )


def copyable_models() -> list[type[models.Model]]:
    return [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy and not model._meta.swapped
    ]


def _foreign_key_parents(model_list: Sequence[type[models.Model]]) -> dict[str, set[str]]:
    by_table = {m._meta.db_table for m in model_list}
    parents: dict[str, set[str]] = {}
    for model in model_list:
        table = model._meta.db_table
        parents[table] = set()
        for model_field in model._meta.local_fields:
            if model_field.is_relation and (model_field.many_to_one or model_field.one_to_one):
                related = model_field.related_model._meta.db_table
                if related in by_table and related != table:  # self-references never block
                    parents[table].add(related)
    return parents


def _strongly_connected(parents: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative): groups of tables that reference each other in a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0
    for root in sorted(parents):
        if root in index:
            continue
        work = [(root, iter(sorted(parents[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(parents[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    groups.append(sorted(group))
    return groups


def dependency_order(model_list: Sequence[type[models.Model]]) -> list[type[models.Model]]:
    """Parents before children: a topological order of the foreign keys, stable by name.

    Tables that reference each other in a cycle (e.g. a user's avatar is a media file owned by
    a user) come together, in the order that leaves the fewest references pointing forward;
    those are fine because the copy runs with deferred constraints."""
    by_table = {m._meta.db_table: m for m in model_list}
    parents = _foreign_key_parents(model_list)
    group_of = {t: i for i, group in enumerate(_strongly_connected(parents)) for t in group}
    groups: dict[int, list[str]] = {}
    for table, i in group_of.items():
        groups.setdefault(i, []).append(table)
    group_parents = {
        i: {group_of[p] for t in members for p in parents[t]} - {i} for i, members in groups.items()
    }
    ordered: list[str] = []
    done: set[int] = set()
    while len(done) < len(groups):
        ready = sorted(
            (i for i in groups if i not in done and group_parents[i] <= done),
            key=lambda i: min(groups[i]),
        )
        for i in ready:
            remaining = set(groups[i])
            while remaining:  # within a cycle: fewest unmet parents first
                table = min(remaining, key=lambda t: (len(parents[t] & remaining), t))
                ordered.append(table)
                remaining.discard(table)
            done.add(i)
    return [by_table[t] for t in ordered]


def build_plan() -> list[TablePlan]:
    plan = []
    for model in dependency_order(copyable_models()):
        fields = [f for f in model._meta.local_concrete_fields if not _is_derived(f)]
        derived = [f.column for f in model._meta.local_concrete_fields if _is_derived(f)]
        plan.append(
            TablePlan(
                model=model,
                table=model._meta.db_table,
                fields=fields,
                derived=derived,
                seeded=_is_seeded(model),
            )
        )
    return plan


# --- Canonical row form and checksums -------------------------------------------------------


def canonical(value: Any) -> str | None:
    """One text form per value, equal whether it was read from SQLite or PostgreSQL."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return f"{value // dt.timedelta(microseconds=1)}us"
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _canonical_ip(value: str) -> str:
    try:
        return ipaddress.ip_address(value).compressed
    except ValueError:
        return value


def canonical_row(model_fields: Sequence[models.Field], row: Sequence[Any]) -> bytes:
    values = []
    for model_field, value in zip(model_fields, row, strict=True):
        kind = model_field.get_internal_type()
        if kind == "JSONField" and value is not None:
            # JSON scalars too (a JSON string "1" must not equal the number 1).
            value = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        elif kind == "GenericIPAddressField" and value:
            value = _canonical_ip(value)  # PostgreSQL's inet writes IPv6 compressed
        values.append(canonical(value))
    return json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def ordered_rows(plan: TablePlan, alias: str, chunk_size: int) -> Iterable[tuple]:
    pk = plan.model._meta.pk
    ordering: Any = pk.attname
    if connections[alias].vendor == "postgresql" and pk.get_internal_type() in TEXT_PK_TYPES:
        ordering = Collate(pk.attname, "C")  # byte order, as SQLite's BINARY collation
    queryset = plan.model._base_manager.using(alias).order_by(ordering)
    return queryset.values_list(*(f.attname for f in plan.fields)).iterator(chunk_size=chunk_size)


def table_checksum(plan: TablePlan, alias: str, chunk_size: int) -> tuple[int, str]:
    digest = hashlib.sha256()
    count = 0
    for row in ordered_rows(plan, alias, chunk_size):
        digest.update(canonical_row(plan.fields, row))
        count += 1
    return count, digest.hexdigest()


# --- Progress -----------------------------------------------------------------------------------


class Progress:
    """A plain-text progress bar on stderr (redrawn in place on a terminal)."""

    WIDTH = 30

    def __init__(self, stream: TextIO | None = None, enabled: bool = True):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_line_at = time.monotonic()

    def update(self, table: str, done: int, total: int, *, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not (final or self.tty or now - self._last_line_at >= 2):
            return  # in logs, one line per table plus a heartbeat every 2 s
        self._last_line_at = now
        fraction = done / total if total else 1.0
        filled = int(self.WIDTH * fraction)
        line = (
            f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {fraction:6.1%} {table} {done}/{total}"
        )
        if self.tty:
            self.stream.write("\r\x1b[2K" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


# --- Checks -------------------------------------------------------------------------------------


def check_source_integrity(source: str) -> None:
    with connections[source].cursor() as cursor:
        cursor.execute("PRAGMA quick_check")
        problems = [row[0] for row in cursor.fetchall() if row[0] != "ok"]
        if problems:
            raise MigrationError(
                "The source database is damaged (PRAGMA quick_check): " + "; ".join(problems[:5])
            )
        cursor.execute("PRAGMA foreign_key_check")
        violations = cursor.fetchall()
    if violations:
        lines = [
            f"{table} rowid {rowid} -> missing row in {parent}"
            for table, rowid, parent, _ in violations[:20]
        ]
        more = f" (and {len(violations) - 20} more)" if len(violations) > 20 else ""
        raise MigrationError(
            f"The source has {len(violations)} row(s) whose foreign key points at nothing"
            f"{more}; fix or delete them in the SQLite file first:\n  " + "\n  ".join(lines)
        )


def _applied_migrations(alias: str) -> set[tuple[str, str]]:
    with connections[alias].cursor() as cursor:
        tables = connections[alias].introspection.table_names(cursor)
        if "django_migrations" not in tables:
            return set()
        cursor.execute("SELECT app, name FROM django_migrations")
        return {(app, name) for app, name in cursor.fetchall()}


def check_migration_state(source: str, target: str) -> None:
    source_applied = _applied_migrations(source)
    target_applied = _applied_migrations(target)
    if not target_applied:
        raise MigrationError(
            "The target is not migrated: run `manage.py migrate` against it first."
        )
    if not source_applied:
        raise MigrationError("The source has no django_migrations table: is it a Lyo database?")
    if source_applied != target_applied:
        behind_source = sorted(target_applied - source_applied)
        behind_target = sorted(source_applied - target_applied)
        details = []
        if behind_source:
            details.append(
                "missing in the source (run `manage.py migrate` on the SQLite file with this "
                "release): " + ", ".join(f"{a}.{n}" for a, n in behind_source[:10])
            )
        if behind_target:
            details.append(
                "missing in the target (deploy this release's migrations to it): "
                + ", ".join(f"{a}.{n}" for a, n in behind_target[:10])
            )
        raise MigrationError(
            "Source and target are not at the same migration state; " + "; ".join(details)
        )


def source_tables(source: str) -> set[str]:
    with connections[source].cursor() as cursor:
        return set(connections[source].introspection.table_names(cursor))


def non_empty_tables(target: str, plan: Sequence[TablePlan]) -> dict[str, int]:
    """Tables (other than the migration-seeded ones) that hold rows in the target."""
    found = {}
    qn = connections[target].ops.quote_name
    with connections[target].cursor() as cursor:
        for item in plan:
            if item.seeded:
                continue
            cursor.execute(f"SELECT count(*) FROM {qn(item.table)}")  # noqa: S608 - quoted name
            count = cursor.fetchone()[0]
            if count:
                found[item.table] = count
    return found


# --- The copy -------------------------------------------------------------------------------------


def _copy_table(
    plan: TablePlan, source: str, target: str, batch_size: int, progress: Progress
) -> TableReport:
    target_connection = connections[target]
    qn = target_connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in plan.fields)
    placeholders = ", ".join(["%s"] * len(plan.fields))
    sql = f"INSERT INTO {qn(plan.table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    total = plan.model._base_manager.using(source).count()
    digest = hashlib.sha256()
    done = 0
    batch: list[list[Any]] = []
    first_pk = None
    pk_index = next(i for i, f in enumerate(plan.fields) if f.primary_key)

    def flush() -> None:
        nonlocal done
        if not batch:
            return
        try:
            with target_connection.cursor() as cursor:
                cursor.executemany(sql, batch)
        except DatabaseError as exc:
            last_pk = batch[-1][pk_index]
            raise MigrationError(
                f"Copying {plan.table} failed in the batch of primary keys "
                f"{first_pk!s}..{last_pk!s}: {str(exc).strip()}"
            ) from exc
        done += len(batch)
        batch.clear()
        progress.update(plan.table, done, total)

    prepare = [
        (lambda value, f=f: f.get_db_prep_save(value, connection=target_connection))
        for f in plan.fields
    ]
    for row in ordered_rows(plan, source, batch_size):
        digest.update(canonical_row(plan.fields, row))
        try:
            prepared = [convert(value) for convert, value in zip(prepare, row, strict=True)]
        except (TypeError, ValueError) as exc:
            raise MigrationError(
                f"Row {row[pk_index]!s} of {plan.table} has a value PostgreSQL cannot take: {exc}"
            ) from exc
        if not batch:
            first_pk = row[pk_index]
        batch.append(prepared)
        if len(batch) >= batch_size:
            flush()
    flush()
    progress.update(plan.table, done, total, final=True)
    return TableReport(table=plan.table, source_rows=done, source_sha256=digest.hexdigest())


def _rebuild_derived(plan: Sequence[TablePlan], target: str) -> None:
    """Recompute what PostgreSQL derives and SQLite never stored (catalog search vectors)."""
    for item in plan:
        if item.label == "courses.Course" and "search_vector" in item.derived:
            from django.contrib.postgres.search import SearchVector

            # Same expression as apps.courses.services._refresh_search_vector.
            item.model._base_manager.using(target).update(
                search_vector=SearchVector("title", weight="A", config="english")
                + SearchVector("summary", weight="B", config="english")
                + SearchVector("description", weight="C", config="english")
            )


def _reset_sequences(plan: Sequence[TablePlan], target: str) -> None:
    target_connection = connections[target]
    statements = target_connection.ops.sequence_reset_sql(no_style(), [p.model for p in plan])
    with target_connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


class _DryRun(Exception):
    pass


def migrate_sqlite_to_postgres(
    *,
    source_path: str | Path,
    target_url: str | None = None,
    batch_size: int = 2000,
    force: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    lock_timeout_seconds: int = 10,
) -> MigrationResult:
    """Copy, verify and commit (or roll back on any problem, raising MigrationError)."""
    if batch_size < 1:
        raise MigrationError("--batch-size must be at least 1.")
    progress = progress or Progress()
    started = time.monotonic()
    source = register_source(source_path)
    target = None
    try:
        target = register_target(target_url)
        check_source_integrity(source)
        check_migration_state(source, target)
        plan = build_plan()
        present = source_tables(source)
        missing = [p.table for p in plan if p.table not in present]
        if missing:
            raise MigrationError(
                "The source lacks tables of installed apps: " + ", ".join(missing[:10])
            )
        covered = {p.table for p in plan} | SKIPPED_TABLES
        ignored = sorted(t for t in present - covered if not t.startswith("sqlite_"))
        result = MigrationResult(
            tables=[],
            truncated_non_empty={},
            ignored_source_tables=ignored,
            seconds=0.0,
            committed=False,
        )
        try:
            _copy_all(
                plan=plan,
                source=source,
                target=target,
                batch_size=batch_size,
                force=force,
                progress=progress,
                lock_timeout=lock_timeout_seconds,
                result=result,
                dry_run=dry_run,
            )
        except _DryRun:
            pass
        else:
            result.committed = True
        result.seconds = time.monotonic() - started
        return result
    finally:
        unregister(source, *([target] if target else []))


def _copy_all(
    *,
    plan: list[TablePlan],
    source: str,
    target: str,
    batch_size: int,
    force: bool,
    progress: Progress,
    lock_timeout: int,
    result: MigrationResult,
    dry_run: bool,
) -> None:
    target_connection = connections[target]
    qn = target_connection.ops.quote_name
    tables = ", ".join(qn(p.table) for p in plan)
    try:
        with transaction.atomic(using=target):
            with target_connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{int(lock_timeout)}s'")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
                # Lock first so nothing writes between the emptiness check and the copy.
                cursor.execute(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE")
            non_empty = non_empty_tables(target, plan)
            if non_empty and not force:
                listing = ", ".join(f"{t} ({n} rows)" for t, n in sorted(non_empty.items()))
                raise MigrationError(
                    "The target database is not empty: "
                    + listing
                    + ". Refusing to copy into it; pass --force to DELETE ALL DATA in the "
                    "target's Lyo tables first."
                )
            result.truncated_non_empty = non_empty
            with target_connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {tables}")
            for item in plan:
                result.tables.append(_copy_table(item, source, target, batch_size, progress))
            _rebuild_derived(plan, target)
            _reset_sequences(plan, target)
            try:
                with target_connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            except DatabaseError as exc:
                raise MigrationError(
                    f"The copied rows break a constraint: {str(exc).strip()}"
                ) from exc
            by_table = {r.table: r for r in result.tables}
            for item in plan:
                report = by_table[item.table]
                report.target_rows, report.target_sha256 = table_checksum(item, target, batch_size)
            mismatched = [r for r in result.tables if not r.matches]
            if mismatched:
                raise MigrationError(
                    "Verification failed, the target does not match the source:\n  "
                    + "\n  ".join(
                        f"{r.table}: rows {r.source_rows} -> {r.target_rows}, sha256 "
                        f"{r.source_sha256[:16]} -> {r.target_sha256[:16]}"
                        for r in mismatched
                    )
                )
            with target_connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {tables}")
            if dry_run:
                raise _DryRun
    except DatabaseError as exc:
        raise MigrationError(f"The target database refused the copy: {str(exc).strip()}") from exc


# --- Report ---------------------------------------------------------------------------------------


def format_report(result: MigrationResult) -> str:
    header = ("table", "source rows", "target rows", "sha256 (source)", "match")
    rows = [
        (
            r.table,
            str(r.source_rows),
            str(r.target_rows),
            r.source_sha256[:16],
            "ok" if r.matches else "MISMATCH",
        )
        for r in result.tables
    ]
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=False)]
    line = "  ".join("{:<%d}" % w for w in widths)  # noqa: UP031 - a format template
    out = [line.format(*header), line.format(*("-" * w for w in widths))]
    out += [line.format(*row) for row in rows]
    ok = all(r.matches for r in result.tables)
    out.append(
        f"{len(result.tables)} tables, {result.total_rows} rows, "
        f"{'all match' if ok else 'MISMATCHES'} ({result.seconds:.1f} s)"
    )
    if result.truncated_non_empty:
        out.append(
            "Deleted before the copy (--force): "
            + ", ".join(f"{t} ({n} rows)" for t, n in sorted(result.truncated_non_empty.items()))
        )
    if result.ignored_source_tables:
        out.append(
            "Source tables of no installed app, not copied: "
            + ", ".join(result.ignored_source_tables)
        )
    return "\n".join(out)
