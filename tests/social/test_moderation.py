import pytest

from apps.accounts.models import AuditEvent
from apps.social.models import Comment, Post, Report
from tests.factories import UserFactory, client_for
from tests.social.conftest import assert_error
from tests.social.factories import CommentFactory, PostFactory, users_bulk

pytestmark = pytest.mark.django_db

REPORTS = "/api/v1/reports/"
QUEUE = "/api/v1/moderation/reports/"


def resolve_url(report_id: int) -> str:
    return f"{QUEUE}{report_id}/resolve/"


def report(client, target_type: str, target_id: int, reason: str = "Spam") -> dict:
    response = client.post(
        REPORTS, {"target_type": target_type, "target_id": target_id, "reason": reason}
    )
    assert response.status_code in (200, 201), response.content
    return response.json()


# --- Reporting -------------------------------------------------------------------------------


def test_report_a_post_once_while_it_is_open(user_client, user):
    post = PostFactory()
    response = user_client.post(
        REPORTS, {"target_type": "post", "target_id": post.pk, "reason": "  Spam link  "}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "open" and body["reason"] == "Spam link"
    assert (body["target_type"], body["target_id"]) == ("post", post.pk)
    assert body["resolution_action"] == "" and body["resolved_at"] is None
    assert body["reporter"]["id"] == user.pk and body["resolver"] is None
    assert body["target"]["id"] == post.pk and body["target"]["body"] == post.body

    again = user_client.post(
        REPORTS, {"target_type": "post", "target_id": post.pk, "reason": "Still spam"}
    )
    assert (again.status_code, again.json()["id"]) == (200, body["id"])
    assert Report.objects.count() == 1
    # Another person's report is their own.
    assert report(client_for(UserFactory()), "post", post.pk)["id"] != body["id"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"target_type": "planet", "target_id": 1, "reason": "x"}, "target_type"),
        ({"target_type": "post", "target_id": 0, "reason": "x"}, "target_id"),
        ({"target_type": "post", "target_id": 999999, "reason": "x"}, "target_id"),
        ({"target_type": "comment", "target_id": 999999, "reason": "x"}, "target_id"),
        ({"target_type": "user", "target_id": 999999, "reason": "x"}, "target_id"),
        ({"target_type": "post", "target_id": 1}, "reason"),
        ({"target_type": "post", "target_id": 1, "reason": "x" * 1001}, "reason"),
    ],
)
def test_report_validation(user_client, payload, field):
    PostFactory()
    error = assert_error(user_client.post(REPORTS, payload), 400, "validation_error")
    assert field in error["details"]


def test_cannot_report_oneself_or_what_one_cannot_see(user_client, user):
    error = assert_error(
        user_client.post(REPORTS, {"target_type": "user", "target_id": user.pk, "reason": "x"}),
        400,
        "validation_error",
    )
    assert "target_id" in error["details"]
    secret = PostFactory(visibility=Post.Visibility.FOLLOWERS)
    assert_error(
        user_client.post(REPORTS, {"target_type": "post", "target_id": secret.pk, "reason": "x"}),
        400,
        "validation_error",
    )
    secret_comment = CommentFactory(post=secret)
    assert_error(
        user_client.post(
            REPORTS, {"target_type": "comment", "target_id": secret_comment.pk, "reason": "x"}
        ),
        400,
        "validation_error",
    )


def test_reports_are_throttled(user_client, throttle_rate):
    throttle_rate("reports", "2/hour")
    for _ in range(2):
        report(user_client, "user", UserFactory().pk)
    response = user_client.post(
        REPORTS, {"target_type": "user", "target_id": UserFactory().pk, "reason": "x"}
    )
    assert_error(response, 429, "throttled")


# --- The queue -------------------------------------------------------------------------------


def test_queue_is_for_moderators_only(user_client):
    assert_error(user_client.get(QUEUE), 403, "permission_denied")
    report_id = report(user_client, "post", PostFactory().pk)["id"]
    assert_error(
        user_client.post(resolve_url(report_id), {"action": "dismiss"}), 403, "permission_denied"
    )


