"""Courses: the catalog, lessons with quizzes, and each learner's enrollment and progress."""

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q


class Category(models.Model):
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)
    slug = models.SlugField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Course(models.Model):
    class Level(models.TextChoices):
        BEGINNER = "beginner"
        INTERMEDIATE = "intermediate"
        ADVANCED = "advanced"

    class Status(models.TextChoices):
        DRAFT = "draft"
        PUBLISHED = "published"
        ARCHIVED = "archived"

    slug = models.SlugField(max_length=120, unique=True)
    title = models.CharField(max_length=200)
    summary = models.CharField(max_length=300, blank=True)
    description = models.TextField(max_length=20000, blank=True)
    level = models.CharField(max_length=20, choices=Level.choices, default=Level.BEGINNER)
    language = models.CharField(max_length=10, default="en")
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="courses"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="courses")
    instructor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="courses_taught"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    cover = models.ForeignKey(
        "media.MediaFile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Denormalised so the catalog lists and orders without aggregating per request; kept exact
    # by the services with F() updates in the same transaction as the rows they count.
    lesson_count = models.PositiveIntegerField(default=0)
    enrollment_count = models.PositiveIntegerField(default=0)
    rating_count = models.PositiveIntegerField(default=0)
    rating_sum = models.PositiveIntegerField(default=0)
    rating_avg = models.FloatField(default=0)

    # Full-text search document (PostgreSQL); maintained by the services, GIN-indexed.
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["-published_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-published_at", "-id"], name="course_newest"),
            models.Index(fields=["status", "-enrollment_count", "-id"], name="course_popular"),
            models.Index(fields=["status", "-rating_avg", "-id"], name="course_rating"),
            models.Index(fields=["status", "level"], name="course_level"),
            models.Index(fields=["status", "language"], name="course_language"),
            models.Index(fields=["instructor", "status"], name="course_instructor"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


class Lesson(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="lessons")
    position = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body_markdown = models.TextField(max_length=100_000, blank=True)
    body_html = models.TextField(blank=True, editable=False)  # sanitized rendering
    video_url = models.URLField(blank=True)
    duration_seconds = models.PositiveIntegerField(default=0)
    is_preview = models.BooleanField(default=False)
    attachments = models.ManyToManyField(
        "media.MediaFile", through="LessonAttachment", related_name="+", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["course", "position", "id"]
        indexes = [models.Index(fields=["course", "position", "id"], name="lesson_order")]

    def __str__(self) -> str:
        return self.title


class LessonAttachment(models.Model):
    """A file of a lesson (purpose lesson_attachment), in the order its author listed them.

    Written only by the lesson services, which attach and detach the files in apps.media.
    """

    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="attachment_links")
    # Deleting the file (its owner, or the orphan cleanup) removes it from the lesson.
    media = models.ForeignKey("media.MediaFile", on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["lesson", "position", "id"]
        constraints = [
            # A file is used by one thing at a time (apps.media.services.media_attach).
            models.UniqueConstraint(fields=["media"], name="lesson_attachment_media_once"),
            models.UniqueConstraint(
                fields=["lesson", "position"], name="lesson_attachment_position_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.media_id} on lesson {self.lesson_id}"


class Quiz(models.Model):
    """A lesson's quiz; the lesson completes on a passing attempt. Attempts are limited per
    learner to `max_attempts` in any `attempt_window_hours` (each score tells how many answers
    were right, so unlimited attempts would reveal the answer key)."""

    DEFAULT_MAX_ATTEMPTS = 3
    DEFAULT_ATTEMPT_WINDOW_HOURS = 24

    lesson = models.OneToOneField(Lesson, on_delete=models.CASCADE, related_name="quiz")
    pass_mark = models.PositiveSmallIntegerField(default=70, help_text="Percent needed to pass")
    # Database defaults too: the previous release's code inserts quizzes without them.
    max_attempts = models.PositiveSmallIntegerField(
        default=DEFAULT_MAX_ATTEMPTS,
        db_default=DEFAULT_MAX_ATTEMPTS,
        help_text="Attempts a learner may make per window",
    )
    attempt_window_hours = models.PositiveSmallIntegerField(
        default=DEFAULT_ATTEMPT_WINDOW_HOURS,
        db_default=DEFAULT_ATTEMPT_WINDOW_HOURS,
        help_text="Length of that window, in hours",
    )

    class Meta:
        verbose_name_plural = "quizzes"
        constraints = [
            models.CheckConstraint(
                condition=Q(pass_mark__gte=0, pass_mark__lte=100), name="quiz_pass_mark_percent"
            ),
            models.CheckConstraint(
                condition=Q(max_attempts__gte=1, max_attempts__lte=100),
                name="quiz_max_attempts_range",
            ),
            models.CheckConstraint(
                condition=Q(attempt_window_hours__gte=1, attempt_window_hours__lte=720),
                name="quiz_attempt_window_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Quiz for {self.lesson}"


class Question(models.Model):
    class Kind(models.TextChoices):
        SINGLE = "single"
        MULTIPLE = "multiple"

    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveIntegerField(default=0)
    text = models.TextField(max_length=2000)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SINGLE)

    class Meta:
        ordering = ["quiz", "position", "id"]

    def __str__(self) -> str:
        return self.text[:60]


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    text = models.CharField(max_length=500)
    is_correct = models.BooleanField(default=False)

    class Meta:
        ordering = ["question", "id"]

    def __str__(self) -> str:
        return self.text


class Enrollment(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        COMPLETED = "completed"
        CANCELLED = "cancelled"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrollments"
    )
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="enrollments")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    progress_percent = models.PositiveSmallIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "course"], name="enrollment_once_per_course"),
            models.CheckConstraint(
                condition=Q(progress_percent__lte=100), name="enrollment_progress_percent"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "status", "-created_at"], name="enrollment_mine"),
            models.Index(fields=["course", "status"], name="enrollment_course"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.course_id}"

    @property
    def is_current(self) -> bool:
        return self.status != self.Status.CANCELLED


class LessonProgress(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lesson_progress"
    )
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="progress")
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="progress")
    completed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "lesson"], name="lesson_completed_once"),
        ]
        indexes = [models.Index(fields=["enrollment"], name="progress_enrollment")]

    def __str__(self) -> str:
        return f"{self.user_id} completed {self.lesson_id}"


