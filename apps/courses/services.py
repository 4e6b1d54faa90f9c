"""Course use cases. Each write keeps the denormalised counters exact in its own transaction
and announces what happened as a domain event (delivered after commit)."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Avg, Count, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.text import slugify
from rest_framework import exceptions

from apps.core import events
from apps.core.db import insert_or_skip
from apps.core.errors import Conflict
from apps.media.services import media_attach, media_detach

from .cache import catalog_invalidate, enrolled_courses_invalidate
from .markdown import render_markdown
from .models import (
    Category,
    Choice,
    Course,
    CourseDailyStats,
    Enrollment,
    Lesson,
    LessonAttachment,
    LessonProgress,
    Question,
    Quiz,
    QuizAttempt,
    Review,
    Tag,
)

COURSE_FIELDS = ("title", "summary", "description", "level", "language")
LESSON_FIELDS = ("title", "video_url", "duration_seconds", "is_preview")
MAX_LESSON_ATTACHMENTS = 10


class NotEnrolled(exceptions.PermissionDenied):
    default_detail = "Enroll in the course first."
    default_code = "not_enrolled"


# --- Helpers ---------------------------------------------------------------------------------


def _unique_slug(title: str) -> str:
    base = slugify(title)[:100] or "course"
    slug, suffix = base, 2
    while Course.objects.filter(slug=slug).exists():
        slug, suffix = f"{base}-{suffix}", suffix + 1
    return slug


def _tags_from_names(names: list[str]) -> list[Tag]:
    tags = []
    for name in dict.fromkeys(n.strip() for n in names if n.strip()):
        tag, _ = Tag.objects.get_or_create(slug=slugify(name)[:50], defaults={"name": name[:50]})
        tags.append(tag)
    return tags


def _refresh_search_vector(course: Course) -> None:
    if connection.vendor != "postgresql":
        return
    from django.contrib.postgres.search import SearchVector

    Course.objects.filter(pk=course.pk).update(
        search_vector=SearchVector("title", weight="A", config="english")
        + SearchVector("summary", weight="B", config="english")
        + SearchVector("description", weight="C", config="english")
    )


def _active_enrollment(*, user, course_id: int, lock: bool = False) -> Enrollment:
    queryset = Enrollment.objects.filter(user=user, course_id=course_id).exclude(
        status=Enrollment.Status.CANCELLED
    )
    if lock:
        queryset = queryset.select_for_update()
    enrollment = queryset.first()
    if enrollment is None:
        raise NotEnrolled()
    return enrollment


# --- Authoring -------------------------------------------------------------------------------


@transaction.atomic
def course_create(*, instructor, data: dict[str, Any]) -> Course:
    course = Course(instructor=instructor, slug=_unique_slug(data["title"]))
    for field in COURSE_FIELDS:
        if field in data:
            setattr(course, field, data[field])
    course.category = data.get("category")
    if data.get("cover"):
        course.cover = media_attach(
            media_id=data["cover"], owner=instructor, purpose="course_cover", field="cover"
        )
    course.save()
    if data.get("tags"):
        course.tags.set(_tags_from_names(data["tags"]))
    _refresh_search_vector(course)
    return course


@transaction.atomic
def course_update(*, course: Course, data: dict[str, Any]) -> Course:
    fields = [field for field in COURSE_FIELDS if field in data]
    for field in fields:
        setattr(course, field, data[field])
    if "category" in data:
        course.category = data["category"]
        fields.append("category")
    if "cover" in data and data["cover"] != course.cover_id:
        if course.cover_id:
            media_detach(media_id=course.cover_id)
        course.cover = (
            media_attach(
                media_id=data["cover"],
                owner=course.instructor,
                purpose="course_cover",
                field="cover",
            )
            if data["cover"]
            else None
        )
        fields.append("cover")
    course.save(update_fields=[*fields, "updated_at"])
    if "tags" in data:
        course.tags.set(_tags_from_names(data["tags"]))
    _refresh_search_vector(course)
    catalog_invalidate(slug=course.slug)
    return course


@transaction.atomic
def course_publish(*, course: Course) -> Course:
    course = Course.objects.select_for_update().get(pk=course.pk)
    if course.status == Course.Status.PUBLISHED:
        return course
    if not course.lessons.exists():
        raise exceptions.ValidationError(
            {"lessons": ["A course needs at least one lesson before it can be published."]}
        )
    course.status = Course.Status.PUBLISHED
    course.published_at = course.published_at or timezone.now()
    course.save(update_fields=["status", "published_at", "updated_at"])
    catalog_invalidate(slug=course.slug)
    return course


@transaction.atomic
def course_archive(*, course: Course) -> None:
    """DELETE on a course archives it: it leaves the catalog, enrolled learners keep access."""
    Course.objects.filter(pk=course.pk).update(status=Course.Status.ARCHIVED)
    catalog_invalidate(slug=course.slug)


def _recompute_progress(course_id: int) -> None:
    """After the lesson set changes, bring every enrollment's percentage up to date (one UPDATE)."""
    lesson_count = Course.objects.values_list("lesson_count", flat=True).get(pk=course_id)
    done = (
        LessonProgress.objects.filter(enrollment=OuterRef("pk"))
        .order_by()
        .values("enrollment")
        .annotate(n=Count("id"))
        .values("n")
    )
    if lesson_count:
        Enrollment.objects.filter(course_id=course_id).update(
            progress_percent=Coalesce(Subquery(done), Value(0)) * 100 / lesson_count
        )
    else:
        Enrollment.objects.filter(course_id=course_id).update(progress_percent=0)


