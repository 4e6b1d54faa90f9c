import pytest

from apps.social.models import Membership, Notification, Post, StudyGroup
from tests.factories import UserFactory, client_for
from tests.social.conftest import assert_error
from tests.social.factories import (
    MembershipFactory,
    PostFactory,
    StudyGroupFactory,
    give_images,
    users_bulk,
)

pytestmark = pytest.mark.django_db

GROUPS = "/api/v1/groups/"


def url(group, suffix: str = "") -> str:
    return f"{GROUPS}{group.pk}/{suffix}"


@pytest.fixture
def private_group():
    group = StudyGroupFactory(is_private=True, name="Quiet room")
    admin = MembershipFactory(group=group, role=Membership.Role.ADMIN).user
    member = MembershipFactory(group=group).user
    pending = MembershipFactory(group=group, status=Membership.Status.PENDING).user
    group.people = {"owner": group.owner, "admin": admin, "member": member, "pending": pending}
    return group


# --- Create, list, detail, update ------------------------------------------------------------


def test_create_group_makes_the_caller_its_owner(user_client, user):
    response = user_client.post(
        GROUPS, {"name": "  Linear algebra  ", "description": "Proofs", "is_private": True}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    group = StudyGroup.objects.get()
    assert body["id"] == group.pk and body["name"] == "Linear algebra"
    assert body["is_private"] is True
    assert body["owner"] == {"id": user.pk, "display_name": user.display_name}
    assert body["member_count"] == 1
    mine = body["my_membership"]
    assert (mine["role"], mine["status"], mine["group_id"]) == ("owner", "active", group.pk)
    assert mine["user"]["id"] == user.pk and mine["approved_at"]
    assert body["course"] is None
    membership = Membership.objects.get(group=group)
    assert (membership.user, membership.role, membership.status) == (user, "owner", "active")


@pytest.mark.parametrize(
    "payload", [{}, {"name": ""}, {"name": "x" * 121}, {"name": "ok", "course": -1}]
)
def test_create_group_validation(user_client, payload):
    assert_error(user_client.post(GROUPS, payload), 400, "validation_error")


def test_list_shows_public_groups_and_mine(user_client, user, private_group):
    public = StudyGroupFactory(name="A public")
    mine_private = StudyGroupFactory(name="B mine", is_private=True)
    MembershipFactory(group=mine_private, user=user)
    asked = StudyGroupFactory(name="C asked", is_private=True)
    MembershipFactory(group=asked, user=user, status=Membership.Status.PENDING)

    body = user_client.get(GROUPS).json()
    assert {"count", "next", "previous", "results"} <= set(body)
    ids = [g["id"] for g in body["results"]]
    assert ids == [public.pk, mine_private.pk, asked.pk]  # not the foreign private group
    by_id = {g["id"]: g for g in body["results"]}
    assert by_id[public.pk]["my_membership"] is None
    asked_membership = by_id[asked.pk]["my_membership"]
    assert (asked_membership["role"], asked_membership["status"]) == ("member", "pending")
    assert asked_membership["approved_at"] is None
    assert by_id[asked.pk]["name"] is None  # sealed until approved (issue 13, item 10)
    assert by_id[mine_private.pk]["member_count"] == 2

    mine = user_client.get(GROUPS, {"mine": "true"}).json()["results"]
    assert [g["id"] for g in mine] == [mine_private.pk, asked.pk]
    assert [g["id"] for g in user_client.get(GROUPS, {"q": "publ"}).json()["results"]] == [
        public.pk
    ]


def test_group_list_query_count_does_not_grow(user_client, django_assert_max_num_queries):
    owners = users_bulk(60, prefix="owner")
    groups = StudyGroup.objects.bulk_create(
        [StudyGroup(name=f"G{i:03}", owner=owner) for i, owner in enumerate(owners)]
    )
    Membership.objects.bulk_create(
        [Membership(group=g, user=g.owner, role="owner") for g in groups]
    )
    for page_size in (1, 50):
        with django_assert_max_num_queries(6):
            response = user_client.get(GROUPS, {"page_size": page_size})
        assert len(response.json()["results"]) == page_size
        assert response.json()["results"][0]["member_count"] == 1


def test_private_group_details_only_for_its_people(private_group, moderator):
    for role in ("owner", "admin", "member", "pending"):
        response = client_for(private_group.people[role]).get(url(private_group))
        assert response.status_code == 200, role
    assert client_for(moderator).get(url(private_group)).status_code == 200
    assert_error(client_for(UserFactory()).get(url(private_group)), 404, "not_found")
    assert client_for(UserFactory()).get(url(StudyGroupFactory())).status_code == 200
    assert_error(client_for(UserFactory()).get(f"{GROUPS}999999/"), 404, "not_found")


def test_owner_and_admins_rename_the_group(private_group):
    response = client_for(private_group.people["admin"]).patch(
        url(private_group), {"name": "Loud room"}
    )
    assert response.status_code == 200 and response.json()["name"] == "Loud room"
    assert_error(
        client_for(private_group.people["member"]).patch(url(private_group), {"name": "Mine"}),
        403,
        "permission_denied",
    )


# --- Join, leave -----------------------------------------------------------------------------


def test_joining_a_public_group_is_immediate_and_idempotent(
    user_client, user, django_capture_on_commit_callbacks
):
    group = StudyGroupFactory()
    with django_capture_on_commit_callbacks(execute=True):
        first = user_client.post(url(group, "join/"))
    assert first.status_code == 201
    assert first.json()["status"] == "active" and first.json()["role"] == "member"
    assert first.json()["user"]["id"] == user.pk
    again = user_client.post(url(group, "join/"))
    assert (again.status_code, again.json()["status"]) == (200, "active")
    assert Membership.objects.filter(group=group, user=user).count() == 1
    assert user_client.get(url(group)).json()["member_count"] == 2
    assert not Notification.objects.exists()  # open groups do not ask anyone


def test_joining_a_private_group_asks_owner_and_admins(
    user_client, user, private_group, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(url(private_group, "join/"))
        assert not Notification.objects.exists()  # only once the request is committed
    assert (response.status_code, response.json()["status"]) == (201, "pending")
    notified = set(
        Notification.objects.filter(verb="group_join_request").values_list(
            "recipient_id", "actor_id", "target_type", "target_id"
        )
    )
    assert notified == {
        (private_group.owner.pk, user.pk, "group", private_group.pk),
        (private_group.people["admin"].pk, user.pk, "group", private_group.pk),
    }
    with django_capture_on_commit_callbacks(execute=True):
        again = user_client.post(url(private_group, "join/"))
    assert (again.status_code, again.json()["status"]) == (200, "pending")
    assert Notification.objects.count() == 2
    # A pending request is not membership: no posting, no reading the group's posts.
    assert_error(
        user_client.post("/api/v1/posts/", {"body": "hi", "group": private_group.pk}),
        403,
        "permission_denied",
    )
    assert_error(user_client.get(url(private_group, "posts/")), 403, "permission_denied")


def test_join_unknown_group_is_404(user_client):
    assert_error(user_client.post(f"{GROUPS}999999/join/"), 404, "not_found")


def test_leaving_and_withdrawing_are_idempotent(private_group):
    member = client_for(private_group.people["member"])
    assert member.post(url(private_group, "leave/")).status_code == 204
    assert member.post(url(private_group, "leave/")).status_code == 204
    pending = client_for(private_group.people["pending"])
    assert pending.post(url(private_group, "leave/")).status_code == 204
    assert set(Membership.objects.values_list("user_id", flat=True)) == {
        private_group.owner.pk,
        private_group.people["admin"].pk,
    }


def test_owner_cannot_leave_without_transferring(private_group):
    owner = client_for(private_group.owner)
    error = assert_error(owner.post(url(private_group, "leave/")), 409, "conflict")
    assert "Transfer" in error["message"]
    assert Membership.objects.filter(user=private_group.owner, role="owner").exists()


# --- Members, approval, roles, transfer ------------------------------------------------------


def test_members_list_is_for_members(private_group, moderator):
    body = client_for(private_group.people["member"]).get(url(private_group, "members/")).json()
    assert [(m["user"]["id"], m["role"]) for m in body["results"]] == [
        (private_group.owner.pk, "owner"),
        (private_group.people["admin"].pk, "admin"),
        (private_group.people["member"].pk, "member"),
    ]
    assert body["count"] == 3
    assert client_for(moderator).get(url(private_group, "members/")).status_code == 200
    assert_error(
        client_for(private_group.people["pending"]).get(url(private_group, "members/")),
        403,
        "permission_denied",
    )
    assert_error(client_for(UserFactory()).get(url(private_group, "members/")), 404, "not_found")
    public = StudyGroupFactory()
    assert_error(client_for(UserFactory()).get(url(public, "members/")), 403, "permission_denied")


def test_join_requests_are_listed_for_owner_and_admins(private_group):
    for role in ("owner", "admin"):
        body = (
            client_for(private_group.people[role])
            .get(url(private_group, "members/"), {"status": "pending"})
            .json()
        )
        assert [m["user"]["id"] for m in body["results"]] == [private_group.people["pending"].pk]
    assert_error(
        client_for(private_group.people["member"]).get(
            url(private_group, "members/"), {"status": "pending"}
        ),
        403,
        "permission_denied",
    )


def test_members_list_query_count_does_not_grow(private_group, django_assert_max_num_queries):
    Membership.objects.bulk_create(
        [Membership(group=private_group, user=u) for u in users_bulk(60, prefix="member")]
    )
    client = client_for(private_group.people["member"])
    for page_size in (1, 50):
        with django_assert_max_num_queries(10):
            response = client.get(url(private_group, "members/"), {"page_size": page_size})
        assert len(response.json()["results"]) == page_size


def test_owner_approves_a_request_and_the_requester_hears_of_it(
    private_group, django_capture_on_commit_callbacks
):
    requester = private_group.people["pending"]
    approve = url(private_group, f"members/{requester.pk}/approve/")
    assert_error(client_for(private_group.people["member"]).post(approve), 403, "permission_denied")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(private_group.owner).post(approve)
    assert response.status_code == 200
    assert response.json()["status"] == "active" and response.json()["approved_at"]
    note = Notification.objects.get(recipient=requester)
    assert (note.verb, note.actor, note.target_type, note.target_id) == (
        "group_join_approved",
        private_group.owner,
        "group",
        private_group.pk,
    )
    # Approving twice is harmless; approving a stranger is 404.
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(private_group.people["admin"]).post(approve).status_code == 200
    assert Notification.objects.filter(recipient=requester).count() == 1
    stranger = UserFactory()
    assert_error(
        client_for(private_group.owner).post(url(private_group, f"members/{stranger.pk}/approve/")),
        404,
        "not_found",
    )
    # Now a member: reads and posts in the group.
    client = client_for(requester)
    assert client.get(url(private_group, "posts/")).status_code == 200
    assert (
        client.post("/api/v1/posts/", {"body": "hi", "group": private_group.pk}).status_code == 201
    )


def test_removing_members_and_declining_requests(private_group):
    admin = client_for(private_group.people["admin"])
    pending = private_group.people["pending"]
    assert admin.delete(url(private_group, f"members/{pending.pk}/")).status_code == 204
    assert not Membership.objects.filter(user=pending).exists()
    assert_error(
        admin.delete(url(private_group, f"members/{private_group.owner.pk}/")), 409, "conflict"
    )
    other_admin = MembershipFactory(group=private_group, role="admin").user
    assert_error(
        admin.delete(url(private_group, f"members/{other_admin.pk}/")), 403, "permission_denied"
    )
    owner = client_for(private_group.owner)
    assert owner.delete(url(private_group, f"members/{other_admin.pk}/")).status_code == 204


def test_owner_promotes_and_demotes(private_group):
    member = private_group.people["member"]
    role_url = url(private_group, f"members/{member.pk}/")
    assert_error(
        client_for(private_group.people["admin"]).patch(role_url, {"role": "admin"}),
        403,
        "permission_denied",
    )
    owner = client_for(private_group.owner)
    assert owner.patch(role_url, {"role": "admin"}).json()["role"] == "admin"
    assert owner.patch(role_url, {"role": "member"}).json()["role"] == "member"
    assert_error(owner.patch(role_url, {"role": "owner"}), 400, "validation_error")
    pending_url = url(private_group, f"members/{private_group.people['pending'].pk}/")
    assert_error(owner.patch(pending_url, {"role": "admin"}), 409, "conflict")


def test_transfer_ownership_then_leave(private_group):
    owner = private_group.owner
    member = private_group.people["member"]
    transfer = url(private_group, "transfer/")
    assert_error(
        client_for(member).post(transfer, {"user_id": member.pk}), 403, "permission_denied"
    )
    assert_error(
        client_for(owner).post(transfer, {"user_id": private_group.people["pending"].pk}),
        409,
        "conflict",
    )
    response = client_for(owner).post(transfer, {"user_id": member.pk})
    assert response.status_code == 200
    assert response.json()["owner"]["id"] == member.pk
    mine = response.json()["my_membership"]
    assert (mine["role"], mine["status"]) == ("admin", "active")
    private_group.refresh_from_db()
    assert private_group.owner == member
    assert Membership.objects.get(group=private_group, user=member).role == "owner"
    assert client_for(owner).post(url(private_group, "leave/")).status_code == 204


# --- Group posts -----------------------------------------------------------------------------


def test_group_posts_follow_the_groups_privacy(private_group, moderator):
    post = PostFactory(author=private_group.people["member"], group=private_group)
    PostFactory(author=private_group.owner, group=private_group, is_hidden=True)
    PostFactory(author=private_group.owner)  # not in the group
    for role in ("owner", "member"):
        body = client_for(private_group.people[role]).get(url(private_group, "posts/")).json()
        assert [p["id"] for p in body["results"]] == [post.pk]
    assert client_for(moderator).get(url(private_group, "posts/")).status_code == 200
    assert_error(client_for(UserFactory()).get(url(private_group, "posts/")), 404, "not_found")

    public = StudyGroupFactory()
    public_post = PostFactory(author=public.owner, group=public)
    body = client_for(UserFactory()).get(url(public, "posts/")).json()
    assert [p["id"] for p in body["results"]] == [public_post.pk]
    assert body["results"][0]["group"] == {"id": public.pk, "name": public.name}


def test_group_posts_query_count_does_not_grow(private_group, django_assert_max_num_queries):
    posts = Post.objects.bulk_create(
        [
            Post(author=private_group.owner, group=private_group, visibility="group", body="x")
            for _ in range(60)
        ]
    )
    give_images(posts[::-5])  # the newest post and every fifth before it
    client = client_for(private_group.people["member"])
    for page_size in (1, 50):
        with django_assert_max_num_queries(9):
            response = client.get(url(private_group, "posts/"), {"page_size": page_size})
        assert len(response.json()["results"]) == page_size
        assert response.json()["results"][0]["media"]["url"]
