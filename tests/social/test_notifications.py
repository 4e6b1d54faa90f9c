from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.core import events
from apps.social import services
from apps.social.models import Notification
from tests.factories import UserFactory, client_for
from tests.social.conftest import assert_error
from tests.social.factories import CommentFactory, PostFactory, users_bulk

pytestmark = pytest.mark.django_db

INBOX = "/api/v1/notifications/"
READ = "/api/v1/notifications/read/"


def like(client, post):
    return client.post(f"/api/v1/posts/{post.pk}/like/")


def unlike(client, post):
    return client.delete(f"/api/v1/posts/{post.pk}/like/")


def test_a_like_notifies_the_author_after_commit_only(
    user_client, user, django_capture_on_commit_callbacks
):
    post = PostFactory()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        like(user_client, post)
        assert not Notification.objects.exists()
    assert callbacks
    note = Notification.objects.get()
    assert (note.recipient, note.actor, note.verb, note.target_type, note.target_id) == (
        post.author,
        user,
        "like",
        "post",
        post.pk,
    )
    assert note.read_at is None


def test_nothing_is_notified_when_the_write_rolls_back(user, django_capture_on_commit_callbacks):
    post = PostFactory()
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.like_create(user=user, post=post)
        raise RuntimeError("something later in the request failed")
    assert not Notification.objects.exists()


def test_nobody_is_notified_of_their_own_actions(
    user_client, user, django_capture_on_commit_callbacks
):
    post = PostFactory(author=user)
    with django_capture_on_commit_callbacks(execute=True):
        like(user_client, post)
        user_client.post(f"/api/v1/posts/{post.pk}/comments/", {"body": "me again"})
        services.notification_create(recipient=user, actor=user, verb="like")
    assert not Notification.objects.exists()


def test_like_unlike_like_does_not_spam(user_client, user, django_capture_on_commit_callbacks):
    post = PostFactory()
    with django_capture_on_commit_callbacks(execute=True):
        like(user_client, post)
        unlike(user_client, post)
        like(user_client, post)
        unlike(user_client, post)
        like(user_client, post)
    assert Notification.objects.filter(recipient=post.author, verb="like").count() == 1
    # Once read, a later like is news again.
    client_for(post.author).post(READ, {"all": True})
    with django_capture_on_commit_callbacks(execute=True):
        unlike(user_client, post)
        like(user_client, post)
    assert Notification.objects.filter(recipient=post.author, verb="like").count() == 2
    assert Notification.objects.filter(recipient=post.author, read_at__isnull=True).count() == 1


def test_comments_and_replies_notify_the_right_people(django_capture_on_commit_callbacks):
    post = PostFactory()
    commenter = UserFactory()
    replier = UserFactory()
    comment = CommentFactory(post=post, author=commenter)
    with django_capture_on_commit_callbacks(execute=True):
        client_for(replier).post(
            f"/api/v1/posts/{post.pk}/comments/", {"body": "Good point", "parent": comment.pk}
        )
    received = set(Notification.objects.values_list("recipient_id", "actor_id", "verb"))
    assert received == {
        (post.author.pk, replier.pk, "comment"),
        (commenter.pk, replier.pk, "reply"),
    }
    for note in Notification.objects.all():
        assert (note.target_type, note.target_id) == ("post", post.pk)


def test_a_follow_notifies_once(user_client, user, django_capture_on_commit_callbacks):
    star = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        user_client.post(f"/api/v1/users/{star.pk}/follow/")
        user_client.delete(f"/api/v1/users/{star.pk}/follow/")
        user_client.post(f"/api/v1/users/{star.pk}/follow/")
    note = Notification.objects.get()
    assert (note.recipient, note.actor, note.verb, note.target_type, note.target_id) == (
        star,
        user,
        "follow",
        "user",
        user.pk,
    )


def test_notification_create_for_other_apps(user):
    """Gamification announces achievements (no actor); inactive people get nothing. Written
    in the caller's transaction (the outbox delivery's), so a rollback notifies no one."""
    inactive = UserFactory(is_active=False)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.notification_create(recipient=user, verb="achievement", target_id=4)
        raise RuntimeError("the delivery failed")
    assert not Notification.objects.exists()
    services.notification_create(
        recipient=user, verb="achievement", target_type="achievement", target_id=3
    )
    services.notification_create(recipient=inactive, actor=user, verb="follow")
    note = Notification.objects.get()
    assert (note.recipient, note.actor, note.verb, note.target_id) == (
        user,
        None,
        "achievement",
        3,
    )


