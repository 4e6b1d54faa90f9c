from django.db import connection
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from .cache import enrolled_courses_cached
from .models import (
    Course,
    Enrollment,
    Lesson,
    LessonAttachment,
    LessonProgress,
    Question,
    QuizAttempt,
    Review,
)

ORDERINGS = {
    "newest": ("-published_at", "-id"),
    "popular": ("-enrollment_count", "-id"),
    "rating": ("-rating_avg", "-id"),
    "title": ("title", "id"),
}


def user_can_edit_course(*, user, instructor_id: int) -> bool:
    return bool(
        user.is_authenticated
        and (instructor_id == user.pk or user.has_perm("accounts.manage_all_courses"))
    )


def enrolled_course_ids(*, user_id: int) -> frozenset[int]:
    """The courses the user is enrolled in (cancelled enrollments excluded), cached."""

    def compute() -> frozenset[int]:
        return frozenset(
            Enrollment.objects.filter(user_id=user_id)
            .exclude(status=Enrollment.Status.CANCELLED)
            .values_list("course_id", flat=True)
        )

    return enrolled_courses_cached(user_id=user_id, compute=compute)


def user_is_enrolled(*, user, course_id: int) -> bool:
    return user.is_authenticated and course_id in enrolled_course_ids(user_id=user.pk)


def _course_hidden_from(*, user, course: Course) -> bool:
    """Drafts are for their editors only; published and archived courses are for everyone."""
    return course.status == Course.Status.DRAFT and not user_can_edit_course(
        user=user, instructor_id=course.instructor_id
    )


def _with_summaries(queryset: QuerySet[Course]) -> QuerySet[Course]:
    return queryset.select_related("instructor", "category", "cover").prefetch_related("tags")


def course_catalog(*, q: str = "", ordering: str = "newest") -> QuerySet[Course]:
    """Published courses, searched and ordered; django-filter narrows it further."""
    queryset = Course.objects.filter(status=Course.Status.PUBLISHED)
    q = q.strip()
    if q:
        if connection.vendor == "postgresql":
            from django.contrib.postgres.search import SearchQuery

            queryset = queryset.filter(
                search_vector=SearchQuery(q, config="english", search_type="websearch")
            )
        else:  # SQLite for local development: a plain substring match
            queryset = queryset.filter(
                Q(title__icontains=q) | Q(summary__icontains=q) | Q(description__icontains=q)
            )
    return _with_summaries(queryset).order_by(*ORDERINGS.get(ordering, ORDERINGS["newest"]))


def course_get_visible(*, slug: str, user) -> Course:
    """A course the user may see: published or archived for all, drafts for owner/admins."""
    course = _with_summaries(Course.objects.filter(slug=slug)).first()
    if course is None or _course_hidden_from(user=user, course=course):
        raise Http404
    return course


def course_referable(*, course_id: int, user) -> bool:
    """Whether `user` may name this course on something of theirs (a post, a study group): it
    exists and they may see it (a draft only for its editors, so ids reveal no drafts)."""
    course = Course.objects.filter(pk=course_id).only("status", "instructor_id").first()
    return course is not None and not _course_hidden_from(user=user, course=course)


def course_get_public(*, slug: str) -> Course:
    """A course anyone may see (published or archived); drafts and unknown slugs are 404."""
    course = (
        _with_summaries(Course.objects.filter(slug=slug))
        .exclude(status=Course.Status.DRAFT)
        .first()
    )
    if course is None:
        raise Http404
    return course


def lesson_get_visible(*, lesson_id: int, user, to_render: bool = True) -> Lesson:
    """The lesson if its course is visible to the user (404 otherwise). to_render=False (e.g.
    completing it) loads only the ids, the course's slug, state and lesson count and the
    lesson's quiz settings, not the lesson's text or the instructor."""
    lessons = Lesson.objects.select_related("course")
    if to_render:
        lessons = lessons.select_related("course__instructor")
    else:
        lessons = lessons.select_related("quiz").only(
            "id",
            "course_id",
            "course__slug",
            "course__status",
            "course__instructor_id",
            "course__lesson_count",
            "quiz__id",
            "quiz__pass_mark",
        )
    lesson = lessons.filter(pk=lesson_id).first()
    if lesson is None:
        raise Http404
    # The course came with the lesson: apply course_get_visible's rule without reloading it.
    if _course_hidden_from(user=user, course=lesson.course):
        raise Http404
    return lesson


def lessons_for_course(*, course: Course) -> QuerySet[Lesson]:
    """The course's lessons in order, with their quizzes and attachments (a constant number
    of queries whatever the number of lessons)."""
    questions = Question.objects.prefetch_related("choices").order_by("position", "id")
    attachments = LessonAttachment.objects.select_related("media").order_by("position", "id")
    return (
        course.lessons.order_by("position", "id")
        .select_related("quiz")
        .prefetch_related(
            Prefetch("quiz__questions", queryset=questions),
            Prefetch("attachment_links", queryset=attachments),
        )
    )


def lesson_content_visible(*, user, lesson: Lesson, enrolled: bool) -> bool:
    """Whether the user may open a lesson (its text, video, quiz and attachments) of a course
    they can see: preview lessons for everyone, the rest for enrolled learners and editors."""
    return (
        lesson.is_preview
        or enrolled
        or user_can_edit_course(user=user, instructor_id=lesson.course.instructor_id)
    )


