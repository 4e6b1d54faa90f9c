"""Give every table of a (demo-seeded) SQLite database at least two rows of awkward values.

Run inside a Django process whose default database is the SQLite file:
    python -c "import django; django.setup(); from tests.deploy.sqlite_source import fill; fill()"

Model-driven, so tables added later are covered without edits here: for each installed model,
parents first, it inserts a "rich" row (unicode, emoji, quotes, microseconds, nested JSON, big
integers, bytes) and a "sparse" row (NULL wherever allowed), retrying with other random picks
when a constraint refuses one. Prints JSON: {"filled": {table: rows}, "failed": {table: error}}.
"""

import datetime as dt
import decimal
import json
import random
import uuid

from django.db import DatabaseError, models, transaction

from apps.core.sqlite_to_postgres import copyable_models, dependency_order

ATTEMPTS = 40
WHEN = dt.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=dt.UTC)


def _text(rng: random.Random, n: int, max_length: int | None) -> str:
    value = f'Zoë “{n}” 🚀 O\'Brien\\ "q" {rng.randint(0, 10**6)}\nline two\ttab'
    return value[:max_length] if max_length else value


def _value(model_field: models.Field, rng: random.Random, n: int, sparse: bool):
    if sparse and model_field.null:
        return None
    if model_field.choices:
        return rng.choice([choice for choice, _ in model_field.flatchoices])
    kind = model_field.get_internal_type()
    max_length = getattr(model_field, "max_length", None)
    if kind == "EmailField":
        return f"fill{n}.{rng.randint(0, 10**6)}@example.com"
    if kind == "SlugField":
        return f"fill-{n}-{rng.randint(0, 10**6)}"[:max_length]
    if kind == "URLField":
        return f"https://example.com/{n}?q=é"
    if kind == "GenericIPAddressField":
        return rng.choice(["203.0.113.7", "2001:db8::7"])
    if kind in ("CharField", "TextField"):
        return _text(rng, n, max_length)
    if kind in ("FileField", "ImageField"):
        return f"fill/{n}/picture.png"
    if kind == "BooleanField":
        return rng.choice([True, False])
    if kind in ("PositiveSmallIntegerField", "SmallIntegerField"):
        return rng.randint(0, 100)
    if kind in ("PositiveIntegerField", "IntegerField"):
        return rng.randint(0, 100)
    if kind in ("BigIntegerField", "PositiveBigIntegerField"):
        return 2**40 + rng.randint(0, 1000)
    if kind == "FloatField":
        return 0.1 + 0.2
    if kind == "DecimalField":
        places = model_field.decimal_places
        whole = 10 ** max(model_field.max_digits - places - 1, 0) - 1
        return decimal.Decimal(rng.randint(0, whole)) + decimal.Decimal(1).scaleb(-places)
    if kind == "DateTimeField":
        return WHEN - dt.timedelta(days=rng.randint(0, 400), microseconds=rng.randint(0, 10**6))
    if kind == "DateField":
        return (WHEN - dt.timedelta(days=rng.randint(0, 400))).date()
    if kind == "TimeField":
        return dt.time(23, 59, 58, 654321)
    if kind == "DurationField":
        return dt.timedelta(days=1, microseconds=7)
    if kind == "JSONField":
        return {"z": [1, 2.5, None, True, "é"], "a": {"nested": {"emoji": "🚀"}}, "n": 10**15}
    if kind == "UUIDField":
        return uuid.uuid4()
    if kind == "BinaryField":
        return bytes([0, 255, 10, 13]) + str(n).encode()
    if kind == "SearchVectorField":
        return None
    raise NotImplementedError(f"no sample value for {kind} ({model_field})")


def _related_pk(model_field, rng: random.Random, used_one_to_one: set):
    related = model_field.related_model._base_manager.values_list("pk", flat=True)
    choices = list(related.order_by("pk")[:200])
    if model_field.one_to_one:
        choices = [pk for pk in choices if pk not in used_one_to_one]
    return rng.choice(choices) if choices else None


def _candidate(model, rng: random.Random, n: int, sparse: bool):
    values = {}
    for model_field in model._meta.local_concrete_fields:
        if isinstance(model_field, models.AutoField):
            continue
        if model_field.is_relation:
            if sparse and model_field.null:
                values[model_field.attname] = None
                continue
            used = set()
            if model_field.one_to_one:
                used = set(model._base_manager.values_list(model_field.attname, flat=True))
            values[model_field.attname] = _related_pk(model_field, rng, used)
            continue
        if model_field.primary_key and model_field.get_internal_type().endswith("IntegerField"):
            values[model_field.attname] = 100 + n  # e.g. celery-beat's PeriodicTasks.ident
            continue
        values[model_field.attname] = _value(model_field, rng, n, sparse)
    return model(**values)


def fill(seed: int = 20240229) -> dict:
    rng = random.Random(seed)
    filled, failed = {}, {}
    counter = 0
    for model in dependency_order(copyable_models()):
        table = model._meta.db_table
        added = 0
        for sparse in (False, True):
            error = None
            for _ in range(ATTEMPTS):
                counter += 1
                try:
                    with transaction.atomic():
                        model._base_manager.bulk_create([_candidate(model, rng, counter, sparse)])
                except (DatabaseError, ValueError, TypeError) as exc:
                    error = f"{type(exc).__name__}: {exc}"
                    continue
                added += 1
                break
            else:
                if not model._base_manager.exists():
                    failed[table] = error
        filled[table] = model._base_manager.count()
    print(json.dumps({"filled": filled, "failed": failed, "added": counter}))
    return {"filled": filled, "failed": failed}
