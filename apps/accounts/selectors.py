from django.db.models import Prefetch, QuerySet

from . import roles
from .email_identity import canonical_email
from .models import AuditEvent, User


def user_by_email(*, email: str) -> User | None:
    """The account an address names, whatever its spelling (one canonical form, unique)."""
    return User.objects.get_by_email(email)


def users_without_email_identity() -> list[tuple[User, str, User | None]]:
    """Legacy accounts whose canonical email another account holds: (user, canonical, holder)."""
    orphans = list(User.objects.filter(email_canonical__isnull=True).order_by("pk"))
    canonicals = {user.pk: canonical_email(user.email) for user in orphans}
    holders = User.objects.in_bulk(set(canonicals.values()), field_name="email_canonical")
    return [(user, canonicals[user.pk], holders.get(canonicals[user.pk])) for user in orphans]


def user_role_names(*, user: User) -> list[str]:
    # Uses the prefetched groups when the caller loaded them (see users_with_roles).
    return sorted(group.name for group in user.groups.all() if group.name in roles.ALL_ROLES)


def users_with_roles() -> QuerySet[User]:
    from django.contrib.auth.models import Group

    return User.objects.prefetch_related(
        Prefetch("groups", queryset=Group.objects.filter(name__in=roles.ALL_ROLES))
    )


def active_display_names(*, user_ids) -> dict[int, str]:
    """Display names of the active accounts among user_ids (deleted ones are left out)."""
    return dict(
        User.objects.filter(pk__in=list(user_ids), is_active=True).values_list("id", "display_name")
    )


def user_public_get(*, user_id: int) -> User | None:
    return users_with_roles().filter(pk=user_id, is_active=True).first()


def user_export_data(*, user: User) -> dict:
    """Everything Lyo holds about the person (GDPR access/portability), for MeExportOutput.

    Each app contributes its sections through its own selectors; every section is one or two
    queries whatever its size, so the export costs a fixed number of queries.
    """
    from allauth.account.models import EmailAddress
    from django.utils import timezone

    from apps.courses import selectors as courses
    from apps.gamification import selectors as gamification
    from apps.media import selectors as media
    from apps.social import selectors as social

    return {
        "exported_at": timezone.now(),
        "profile": {
            "id": user.pk,
            "email": user.email,
            "display_name": user.display_name,
            "bio": user.bio,
            "timezone": user.timezone,
            "avatar_id": user.avatar_id,
            "date_joined": user.date_joined,
            "last_login": user.last_login,
            "roles": user_role_names(user=user),
        },
        "email_addresses": list(
            EmailAddress.objects.filter(user=user)
            .order_by("id")
            .values("email", "verified", "primary")
        ),
        "security_events": [
            {
                "action": event["action"],
                "at": event["created_at"],
                "ip": event["ip"],
                "user_agent": event["user_agent"],
            }
            for event in AuditEvent.objects.filter(actor=user)
            .order_by("created_at", "id")
            .values("action", "created_at", "ip", "user_agent")
            .iterator(chunk_size=2000)
        ],
        "enrollments": courses.enrollments_for_export(user=user),
        "quiz_attempts": courses.quiz_attempts_for_export(user=user),
        "course_reviews": courses.reviews_for_export(user=user),
        "authored_courses": courses.courses_authored_for_export(user=user),
        "posts": social.posts_for_export(user=user),
        "comments": social.comments_for_export(user=user),
        "likes": social.likes_for_export(user=user),
        "follows": social.follows_for_export(user=user),
        "group_memberships": social.memberships_for_export(user=user),
        "reports": social.reports_for_export(user=user),
        "gamification": gamification.gamification_for_export(user=user),
        "media_files": media.media_for_export(owner=user),
    }
