from django.apps import AppConfig


class SocialConfig(AppConfig):
    name = "apps.social"
    label = "social"

    def ready(self) -> None:
        from .handlers import subscribe_all

        subscribe_all()
