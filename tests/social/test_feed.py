from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.social import selectors
from apps.social.models import Follow, Like, Membership, Post, StudyGroup
from tests.factories import UserFactory, client_for
from tests.social.conftest import assert_error
from tests.social.factories import (
    FollowFactory,
    MembershipFactory,
    PostFactory,
    StudyGroupFactory,
    give_images,
    users_bulk,
)

pytestmark = pytest.mark.django_db

FEED = "/api/v1/feed/"


def feed_ids(client, **params) -> list[int]:
    response = client.get(FEED, params)
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def test_feed_has_followed_own_and_group_posts_and_nothing_else(user, user_client):
    followee = UserFactory()
    FollowFactory(follower=user, followee=followee)
    my_group = StudyGroupFactory(is_private=True)
    MembershipFactory(group=my_group, user=user)
    pending_group = StudyGroupFactory(is_private=True)
    MembershipFactory(group=pending_group, user=user, status=Membership.Status.PENDING)
    foreign_private = StudyGroupFactory(is_private=True, owner=followee)
    foreign_public = StudyGroupFactory(is_private=False, owner=followee)
    inactive_followee = UserFactory()
    FollowFactory(follower=user, followee=inactive_followee)
    now = timezone.now()

    def post(minutes_ago: int, **fields) -> Post:
        return PostFactory(created_at=now - timedelta(minutes=minutes_ago), **fields)

    expected = [
        post(1, author=user),
        post(2, author=followee),
        post(3, author=followee, visibility=Post.Visibility.FOLLOWERS),
        post(4, author=my_group.owner, group=my_group),  # not followed, but my group
        post(5, author=followee, group=foreign_public),  # followed, public group
        post(6, author=user, visibility=Post.Visibility.FOLLOWERS),
    ]
    post(7, author=UserFactory())  # a stranger's public post
    post(8, author=followee, group=foreign_private)  # followed, but a group I am not in
    post(9, author=pending_group.owner, group=pending_group)  # only pending there
    post(10, author=followee, is_hidden=True)
    post(11, author=followee, deleted_at=now)
    post(12, author=user, is_hidden=True)
    post(13, author=inactive_followee)
    inactive_followee.is_active = False
    inactive_followee.save()

    assert feed_ids(user_client) == [p.pk for p in expected]


def test_feed_items_carry_author_counts_liked_by_me_group_and_course(user, user_client):
    group = StudyGroupFactory(owner=user, name="Algebra club")
    post = PostFactory(author=user, group=group, course_id=12, like_count=3, comment_count=2)
    Like.objects.create(user=user, post=post)
    other = PostFactory(author=user)
    items = {item["id"]: item for item in user_client.get(FEED).json()["results"]}
    item = items[post.pk]
    assert item["author"] == {"id": user.pk, "display_name": user.display_name}
    assert item["group"] == {"id": group.pk, "name": "Algebra club"}
    assert item["course"] == {"id": 12}
    assert (item["like_count"], item["comment_count"], item["liked_by_me"]) == (3, 2, True)
    assert item["visibility"] == "group"
    assert {"body", "created_at"} <= set(item)
    assert items[other.pk]["liked_by_me"] is False
    assert items[other.pk]["group"] is None and items[other.pk]["course"] is None


def test_feed_needs_authentication(api_client):
    assert_error(api_client.get(FEED), 401, "not_authenticated")


def test_feed_rejects_a_forged_cursor(user_client):
    assert_error(user_client.get(FEED, {"cursor": "not-a-cursor"}), 404, "not_found")


