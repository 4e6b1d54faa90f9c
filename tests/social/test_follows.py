from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.social import selectors
from apps.social.models import Follow
from apps.social.selectors import follow_counts
from tests.factories import UserFactory
from tests.social.conftest import assert_error
from tests.social.factories import FollowFactory, users_bulk

pytestmark = pytest.mark.django_db


def follow_url(user) -> str:
    return f"/api/v1/users/{user.pk}/follow/"


def test_follow_and_unfollow_are_idempotent(user_client, user):
    other = UserFactory()
    first = user_client.post(follow_url(other))
    assert (first.status_code, first.json()) == (201, {"following": True})
    again = user_client.post(follow_url(other))
    assert (again.status_code, again.json()) == (200, {"following": True})
    assert Follow.objects.filter(follower=user, followee=other).count() == 1

    gone = user_client.delete(follow_url(other))
    assert (gone.status_code, gone.json()) == (200, {"following": False})
    assert user_client.delete(follow_url(other)).status_code == 200
    assert not Follow.objects.exists()


def test_cannot_follow_oneself(user_client, user):
    error = assert_error(user_client.post(follow_url(user)), 400, "validation_error")
    assert "user" in error["details"]
    assert not Follow.objects.exists()


def test_self_follow_is_also_refused_by_the_database(user):
    with pytest.raises(IntegrityError), transaction.atomic():
        Follow.objects.create(follower=user, followee=user)


def test_following_unknown_or_inactive_people_is_404(user_client):
    assert_error(user_client.post("/api/v1/users/999999/follow/"), 404, "not_found")
    inactive = UserFactory(is_active=False)
    assert_error(user_client.post(follow_url(inactive)), 404, "not_found")
    assert_error(user_client.get(f"/api/v1/users/{inactive.pk}/followers/"), 404, "not_found")
    assert_error(user_client.get(f"/api/v1/users/{inactive.pk}/following/"), 404, "not_found")


def test_follows_are_throttled(user_client, throttle_rate):
    throttle_rate("follows", "2/min")
    other = UserFactory()
    user_client.post(follow_url(other))
    user_client.delete(follow_url(other))
    assert_error(user_client.post(follow_url(other)), 429, "throttled")


def test_followers_and_following_lists(user_client, user):
    star = UserFactory(display_name="Star")
    now = timezone.now()
    fans = [UserFactory(display_name=f"Fan {i}") for i in range(3)]
    for minutes, fan in enumerate(fans):
        FollowFactory(follower=fan, followee=star, created_at=now - timedelta(minutes=minutes))
    FollowFactory(follower=UserFactory(is_active=False), followee=star)
    FollowFactory(follower=user, followee=fans[1])
    FollowFactory(follower=star, followee=fans[2])

    body = user_client.get(f"/api/v1/users/{star.pk}/followers/", {"page_size": 2}).json()
    assert [(p["id"], p["followed_by_me"]) for p in body["results"]] == [
        (fans[0].pk, False),
        (fans[1].pk, True),
    ]
    assert body["results"][0]["display_name"] == "Fan 0"
    assert "followed_at" in body["results"][0]
    rest = user_client.get(body["next"]).json()
    assert [p["id"] for p in rest["results"]] == [fans[2].pk]

    following = user_client.get(f"/api/v1/users/{star.pk}/following/").json()
    assert [p["id"] for p in following["results"]] == [fans[2].pk]


@pytest.mark.parametrize("followers", [1, 500])
def test_follower_lists_run_a_constant_number_of_queries(
    user_client, followers, django_assert_max_num_queries
):
    star = UserFactory()
    fans = users_bulk(followers, prefix=f"fan{followers}-")
    Follow.objects.bulk_create([Follow(follower=fan, followee=star) for fan in fans])
    Follow.objects.bulk_create([Follow(follower=star, followee=fan) for fan in fans])
    for page_size in (1, 50):
        for listing in ("followers", "following"):
            with django_assert_max_num_queries(5):
                response = user_client.get(
                    f"/api/v1/users/{star.pk}/{listing}/", {"page_size": page_size}
                )
            assert len(response.json()["results"]) == min(page_size, followers)


def test_follow_counts_for_many_users_in_two_queries(django_assert_num_queries):
    ada, alan, grace, gone = UserFactory(), UserFactory(), UserFactory(), UserFactory()
    FollowFactory(follower=alan, followee=ada)
    FollowFactory(follower=grace, followee=ada)
    FollowFactory(follower=ada, followee=grace)
    FollowFactory(follower=gone, followee=ada)
    gone.is_active = False
    gone.save()
    with django_assert_num_queries(2):
        counts = follow_counts(user_ids=[ada.pk, alan.pk, grace.pk, 999999])
    assert counts == {ada.pk: (2, 1), alan.pk: (0, 1), grace.pk: (1, 1), 999999: (0, 0)}


def test_followee_ids_for_the_friends_leaderboard(user):
    friend, gone, stranger = UserFactory(), UserFactory(is_active=False), UserFactory()
    FollowFactory(follower=user, followee=friend)
    FollowFactory(follower=user, followee=gone)
    FollowFactory(follower=stranger, followee=user)
    assert list(selectors.followee_ids(user_id=user.pk)) == [friend.pk]
