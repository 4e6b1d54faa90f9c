import pytest

from apps.accounts.models import AuditEvent
from apps.courses.models import Course
from apps.social.models import Membership, Post
from tests.courses.factories import CourseFactory
from tests.factories import UserFactory, client_for
from tests.social.conftest import assert_error
from tests.social.factories import (
    FollowFactory,
    MembershipFactory,
    PostFactory,
    StudyGroupFactory,
    give_images,
)

pytestmark = pytest.mark.django_db

POSTS = "/api/v1/posts/"


def detail(post) -> str:
    return f"/api/v1/posts/{post.pk}/"


# --- Creating --------------------------------------------------------------------------------


def test_create_post_sanitizes_and_returns_the_full_item(user_client, user):
    body = (
        'Read <a href="https://lyo.example/x" onclick="steal()">this</a> '
        "<script>alert(1)</script><b>now</b> <img src=x onerror=alert(2)> "
        '<a href="javascript:alert(3)">bad</a> 1 < 2'
    )
    course = CourseFactory(status=Course.Status.PUBLISHED)
    response = user_client.post(POSTS, {"body": body, "course": course.pk})
    assert response.status_code == 201, response.content
    item = response.json()
    post = Post.objects.get()
    assert item["id"] == post.pk
    assert item["body"] == post.body
    assert "<script" not in post.body and "alert(1)" not in post.body
    assert "onclick" not in post.body and "<img" not in post.body
    assert "javascript:" not in post.body
    assert (
        '<a href="https://lyo.example/x" rel="noopener noreferrer nofollow">this</a>' in post.body
    )
    assert "<b>now</b>" in post.body and "1 &lt; 2" in post.body
    assert item["author"] == {"id": user.pk, "display_name": user.display_name}
    assert item["course"] == {"id": course.pk}
    assert item["group"] is None
    assert item["visibility"] == "public"
    assert (item["like_count"], item["comment_count"], item["liked_by_me"]) == (0, 0, False)
    assert item["is_hidden"] is False
    assert {"created_at", "updated_at"} <= set(item)


def test_course_id_is_accepted_as_an_alias_of_course(user_client):
    course = CourseFactory(status=Course.Status.PUBLISHED)
    response = user_client.post(POSTS, {"body": "Week 2 notes", "course_id": course.pk})
    assert response.json()["course"] == {"id": course.pk}
    assert Post.objects.get().course_id == course.pk


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "body"),
        ({"body": ""}, "body"),
        ({"body": "   "}, "body"),
        ({"body": "<script>alert(1)</script>"}, "body"),  # nothing left once sanitized
        ({"body": "x" * 5001}, "body"),
        ({"body": "hi", "visibility": "everyone"}, "visibility"),
        ({"body": "hi", "visibility": "group"}, "visibility"),  # group visibility needs a group
        ({"body": "hi", "course": 0}, "course"),
        ({"body": "hi", "group": 999999}, "group"),
    ],
)
def test_create_post_validation(user_client, payload, field):
    error = assert_error(user_client.post(POSTS, payload), 400, "validation_error")
    assert field in error["details"]
    assert not Post.objects.exists()


def test_body_of_exactly_5000_characters_is_fine(user_client):
    assert user_client.post(POSTS, {"body": "x" * 5000}).status_code == 201


def test_posting_in_a_group_needs_an_active_membership(user_client, user):
    group = StudyGroupFactory(is_private=True)
    assert_error(
        user_client.post(POSTS, {"body": "hello", "group": group.pk}), 403, "permission_denied"
    )
    MembershipFactory(group=group, user=user, status=Membership.Status.PENDING)
    assert_error(
        user_client.post(POSTS, {"body": "hello", "group": group.pk}), 403, "permission_denied"
    )
    Membership.objects.filter(user=user).update(status=Membership.Status.ACTIVE)
    response = user_client.post(POSTS, {"body": "hello", "group": group.pk})
    assert response.status_code == 201
    assert response.json()["group"] == {"id": group.pk, "name": group.name}
    assert response.json()["visibility"] == "group"
    # A group post cannot claim another audience.
    wrong = user_client.post(POSTS, {"body": "hi", "group": group.pk, "visibility": "public"})
    assert "visibility" in assert_error(wrong, 400, "validation_error")["details"]


def test_posting_is_throttled_per_user(user_client, throttle_rate):
    throttle_rate("posts", "2/min")
    assert user_client.post(POSTS, {"body": "one"}).status_code == 201
    assert user_client.post(POSTS, {"body": "two"}).status_code == 201
    response = user_client.post(POSTS, {"body": "three"})
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    # Reading is not spending the posting budget.
    assert user_client.get(POSTS).status_code == 200


def test_posts_need_authentication(api_client):
    assert_error(api_client.get(POSTS), 401, "not_authenticated")
    assert_error(api_client.post(POSTS, {"body": "hi"}), 401, "not_authenticated")


# --- The visibility matrix -------------------------------------------------------------------