def _feed_posts(viewer, *, follows: int, posts: int) -> None:
    followees = users_bulk(follows, prefix=f"followee{follows}-")
    Follow.objects.bulk_create([Follow(follower=viewer, followee=u) for u in followees])
    group = StudyGroup.objects.create(name="G", owner=followees[0], is_private=True)
    Membership.objects.create(group=group, user=viewer)
    now = timezone.now()
    created = Post.objects.bulk_create(
        [
            Post(
                author=followees[index % follows],
                body=f"post {index}",
                group=group if index % 5 == 0 else None,
                visibility="group" if index % 5 == 0 else "public",
                created_at=now - timedelta(seconds=index),
            )
            for index in range(posts)
        ]
    )
    Like.objects.bulk_create(
        [Like(user=viewer, post=post) for post in Post.objects.all()[: posts // 2]]
    )
    give_images(created[::6])  # the newest post and every sixth after it


@pytest.mark.parametrize("follows", [1, 500])
def test_feed_query_count_is_constant_for_page_size_and_follows(
    follows, django_assert_max_num_queries
):
    viewer = UserFactory()
    _feed_posts(viewer, follows=follows, posts=120)
    client = client_for(viewer)
    client.get(FEED)  # the first request also reads the user into the auth cache
    counts = []
    for page_size in (1, 50):
        # Transaction, the viewer's followees and groups, the page.
        with django_assert_max_num_queries(5) as captured:
            response = client.get(FEED, {"page_size": page_size})
        assert len(response.json()["results"]) == page_size
        assert response.json()["results"][0]["media"]["url"]
        counts.append(len(captured))
        # The next page costs the same as the first.
        with django_assert_max_num_queries(5):
            client.get(response.json()["next"])
    assert counts[0] == counts[1]


def test_cursor_walk_has_no_duplicates_or_gaps_while_new_posts_arrive(user, user_client):
    followee = UserFactory()
    FollowFactory(follower=user, followee=followee)
    now = timezone.now()
    existing = [
        PostFactory(author=followee, created_at=now - timedelta(seconds=index))
        for index in range(30)
    ]
    # Posts sharing a timestamp across a page boundary must neither repeat nor vanish.
    twins_at = now - timedelta(seconds=6, milliseconds=500)
    existing += [PostFactory(author=user, created_at=twins_at) for _ in range(4)]
    expected = [p.pk for p in sorted(existing, key=lambda p: (p.created_at, p.pk), reverse=True)]

    seen: list[int] = []
    url = f"{FEED}?page_size=7"
    pages = 0
    while url:
        body = user_client.get(url).json()
        seen += [item["id"] for item in body["results"]]
        url = body["next"]
        pages += 1
        # Someone posts while we scroll: it belongs at the head, not in the middle of the walk.
        PostFactory(author=followee)
    assert pages == 5
    assert seen == expected

    head = feed_ids(user_client, page_size=pages)
    assert head == sorted(
        Post.objects.exclude(pk__in=expected).values_list("pk", flat=True), reverse=True
    )


def test_previous_link_walks_back(user, user_client):
    now = timezone.now()
    posts = [PostFactory(author=user, created_at=now - timedelta(seconds=i)) for i in range(5)]
    first = user_client.get(FEED, {"page_size": 2}).json()
    second = user_client.get(first["next"]).json()
    back = user_client.get(second["previous"]).json()
    assert [i["id"] for i in back["results"]] == [posts[0].pk, posts[1].pk]
    assert first["previous"] is None


def test_feed_plan_walks_the_recent_posts_index_newest_first(user):
    """EXPLAIN a dense feed with realistic statistics: PostgreSQL must walk the partial index
    on (created_at DESC, id DESC) and stop after a page, never sort the viewer's whole
    candidate set, on the first page and deep in the cursor."""
    authors = users_bulk(100, prefix="plan")
    Follow.objects.bulk_create([Follow(follower=user, followee=a) for a in authors[:10]])
    group = StudyGroup.objects.create(name="Plan", owner=authors[50])
    Membership.objects.create(group=group, user=user)
    now = timezone.now()
    Post.objects.bulk_create(
        [
            Post(
                author=authors[index % 100],
                body="x",
                group=group if index % 20 == 0 else None,
                visibility="group" if index % 20 == 0 else "public",
                created_at=now - timedelta(seconds=index),
            )
            for index in range(8000)
        ],
        batch_size=4000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE social_post, social_follow, social_membership, accounts_user")

    first_page = selectors.feed_for_user(user=user).order_by("-created_at", "-id")[:21]
    deep_page = (
        selectors.feed_for_user(user=user)
        .filter(created_at__lt=now - timedelta(seconds=6000))
        .order_by("-created_at", "-id")[:21]
    )
    for queryset in (first_page, deep_page):
        plan = queryset.explain()
        assert plan.startswith("Limit"), plan
        assert "Index Scan using social_post_recent on social_post" in plan, plan
        assert "Sort" not in plan, plan
        assert "Seq Scan on social_post" not in plan, plan
    assert "Index Cond: (created_at <" in deep_page.explain()


def test_sparse_feed_reads_only_its_sources_posts(user):
    """A viewer who follows two quiet people among many busy ones: the plan must fetch those
    people's posts through the author index, not walk every recent post filtering them out
    (that walk grows with the whole table: 62 ms at 200k posts in `make bench`)."""
    busy = users_bulk(40, prefix="busy")
    quiet = users_bulk(2, prefix="quiet")
    Follow.objects.bulk_create([Follow(follower=user, followee=person) for person in quiet])
    now = timezone.now()
    posts = [
        Post(author=busy[index % 40], body="x", created_at=now - timedelta(seconds=index))
        for index in range(8000)
    ]
    posts += [
        Post(author=quiet[index % 2], body="q", created_at=now - timedelta(hours=1, minutes=index))
        for index in range(6)
    ]
    Post.objects.bulk_create(posts, batch_size=4000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE social_post, social_follow, social_membership, accounts_user")

    page = selectors.feed_for_user(user=user).order_by("-created_at", "-id")[:21]
    plan = page.explain(analyze=True)
    assert "Index Scan using social_post_recent" not in plan, plan
    assert len(page) == 6
