from django.core.validators import URLValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.input import IdField, InputSerializer
from apps.courses.markdown import lesson_html_for_reader
from apps.courses.models import Category, Course, Question, Quiz
from apps.courses.services import MAX_LESSON_ATTACHMENTS
from apps.media import selectors as media_selectors
from apps.media.api.serializers import MediaRefOutput
from apps.media.policies import IMAGE_TYPES


class UserSummary(serializers.Serializer):
    id = serializers.IntegerField()
    display_name = serializers.CharField()


class CategoryOutput(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()


class CourseListOutput(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.SlugField()
    title = serializers.CharField()
    summary = serializers.CharField()
    level = serializers.CharField()
    language = serializers.CharField()
    category = CategoryOutput(allow_null=True)
    tags = serializers.SerializerMethodField()
    instructor = UserSummary()
    cover = MediaRefOutput(allow_null=True)
    status = serializers.CharField()
    published_at = serializers.DateTimeField(allow_null=True)
    lesson_count = serializers.IntegerField()
    enrollment_count = serializers.IntegerField()
    rating = serializers.SerializerMethodField()
    rating_count = serializers.IntegerField()

    def get_tags(self, course) -> list[str]:
        return [tag.name for tag in course.tags.all()]

    def get_rating(self, course) -> float | None:
        return round(course.rating_avg, 2) if course.rating_count else None


class CourseDetailOutput(CourseListOutput):
    description = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ViewerOutput(serializers.Serializer):
    enrolled = serializers.BooleanField()
    can_edit = serializers.BooleanField()


class CourseDetailWithViewerOutput(CourseDetailOutput):
    viewer = ViewerOutput()


class CourseInput(InputSerializer):
    title = serializers.CharField(max_length=200)
    summary = serializers.CharField(max_length=300, required=False, allow_blank=True)
    description = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    level = serializers.ChoiceField(choices=Course.Level.choices, required=False)
    language = serializers.RegexField(r"^[a-z]{2}(-[A-Z]{2})?$", max_length=10, required=False)
    category = serializers.SlugRelatedField(
        slug_field="slug", queryset=Category.objects.all(), required=False, allow_null=True
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), max_length=10, required=False
    )
    cover = serializers.UUIDField(
        required=False, allow_null=True, help_text="Id of an uploaded course_cover media file"
    )


class ChoiceInput(InputSerializer):
    text = serializers.CharField(max_length=500)
    is_correct = serializers.BooleanField(default=False)


class QuestionInput(InputSerializer):
    text = serializers.CharField(max_length=2000)
    kind = serializers.ChoiceField(choices=Question.Kind.choices, default=Question.Kind.SINGLE)
    choices = ChoiceInput(many=True, min_length=2, max_length=10)


class QuizInput(InputSerializer):
    pass_mark = serializers.IntegerField(min_value=0, max_value=100, default=70)
    max_attempts = serializers.IntegerField(
        min_value=1,
        max_value=100,
        default=Quiz.DEFAULT_MAX_ATTEMPTS,
        help_text="Attempts a learner may make per window.",
    )
    attempt_window_hours = serializers.IntegerField(
        min_value=1,
        max_value=720,
        default=Quiz.DEFAULT_ATTEMPT_WINDOW_HOURS,
        help_text="Length of the attempt window, in hours.",
    )
    questions = QuestionInput(many=True, min_length=1, max_length=50)


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "format": "uuid"},
        "maxItems": MAX_LESSON_ATTACHMENTS,
        "uniqueItems": True,
    }
)
class DistinctMediaIdsField(serializers.ListField):
    """Media ids, each at most once."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.UUIDField(), **kwargs)

    def to_internal_value(self, data):
        ids = super().to_internal_value(data)
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError("A file is listed more than once.")
        return ids


class LessonInput(InputSerializer):
    title = serializers.CharField(max_length=200)
    position = serializers.IntegerField(min_value=0, max_value=10_000, required=False)
    body_markdown = serializers.CharField(max_length=100_000, required=False, allow_blank=True)
    video_url = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        validators=[URLValidator(schemes=["https", "http"])],
    )
    duration_seconds = serializers.IntegerField(min_value=0, max_value=86_400, required=False)
    is_preview = serializers.BooleanField(required=False)
    quiz = QuizInput(required=False, allow_null=True)
    attachments = DistinctMediaIdsField(
        required=False,
        max_length=MAX_LESSON_ATTACHMENTS,
        help_text=(
            "Ids of your uploaded lesson_attachment media files, in display order. On update "
            "the list replaces the lesson's attachments; files left out are released."
        ),
    )


class ChoiceOutput(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()  # is_correct is never sent


class QuestionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    kind = serializers.CharField()
    choices = ChoiceOutput(many=True, source="choices.all")


class QuizOutput(serializers.Serializer):
    id = serializers.IntegerField()
    pass_mark = serializers.IntegerField()
    max_attempts = serializers.IntegerField(help_text="Attempts per window; then 429.")
    attempt_window_hours = serializers.IntegerField()
    questions = QuestionOutput(many=True, source="questions.all")


class LessonOutput(serializers.Serializer):
    """Outline fields for everyone who sees the course; content only when `content_available`."""

    id = serializers.IntegerField()
    course = serializers.SlugField(source="course.slug")
    position = serializers.IntegerField()
    title = serializers.CharField()
    duration_seconds = serializers.IntegerField()
    is_preview = serializers.BooleanField()
    has_quiz = serializers.SerializerMethodField()
    content_available = serializers.SerializerMethodField()
    body_html = serializers.SerializerMethodField()
    video_url = serializers.SerializerMethodField()
    quiz = serializers.SerializerMethodField()
    attachments = serializers.SerializerMethodField(
        help_text="The lesson's files in order; null when the content is not available."
    )

    def _visible(self, lesson) -> bool:
        return lesson.id in self.context["visible_lesson_ids"]

    def get_has_quiz(self, lesson) -> bool:
        return hasattr(lesson, "quiz")

    def get_content_available(self, lesson) -> bool:
        return self._visible(lesson)

    def get_body_html(self, lesson) -> str | None:
        """Images only from the lesson's own image attachments, as fresh signed URLs."""
        if not self._visible(lesson):
            return None
        if "<img" not in lesson.body_html:
            return lesson.body_html
        # Prefetched with their files by selectors.lessons_for_course.
        image_urls = {
            str(link.media_id): media_selectors.media_url(media=link.media)
            for link in lesson.attachment_links.all()
            if link.media.content_type in IMAGE_TYPES and link.media.is_ready
        }
        return lesson_html_for_reader(lesson.body_html, image_urls)

    def get_video_url(self, lesson) -> str | None:
        return lesson.video_url if self._visible(lesson) else None

    @extend_schema_field(QuizOutput(allow_null=True))
    def get_quiz(self, lesson):
        if not self._visible(lesson) or not hasattr(lesson, "quiz"):
            return None
        return QuizOutput(lesson.quiz).data

    @extend_schema_field(MediaRefOutput(many=True, allow_null=True))
    def get_attachments(self, lesson):
        if not self._visible(lesson):
            return None
        # Prefetched with their files by selectors.lessons_for_course.
        files = [link.media for link in lesson.attachment_links.all()]
        return MediaRefOutput(files, many=True).data


