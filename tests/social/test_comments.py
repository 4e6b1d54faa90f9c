from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.models import AuditEvent
from apps.social.models import Comment, Post
from tests.factories import UserFactory, client_for
from tests.social.concurrency import run_concurrently
from tests.social.conftest import assert_error
from tests.social.factories import CommentFactory, PostFactory, users_bulk


def comments_url(post) -> str:
    return f"/api/v1/posts/{post.pk}/comments/"


def comment_url(comment) -> str:
    return f"/api/v1/comments/{comment.pk}/"


@pytest.mark.django_db
def test_comment_and_reply_are_created_sanitized_and_counted(user_client, user):
    post = PostFactory()
    response = user_client.post(comments_url(post), {"body": "Nice <script>x</script><em>!</em>"})
    assert response.status_code == 201, response.content
    comment = response.json()
    assert comment["body"] == "Nice <em>!</em>"
    assert comment["author"] == {"id": user.pk, "display_name": user.display_name}
    assert (comment["post_id"], comment["parent_id"]) == (post.pk, None)

    reply = user_client.post(comments_url(post), {"body": "Agreed", "parent": comment["id"]})
    assert reply.status_code == 201
    assert reply.json()["parent_id"] == comment["id"]
    post.refresh_from_db()
    assert post.comment_count == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload", [{}, {"body": ""}, {"body": "<script></script>"}, {"body": "x" * 2001}]
)
def test_comment_body_is_validated(user_client, payload):
    post = PostFactory()
    error = assert_error(user_client.post(comments_url(post), payload), 400, "validation_error")
    assert "body" in error["details"]
    post.refresh_from_db()
    assert post.comment_count == 0


@pytest.mark.django_db
def test_a_parent_must_be_a_live_top_level_comment_of_the_same_post(user_client):
    post = PostFactory()
    top = CommentFactory(post=post)
    reply = CommentFactory(post=post, parent=top)
    elsewhere = CommentFactory()
    deleted = CommentFactory(post=post, deleted_at=timezone.now())
    for parent in (reply, elsewhere, deleted):
        response = user_client.post(comments_url(post), {"body": "hi", "parent": parent.pk})
        assert "parent" in assert_error(response, 400, "validation_error")["details"]
    assert user_client.post(comments_url(post), {"body": "hi", "parent": 999999}).status_code == 400


@pytest.mark.django_db
def test_comments_on_posts_one_cannot_see_are_404(user_client):
    post = PostFactory(visibility=Post.Visibility.FOLLOWERS)
    assert_error(user_client.get(comments_url(post)), 404, "not_found")
    assert_error(user_client.post(comments_url(post), {"body": "hi"}), 404, "not_found")
    comment = CommentFactory(post=post)
    assert_error(user_client.delete(comment_url(comment)), 404, "not_found")


@pytest.mark.django_db
def test_comment_list_is_oldest_first_without_removed_comments(user_client):
    post = PostFactory()
    start = timezone.now() - timedelta(hours=1)
    first = CommentFactory(post=post, created_at=start)
    reply = CommentFactory(post=post, parent=first, created_at=start + timedelta(minutes=2))
    second = CommentFactory(post=post, created_at=start + timedelta(minutes=1))
    CommentFactory(post=post, is_hidden=True)
    CommentFactory(post=post, deleted_at=timezone.now())
    CommentFactory(post=post, author=UserFactory(is_active=False))
    CommentFactory()  # another post's

    body = user_client.get(comments_url(post), {"page_size": 2}).json()
    assert [(c["id"], c["parent_id"]) for c in body["results"]] == [
        (first.pk, None),
        (second.pk, None),
    ]
    rest = user_client.get(body["next"]).json()
    assert [(c["id"], c["parent_id"]) for c in rest["results"]] == [(reply.pk, first.pk)]
    assert rest["next"] is None


@pytest.mark.django_db
def test_comment_list_query_count_does_not_grow(user_client, django_assert_max_num_queries):
    post = PostFactory()
    people = users_bulk(60, prefix="commenter")
    Comment.objects.bulk_create([Comment(post=post, author=person, body="hi") for person in people])
    user_client.get(comments_url(post))  # the first request also fills the auth cache
    counts = []
    for page_size in (1, 50):
        # the post, the page, and the transaction (the user comes from the auth cache)
        with django_assert_max_num_queries(7) as captured:
            response = user_client.get(comments_url(post), {"page_size": page_size})
        assert len(response.json()["results"]) == page_size
        counts.append(len(captured))
    assert counts[0] == counts[1]


@pytest.mark.django_db
def test_author_deletes_a_comment_and_the_count_follows(user_client, user):
    post = PostFactory()
    comment_id = user_client.post(comments_url(post), {"body": "oops"}).json()["id"]
    comment = Comment.objects.get(pk=comment_id)
    assert user_client.delete(comment_url(comment)).status_code == 204
    comment.refresh_from_db()
    post.refresh_from_db()
    assert comment.deleted_at is not None
    assert post.comment_count == 0
    assert_error(user_client.delete(comment_url(comment)), 404, "not_found")
    post.refresh_from_db()
    assert post.comment_count == 0


@pytest.mark.django_db
def test_only_the_author_or_a_moderator_deletes_a_comment(moderator_client, moderator):
    post = PostFactory()
    author = UserFactory()
    comment_id = client_for(author).post(comments_url(post), {"body": "hm"}).json()["id"]
    comment = Comment.objects.get(pk=comment_id)
    # Not even the post's author: comments belong to whoever wrote them.
    assert_error(client_for(post.author).delete(comment_url(comment)), 403, "permission_denied")
    assert moderator_client.delete(comment_url(comment)).status_code == 204
    event = AuditEvent.objects.get(action="moderation.delete")
    assert (event.actor_id, event.target_type, event.target_id) == (
        moderator.pk,
        "social.comment",
        str(comment.pk),
    )
    post.refresh_from_db()
    assert post.comment_count == 0


@pytest.mark.django_db
def test_comments_are_throttled_per_user(user_client, throttle_rate):
    throttle_rate("comments", "2/min")
    post = PostFactory()
    for _ in range(2):
        assert user_client.post(comments_url(post), {"body": "hi"}).status_code == 201
    assert_error(user_client.post(comments_url(post), {"body": "hi"}), 429, "throttled")
    assert user_client.get(comments_url(post)).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_concurrent_comments_and_deletes_keep_the_count_exact():
    post = PostFactory()
    clients = [client_for(person) for person in users_bulk(20, prefix="commenter")]

    created = run_concurrently(
        20, lambda i: clients[i].post(comments_url(post), {"body": f"c{i}"}).json()["id"]
    )
    post.refresh_from_db()
    assert post.comment_count == 20 == Comment.objects.filter(post=post).count()

    # The same author deleting the same comment from several devices at once.
    target = Comment.objects.get(pk=created[0])
    author_client = clients[0]
    statuses = run_concurrently(8, lambda i: author_client.delete(comment_url(target)).status_code)
    assert statuses.count(204) >= 1 and set(statuses) <= {204, 404}
    post.refresh_from_db()
    assert post.comment_count == 19
