import copy

from django.http import Http404, QueryDict
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, permissions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import has_perm
from apps.core import throttling as core_throttling
from apps.core.pagination import PageNumberPagination
from apps.courses import selectors, services
from apps.courses.cache import cached
from apps.courses.models import Category, Lesson

from . import serializers as s
from .filters import CatalogFilter


def _require_editor(request, course) -> None:
    if not selectors.user_can_edit_course(user=request.user, instructor_id=course.instructor_id):
        raise exceptions.PermissionDenied("Only the course's instructor or an admin can do this.")


class WriteThrottled(core_throttling.WriteThrottled):
    throttle_scope = "course_writes"


class CatalogPagination(PageNumberPagination):
    page_size = 20


CATALOG_PARAMETERS = [
    OpenApiParameter("q", str, description="Full-text search"),
    OpenApiParameter("category", str, description="Category slug"),
    OpenApiParameter("level", str, enum=["beginner", "intermediate", "advanced"]),
    OpenApiParameter("language", str),
    OpenApiParameter("tag", str, description="Tag slug"),
    OpenApiParameter("instructor", int),
    OpenApiParameter("ordering", str, enum=list(selectors.ORDERINGS)),
    OpenApiParameter("page", int),
    OpenApiParameter("page_size", int),
]


def catalog_query(request) -> QueryDict:
    """The catalog's known parameters, validated, in one spelling each, defaults left out.
    The shared cache is keyed on this and its page links are built from it, so parameters
    the catalog does not know (`?junk=1`, `?utm_source=`) neither make a cache entry each
    nor reach anyone else's links. Invalid values answer 400 and are not cached."""
    params = request.query_params
    clean = QueryDict(mutable=True)
    q = params.get("q", "").strip()[:200]
    if q:
        clean["q"] = q
    ordering = params.get("ordering", "newest")
    if ordering not in selectors.ORDERINGS:
        raise exceptions.ValidationError(
            {"ordering": [f"Choose one of: {', '.join(selectors.ORDERINGS)}."]}
        )
    if ordering != "newest":
        clean["ordering"] = ordering
    filterset = CatalogFilter(params, queryset=selectors.course_catalog().none())
    if not filterset.is_valid():
        raise exceptions.ValidationError(filterset.errors)
    for name, value in sorted(filterset.form.cleaned_data.items()):
        if value not in (None, ""):
            clean[name] = str(value)
    paginator = CatalogPagination()
    page_size = paginator.get_page_size(request)  # 400 when not a whole number >= 1
    if page_size != paginator.page_size:
        clean["page_size"] = str(page_size)
    page = params.get("page", "1")
    if page == "last":
        clean["page"] = page
    else:
        try:
            number = int(page)
        except ValueError:
            number = 0
        if number < 1:
            raise exceptions.NotFound("Invalid page.")
        if number > 1:
            clean["page"] = str(number)
    clean._mutable = False
    return clean


def _with_query(request, query: QueryDict) -> Request:
    """The request as if it had been sent with only `query` (for the paginator's links)."""
    django_request = copy.copy(request._request)
    django_request.GET = query
    django_request.META = {**django_request.META, "QUERY_STRING": query.urlencode()}
    return Request(django_request)


class CourseListView(WriteThrottled, APIView):
    pagination_class = CatalogPagination  # documents the paginated list (used in get)

    def get_permissions(self):
        if self.request.method == "GET":
            return [permissions.AllowAny()]
        return [has_perm("accounts.author_courses")()]

    @extend_schema(
        parameters=CATALOG_PARAMETERS,
        responses={200: s.CourseListOutput(many=True)},
        tags=["courses"],
        auth=[],
    )
    def get(self, request):
        query = catalog_query(request)

        def compute():
            queryset = selectors.course_catalog(
                q=query.get("q", ""), ordering=query.get("ordering", "newest")
            )
            filterset = CatalogFilter(query, queryset=queryset)
            filterset.is_valid()  # validated by catalog_query
            paginator = CatalogPagination()
            page = paginator.paginate_queryset(
                filterset.qs.distinct(), _with_query(request, query), view=self
            )
            return paginator.get_paginated_response(s.CourseListOutput(page, many=True).data).data

        data = cached(("catalog", request.get_host(), query.urlencode()), compute)
        return Response(data)

    @extend_schema(request=s.CourseInput, responses={201: s.CourseDetailOutput}, tags=["courses"])
    def post(self, request):
        data = s.CourseInput(data=request.data)
        data.is_valid(raise_exception=True)
        course = services.course_create(instructor=request.user, data=data.validated_data)
        course = selectors.course_get_visible(slug=course.slug, user=request.user)
        return Response(s.CourseDetailOutput(course).data, status=status.HTTP_201_CREATED)