def _replace_quiz(lesson: Lesson, quiz_data: dict | None) -> None:
    Quiz.objects.filter(lesson=lesson).delete()
    if not quiz_data:
        return
    quiz = Quiz.objects.create(
        lesson=lesson,
        pass_mark=quiz_data.get("pass_mark", 70),
        max_attempts=quiz_data.get("max_attempts", Quiz.DEFAULT_MAX_ATTEMPTS),
        attempt_window_hours=quiz_data.get(
            "attempt_window_hours", Quiz.DEFAULT_ATTEMPT_WINDOW_HOURS
        ),
    )
    for position, question_data in enumerate(quiz_data["questions"]):
        question = Question.objects.create(
            quiz=quiz,
            position=position,
            text=question_data["text"],
            kind=question_data.get("kind", Question.Kind.SINGLE),
        )
        Choice.objects.bulk_create(
            Choice(question=question, text=c["text"], is_correct=c.get("is_correct", False))
            for c in question_data["choices"]
        )


def _validate_quiz(quiz_data: dict | None) -> None:
    if not quiz_data:
        return
    errors = []
    for index, question in enumerate(quiz_data.get("questions", [])):
        correct = sum(1 for choice in question["choices"] if choice.get("is_correct"))
        if correct == 0 or (question.get("kind", "single") == "single" and correct != 1):
            errors.append(
                f"Question {index + 1}: a single-choice question needs exactly one correct "
                "choice, a multiple-choice question at least one."
            )
    if not quiz_data.get("questions"):
        errors.append("A quiz needs at least one question.")
    if errors:
        raise exceptions.ValidationError({"quiz": errors})


def _replace_attachments(lesson: Lesson, media_ids: list, *, actor) -> None:
    """Make `media_ids` the lesson's attachments, in that order: files new to the lesson are
    attached (they must be the actor's ready lesson_attachment uploads), files no longer
    listed are detached and left to the media orphan cleanup."""
    if len(media_ids) > MAX_LESSON_ATTACHMENTS:
        raise exceptions.ValidationError(
            {"attachments": [f"A lesson has at most {MAX_LESSON_ATTACHMENTS} attachments."]}
        )
    if len(set(media_ids)) != len(media_ids):
        raise exceptions.ValidationError({"attachments": ["A file is listed more than once."]})
    # Concurrent edits of one lesson's list take turns (each sees the other's result).
    Lesson.objects.select_for_update().filter(pk=lesson.pk).values("pk").first()
    current = list(
        lesson.attachment_links.order_by("position", "id").values_list("media_id", flat=True)
    )
    if current == media_ids:
        return
    for media_id in set(current) - set(media_ids):
        media_detach(media_id=media_id)
    for media_id in media_ids:
        if media_id not in current:
            media_attach(
                media_id=media_id, owner=actor, purpose="lesson_attachment", field="attachments"
            )
    LessonAttachment.objects.filter(lesson=lesson).delete()
    LessonAttachment.objects.bulk_create(
        LessonAttachment(lesson=lesson, media_id=media_id, position=position)
        for position, media_id in enumerate(media_ids)
    )


