import pytest
from django.urls import reverse

from apps.accounts.models import AuditEvent, User
from apps.social import services
from apps.social.models import Comment, Post, Report
from tests.factories import UserFactory
from tests.social.factories import (
    FollowFactory,
    MembershipFactory,
    PostFactory,
    StudyGroupFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    admin = User.objects.create_superuser(email="staff@lyo.test", password="admin-pass-123")
    client.force_login(admin)
    client.admin = admin
    return client


@pytest.mark.parametrize(
    "model", ["post", "comment", "report", "studygroup", "follow", "notification"]
)
def test_changelists_load(staff, model):
    PostFactory(body="Searchable words")
    FollowFactory()
    response = staff.get(reverse(f"admin:social_{model}_changelist"))
    assert response.status_code == 200


def test_posts_are_searchable_and_filterable(staff):
    PostFactory(body="Needle in a haystack")
    PostFactory(body="Other", is_hidden=True)
    changelist = reverse("admin:social_post_changelist")
    found = staff.get(changelist, {"q": "needle"})
    assert b"Needle in a haystack" in found.content and b"Other" not in found.content
    hidden = staff.get(changelist, {"is_hidden__exact": "1"})
    assert b"Other" in hidden.content and b"Needle" not in hidden.content


def test_hide_and_unhide_actions_go_through_the_services(staff):
    post = PostFactory()
    changelist = reverse("admin:social_post_changelist")
    staff.post(changelist, {"action": "hide", "_selected_action": [str(post.pk)]})
    post.refresh_from_db()
    assert post.is_hidden
    staff.post(changelist, {"action": "unhide", "_selected_action": [str(post.pk)]})
    post.refresh_from_db()
    assert not post.is_hidden
    assert list(
        AuditEvent.objects.filter(target_id=str(post.pk)).values_list("action", flat=True)
    ) == ["moderation.unhide", "moderation.hide"]


def test_hiding_a_comment_in_the_admin_keeps_the_count(staff):
    post = PostFactory()
    comment = services.comment_create(author=UserFactory(), post=post, body="Hmm")
    staff.post(
        reverse("admin:social_comment_changelist"),
        {"action": "hide", "_selected_action": [str(comment.pk)]},
    )
    post.refresh_from_db()
    assert Comment.objects.get(pk=comment.pk).is_hidden and post.comment_count == 0


def test_report_queue_action_hides_the_reported_post(staff):
    post = PostFactory()
    report, _ = services.report_create(
        reporter=UserFactory(), target_type="post", target_id=post.pk, reason="spam"
    )
    staff.post(
        reverse("admin:social_report_changelist"),
        {"action": "resolve_hide", "_selected_action": [str(report.pk)]},
    )
    report.refresh_from_db()
    post.refresh_from_db()
    assert (report.status, report.resolver, post.is_hidden) == ("resolved", staff.admin, True)


def test_group_page_shows_its_memberships_inline(staff):
    group = StudyGroupFactory(name="Inline group")
    member = MembershipFactory(group=group).user
    response = staff.get(reverse("admin:social_studygroup_change", args=[group.pk]))
    assert response.status_code == 200
    assert b"memberships-TOTAL_FORMS" in response.content
    assert str(member.pk).encode() in response.content


def test_content_and_notifications_are_read_only_in_the_admin(staff):
    post = PostFactory()
    assert staff.get(reverse("admin:social_post_add")).status_code == 403
    assert staff.get(reverse("admin:social_notification_add")).status_code == 403
    assert staff.get(reverse("admin:social_report_add")).status_code == 403
    page = staff.get(reverse("admin:social_post_change", args=[post.pk]))
    assert page.status_code == 200 and b'name="body"' not in page.content
    assert not Report.objects.exists() and Post.objects.count() == 1
