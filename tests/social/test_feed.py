import base64
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from rest_framework import serializers

from apps.social import selectors
from apps.social.api.serializers import PostOutput
from apps.social.models import Follow, Like, Membership, Post, StudyGroup
from tests.courses.factories import CourseFactory
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


def follow_quiet_people(user, count: int) -> None:
    """`count` more followees who never posted: past FEED_MAX_MERGED_SOURCES sources, pages
    come from the walk over recent posts instead of each source's newest posts."""
    quiet = users_bulk(count, prefix=f"quiet{user.pk}-")
    Follow.objects.bulk_create([Follow(follower=user, followee=person) for person in quiet])


MERGED_AND_WALKED = pytest.mark.parametrize(
    "quiet_follows", [0, selectors.FEED_MAX_MERGED_SOURCES + 1], ids=["merged", "walked"]
)


@MERGED_AND_WALKED
def test_feed_has_followed_own_and_group_posts_and_nothing_else(user, user_client, quiet_follows):
    follow_quiet_people(user, quiet_follows)
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
        post(7, author=followee, group=my_group),  # followed and my group: once
        post(8, author=user, group=my_group),  # mine and my group: once
    ]
    post(9, author=UserFactory())  # a stranger's public post
    post(10, author=followee, group=foreign_private)  # followed, but a group I am not in
    post(11, author=pending_group.owner, group=pending_group)  # only pending there
    post(12, author=followee, is_hidden=True)
    post(13, author=followee, deleted_at=now)
    post(14, author=user, is_hidden=True)
    post(15, author=inactive_followee)
    inactive_member = MembershipFactory(group=my_group).user
    post(16, author=inactive_member, group=my_group)  # my group, but an inactive account
    for person in (inactive_followee, inactive_member):
        person.is_active = False
        person.save()

    assert feed_ids(user_client) == [p.pk for p in expected]


def test_an_inactive_accounts_own_posts_are_not_in_its_feed(user):
    """Unreachable through the API (an inactive account cannot sign in); the selector still
    lists no post of an inactive author."""
    PostFactory(author=user)
    user.is_active = False
    user.save()
    assert selectors.feed_for_user(user=user)[0:21] == []


def test_feed_items_carry_author_counts_liked_by_me_group_and_course(user, user_client):
    group = StudyGroupFactory(owner=user, name="Algebra club")
    course = CourseFactory()
    post = PostFactory(author=user, group=group, course=course, like_count=3, comment_count=2)
    Like.objects.create(user=user, post=post)
    other = PostFactory(author=user)
    items = {item["id"]: item for item in user_client.get(FEED).json()["results"]}
    item = items[post.pk]
    assert item["author"] == {"id": user.pk, "display_name": user.display_name}
    assert item["group"] == {"id": group.pk, "name": "Algebra club"}
    assert item["course"] == {"id": course.pk}
    assert (item["like_count"], item["comment_count"], item["liked_by_me"]) == (3, 2, True)
    assert item["visibility"] == "group"
    assert {"body", "created_at"} <= set(item)
    assert items[other.pk]["liked_by_me"] is False
    assert items[other.pk]["group"] is None and items[other.pk]["course"] is None


def test_feed_rows_render_as_the_declared_fields_render_them(user):
    """PostOutput renders feed rows (dicts) on a fast path: the same JSON as its declared
    fields, for every kind of post and in any time zone."""
    group = StudyGroupFactory(owner=user, name="Algebra club")
    PostFactory(author=user, group=group, course=CourseFactory(), like_count=3, comment_count=2)
    liked = PostFactory(author=user, visibility=Post.Visibility.FOLLOWERS)
    Like.objects.create(user=user, post=liked)
    PostFactory(author=user, created_at=timezone.now().replace(microsecond=0))
    give_images([liked])
    rows = selectors.feed_for_user(user=user)[0:10]
    assert len(rows) == 3
    assert sum(row["media"] is not None for row in rows) == 1

    def unsigned(rendered: dict) -> list:
        # A signed URL's token carries the second it was made: compare the rest.
        if rendered["media"] is not None:
            rendered["media"]["url"] = rendered["media"]["url"].split("?")[0]
        return list(rendered.items())

    for zone in ("UTC", "Asia/Kolkata"):
        with timezone.override(zone):
            for row in rows:
                declared = serializers.Serializer.to_representation(PostOutput(), row)
                assert unsigned(dict(PostOutput(row).data)) == unsigned(dict(declared))


