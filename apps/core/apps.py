from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        from .converters import register

        register()  # before any URLconf is imported (they use `<id:...>`)
