from django.apps import AppConfig


class MediaConfig(AppConfig):
    name = "apps.media"
    label = "media"
    verbose_name = "Media"

    def ready(self) -> None:
        from .access import avatar_is_visible, register_visibility_rule
        from .policies import Purpose

        register_visibility_rule(Purpose.AVATAR, avatar_is_visible)