@transaction.atomic
def lesson_create(*, course: Course, actor, data: dict[str, Any]) -> Lesson:
    """Add a lesson; `actor` (the course's editor) owns the attachments' files."""
    _validate_quiz(data.get("quiz"))
    course = Course.objects.select_for_update().get(pk=course.pk)
    position = data.get("position")
    if position is None:
        last = course.lessons.order_by("-position").values_list("position", flat=True).first()
        position = 0 if last is None else last + 1
    lesson = Lesson(course=course, position=position)
    for field in LESSON_FIELDS:
        if field in data:
            setattr(lesson, field, data[field])
    lesson.body_markdown = data.get("body_markdown", "")
    lesson.body_html = render_markdown(lesson.body_markdown)
    lesson.save()
    _replace_quiz(lesson, data.get("quiz"))
    if data.get("attachments"):
        _replace_attachments(lesson, data["attachments"], actor=actor)
    Course.objects.filter(pk=course.pk).update(lesson_count=F("lesson_count") + 1)
    _recompute_progress(course.pk)
    catalog_invalidate(slug=course.slug)
    return lesson


@transaction.atomic
def lesson_update(*, lesson: Lesson, actor, data: dict[str, Any]) -> Lesson:
    """Change a lesson; `attachments`, when given, replaces the whole list (files the actor
    adds must be their own uploads)."""
    if "quiz" in data:
        _validate_quiz(data["quiz"])
    fields = [field for field in (*LESSON_FIELDS, "position") if field in data]
    for field in fields:
        setattr(lesson, field, data[field])
    if "body_markdown" in data:
        lesson.body_markdown = data["body_markdown"]
        lesson.body_html = render_markdown(lesson.body_markdown)
        fields += ["body_markdown", "body_html"]
    lesson.save(update_fields=[*fields, "updated_at"])
    if "quiz" in data:
        _replace_quiz(lesson, data["quiz"])
    if "attachments" in data:
        _replace_attachments(lesson, data["attachments"], actor=actor)
    catalog_invalidate(slug=lesson.course.slug)
    return lesson


@transaction.atomic
def lesson_delete(*, lesson: Lesson) -> None:
    course = Course.objects.select_for_update().get(pk=lesson.course_id)
    if course.is_published and course.lesson_count <= 1:
        raise Conflict("A published course keeps at least one lesson; archive the course instead.")
    for media_id in lesson.attachment_links.values_list("media_id", flat=True):
        media_detach(media_id=media_id)
    lesson.delete()
    Course.objects.filter(pk=course.pk).update(lesson_count=F("lesson_count") - 1)
    _recompute_progress(course.pk)
    catalog_invalidate(slug=course.slug)


# --- Learning --------------------------------------------------------------------------------


@transaction.atomic
def enrollment_create(*, user, course: Course) -> tuple[Enrollment, bool]:
    """Enroll (idempotent). Returns the enrollment and whether this call enrolled."""
    if not course.is_published:
        raise exceptions.ValidationError({"course": ["This course is not open for enrollment."]})
    try:
        with transaction.atomic():
            enrollment = Enrollment.objects.create(user=user, course=course)
        created = True
    except IntegrityError:
        enrollment = Enrollment.objects.select_for_update().get(user=user, course=course)
        created = enrollment.status == Enrollment.Status.CANCELLED
        if created:  # coming back after unenrolling
            enrollment.status = (
                Enrollment.Status.COMPLETED if enrollment.completed_at else Enrollment.Status.ACTIVE
            )
            enrollment.save(update_fields=["status", "updated_at"])
    if created:
        Course.objects.filter(pk=course.pk).update(enrollment_count=F("enrollment_count") + 1)
        catalog_invalidate(slug=course.slug)
        enrolled_courses_invalidate(user_id=user.pk)
        events.publish("enrollment.created", user_id=user.pk, course_id=course.pk)
    return enrollment, created


