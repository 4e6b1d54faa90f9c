from django.db import connection
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404

from .models import Course, Enrollment, Lesson, LessonAttachment, Question, Review

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


def _current_enrollments(*, user) -> QuerySet[Enrollment]:
    return Enrollment.objects.filter(user=user).exclude(status=Enrollment.Status.CANCELLED)


def user_is_enrolled(*, user, course_id: int) -> bool:
    if not user.is_authenticated:
        return False
    return _current_enrollments(user=user).filter(course_id=course_id).exists()


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


def lesson_get_visible(*, lesson_id: int, user) -> Lesson:
    lesson = Lesson.objects.select_related("course", "course__instructor").filter(pk=lesson_id)
    lesson = lesson.first()
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
    return Enrollment.objects.filter(user_id=user_id, completed_at__isnull=False).count()


def course_cover_is_visible(user, media) -> bool:
    """Media visibility rule: covers of published (or archived) courses are public."""
    return Course.objects.filter(cover=media).exclude(status=Course.Status.DRAFT).exists()


def lesson_attachment_is_visible(user, media) -> bool:
    """Media visibility rule: a lesson's attachments are for whoever may open the lesson
    (lesson_get_visible, then lesson_content_visible). One query; permissions are read only
    for someone neither enrolled nor the instructor."""
    lessons = Lesson.objects.filter(attachment_links__media=media).select_related("course")
    if user.is_authenticated:
        enrolled = _current_enrollments(user=user).filter(course=OuterRef("course"))
        lessons = lessons.annotate(viewer_enrolled=Exists(enrolled))
    lesson = lessons.first()
    if lesson is None or _course_hidden_from(user=user, course=lesson.course):
        return False
    return lesson_content_visible(
        user=user, lesson=lesson, enrolled=getattr(lesson, "viewer_enrolled", False)
    )