def test_queue_lists_open_reports_with_what_they_point_at(user_client, user, moderator_client):
    post = PostFactory(body="Buy now")
    comment = CommentFactory(body="Rude words")
    person = UserFactory(display_name="Troll")
    post_report = report(user_client, "post", post.pk)
    comment_report = report(user_client, "comment", comment.pk)
    user_report = report(user_client, "user", person.pk, reason="Harasses people")
    done = report(client_for(UserFactory()), "user", UserFactory().pk)
    moderator_client.post(resolve_url(done["id"]), {"action": "dismiss"})

    body = moderator_client.get(QUEUE).json()
    assert body["count"] == 3
    rows = {row["id"]: row for row in body["results"]}
    assert list(rows) == [post_report["id"], comment_report["id"], user_report["id"]]
    assert rows[post_report["id"]]["target"] == {
        "id": post.pk,
        "body": "Buy now",
        "author": {"id": post.author.pk, "display_name": post.author.display_name},
        "is_hidden": False,
        "is_deleted": False,
        "group_id": None,
    }
    assert rows[comment_report["id"]]["target"]["post_id"] == comment.post_id
    assert rows[comment_report["id"]]["target"]["body"] == "Rude words"
    assert rows[user_report["id"]]["target"] == {
        "id": person.pk,
        "display_name": "Troll",
        "is_active": True,
    }
    assert rows[user_report["id"]]["reporter"] == {"id": user.pk, "display_name": user.display_name}
    assert rows[user_report["id"]]["reason"] == "Harasses people"

    dismissed = moderator_client.get(QUEUE, {"status": "dismissed"}).json()["results"]
    assert [row["id"] for row in dismissed] == [done["id"]]


def test_queue_query_count_does_not_grow(moderator_client, django_assert_max_num_queries):
    reporters = users_bulk(60, prefix="reporter")
    posts = [PostFactory() for _ in range(3)]
    comments = [CommentFactory() for _ in range(3)]
    Report.objects.bulk_create(
        [
            Report(
                reporter=reporter,
                target_type=("post", "comment", "user")[index % 3],
                target_id=(posts[index % 3].pk, comments[index % 3].pk, reporters[0].pk)[index % 3],
                reason="x",
            )
            for index, reporter in enumerate(reporters)
        ]
    )
    counts = []
    for page_size in (1, 50):
        with django_assert_max_num_queries(12) as captured:
            response = moderator_client.get(QUEUE, {"page_size": page_size})
        assert len(response.json()["results"]) == page_size
        counts.append(len(captured))
    # One extra query per target type present on the page (post, comment, user), no more.
    assert counts[1] <= counts[0] + 2


# --- Resolving -------------------------------------------------------------------------------