@transaction.atomic
def enrollment_cancel(*, user, course: Course) -> None:
    """Unenroll (idempotent). Progress is kept in case the learner comes back."""
    cancelled = (
        Enrollment.objects.filter(user=user, course=course)
        .exclude(status=Enrollment.Status.CANCELLED)
        .update(status=Enrollment.Status.CANCELLED, updated_at=timezone.now())
    )
    if cancelled:
        Course.objects.filter(pk=course.pk).update(enrollment_count=F("enrollment_count") - 1)
        catalog_invalidate(slug=course.slug)
        enrolled_courses_invalidate(user_id=user.pk)


class QuizNotPassed(Conflict):
    default_detail = "Pass this lesson's quiz to complete it: there is no passing attempt yet."


class QuizAttemptsUsedUp(exceptions.Throttled):
    default_detail = "You have used every attempt this quiz allows for now."


def _lesson_quiz(lesson: Lesson) -> Quiz | None:
    try:
        return lesson.quiz  # selected with the lesson by lesson_get_visible
    except Quiz.DoesNotExist:
        return None


def _require_passed_quiz(*, user, lesson: Lesson) -> None:
    """A quiz lesson completes on a passing attempt (or was completed before its quiz came)."""
    quiz = _lesson_quiz(lesson)
    if quiz is None:
        return
    passed = QuizAttempt.objects.filter(user=user, quiz=quiz, passed=True)
    done = LessonProgress.objects.filter(user=user, lesson=lesson)
    if not (passed.exists() or done.exists()):
        missing = {"missing": "passing_quiz_attempt", "quiz_id": quiz.pk}
        raise QuizNotPassed(details={**missing, "pass_mark": quiz.pass_mark})


@transaction.atomic(savepoint=False)  # inside the request's transaction: no savepoint trips
def lesson_complete(*, user, lesson: Lesson) -> Enrollment:
    """Mark a lesson done (idempotent) and recompute progress in the same transaction. A lesson
    with a quiz completes only once the learner passed it (409 otherwise).

    The enrollment row is locked first, so concurrent completions of different lessons
    serialise on it: each sees the others' progress rows and the course completes exactly once.
    The progress row is one INSERT that skips an existing one (no savepoint round trips).
    """
    enrollment = _active_enrollment(user=user, course_id=lesson.course_id, lock=True)
    _require_passed_quiz(user=user, lesson=lesson)
    return _lesson_progress_record(user=user, lesson=lesson, enrollment=enrollment)


def _lesson_progress_record(*, user, lesson: Lesson, enrollment: Enrollment) -> Enrollment:
    """The lesson is done (its enrollment locked by the caller): progress, events, course end."""
    created = insert_or_skip(
        LessonProgress, user_id=user.pk, lesson_id=lesson.pk, enrollment_id=enrollment.pk
    )
    if created is None:
        return enrollment
    instructor_id = lesson.course.instructor_id
    events.publish(
        "lesson.completed",
        user_id=user.pk,
        lesson_id=lesson.pk,
        course_id=lesson.course_id,
        instructor_id=instructor_id,
    )
    # The lesson came with its course (lesson_get_visible); lesson changes recompute everyone's
    # progress anyway (_recompute_progress), so its count needs no second read here.
    enrollment.progress_percent = _progress_recount(
        enrollment_id=enrollment.pk, lesson_count=lesson.course.lesson_count
    )
    if enrollment.progress_percent == 100 and enrollment.completed_at is None:
        enrollment.completed_at = timezone.now()
        enrollment.status = Enrollment.Status.COMPLETED
        enrollment.save(update_fields=["completed_at", "status", "updated_at"])
        events.publish(
            "course.completed",
            user_id=user.pk,
            course_id=lesson.course_id,
            instructor_id=instructor_id,
        )
    return enrollment