class QuizAttemptInput(InputSerializer):
    answers = serializers.DictField(
        child=serializers.ListField(child=IdField(), max_length=20),
        allow_empty=True,
    )


class QuizAttemptOutput(serializers.Serializer):
    id = serializers.IntegerField()
    score = serializers.IntegerField()
    passed = serializers.BooleanField()
    pass_mark = serializers.IntegerField(source="quiz.pass_mark")
    created_at = serializers.DateTimeField()


class EnrollmentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    course = CourseListOutput()
    status = serializers.CharField()
    progress_percent = serializers.IntegerField()
    completed_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class ProgressOutput(serializers.Serializer):
    lesson_id = serializers.IntegerField()
    course = serializers.SlugField()
    progress_percent = serializers.IntegerField()
    completed_at = serializers.DateTimeField(allow_null=True)
    course_completed = serializers.BooleanField()


class ReviewInput(InputSerializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    text = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class ReviewOutput(serializers.Serializer):
    id = serializers.IntegerField()
    user = UserSummary()
    rating = serializers.IntegerField()
    text = serializers.CharField()
    created_at = serializers.DateTimeField()


class DailyStatsOutput(serializers.Serializer):
    day = serializers.DateField()
    new_enrollments = serializers.IntegerField()
    completions = serializers.IntegerField()
    active_learners = serializers.IntegerField()
    quiz_attempts = serializers.IntegerField()
    quiz_pass_rate = serializers.FloatField(allow_null=True)


class CourseStatsOutput(serializers.Serializer):
    enrollments = serializers.IntegerField()
    completions = serializers.IntegerField()
    completion_rate = serializers.FloatField()
    average_quiz_score = serializers.FloatField(allow_null=True)
    quiz_attempts = serializers.IntegerField()
    quiz_pass_rate = serializers.FloatField(allow_null=True)
    lesson_count = serializers.IntegerField()
    rating = serializers.FloatField(allow_null=True)
    rating_count = serializers.IntegerField()
    daily = DailyStatsOutput(many=True)
