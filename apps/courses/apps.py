from django.apps import AppConfig


class CoursesConfig(AppConfig):
    name = "apps.courses"
    label = "courses"

    def ready(self) -> None:
        from apps.media.access import register_visibility_rule

        from .reconcile import register_checks
        from .selectors import course_cover_is_visible, lesson_attachment_is_visible

        register_visibility_rule("course_cover", course_cover_is_visible)
        register_visibility_rule("lesson_attachment", lesson_attachment_is_visible)
        register_checks()  # manage.py reconcile