def _progress_recount(*, enrollment_id: int, lesson_count: int) -> int:
    """Count the enrollment's completed lessons and store the percentage, in one statement
    (UPDATE ... RETURNING, where a COUNT then a save are two round trips)."""
    progress, enrollments = LessonProgress._meta.db_table, Enrollment._meta.db_table
    percent = f"(SELECT COUNT(*) FROM {progress} WHERE enrollment_id = %s) * 100 / %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {enrollments} SET updated_at = %s,"  # noqa: S608 (table names from models)
            f" progress_percent = CASE WHEN {percent} > 100 THEN 100 ELSE {percent} END"
            " WHERE id = %s RETURNING progress_percent",
            [timezone.now(), *([enrollment_id, max(lesson_count, 1)] * 2), enrollment_id],
        )
        return cursor.fetchone()[0]


def _score(quiz: Quiz, answers: dict[str, list[int]]) -> int:
    questions = list(quiz.questions.prefetch_related("choices"))
    if not questions:
        return 0
    right = 0
    for question in questions:
        correct = {choice.id for choice in question.choices.all() if choice.is_correct}
        given = set(answers.get(str(question.id), []))
        right += given == correct
    return right * 100 // len(questions)


def _require_attempt_left(*, user, quiz: Quiz) -> None:
    """At most quiz.max_attempts in any quiz.attempt_window_hours; 429 with Retry-After (when
    the oldest attempt of the window leaves it) otherwise. Callers hold the enrollment lock,
    so concurrent attempts of one learner are counted one after the other."""
    since = timezone.now() - timedelta(hours=quiz.attempt_window_hours)
    recent = list(
        QuizAttempt.objects.filter(user=user, quiz=quiz, created_at__gt=since)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[: quiz.max_attempts]
    )
    if len(recent) >= quiz.max_attempts:
        wait = recent[-1] - since
        raise QuizAttemptsUsedUp(
            wait=max(wait.total_seconds(), 1),
            detail=(
                f"This quiz allows {quiz.max_attempts} attempts every "
                f"{quiz.attempt_window_hours} hours."
            ),
        )


@transaction.atomic
def quiz_attempt_submit(*, user, lesson: Lesson, answers: dict[str, list[int]]) -> QuizAttempt:
    """Score server-side; passing completes the lesson. Answers: {question_id: [choice_id]}.
    The attempt tells the score and whether it passed, never which answers were right."""
    quiz = Quiz.objects.filter(lesson=lesson).first()
    if quiz is None:
        raise exceptions.NotFound("This lesson has no quiz.")
    enrollment = _active_enrollment(user=user, course_id=lesson.course_id, lock=True)
    known = {str(pk) for pk in quiz.questions.values_list("id", flat=True)}
    unknown = set(answers) - known
    if unknown:
        raise exceptions.ValidationError({"answers": [f"Unknown question ids: {sorted(unknown)}"]})
    _require_attempt_left(user=user, quiz=quiz)
    score = _score(quiz, answers)
    attempt = QuizAttempt.objects.create(
        user=user, quiz=quiz, answers=answers, score=score, passed=score >= quiz.pass_mark
    )
    if attempt.passed:
        events.publish(
            "quiz.passed",
            user_id=user.pk,
            course_id=lesson.course_id,
            lesson_id=lesson.pk,
            quiz_id=quiz.pk,
            attempt_id=attempt.pk,
            score=score,
            instructor_id=lesson.course.instructor_id,
        )
        _lesson_progress_record(user=user, lesson=lesson, enrollment=enrollment)
    return attempt