def test_an_unlocked_achievement_becomes_a_notification(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        events.publish(
            "achievement.unlocked", user_id=user.pk, achievement_id=9, code="first-post", name="x"
        )
    note = Notification.objects.get()
    assert (note.recipient, note.actor, note.verb, note.target_type, note.target_id) == (
        user,
        None,
        "achievement",
        "achievement",
        9,
    )


# --- The inbox -------------------------------------------------------------------------------


def _notes(user, count: int):
    actors = users_bulk(count, prefix=f"actor{user.pk}-")
    now = timezone.now()
    return Notification.objects.bulk_create(
        [
            Notification(
                recipient=user,
                actor=actor,
                verb="follow",
                target_type="user",
                target_id=actor.pk,
                created_at=now - timedelta(minutes=index),
            )
            for index, actor in enumerate(actors)
        ]
    )


def test_inbox_is_newest_first_with_the_unread_count(user_client, user):
    notes = _notes(user, 3)
    _notes(UserFactory(), 2)  # someone else's
    Notification.objects.filter(pk=notes[2].pk).update(read_at=timezone.now())

    body = user_client.get(INBOX, {"page_size": 2}).json()
    assert set(body) == {"next", "previous", "results", "unread_count"}
    assert body["unread_count"] == 2
    assert [n["id"] for n in body["results"]] == [notes[0].pk, notes[1].pk]
    first = body["results"][0]
    assert first["actor"] == {"id": notes[0].actor.pk, "display_name": notes[0].actor.display_name}
    assert (first["verb"], first["target_type"], first["target_id"]) == (
        "follow",
        "user",
        notes[0].actor.pk,
    )
    assert first["is_read"] is False and first["read_at"] is None
    rest = user_client.get(body["next"]).json()
    assert [n["id"] for n in rest["results"]] == [notes[2].pk]
    assert rest["results"][0]["is_read"] is True

    unread = user_client.get(INBOX, {"unread": "true"}).json()["results"]
    assert [n["id"] for n in unread] == [notes[0].pk, notes[1].pk]


def test_inbox_query_count_does_not_grow(user_client, user, django_assert_max_num_queries):
    _notes(user, 60)
    for page_size in (1, 50):
        with django_assert_max_num_queries(6):
            response = user_client.get(INBOX, {"page_size": page_size})
        assert len(response.json()["results"]) == page_size


def test_mark_some_read_in_one_update(user_client, user, django_assert_num_queries):
    notes = _notes(user, 4)
    foreign = _notes(UserFactory(), 1)[0]
    ids = [notes[0].pk, notes[1].pk, foreign.pk]
    with django_assert_num_queries(4) as captured:  # savepoint pair, auth, the UPDATE
        response = user_client.post(READ, {"ids": ids})
    assert response.json() == {"marked": 2}
    updates = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1
    foreign.refresh_from_db()
    assert foreign.read_at is None
    assert user_client.post(READ, {"ids": ids}).json() == {"marked": 0}
    assert user_client.get(INBOX).json()["unread_count"] == 2


def test_mark_all_read(user_client, user):
    _notes(user, 3)
    assert user_client.post(READ, {"all": True}).json() == {"marked": 3}
    assert user_client.get(INBOX).json()["unread_count"] == 0
    assert user_client.post(READ, {"all": True}).json() == {"marked": 0}


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"all": False},
        {"all": True, "ids": [1]},
        {"ids": "1,2"},
        {"ids": [0]},
        {"ids": [1] * 501},
    ],
)
def test_mark_read_validation(user_client, payload):
    assert_error(user_client.post(READ, payload), 400, "validation_error")


def test_inbox_needs_authentication(api_client):
    assert_error(api_client.get(INBOX), 401, "not_authenticated")


def test_a_redelivered_achievement_event_notifies_once(user):
    """No actor means the unread-unique index cannot catch the duplicate; the handler does."""
    event = events.DomainEvent(
        name="achievement.unlocked",
        payload={"user_id": user.pk, "achievement_id": 9, "code": "first-post", "name": "x"},
    )
    events.run_durable_handlers(event)
    events.run_durable_handlers(event)  # the outbox handed it off twice
    assert Notification.objects.filter(recipient=user, verb="achievement").count() == 1


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("like.created", {"post_id": 5}),
        ("follow.created", {}),
        ("comment.created", {"post_id": 5, "comment_id": 7, "parent_author_id": None}),
    ],
)
def test_redelivered_social_events_notify_once(user, name, payload):
    actor = UserFactory()
    people = {"user_id": actor.pk, "post_author_id": user.pk, "followee_id": user.pk}
    event = events.DomainEvent(name=name, payload={**people, **payload})
    events.run_durable_handlers(event)
    events.run_durable_handlers(event)
    assert Notification.objects.filter(recipient=user).count() == 1
