import pytest
from django.db import transaction

from apps.social import services
from apps.social.models import Like, Post
from tests.factories import UserFactory, client_for
from tests.social.concurrency import run_concurrently
from tests.social.conftest import assert_error
from tests.social.factories import PostFactory, users_bulk


def like_url(post) -> str:
    return f"/api/v1/posts/{post.pk}/like/"


@pytest.mark.django_db
def test_like_and_unlike_are_idempotent_and_counted(user_client, user):
    post = PostFactory()
    first = user_client.post(like_url(post))
    assert (first.status_code, first.json()) == (201, {"liked": True, "like_count": 1})
    again = user_client.post(like_url(post))
    assert (again.status_code, again.json()) == (200, {"liked": True, "like_count": 1})
    assert Like.objects.filter(user=user, post=post).count() == 1
    assert client_for(UserFactory()).post(like_url(post)).json()["like_count"] == 2

    unliked = user_client.delete(like_url(post))
    assert (unliked.status_code, unliked.json()) == (200, {"liked": False, "like_count": 1})
    assert user_client.delete(like_url(post)).json() == {"liked": False, "like_count": 1}
    post.refresh_from_db()
    assert post.like_count == 1
    assert user_client.get(f"/api/v1/posts/{post.pk}/").json()["liked_by_me"] is False


@pytest.mark.django_db
def test_cannot_like_what_one_cannot_see(user_client):
    followers_only = PostFactory(visibility=Post.Visibility.FOLLOWERS)
    assert_error(user_client.post(like_url(followers_only)), 404, "not_found")
    assert_error(user_client.delete(like_url(followers_only)), 404, "not_found")
    assert_error(user_client.post("/api/v1/posts/999999/like/"), 404, "not_found")
    assert not Like.objects.exists()


@pytest.mark.django_db
def test_likes_are_throttled_per_user(user_client, throttle_rate):
    throttle_rate("likes", "3/min")
    post = PostFactory()
    for _ in range(3):
        assert user_client.post(like_url(post)).status_code in (200, 201)
    assert_error(user_client.delete(like_url(post)), 429, "throttled")


@pytest.mark.django_db
def test_likes_need_authentication(api_client):
    assert_error(api_client.post(like_url(PostFactory())), 401, "not_authenticated")


# --- Under concurrency (real transactions, real threads) -------------------------------------


@pytest.mark.django_db(transaction=True)
def test_fifty_people_liking_at_once_count_exactly_fifty():
    """Straight to the service, each call in its own transaction as a request would be (the
    HTTP layer is exercised by the test below; here it would only add GIL time)."""
    post = PostFactory()
    people = users_bulk(50, prefix="liker")

    def like_as(index: int):
        with transaction.atomic():
            return services.like_create(user=people[index], post=post)

    results = run_concurrently(50, like_as)

    assert [created for created, _ in results] == [True] * 50
    assert sorted(count for _, count in results) == list(range(1, 51))
    post.refresh_from_db()
    assert post.like_count == 50
    assert Like.objects.filter(post=post).count() == 50


@pytest.mark.django_db(transaction=True)
def test_one_person_liking_twenty_times_at_once_counts_once():
    post = PostFactory()
    person = UserFactory()
    clients = [client_for(person) for _ in range(20)]

    responses = run_concurrently(20, lambda i: clients[i].post(like_url(post)))

    assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
    assert {r.json()["like_count"] for r in responses} == {1}
    post.refresh_from_db()
    assert post.like_count == 1
    assert Like.objects.filter(post=post).count() == 1

    unliked = run_concurrently(20, lambda i: clients[i].delete(like_url(post)).json())
    assert {u["like_count"] for u in unliked} == {0}
    post.refresh_from_db()
    assert post.like_count == 0
    assert not Like.objects.exists()
