import threading
from datetime import UTC, datetime

import pytest
from django.db import connection

from apps.core import events
from apps.gamification import services
from apps.gamification.models import UserStats, XPRule, XPTransaction
from apps.gamification.tasks import award_xp_for_event
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def award(user, key, action="lesson.completed", **kwargs):
    return services.xp_award(user_id=user.pk, action=action, source_key=key, **kwargs)


def ledger_total(user) -> int:
    return sum(XPTransaction.objects.filter(user=user).values_list("points", flat=True))


def test_an_award_moves_ledger_and_stats_together(user):
    entry = award(user, "lesson.completed:1:1")
    assert (entry.points, entry.action) == (10, "lesson.completed")
    stats = UserStats.objects.get(user=user)
    # 10 for the lesson + 10 for the "first-lesson" achievement it unlocked
    assert (stats.xp_total, stats.level, stats.current_streak) == (20, 1, 1)
    assert stats.xp_total == ledger_total(user)


def test_the_same_source_key_never_awards_twice(user):
    assert award(user, "lesson.completed:1:1") is not None
    total = UserStats.objects.get(user=user).xp_total
    assert award(user, "lesson.completed:1:1") is None
    assert XPTransaction.objects.filter(action="lesson.completed").count() == 1
    assert UserStats.objects.get(user=user).xp_total == total == ledger_total(user)


def test_daily_caps_hold(user):
    # post.created: 2 XP each, at most 20 a day
    results = [award(user, f"post.created:{user.pk}:{n}", action="post.created") for n in range(12)]
    assert sum(r.points for r in results if r) == 20
    assert sum(1 for r in results if r is None) == 2


def test_inactive_or_unknown_rules_award_nothing(user):
    XPRule.objects.filter(action="lesson.completed").update(active=False)
    assert award(user, "k1") is None
    assert award(user, "k2", action="no.such.action") is None


def test_rules_are_data(user):
    XPRule.objects.filter(action="lesson.completed").update(points=33)
    assert award(user, "k").points == 33


def test_level_up_is_announced(user, django_capture_on_commit_callbacks):
    XPRule.objects.filter(action="course.completed").update(points=350)
    heard = []
    events.subscribe("level.up", heard.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            award(user, "course.completed:x", action="course.completed")
    finally:
        events.unsubscribe("level.up", heard.append)
    assert UserStats.objects.get(user=user).level == 3  # 350 XP: level 3 starts at 300
    assert [e.payload for e in heard] == [{"user_id": user.pk, "level": 3}]


def test_the_ledger_is_append_only(user):
    entry = award(user, "k")
    entry.points = 1000
    with pytest.raises(ValueError):
        entry.save()


def test_a_task_run_twice_awards_once(user):
    payload = {"user_id": user.pk, "lesson_id": 7, "course_id": None}
    when = datetime(2026, 5, 1, 12, tzinfo=UTC).isoformat()
    assert award_xp_for_event.apply(args=("lesson.completed", payload, when)).get() == 1
    assert award_xp_for_event.apply(args=("lesson.completed", payload, when)).get() == 0
    assert XPTransaction.objects.filter(user=user, action="lesson.completed").count() == 1


def test_perfect_quiz_earns_a_bonus_once(user):
    payload = {"user_id": user.pk, "quiz_id": 3, "lesson_id": 1, "course_id": None, "score": 100}
    when = datetime(2026, 5, 1, 12, tzinfo=UTC)
    services.xp_award_for_event(name="quiz.passed", payload=payload, occurred_at=when)
    services.xp_award_for_event(name="quiz.passed", payload=payload, occurred_at=when)
    actions = sorted(XPTransaction.objects.filter(user=user).values_list("action", flat=True))
    assert "quiz.perfect" in actions and actions.count("quiz.passed") == 1


@pytest.mark.django_db(transaction=True)
def test_fifty_threads_with_one_source_key_make_one_ledger_row():
    user = UserFactory()
    barrier = threading.Barrier(50)

    def run():
        try:
            barrier.wait(timeout=30)
            award(user, "lesson.completed:race:1")
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert XPTransaction.objects.filter(source_key="lesson.completed:race:1").count() == 1
    assert XPTransaction.objects.filter(user=user, action="lesson.completed").count() == 1
    assert UserStats.objects.get(user=user).xp_total == ledger_total(user)


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_distinct_awards_leave_an_exact_total():
    user = UserFactory()
    barrier = threading.Barrier(50)

    def run(n: int):
        try:
            barrier.wait(timeout=30)
            award(user, f"lesson.completed:{user.pk}:{n}")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    stats = UserStats.objects.get(user=user)
    lessons = XPTransaction.objects.filter(user=user, action="lesson.completed")
    assert lessons.count() == 50
    assert stats.xp_total == ledger_total(user) >= 500
