"""Reconciliation: recompute derived state from the facts, report drift, optionally repair it.

Core knows no domain, so each app registers its own checks in AppConfig.ready()
(`register("social.post_like_count", check)`); `manage.py reconcile [--repair]` runs them all.
A check is `check(*, repair: bool) -> list[Drift]`: it returns what differs from the facts
(and, with repair=True, has fixed it in the same call). Checks read in batches and write only
what differs, so a clean run writes nothing.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import F


@dataclass(frozen=True)
class Drift:
    check: str
    subject: str  # what is wrong, e.g. "post 12"
    expected: Any  # the value the facts give
    actual: Any  # the value stored


Check = Callable[..., list[Drift]]
_checks: dict[str, Check] = {}


def register(name: str, check: Check) -> None:
    _checks[name] = check


def checks() -> dict[str, Check]:
    """In registration order: apps register after the apps they derive from (gamification's
    missing awards are repaired before its totals are compared)."""
    return dict(_checks)


def counter_drift(name: str, rows, *, label: str) -> list[Drift]:
    """Drifts from (pk, stored, expected) rows, a helper for counter checks."""
    return [
        Drift(check=name, subject=f"{label} {pk}", expected=expected, actual=stored)
        for pk, stored, expected in rows
        if stored != expected
    ]


def counter_check(name: str, annotated, field: str, *, label: str) -> None:
    """Register a check of a stored counter `field` against `annotated`'s `expected`
    annotation (computed from the rows it counts); repair writes the expected value."""

    def check(*, repair: bool) -> list[Drift]:
        drifted = annotated.exclude(**{field: F("expected")}).order_by("pk")
        rows = list(drifted.values_list("pk", field, "expected"))
        if repair:
            for pk, _stored, expected in rows:
                annotated.model.objects.filter(pk=pk).update(**{field: expected})
        return counter_drift(name, rows, label=label)

    register(name, check)