@pytest.fixture
def cast(moderator):
    """The people of the visibility matrix around one author."""
    author = UserFactory()
    follower = UserFactory()
    FollowFactory(follower=follower, followee=author)
    group = StudyGroupFactory(is_private=True, owner=author)
    member = MembershipFactory(group=group).user
    pending = MembershipFactory(group=group, status=Membership.Status.PENDING).user
    return {
        "author": author,
        "follower": follower,
        "member": member,
        "pending": pending,
        "stranger": UserFactory(),
        "moderator": moderator,
        "group": group,
    }


def _post(cast, kind: str) -> Post:
    author = cast["author"]
    if kind == "public":
        return PostFactory(author=author)
    if kind == "followers":
        return PostFactory(author=author, visibility=Post.Visibility.FOLLOWERS)
    if kind == "private_group":
        return PostFactory(author=author, group=cast["group"])
    if kind == "public_group":
        return PostFactory(author=author, group=StudyGroupFactory(owner=author))
    if kind == "hidden":
        return PostFactory(author=author, is_hidden=True)
    if kind == "deleted":
        from django.utils import timezone

        return PostFactory(author=author, deleted_at=timezone.now())
    raise AssertionError(kind)


MATRIX = {
    # post kind: who may read it (everyone else gets 404)
    "public": {"author", "follower", "member", "pending", "stranger", "moderator"},
    "followers": {"author", "follower", "moderator"},
    "private_group": {"author", "member", "moderator"},
    "public_group": {"author", "follower", "member", "pending", "stranger", "moderator"},
    "hidden": {"author", "moderator"},
    "deleted": set(),
}
VIEWERS = ["author", "follower", "member", "pending", "stranger", "moderator"]


@pytest.mark.parametrize("kind", list(MATRIX))
def test_visibility_matrix_for_post_detail(cast, kind):
    post = _post(cast, kind)
    for viewer in VIEWERS:
        response = client_for(cast[viewer]).get(detail(post))
        expected = 200 if viewer in MATRIX[kind] else 404
        assert response.status_code == expected, (kind, viewer, response.content)
        if expected == 404:
            assert_error(response, 404, "not_found")


@pytest.mark.parametrize("kind", list(MATRIX))
def test_visibility_matrix_for_likes(cast, kind):
    """Liking checks the same rule through its own lighter path (post_get_visible with
    to_render=False): like and unlike work for readers, 404 for everyone else."""
    post = _post(cast, kind)
    for viewer in VIEWERS:
        client = client_for(cast[viewer])
        liked = client.post(f"/api/v1/posts/{post.pk}/like/")
        unliked = client.delete(f"/api/v1/posts/{post.pk}/like/")
        if viewer in MATRIX[kind]:
            assert (liked.status_code, unliked.status_code) == (201, 200), (kind, viewer)
        else:
            assert_error(liked, 404, "not_found")
            assert_error(unliked, 404, "not_found")


def test_posts_of_deactivated_authors_take_no_likes_except_from_moderators(cast):
    post = _post(cast, "public")
    cast["author"].is_active = False
    cast["author"].save()
    assert_error(
        client_for(cast["stranger"]).post(f"/api/v1/posts/{post.pk}/like/"), 404, "not_found"
    )
    assert client_for(cast["moderator"]).post(f"/api/v1/posts/{post.pk}/like/").status_code == 201


@pytest.mark.parametrize("kind", list(MATRIX))
def test_visibility_matrix_for_post_images(cast, kind):
    """A post's image (GET /api/v1/media/{id}/) is for whoever may read the post; its owner
    always sees their own file."""
    post = _post(cast, kind)
    give_images([post])
    media_id = Post.objects.values_list("media_id", flat=True).get(pk=post.pk)
    for viewer in VIEWERS:
        response = client_for(cast[viewer]).get(f"/api/v1/media/{media_id}/")
        expected = 200 if viewer in MATRIX[kind] | {"author"} else 404
        assert response.status_code == expected, (kind, viewer, response.content)
        if expected == 404:
            assert_error(response, 404, "not_found")


def test_hidden_post_shows_as_hidden_to_its_author(cast):
    post = _post(cast, "hidden")
    assert client_for(cast["author"]).get(detail(post)).json()["is_hidden"] is True


def test_posts_of_inactive_authors_are_hidden_except_from_moderators(cast):
    post = _post(cast, "public")
    cast["author"].is_active = False
    cast["author"].save()
    assert_error(client_for(cast["stranger"]).get(detail(post)), 404, "not_found")
    assert client_for(cast["moderator"]).get(detail(post)).status_code == 200
    assert client_for(cast["stranger"]).get(POSTS).json()["results"] == []


# --- Listing ---------------------------------------------------------------------------------


def test_post_list_is_the_public_timeline(cast):
    public = _post(cast, "public")
    for kind in ("followers", "private_group", "public_group", "hidden", "deleted"):
        _post(cast, kind)
    inactive_author_post = PostFactory(author=UserFactory(is_active=False))
    body = client_for(cast["stranger"]).get(POSTS).json()
    assert [item["id"] for item in body["results"]] == [public.pk]
    assert inactive_author_post.pk not in [item["id"] for item in body["results"]]
    assert set(body) == {"next", "previous", "results"}


