"""Reconciliation checks of courses: counters and progress against rows (apps.core.reconcile)."""

from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Least, NullIf

from apps.core.reconcile import Drift, counter_check, register

from .models import Course, Enrollment, Lesson, LessonProgress, Review


def _count(model, fk: str, *, where: Q | None = None, total: str | None = None):
    """A correlated COUNT (or SUM of `total`) of the `model` rows pointing at the outer row."""
    rows = model.objects.filter(**{fk: OuterRef("pk")})
    if where is not None:
        rows = rows.filter(where)
    value = rows.order_by().values(fk).annotate(n=Sum(total) if total else Count("pk"))
    return Coalesce(Subquery(value.values("n"), output_field=IntegerField()), Value(0))


def _ratings(*, repair: bool) -> list[Drift]:
    """rating_count and rating_sum against the reviews (and rating_avg with them)."""
    drifted = (
        Course.objects.annotate(
            review_rows=_count(Review, "course"), stars=_count(Review, "course", total="rating")
        )
        .exclude(rating_count=F("review_rows"), rating_sum=F("stars"))
        .order_by("pk")
        .values_list("pk", "rating_count", "rating_sum", "review_rows", "stars")
    )
    drifts = []
    for pk, count, total, reviews, stars in drifted:
        drifts.append(Drift("courses.ratings", f"course {pk}", [reviews, stars], [count, total]))
        if repair:
            Course.objects.filter(pk=pk).update(
                rating_count=reviews, rating_sum=stars, rating_avg=stars / reviews if reviews else 0
            )
    return drifts


def register_checks() -> None:
    counter_check(
        "courses.enrollment_count",
        Course.objects.annotate(
            expected=_count(Enrollment, "course", where=~Q(status=Enrollment.Status.CANCELLED))
        ),
        "enrollment_count",
        label="course",
    )
    counter_check(
        "courses.lesson_count",
        Course.objects.annotate(expected=_count(Lesson, "course")),
        "lesson_count",
        label="course",
    )
    # As lesson_complete and lesson changes compute it: done * 100 / lessons, at most 100.
    done = _count(LessonProgress, "enrollment")
    lessons = Coalesce(NullIf(F("course__lesson_count"), Value(0)), Value(1))
    counter_check(
        "courses.enrollment_progress",
        Enrollment.objects.annotate(expected=Least(done * 100 / lessons, Value(100))),
        "progress_percent",
        label="enrollment",
    )
    register("courses.ratings", _ratings)
