import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

pytestmark = pytest.mark.django_db


def test_declared_tasks_are_written_once_and_removed_ones_disabled(settings):
    settings.PERIODIC_TASKS = {
        "nightly": {"task": "apps.core.tasks.noop", "crontab": {"minute": 5, "hour": 2}},
    }
    call_command("setup_periodic_tasks")
    call_command("setup_periodic_tasks")
    task = PeriodicTask.objects.get(name="lyo:nightly")
    assert task.enabled and task.task == "apps.core.tasks.noop"
    assert (task.crontab.minute, task.crontab.hour) == ("5", "2")
    assert PeriodicTask.objects.filter(name__startswith="lyo:").count() == 1

    settings.PERIODIC_TASKS = {}
    call_command("setup_periodic_tasks")
    task.refresh_from_db()
    assert not task.enabled