class CourseDetailView(WriteThrottled, APIView):
    def get_permissions(self):
        if self.request.method == "GET":
            return [permissions.AllowAny()]
        return [permissions.IsAuthenticated()]

    @extend_schema(responses={200: s.CourseDetailWithViewerOutput}, tags=["courses"])
    def get(self, request, slug: str):
        try:
            body = cached(
                ("detail", slug),
                lambda: s.CourseDetailOutput(selectors.course_get_public(slug=slug)).data,
                slug=slug,
            )
        except Http404:  # a draft: only for its editors, and never from the shared cache
            course = selectors.course_get_visible(slug=slug, user=request.user)
            body = s.CourseDetailOutput(course).data
        viewer = {
            "enrolled": selectors.user_is_enrolled(user=request.user, course_id=body["id"]),
            "can_edit": selectors.user_can_edit_course(
                user=request.user, instructor_id=body["instructor"]["id"]
            ),
        }
        return Response({**body, "viewer": viewer})

    @extend_schema(request=s.CourseInput(partial=True), responses={200: s.CourseDetailOutput})
    def patch(self, request, slug: str):
        course = selectors.course_get_visible(slug=slug, user=request.user)
        _require_editor(request, course)
        data = s.CourseInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.course_update(course=course, data=data.validated_data)
        course = selectors.course_get_visible(slug=slug, user=request.user)
        return Response(s.CourseDetailOutput(course).data)

    @extend_schema(responses={204: None})
    def delete(self, request, slug: str):
        course = selectors.course_get_visible(slug=slug, user=request.user)
        _require_editor(request, course)
        services.course_archive(course=course)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CoursePublishView(WriteThrottled, APIView):
    @extend_schema(request=None, responses={200: s.CourseDetailOutput}, tags=["courses"])
    def post(self, request, slug: str):
        course = selectors.course_get_visible(slug=slug, user=request.user)
        _require_editor(request, course)
        services.course_publish(course=course)
        course = selectors.course_get_visible(slug=slug, user=request.user)
        return Response(s.CourseDetailOutput(course).data)


def _lesson_context(request, course, lessons) -> dict:
    enrolled = selectors.user_is_enrolled(user=request.user, course_id=course.pk)
    visible = {
        lesson.id
        for lesson in lessons
        if selectors.lesson_content_visible(user=request.user, lesson=lesson, enrolled=enrolled)
    }
    return {"visible_lesson_ids": visible}


class CourseLessonsView(WriteThrottled, APIView):
    def get_permissions(self):
        if self.request.method == "GET":
            return [permissions.AllowAny()]
        return [permissions.IsAuthenticated()]

    @extend_schema(
        responses={200: inline_serializer("LessonList", {"results": s.LessonOutput(many=True)})},
        tags=["lessons"],
    )
    def get(self, request, slug: str):
        course = selectors.course_get_visible(slug=slug, user=request.user)
        lessons = list(selectors.lessons_for_course(course=course))
        for lesson in lessons:
            lesson.course = course
        context = _lesson_context(request, course, lessons)
        return Response({"results": s.LessonOutput(lessons, many=True, context=context).data})

    @extend_schema(request=s.LessonInput, responses={201: s.LessonOutput}, tags=["lessons"])
    def post(self, request, slug: str):
        course = selectors.course_get_visible(slug=slug, user=request.user)
        _require_editor(request, course)
        data = s.LessonInput(data=request.data)
        data.is_valid(raise_exception=True)
        lesson = services.lesson_create(course=course, actor=request.user, data=data.validated_data)
        lesson = selectors.lessons_for_course(course=course).get(pk=lesson.pk)
        context = {"visible_lesson_ids": {lesson.pk}}
        return Response(s.LessonOutput(lesson, context=context).data, status=201)


class LessonDetailView(WriteThrottled, APIView):
    def get_permissions(self):
        if self.request.method == "GET":
            return [permissions.AllowAny()]
        return [permissions.IsAuthenticated()]

    def _lesson(self, request, lesson_id: int) -> Lesson:
        lesson = selectors.lesson_get_visible(lesson_id=lesson_id, user=request.user)
        return selectors.lessons_for_course(course=lesson.course).get(pk=lesson.pk)

    @extend_schema(responses={200: s.LessonOutput}, tags=["lessons"])
    def get(self, request, lesson_id: int):
        lesson = self._lesson(request, lesson_id)
        context = _lesson_context(request, lesson.course, [lesson])
        return Response(s.LessonOutput(lesson, context=context).data)

    @extend_schema(request=s.LessonInput(partial=True), responses={200: s.LessonOutput})
    def patch(self, request, lesson_id: int):
        lesson = self._lesson(request, lesson_id)
        _require_editor(request, lesson.course)
        data = s.LessonInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.lesson_update(lesson=lesson, actor=request.user, data=data.validated_data)
        lesson = self._lesson(request, lesson_id)
        return Response(s.LessonOutput(lesson, context={"visible_lesson_ids": {lesson.pk}}).data)

    @extend_schema(responses={204: None})
    def delete(self, request, lesson_id: int):
        lesson = self._lesson(request, lesson_id)
        _require_editor(request, lesson.course)
        services.lesson_delete(lesson=lesson)
        return Response(status=status.HTTP_204_NO_CONTENT)