class QuizAttempt(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quiz_attempts"
    )
    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="attempts")
    answers = models.JSONField(default=dict)
    score = models.PositiveSmallIntegerField()
    passed = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["quiz", "user"], name="attempt_quiz_user")]

    def __str__(self) -> str:
        return f"{self.user_id} scored {self.score} on {self.quiz_id}"


class Review(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="course_reviews"
    )
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="reviews")
    rating = models.PositiveSmallIntegerField()
    text = models.TextField(max_length=5000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "course"], name="review_once_per_course"),
            models.CheckConstraint(condition=Q(rating__gte=1, rating__lte=5), name="review_1_to_5"),
        ]
        indexes = [models.Index(fields=["course", "-created_at", "-id"], name="review_course")]

    def __str__(self) -> str:
        return f"{self.rating}/5 for {self.course_id}"


class CourseDailyStats(models.Model):
    """Per-course figures for one UTC day, written by the nightly aggregation task."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="daily_stats")
    day = models.DateField()
    new_enrollments = models.PositiveIntegerField(default=0)
    completions = models.PositiveIntegerField(default=0)
    active_learners = models.PositiveIntegerField(default=0)
    quiz_attempts = models.PositiveIntegerField(default=0)
    quiz_passes = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["course", "-day"]
        constraints = [
            models.UniqueConstraint(fields=["course", "day"], name="course_stats_once_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.course_id} on {self.day}"

    @property
    def quiz_pass_rate(self) -> float | None:
        return round(self.quiz_passes / self.quiz_attempts, 4) if self.quiz_attempts else None
