"""Write the periodic tasks declared in settings.PERIODIC_TASKS into celery-beat's tables.

Declared in code so every environment gets the same schedule; safe to run on every release.
Tasks removed from the declaration are disabled, not deleted, so their history stays.
"""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

MANAGED_PREFIX = "lyo:"


class Command(BaseCommand):
    help = "Create or update the periodic tasks declared in settings.PERIODIC_TASKS."

    @transaction.atomic
    def handle(self, *args, **options):
        declared = settings.PERIODIC_TASKS
        for name, spec in declared.items():
            schedule, _ = CrontabSchedule.objects.get_or_create(
                timezone="UTC", **{key: str(value) for key, value in spec["crontab"].items()}
            )
            PeriodicTask.objects.update_or_create(
                name=MANAGED_PREFIX + name,
                defaults={"task": spec["task"], "crontab": schedule, "enabled": True},
            )
        stale = PeriodicTask.objects.filter(name__startswith=MANAGED_PREFIX).exclude(
            name__in=[MANAGED_PREFIX + name for name in declared]
        )
        disabled = stale.update(enabled=False)
        self.stdout.write(f"{len(declared)} periodic task(s) declared, {disabled} disabled.")
