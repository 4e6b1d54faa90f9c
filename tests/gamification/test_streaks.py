from datetime import UTC, datetime

import pytest
from django.core import mail

from apps.gamification import services
from apps.gamification.models import UserStats, XPTransaction
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def learn(user, when: datetime, n: int):
    return services.xp_award(
        user_id=user.pk,
        action="lesson.completed",
        source_key=f"lesson.completed:{user.pk}:{n}",
        occurred_at=when,
    )


def stats(user) -> UserStats:
    return UserStats.objects.select_related("user").get(user=user)


def test_consecutive_local_days_extend_and_a_missed_day_resets():
    user = UserFactory(timezone="Europe/Paris")
    learn(user, datetime(2026, 6, 1, 9, tzinfo=UTC), 1)
    learn(user, datetime(2026, 6, 1, 20, tzinfo=UTC), 2)  # same local day
    learn(user, datetime(2026, 6, 2, 9, tzinfo=UTC), 3)
    assert (stats(user).current_streak, stats(user).longest_streak) == (2, 2)
    # The streak bonus was paid once, for the second day.
    assert XPTransaction.objects.filter(user=user, action="streak.daily").count() == 1

    learn(user, datetime(2026, 6, 4, 9, tzinfo=UTC), 4)  # June 3rd missed
    assert (stats(user).current_streak, stats(user).longest_streak) == (1, 2)


def test_days_are_counted_in_the_learners_time_zone():
    # 23:30 and 00:30 UTC are the same local day in New York, different days in UTC.
    new_york = UserFactory(timezone="America/New_York")
    utc = UserFactory(timezone="UTC")
    for user in (new_york, utc):
        learn(user, datetime(2026, 6, 1, 23, 30, tzinfo=UTC), 1)
        learn(user, datetime(2026, 6, 2, 0, 30, tzinfo=UTC), 2)
    assert stats(new_york).current_streak == 1
    assert stats(utc).current_streak == 2

    # Auckland is UTC+12: 11:00 and 13:00 UTC fall on different local days.
    auckland = UserFactory(timezone="Pacific/Auckland")
    learn(auckland, datetime(2026, 6, 1, 11, tzinfo=UTC), 1)
    learn(auckland, datetime(2026, 6, 1, 13, tzinfo=UTC), 2)
    assert stats(auckland).current_streak == 2


def test_streaks_survive_a_daylight_saving_change():
    # US clocks spring forward on 2026-03-08: that local day has only 23 hours.
    user = UserFactory(timezone="America/New_York")
    learn(user, datetime(2026, 3, 8, 4, 30, tzinfo=UTC), 1)  # Mar 7, 23:30 EST
    learn(user, datetime(2026, 3, 9, 3, 30, tzinfo=UTC), 2)  # Mar 8, 23:30 EDT
    learn(user, datetime(2026, 3, 9, 4, 30, tzinfo=UTC), 3)  # Mar 9, 00:30 EDT
    assert stats(user).current_streak == 3
    # ...and fall back on 2026-11-01 (25 hours): still one day each.
    other = UserFactory(timezone="America/New_York")
    learn(other, datetime(2026, 11, 1, 4, 0, tzinfo=UTC), 1)  # Nov 1, 00:00 EDT
    learn(other, datetime(2026, 11, 2, 4, 30, tzinfo=UTC), 2)  # Nov 1, 23:30 EST
    assert stats(other).current_streak == 1
    learn(other, datetime(2026, 11, 2, 5, 30, tzinfo=UTC), 3)  # Nov 2, 00:30 EST
    assert stats(other).current_streak == 2


def test_only_learning_counts_toward_streaks():
    user = UserFactory()
    services.xp_award(
        user_id=user.pk,
        action="post.created",
        source_key="post.created:1",
        occurred_at=datetime(2026, 6, 1, tzinfo=UTC),
    )
    assert stats(user).current_streak == 0


def test_broken_streaks_are_closed_and_read_as_zero():
    user = UserFactory(timezone="UTC")
    learn(user, datetime(2026, 6, 1, 9, tzinfo=UTC), 1)
    learn(user, datetime(2026, 6, 2, 9, tzinfo=UTC), 2)
    assert services.streak_current(stats=stats(user), now=datetime(2026, 6, 3, 22, tzinfo=UTC)) == 2
    later = datetime(2026, 6, 4, 1, tzinfo=UTC)
    assert services.streak_current(stats=stats(user), now=later) == 0
    assert services.streaks_close_broken(now=later) == 1
    assert (stats(user).current_streak, stats(user).longest_streak) == (0, 2)


def test_streak_reminders_once_a_day_and_only_for_those_who_want_them(
    django_capture_on_commit_callbacks,
):
    keen = UserFactory(timezone="Europe/Paris", email="keen@example.com")
    quiet = UserFactory(timezone="Europe/Paris", email="quiet@example.com")
    for user in (keen, quiet):
        learn(user, datetime(2026, 6, 1, 9, tzinfo=UTC), 1)
        learn(user, datetime(2026, 6, 2, 9, tzinfo=UTC), 2)
    UserStats.objects.filter(user=quiet).update(streak_reminders=False)

    morning = datetime(2026, 6, 3, 7, tzinfo=UTC)  # 09:00 in Paris: too early
    evening = datetime(2026, 6, 3, 17, tzinfo=UTC)  # 19:00 in Paris
    with django_capture_on_commit_callbacks(execute=True):
        assert services.streak_reminders_send(now=morning) == 0
        assert services.streak_reminders_send(now=evening) == 1
        assert services.streak_reminders_send(now=evening) == 0
    assert [m.to for m in mail.outbox] == [["keen@example.com"]]
    assert "2-day streak" in mail.outbox[0].subject