def enrollments_for_user(*, user) -> QuerySet[Enrollment]:
    return (
        Enrollment.objects.filter(user=user)
        .exclude(status=Enrollment.Status.CANCELLED)
        .select_related("course", "course__instructor", "course__category", "course__cover")
        .prefetch_related("course__tags")
        .order_by("-created_at", "-id")
    )


def reviews_for_course(*, course: Course) -> QuerySet[Review]:
    return course.reviews.select_related("user").order_by("-created_at", "-id")


def completed_course_count(*, user_id: int) -> int:
    """Courses the user completed as a learner (not the ones they teach)."""
    return (
        Enrollment.objects.filter(user_id=user_id, completed_at__isnull=False)
        .exclude(course__instructor_id=user_id)
        .count()
    )


def course_instructor_id(*, course_id: int) -> int | None:
    return Course.objects.filter(pk=course_id).values_list("instructor_id", flat=True).first()


def course_cover_is_visible(user, media) -> bool:
    """Media visibility rule: covers of published (or archived) courses are public."""
    return Course.objects.filter(cover=media).exclude(status=Course.Status.DRAFT).exists()


# --- Personal-data export (apps.accounts.selectors.user_export_data) ---------------------------
# Plain dicts from .values(): one query per section whatever the number of rows.


def enrollments_for_export(*, user) -> list[dict]:
    """Every enrollment of the user (cancelled ones too), oldest first, each with the lessons
    completed in it and when."""
    completed: dict[int, list[dict]] = {}
    progress = (
        LessonProgress.objects.filter(user=user)
        .order_by("completed_at", "id")
        .values("enrollment_id", "lesson_id", "lesson__title", "completed_at")
    )
    for row in progress.iterator(chunk_size=2000):
        completed.setdefault(row["enrollment_id"], []).append(
            {
                "lesson_id": row["lesson_id"],
                "title": row["lesson__title"],
                "completed_at": row["completed_at"],
            }
        )
    enrollments = (
        Enrollment.objects.filter(user=user)
        .order_by("created_at", "id")
        .values(
            "id",
            "course__slug",
            "course__title",
            "status",
            "progress_percent",
            "created_at",
            "completed_at",
        )
    )
    return [
        {
            "course": {"slug": row["course__slug"], "title": row["course__title"]},
            "status": row["status"],
            "progress_percent": row["progress_percent"],
            "enrolled_at": row["created_at"],
            "completed_at": row["completed_at"],
            "completed_lessons": completed.get(row["id"], []),
        }
        for row in enrollments
    ]


def quiz_attempts_for_export(*, user) -> list[dict]:
    attempts = (
        QuizAttempt.objects.filter(user=user)
        .order_by("created_at", "id")
        .values(
            "quiz__lesson_id",
            "quiz__lesson__title",
            "quiz__lesson__course__slug",
            "answers",
            "score",
            "passed",
            "created_at",
        )
    )
    return [
        {
            "course_slug": row["quiz__lesson__course__slug"],
            "lesson_id": row["quiz__lesson_id"],
            "lesson_title": row["quiz__lesson__title"],
            "answers": row["answers"],
            "score": row["score"],
            "passed": row["passed"],
            "created_at": row["created_at"],
        }
        for row in attempts.iterator(chunk_size=2000)
    ]


def reviews_for_export(*, user) -> list[dict]:
    reviews = (
        Review.objects.filter(user=user)
        .order_by("created_at", "id")
        .values("course__slug", "course__title", "rating", "text", "created_at")
    )
    return [
        {
            "course": {"slug": row["course__slug"], "title": row["course__title"]},
            "rating": row["rating"],
            "text": row["text"],
            "created_at": row["created_at"],
        }
        for row in reviews
    ]


def courses_authored_for_export(*, user) -> list[dict]:
    return list(
        Course.objects.filter(instructor=user)
        .order_by("created_at", "id")
        .values("slug", "title", "status", "created_at", "published_at")
    )


def lesson_attachment_is_visible(user, media) -> bool:
    """Media visibility rule: a lesson's attachments are for whoever may open the lesson
    (lesson_get_visible, then lesson_content_visible). One query and the cached enrolled set;
    permissions are read only for someone neither enrolled nor the instructor."""
    lesson = Lesson.objects.filter(attachment_links__media=media).select_related("course").first()
    if lesson is None or _course_hidden_from(user=user, course=lesson.course):
        return False
    enrolled = user_is_enrolled(user=user, course_id=lesson.course_id)
    return lesson_content_visible(user=user, lesson=lesson, enrolled=enrolled)


def lesson_completion_facts():
    """Every lesson completion as (payload of its "lesson.completed" event, when), oldest first,
    for reconciliation (apps.gamification.reconcile)."""
    rows = LessonProgress.objects.order_by("completed_at", "pk").values_list(
        "user_id", "lesson_id", "lesson__course_id", "lesson__course__instructor_id", "completed_at"
    )
    for user_id, lesson_id, course_id, instructor_id, when in rows.iterator(chunk_size=2000):
        payload = {"user_id": user_id, "lesson_id": lesson_id, "course_id": course_id}
        yield {**payload, "instructor_id": instructor_id}, when


def course_completion_facts():
    """Every completed enrollment as (payload of its "course.completed" event, when)."""
    rows = (
        Enrollment.objects.filter(completed_at__isnull=False)
        .order_by("completed_at", "pk")
        .values_list("user_id", "course_id", "course__instructor_id", "completed_at")
    )
    for user_id, course_id, instructor_id, when in rows.iterator(chunk_size=2000):
        yield {"user_id": user_id, "course_id": course_id, "instructor_id": instructor_id}, when