@pytest.mark.parametrize(
    ("viewer", "kinds"),
    [
        ("author", {"public", "followers", "private_group", "public_group"}),
        ("follower", {"public", "followers", "public_group"}),
        ("member", {"public", "private_group", "public_group"}),
        ("stranger", {"public", "public_group"}),
    ],
)
def test_post_list_by_author_shows_what_the_viewer_may_read(cast, viewer, kinds):
    posts = {kind: _post(cast, kind) for kind in MATRIX}
    response = client_for(cast[viewer]).get(POSTS, {"author": cast["author"].pk})
    shown = {item["id"] for item in response.json()["results"]}
    assert shown == {posts[kind].pk for kind in kinds}


def test_post_list_rejects_a_bad_author_filter(user_client):
    assert_error(user_client.get(POSTS, {"author": "me"}), 400, "validation_error")


def test_post_list_query_count_does_not_grow_with_the_page(
    user_client, django_assert_max_num_queries
):
    author = UserFactory()
    posts = Post.objects.bulk_create([Post(author=author, body=f"p{i}") for i in range(60)])
    give_images(posts[::-4])  # a quarter of them, the newest included, with an image
    with django_assert_max_num_queries(6):
        small = user_client.get(POSTS, {"page_size": 1})
    with django_assert_max_num_queries(6):
        large = user_client.get(POSTS, {"page_size": 50, "author": author.pk})
    assert (len(small.json()["results"]), len(large.json()["results"])) == (1, 50)
    assert small.json()["results"][0]["media"] is not None
    assert sum(item["media"] is not None for item in large.json()["results"]) >= 10
    assert all(item["media"]["url"] for item in large.json()["results"] if item["media"])


# --- Editing and deleting --------------------------------------------------------------------


def test_author_edits_body_and_visibility(user_client, user):
    post = PostFactory(author=user)
    response = user_client.patch(
        detail(post), {"body": "Edited <i>text</i><script>x</script>", "visibility": "followers"}
    )
    assert response.status_code == 200
    assert response.json()["body"] == "Edited <i>text</i>"
    assert response.json()["visibility"] == "followers"
    post.refresh_from_db()
    assert post.visibility == "followers"


def test_editing_validates(user_client, user):
    post = PostFactory(author=user)
    assert_error(user_client.patch(detail(post), {"body": "x" * 5001}), 400, "validation_error")
    assert_error(user_client.patch(detail(post), {"visibility": "group"}), 400, "validation_error")
    group = StudyGroupFactory(owner=user)
    group_post = PostFactory(author=user, group=group)
    assert_error(
        user_client.patch(detail(group_post), {"visibility": "public"}), 400, "validation_error"
    )


def test_others_cannot_edit_or_delete(user_client):
    post = PostFactory()
    assert_error(user_client.patch(detail(post), {"body": "mine now"}), 403, "permission_denied")
    assert_error(user_client.patch(detail(post), {}), 403, "permission_denied")
    assert_error(user_client.delete(detail(post)), 403, "permission_denied")
    private = PostFactory(visibility=Post.Visibility.FOLLOWERS)
    assert_error(user_client.patch(detail(private), {"body": "x"}), 404, "not_found")
    assert_error(user_client.delete(detail(private)), 404, "not_found")


def test_author_deletes_softly(user_client, user):
    post = PostFactory(author=user)
    assert user_client.delete(detail(post)).status_code == 204
    post.refresh_from_db()
    assert post.deleted_at is not None
    assert_error(user_client.get(detail(post)), 404, "not_found")
    assert_error(user_client.delete(detail(post)), 404, "not_found")
    assert not AuditEvent.objects.filter(action__startswith="moderation.").exists()


def test_moderator_hides_unhides_and_deletes_with_an_audit_trail(moderator_client, moderator):
    post = PostFactory()
    response = moderator_client.patch(detail(post), {"is_hidden": True})
    assert response.status_code == 200 and response.json()["is_hidden"] is True
    assert client_for(UserFactory()).get(detail(post)).status_code == 404
    moderator_client.patch(detail(post), {"is_hidden": False})
    assert client_for(UserFactory()).get(detail(post)).status_code == 200
    assert moderator_client.delete(detail(post)).status_code == 204
    actions = list(AuditEvent.objects.filter(target_id=str(post.pk)).values_list("action", "actor"))
    assert sorted(actions) == sorted(
        [
            ("moderation.hide", moderator.pk),
            ("moderation.unhide", moderator.pk),
            ("moderation.delete", moderator.pk),
        ]
    )
    # Moderators hide; they do not rewrite people's words.
    other = PostFactory()
    assert_error(moderator_client.patch(detail(other), {"body": "x"}), 403, "permission_denied")


def test_authors_cannot_unhide_their_own_post(user_client, user):
    post = PostFactory(author=user, is_hidden=True)
    assert_error(user_client.patch(detail(post), {"is_hidden": False}), 403, "permission_denied")
    post.refresh_from_db()
    assert post.is_hidden