class QuizAttemptView(WriteThrottled, APIView):
    throttle_scope = "writes"

    @extend_schema(
        request=s.QuizAttemptInput, responses={201: s.QuizAttemptOutput}, tags=["lessons"]
    )
    def post(self, request, lesson_id: int):
        """Submit answers; the answer is the score and whether it passed (never which answers
        were right). A pass completes the lesson. At most `max_attempts` per
        `attempt_window_hours` (the quiz's settings); beyond, 429 with Retry-After."""
        lesson = selectors.lesson_get_visible(lesson_id=lesson_id, user=request.user)
        data = s.QuizAttemptInput(data=request.data)
        data.is_valid(raise_exception=True)
        attempt = services.quiz_attempt_submit(
            user=request.user, lesson=lesson, answers=data.validated_data["answers"]
        )
        return Response(s.QuizAttemptOutput(attempt).data, status=status.HTTP_201_CREATED)


class EnrollmentView(WriteThrottled, APIView):
    throttle_scope = "writes"

    @extend_schema(
        request=None,
        responses={200: s.EnrollmentOutput, 201: s.EnrollmentOutput},
        tags=["enrollment"],
    )
    def post(self, request, slug: str):
        course = selectors.course_get_visible(slug=slug, user=request.user)
        enrollment, created = services.enrollment_create(user=request.user, course=course)
        enrollment = selectors.enrollments_for_user(user=request.user).get(pk=enrollment.pk)
        return Response(
            s.EnrollmentOutput(enrollment).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(responses={204: None}, tags=["enrollment"])
    def delete(self, request, slug: str):
        course = selectors.course_get_visible(slug=slug, user=request.user)
        services.enrollment_cancel(user=request.user, course=course)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LessonCompleteView(WriteThrottled, APIView):
    throttle_scope = "writes"

    @extend_schema(request=None, responses={200: s.ProgressOutput}, tags=["enrollment"])
    def post(self, request, lesson_id: int):
        """Mark the lesson done (idempotent). A lesson with a quiz completes by passing the
        quiz: 409 until the learner has a passing attempt."""
        lesson = selectors.lesson_get_visible(
            lesson_id=lesson_id, user=request.user, to_render=False
        )
        enrollment = services.lesson_complete(user=request.user, lesson=lesson)
        body = {
            "lesson_id": lesson.pk,
            "course": lesson.course.slug,
            "progress_percent": enrollment.progress_percent,
            "completed_at": enrollment.completed_at,
            "course_completed": enrollment.completed_at is not None,
        }
        return Response(s.ProgressOutput(body).data)


class MyEnrollmentsView(APIView):
    pagination_class = PageNumberPagination  # documents the paginated list (used in get)

    @extend_schema(
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
        responses={200: s.EnrollmentOutput(many=True)},
        tags=["enrollment"],
    )
    def get(self, request):
        paginator = PageNumberPagination()
        queryset = selectors.enrollments_for_user(user=request.user)
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(s.EnrollmentOutput(page, many=True).data)


class ReviewsView(WriteThrottled, APIView):
    throttle_scope = "writes"
    pagination_class = PageNumberPagination  # documents the paginated list (used in get)

    def get_permissions(self):
        if self.request.method == "GET":
            return [permissions.AllowAny()]
        return [permissions.IsAuthenticated()]

    @extend_schema(
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
        responses={200: s.ReviewOutput(many=True)},
        tags=["reviews"],
    )
    def get(self, request, slug: str):
        course = selectors.course_get_visible(slug=slug, user=request.user)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(
            selectors.reviews_for_course(course=course), request, view=self
        )
        return paginator.get_paginated_response(s.ReviewOutput(page, many=True).data)

    @extend_schema(request=s.ReviewInput, responses={201: s.ReviewOutput}, tags=["reviews"])
    def post(self, request, slug: str):
        course = selectors.course_get_visible(slug=slug, user=request.user)
        data = s.ReviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        review = services.review_create(user=request.user, course=course, **data.validated_data)
        return Response(s.ReviewOutput(review).data, status=status.HTTP_201_CREATED)


class CourseStatsView(APIView):
    @extend_schema(responses={200: s.CourseStatsOutput}, tags=["courses"])
    def get(self, request, slug: str):
        course = selectors.course_get_visible(slug=slug, user=request.user)
        _require_editor(request, course)
        return Response(s.CourseStatsOutput(services.course_stats(course=course)).data)


class CategoryListView(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        responses={
            200: inline_serializer("CategoryList", {"results": s.CategoryOutput(many=True)})
        },
        tags=["courses"],
        auth=[],
    )
    def get(self, request):
        categories = Category.objects.order_by("name")
        return Response({"results": s.CategoryOutput(categories, many=True).data})