def test_hide_resolves_every_open_report_on_the_post_and_is_audited(
    user_client, moderator_client, moderator
):
    post = PostFactory()
    first = report(user_client, "post", post.pk)
    second = report(client_for(UserFactory()), "post", post.pk)
    response = moderator_client.post(
        resolve_url(first["id"]), {"action": "hide", "note": "Spam campaign"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["resolution_action"]) == ("resolved", "hide")
    assert body["resolver"]["id"] == moderator.pk and body["resolved_at"]
    assert body["resolution_note"] == "Spam campaign"
    assert body["target"]["is_hidden"] is True
    post.refresh_from_db()
    assert post.is_hidden
    assert Report.objects.get(pk=second["id"]).status == "resolved"
    event = AuditEvent.objects.get(action="moderation.hide")
    assert event.actor == moderator
    assert (event.target_type, event.target_id) == ("social.post", str(post.pk))
    assert event.metadata["reports_closed"] == sorted([first["id"], second["id"]])
    assert event.metadata["note"] == "Spam campaign"
    # Gone for readers, and the queue is empty.
    assert client_for(UserFactory()).get(f"/api/v1/posts/{post.pk}/").status_code == 404
    assert moderator_client.get(QUEUE).json()["count"] == 0
    # The post's author still sees it, flagged.
    assert client_for(post.author).get(f"/api/v1/posts/{post.pk}/").json()["is_hidden"]


def test_resolving_twice_is_a_conflict(user_client, moderator_client):
    report_id = report(user_client, "post", PostFactory().pk)["id"]
    assert moderator_client.post(resolve_url(report_id), {"action": "dismiss"}).status_code == 200
    assert_error(moderator_client.post(resolve_url(report_id), {"action": "hide"}), 409, "conflict")
    assert_error(moderator_client.post(resolve_url(999999), {"action": "hide"}), 404, "not_found")


def test_hide_a_comment_keeps_the_post_count_exact(user_client, moderator_client):
    post = PostFactory()
    comment_id = user_client.post(f"/api/v1/posts/{post.pk}/comments/", {"body": "Nasty"}).json()[
        "id"
    ]
    report_id = report(client_for(UserFactory()), "comment", comment_id)["id"]
    assert moderator_client.post(resolve_url(report_id), {"action": "hide"}).status_code == 200
    assert Comment.objects.get(pk=comment_id).is_hidden
    post.refresh_from_db()
    assert post.comment_count == 0
    assert user_client.get(f"/api/v1/posts/{post.pk}/comments/").json()["results"] == []


def test_dismiss_leaves_the_content_alone(user_client, moderator_client):
    post = PostFactory()
    report_id = report(user_client, "post", post.pk)["id"]
    body = moderator_client.post(resolve_url(report_id), {"action": "dismiss"}).json()
    assert (body["status"], body["resolution_action"]) == ("dismissed", "dismiss")
    post.refresh_from_db()
    assert not post.is_hidden
    assert AuditEvent.objects.filter(action="moderation.dismiss").count() == 1


def test_suspend_a_reported_person(user_client, moderator_client, moderator):
    troll = UserFactory()
    troll_client = client_for(troll)
    assert troll_client.get("/api/v1/feed/").status_code == 200
    report_id = report(user_client, "user", troll.pk)["id"]
    response = moderator_client.post(resolve_url(report_id), {"action": "suspend_user"})
    assert response.status_code == 200
    assert response.json()["target"]["is_active"] is False
    troll.refresh_from_db()
    assert not troll.is_active
    assert_error(troll_client.get("/api/v1/feed/"), 401, "authentication_failed")
    event = AuditEvent.objects.get(action="moderation.suspend_user")
    assert (event.actor, event.target_type, event.target_id) == (
        moderator,
        "accounts.user",
        str(troll.pk),
    )


def test_suspend_from_a_post_report_suspends_its_author(user_client, moderator_client):
    post = PostFactory()
    report_id = report(user_client, "post", post.pk)["id"]
    response = moderator_client.post(resolve_url(report_id), {"action": "suspend_user"})
    assert response.status_code == 200
    post.author.refresh_from_db()
    assert not post.author.is_active
    assert client_for(UserFactory()).get(f"/api/v1/posts/{post.pk}/").status_code == 404


def test_moderators_cannot_be_suspended_and_people_cannot_be_hidden(user_client, moderator_client):
    other_moderator = UserFactory(roles=["moderator"])
    report_id = report(user_client, "user", other_moderator.pk)["id"]
    assert_error(
        moderator_client.post(resolve_url(report_id), {"action": "suspend_user"}),
        403,
        "permission_denied",
    )
    error = assert_error(
        moderator_client.post(resolve_url(report_id), {"action": "hide"}),
        400,
        "validation_error",
    )
    assert "action" in error["details"]
    assert_error(
        moderator_client.post(resolve_url(report_id), {"action": "ban_forever"}),
        400,
        "validation_error",
    )
    assert Report.objects.get(pk=report_id).status == "open"
    other_moderator.refresh_from_db()
    assert other_moderator.is_active
