from django.db.models import Prefetch, QuerySet

from . import roles
from .models import AuditEvent, User


def user_role_names(*, user: User) -> list[str]:
    # Uses the prefetched groups when the caller loaded them (see users_with_roles).
    return sorted(group.name for group in user.groups.all() if group.name in roles.ALL_ROLES)


def users_with_roles() -> QuerySet[User]:
    from django.contrib.auth.models import Group

    return User.objects.prefetch_related(
        Prefetch("groups", queryset=Group.objects.filter(name__in=roles.ALL_ROLES))
    )


def user_public_get(*, user_id: int) -> User | None:
    return users_with_roles().filter(pk=user_id, is_active=True).first()


def user_export_data(*, user: User) -> dict:
    """Everything Lyo holds about the person, as JSON-ready data (GDPR access/portability)."""
    from allauth.account.models import EmailAddress

    return {
        "profile": {
            "id": user.pk,
            "email": user.email,
            "display_name": user.display_name,
            "bio": user.bio,
            "timezone": user.timezone,
            "date_joined": user.date_joined.isoformat(),
            "last_login": user.last_login.isoformat() if user.last_login else None,
            "roles": user_role_names(user=user),
        },
        "email_addresses": [
            {"email": address.email, "verified": address.verified, "primary": address.primary}
            for address in EmailAddress.objects.filter(user=user).order_by("id")
        ],
        "security_events": [
            {
                "action": event.action,
                "at": event.created_at.isoformat(),
                "ip": event.ip,
                "user_agent": event.user_agent,
            }
            for event in AuditEvent.objects.filter(actor=user).order_by("created_at", "id")
        ],
    }