def test_feed_needs_authentication(api_client):
    assert_error(api_client.get(FEED), 401, "not_authenticated")


def test_feed_rejects_a_forged_cursor(user_client):
    assert_error(user_client.get(FEED, {"cursor": "not-a-cursor"}), 404, "not_found")


def test_feed_rejects_a_cursor_with_a_forged_position(user_client):
    cursor = base64.b64encode(b"p=not-a-time").decode()
    assert_error(user_client.get(FEED, {"cursor": cursor}), 400, "validation_error")


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
    client.get(FEED)  # caches the viewer (apps.accounts.authentication) as any request does
    counts = []
    for page_size in (1, 50):
        # One statement: the viewer's followees and groups, their posts, the rows. No
        # transaction around it (a read-only view).
        with django_assert_max_num_queries(1) as captured:
            response = client.get(FEED, {"page_size": page_size})
        assert len(response.json()["results"]) == page_size
        assert response.json()["results"][0]["media"]["url"]
        counts.append(len(captured))
        # The next page costs the same as the first.
        with django_assert_max_num_queries(1):
            client.get(response.json()["next"])
    assert counts[0] == counts[1]


@MERGED_AND_WALKED
def test_cursor_walk_has_no_duplicates_or_gaps_while_new_posts_arrive(
    user, user_client, quiet_follows
):
    follow_quiet_people(user, quiet_follows)
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


@MERGED_AND_WALKED
def test_previous_link_walks_back(user, user_client, quiet_follows):
    follow_quiet_people(user, quiet_follows)
    now = timezone.now()
    posts = [PostFactory(author=user, created_at=now - timedelta(seconds=i)) for i in range(5)]
    first = user_client.get(FEED, {"page_size": 2}).json()
    second = user_client.get(first["next"]).json()
    back = user_client.get(second["previous"]).json()
    assert [i["id"] for i in back["results"]] == [posts[0].pk, posts[1].pk]
    assert first["previous"] is None


def generic_plan(feed: selectors.Feed, window: slice) -> str:
    """EXPLAIN ANALYZE of a page statement as it runs once prepared (every request after the
    first few of a connection): PostgreSQL's generic plan, parameters unknown when planning."""
    sql, params = feed.sql(window)
    for number, name in enumerate(params, start=1):
        sql = sql.replace(f"%({name})s", f"${number}")
    types = ", ".join({"viewer": "bigint", "bound": "timestamptz"}[name] for name in params)
    values = ", ".join(["%s"] * len(params))
    with connection.cursor() as cursor:
        cursor.execute(f"PREPARE feed_plan ({types}) AS {sql}")
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"EXPLAIN ANALYZE EXECUTE feed_plan ({values})", list(params.values()))
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE feed_plan")
    return plan


def plan_node(plan: str, scan: str, condition: str = "") -> str:
    """The one line of `plan` naming `scan` whose next line contains `condition`."""
    lines = plan.splitlines()
    (node,) = [
        line
        for line, after in zip(lines, [*lines[1:], ""], strict=True)
        if scan in line and condition in after
    ]
    return node


def rows_per_loop(node: str) -> int:
    return int(re.search(r"rows=(\d+) loops=\d+\)$", node).group(1))


def analyzed_statistics():
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE social_post, social_follow, social_membership, accounts_user")


