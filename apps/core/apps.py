from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        from . import (
            checks,  # noqa: F401 - registers the deploy checks of the secrets
            outbox,
            reconcile,
        )
        from .converters import register

        register()  # before any URLconf is imported (they use `<id:...>`)
        reconcile.register("core.outbox", outbox.stuck_check)  # manage.py reconcile