@transaction.atomic
def review_create(*, user, course: Course, rating: int, text: str) -> Review:
    if course.instructor_id == user.pk:
        raise exceptions.PermissionDenied("You cannot review your own course.")
    if not Enrollment.objects.filter(user=user, course=course).exists():
        raise NotEnrolled("Only learners who enrolled can review this course.")
    try:
        with transaction.atomic():
            review = Review.objects.create(user=user, course=course, rating=rating, text=text)
    except IntegrityError as exc:
        raise Conflict("You have already reviewed this course.") from exc
    Course.objects.filter(pk=course.pk).update(
        rating_count=F("rating_count") + 1,
        rating_sum=F("rating_sum") + rating,
        rating_avg=(F("rating_sum") + rating) * 1.0 / (F("rating_count") + 1),
    )
    catalog_invalidate(slug=course.slug)
    events.publish("review.created", user_id=user.pk, course_id=course.pk, rating=rating)
    return review


# --- Analytics -------------------------------------------------------------------------------


def course_stats(*, course: Course) -> dict[str, Any]:
    enrollments = Enrollment.objects.filter(course=course).exclude(
        status=Enrollment.Status.CANCELLED
    )
    totals = enrollments.aggregate(
        total=Count("id"), completed=Count("id", filter=Q(completed_at__isnull=False))
    )
    quiz = QuizAttempt.objects.filter(quiz__lesson__course=course).aggregate(
        average=Avg("score"), attempts=Count("id"), passes=Count("id", filter=Q(passed=True))
    )
    history = course.daily_stats.order_by("-day")[:90]
    return {
        "enrollments": totals["total"],
        "completions": totals["completed"],
        "completion_rate": round(totals["completed"] / totals["total"], 4)
        if totals["total"]
        else 0.0,
        "average_quiz_score": round(quiz["average"], 2) if quiz["average"] is not None else None,
        "quiz_attempts": quiz["attempts"],
        "quiz_pass_rate": round(quiz["passes"] / quiz["attempts"], 4) if quiz["attempts"] else None,
        "lesson_count": course.lesson_count,
        "rating": course.rating_avg if course.rating_count else None,
        "rating_count": course.rating_count,
        "daily": [
            {
                "day": row.day,
                "new_enrollments": row.new_enrollments,
                "completions": row.completions,
                "active_learners": row.active_learners,
                "quiz_attempts": row.quiz_attempts,
                "quiz_pass_rate": row.quiz_pass_rate,
            }
            for row in history
        ],
    }


@transaction.atomic
def course_daily_stats_aggregate(*, day: date) -> int:
    """Write (or rewrite — safe to re-run) every course's figures for one UTC day."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    end = start + timedelta(days=1)
    per_course: dict[int, dict[str, int]] = {}

    def add(rows, field):
        for row in rows:
            per_course.setdefault(row["course"], {})[field] = row["n"]

    add(
        Enrollment.objects.filter(created_at__gte=start, created_at__lt=end)
        .values("course")
        .annotate(n=Count("id")),
        "new_enrollments",
    )
    add(
        Enrollment.objects.filter(completed_at__gte=start, completed_at__lt=end)
        .values("course")
        .annotate(n=Count("id")),
        "completions",
    )
    add(
        LessonProgress.objects.filter(completed_at__gte=start, completed_at__lt=end)
        .values(course=F("lesson__course"))
        .annotate(n=Count("user", distinct=True)),
        "active_learners",
    )
    attempts = (
        QuizAttempt.objects.filter(created_at__gte=start, created_at__lt=end)
        .values(course=F("quiz__lesson__course"))
        .annotate(n=Count("id"), passes=Count("id", filter=Q(passed=True)))
    )
    for row in attempts:
        figures = per_course.setdefault(row["course"], {})
        figures["quiz_attempts"], figures["quiz_passes"] = row["n"], row["passes"]

    for course_id, figures in per_course.items():
        CourseDailyStats.objects.update_or_create(course_id=course_id, day=day, defaults=figures)
    return len(per_course)


def category_get_or_create(*, name: str) -> Category:
    category, _ = Category.objects.get_or_create(
        slug=slugify(name)[:80], defaults={"name": name[:80]}
    )
    return category
