import pytest
from django.db import connection, transaction

from apps.core import events
from apps.courses.models import Course
from apps.social import services
from apps.social.models import Comment, Post
from tests.courses.factories import CourseFactory
from tests.factories import UserFactory, client_for
from tests.social.factories import PostFactory, StudyGroupFactory

NAMES = (
    "post.created",
    "comment.created",
    "like.created",
    "follow.created",
    "group.join_requested",
    "group.join_approved",
    "group.member_joined",
)


@pytest.fixture
def heard():
    """A test subscriber recording each event and whether a transaction was still open."""
    seen: list[tuple[str, dict, bool]] = []

    def handler(event: events.DomainEvent) -> None:
        seen.append((event.name, event.payload, connection.in_atomic_block))

    for name in NAMES:
        events.subscribe(name, handler)
    yield seen
    for name in NAMES:
        events.unsubscribe(name, handler)


@pytest.mark.django_db(transaction=True)
def test_events_are_delivered_after_the_request_commits(heard):
    author, fan = UserFactory(), UserFactory()
    author_client, fan_client = client_for(author), client_for(fan)

    course = CourseFactory(status=Course.Status.PUBLISHED).pk
    post_id = author_client.post("/api/v1/posts/", {"body": "Hello", "course": course}).json()["id"]
    fan_client.post(f"/api/v1/posts/{post_id}/like/")
    fan_client.post(f"/api/v1/posts/{post_id}/like/")  # idempotent: no second event
    comment_id = fan_client.post(f"/api/v1/posts/{post_id}/comments/", {"body": "Hi"}).json()["id"]
    fan_client.post(f"/api/v1/users/{author.pk}/follow/")
    fan_client.post(f"/api/v1/users/{author.pk}/follow/")

    assert [(name, payload) for name, payload, _ in heard] == [
        (
            "post.created",
            {"post_id": post_id, "user_id": author.pk, "group_id": None, "course_id": course},
        ),
        ("like.created", {"user_id": fan.pk, "post_id": post_id, "post_author_id": author.pk}),
        (
            "comment.created",
            {
                "comment_id": comment_id,
                "post_id": post_id,
                "user_id": fan.pk,
                "post_author_id": author.pk,
                "parent_author_id": None,
            },
        ),
        ("follow.created", {"user_id": fan.pk, "followee_id": author.pk}),
    ]
    assert all(not in_transaction for _, _, in_transaction in heard)


@pytest.mark.django_db(transaction=True)
def test_no_event_when_the_transaction_rolls_back(heard):
    author = UserFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.post_create(author=author, body="Draft")
        assert heard == []
        raise RuntimeError("abort")
    assert heard == []
    assert not Post.objects.exists()


@pytest.mark.django_db
def test_group_events(heard, django_capture_on_commit_callbacks):
    group = StudyGroupFactory(is_private=True)
    public = StudyGroupFactory()
    person = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        services.group_join(group=group, user=person)
        services.group_join(group=public, user=person)
        services.membership_approve(group=group, actor=group.owner, user_id=person.pk)
    assert [(name, payload) for name, payload, _ in heard] == [
        ("group.join_requested", {"group_id": group.pk, "user_id": person.pk}),
        ("group.member_joined", {"group_id": public.pk, "user_id": person.pk}),
        (
            "group.join_approved",
            {"group_id": group.pk, "user_id": person.pk, "approved_by_id": group.owner.pk},
        ),
        ("group.member_joined", {"group_id": group.pk, "user_id": person.pk}),
    ]


@pytest.mark.django_db
def test_reply_event_names_the_parent_author(heard, django_capture_on_commit_callbacks):
    post = PostFactory()
    parent_author = UserFactory()
    parent = services.comment_create(author=parent_author, post=post, body="First")
    with django_capture_on_commit_callbacks(execute=True):
        reply = services.comment_create(
            author=UserFactory(), post=post, body="Second", parent_id=parent.pk
        )
    [(name, payload, _)] = [entry for entry in heard if entry[1]["comment_id"] == reply.pk]
    assert name == "comment.created"
    assert payload["parent_author_id"] == parent_author.pk
    assert Comment.objects.get(pk=reply.pk).parent == parent
