"""Single-statement writes for hot paths, where the ORM needs several round trips.

`get_or_create` on a unique key costs SELECT, SAVEPOINT, INSERT, RELEASE (and a caught
IntegrityError under a race); `insert_or_skip` is one INSERT ... ON CONFLICT DO NOTHING
RETURNING. A counter bump followed by a read of the new value is one UPDATE ... RETURNING with
`increment`. Both work on PostgreSQL and on SQLite (3.35+) for local development.

Only identifiers from the models' own metadata (quoted) go into the SQL text; every value is
a query parameter, hence the S608 exemptions below.
"""

from django.db import connection, models


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


def insert_or_skip(model: type[models.Model], **values) -> int | None:
    """Insert one row built like `model(**values)` (defaults and auto_now_add applied as the
    ORM would) unless it would break a unique constraint. Returns the new primary key, or None
    when the row was skipped."""
    meta = model._meta
    row = model(**values)
    fields = [field for field in meta.concrete_fields if field is not meta.auto_field]
    params = [field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields]
    sql = (
        f"INSERT INTO {_qn(meta.db_table)} ({', '.join(_qn(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT DO NOTHING RETURNING {_qn(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = cursor.fetchone()
    return inserted[0] if inserted else None


def increment(model: type[models.Model], *, pk, field: str, by: int = 1) -> int | None:
    """Add `by` to an integer column of one row and return its new value (None: no such row)."""
    meta = model._meta
    column = _qn(meta.get_field(field).column)
    sql = (
        f"UPDATE {_qn(meta.db_table)} SET {column} = {column} + %s "  # noqa: S608
        f"WHERE {_qn(meta.pk.column)} = %s RETURNING {column}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [by, pk])
        row = cursor.fetchone()
    return row[0] if row else None
