from django.apps import AppConfig


class SocialConfig(AppConfig):
    name = "apps.social"
    label = "social"

    def ready(self) -> None:
        from apps.media.access import register_visibility_rule

        from .handlers import subscribe_all
        from .reconcile import register_checks
        from .selectors import post_image_is_visible

        subscribe_all()
        register_visibility_rule("post_image", post_image_is_visible)
        register_checks()  # manage.py reconcile
