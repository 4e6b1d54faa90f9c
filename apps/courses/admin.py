from django.contrib import admin

from .models import (
    Category,
    Choice,
    Course,
    CourseDailyStats,
    Enrollment,
    Lesson,
    LessonAttachment,
    Question,
    Quiz,
    QuizAttempt,
    Review,
    Tag,
)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}


class LessonInline(admin.TabularInline):
    model = Lesson
    fields = ("position", "title", "duration_seconds", "is_preview")
    ordering = ("position", "id")
    extra = 0
    show_change_link = True


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ("title", "instructor", "status", "published_at", "enrollment_count")
    list_filter = ("status", "level", "language", "category")
    search_fields = ("title", "slug", "instructor__email")
    list_select_related = ("instructor", "category")
    autocomplete_fields = ("instructor",)
    filter_horizontal = ("tags",)
    readonly_fields = (
        "lesson_count",
        "enrollment_count",
        "rating_count",
        "rating_avg",
        "created_at",
        "updated_at",
    )
    exclude = ("rating_sum",)
    inlines = [LessonInline]


class QuizInline(admin.StackedInline):
    model = Quiz
    extra = 0
    show_change_link = True


class LessonAttachmentInline(admin.TabularInline):
    """Read-only: attachments change through the API, which attaches and releases the files."""

    model = LessonAttachment
    fields = ("position", "media")
    readonly_fields = fields
    ordering = ("position", "id")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Lesson)
class LessonAdmin(admin.ModelAdmin):
    list_display = ("title", "course", "position", "is_preview")
    list_filter = ("is_preview",)
    search_fields = ("title", "course__title")
    list_select_related = ("course",)
    ordering = ("course", "position", "id")
    readonly_fields = ("body_html",)
    inlines = [QuizInline, LessonAttachmentInline]


class QuestionInline(admin.StackedInline):
    model = Question
    extra = 0
    show_change_link = True


@admin.register(Quiz)
class QuizAdmin(admin.ModelAdmin):
    list_display = ("lesson", "pass_mark", "max_attempts", "attempt_window_hours")
    search_fields = ("lesson__title",)
    inlines = [QuestionInline]


class ChoiceInline(admin.TabularInline):
    model = Choice
    extra = 0


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ("text", "quiz", "kind", "position")
    inlines = [ChoiceInline]


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ("user", "course", "status", "progress_percent", "created_at", "completed_at")
    list_filter = ("status",)
    search_fields = ("user__email", "course__title", "course__slug")
    list_select_related = ("user", "course")
    raw_id_fields = ("user", "course")


@admin.register(QuizAttempt)
class QuizAttemptAdmin(admin.ModelAdmin):
    list_display = ("user", "quiz", "score", "passed", "created_at")
    list_filter = ("passed",)
    search_fields = ("user__email",)
    raw_id_fields = ("user", "quiz")


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ("course", "user", "rating", "created_at")
    list_filter = ("rating",)
    search_fields = ("course__title", "user__email", "text")
    raw_id_fields = ("user", "course")


@admin.register(CourseDailyStats)
class CourseDailyStatsAdmin(admin.ModelAdmin):
    list_display = ("course", "day", "new_enrollments", "completions", "active_learners")
    list_filter = ("day",)
    search_fields = ("course__title",)

    def has_change_permission(self, request, obj=None) -> bool:
        return False