def test_feed_plan_reads_a_page_from_each_source(user):
    """A dense feed with realistic statistics (10 of 100 busy people followed): each followee's
    posts are read newest first through their index, at most a page past the cursor each,
    never all of them (no bitmap scan and sort of everything they posted), and the walk over
    everyone's recent posts does not run; on the first page and deep down. (A group's posts
    are read the same way once the table is bench-sized; in this small one PostgreSQL may
    as well read the group's few hundred posts and sort them.)"""
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
    analyzed_statistics()

    feed = selectors.feed_for_user(user=user).order_by("-created_at", "-id")
    deep = feed.filter(created_at__lt=now - timedelta(seconds=6000))
    for page in (feed, deep):
        plan = generic_plan(page, slice(0, 21))
        by_author = plan_node(plan, "social_post_author_recent", "(author_id >= s.id)")
        assert "Index Scan" in by_author and "loops=10)" in by_author, plan
        assert rows_per_loop(by_author) <= 21, plan
        walk = plan_node(plan, "Index Scan using social_post_recent")
        assert "never executed" in walk, plan
    assert "AND (created_at < $2))" in generic_plan(deep, slice(0, 21))
    assert [row["id"] for row in deep[0:21]] == list(
        selectors._listed(selectors.posts_for_viewer(viewer=user))
        .filter(
            Q(author_id__in=[a.pk for a in authors[:10]]) | Q(group=group),
            created_at__lt=now - timedelta(seconds=6000),
        )
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)[:21]
    )


def test_sparse_feed_reads_only_its_sources_posts(user):
    """A viewer who follows two quiet people among many busy ones: their few posts are read
    through the author index, not found by walking every recent post (that walk grows with
    the whole table: 62 ms at 200k posts in `make bench`)."""
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
    analyzed_statistics()

    feed = selectors.feed_for_user(user=user).order_by("-created_at", "-id")
    plan = generic_plan(feed, slice(0, 21))
    walk = plan_node(plan, "Index Scan using social_post_recent")
    assert "never executed" in walk, plan
    by_author = plan_node(plan, "social_post_author_recent", "(author_id >= s.id)")
    assert "rows=3 loops=2)" in by_author, plan
    assert len(feed[0:21]) == 6


def test_feed_with_many_sources_walks_the_recent_posts_index(user):
    """Past FEED_MAX_MERGED_SOURCES sources, a page per source would add up: the page walks
    the partial index on (created_at DESC, id DESC) from the cursor and stops after a page."""
    authors = users_bulk(selectors.FEED_MAX_MERGED_SOURCES + 100, prefix="many")
    followed = authors[: selectors.FEED_MAX_MERGED_SOURCES + 1]
    Follow.objects.bulk_create([Follow(follower=user, followee=a) for a in followed])
    now = timezone.now()
    Post.objects.bulk_create(
        [
            Post(
                author=authors[index % len(authors)],
                body="x",
                created_at=now - timedelta(seconds=index),
            )
            for index in range(8000)
        ],
        batch_size=4000,
    )
    analyzed_statistics()

    feed = selectors.feed_for_user(user=user).order_by("-created_at", "-id")
    deep = feed.filter(created_at__lt=now - timedelta(seconds=6000))
    for page in (feed, deep):
        plan = generic_plan(page, slice(0, 21))
        walk = plan_node(plan, "Index Scan using social_post_recent")
        assert "never executed" not in walk and rows_per_loop(walk) <= 21 * 5, plan
        by_author = plan_node(plan, "social_post_author_recent", "(author_id >= s.id)")
        assert "never executed" in by_author, plan
    assert "Index Cond: (created_at < $2)" in generic_plan(deep, slice(0, 21))
    assert len(deep[0:21]) == 21


def test_the_page_statement_is_prepared_on_the_connection(user, user_client):
    """The statement's text does not depend on the viewer, so psycopg prepares it after a
    few runs (DATABASES OPTIONS prepare_threshold) and PostgreSQL stops parsing and planning
    it, most of its cost."""
    PostFactory(author=user)
    for _ in range(7):
        feed_ids(user_client)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%WITH followees AS MATERIALIZED%"],
        )
        assert cursor.fetchone()[0] == 1
