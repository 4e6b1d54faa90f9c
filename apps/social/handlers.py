"""The social app reacting to its own domain events: notifications.

Durable subscribers (apps.core.events): the event is written to the outbox with the like, and
the notification is created by a Celery worker in the same transaction that marks the event
delivered, so a like that rolled back notifies no one, a broker outage delays notifications
without losing them, and a redelivered event notifies no one twice. Subscribed in
SocialConfig.ready().
"""

from apps.core import events
from apps.core.events import DomainEvent

from .models import Membership, Notification
from .services import notifications_create


def notify_like(event: DomainEvent) -> None:
    data = event.payload
    notifications_create(
        recipient_ids=[data["post_author_id"]],
        actor_id=data["user_id"],
        verb=Notification.Verb.LIKE,
        target_type="post",
        target_id=data["post_id"],
    )


def notify_comment(event: DomainEvent) -> None:
    """The post's author hears of a comment; the parent comment's author of a reply."""
    data = event.payload
    notifications_create(
        recipient_ids=[data["post_author_id"]],
        actor_id=data["user_id"],
        verb=Notification.Verb.COMMENT,
        target_type="post",
        target_id=data["post_id"],
    )
    if data.get("parent_author_id") not in (None, data["post_author_id"]):
        notifications_create(
            recipient_ids=[data["parent_author_id"]],
            actor_id=data["user_id"],
            verb=Notification.Verb.REPLY,
            target_type="post",
            target_id=data["post_id"],
        )


def notify_follow(event: DomainEvent) -> None:
    data = event.payload
    notifications_create(
        recipient_ids=[data["followee_id"]],
        actor_id=data["user_id"],
        verb=Notification.Verb.FOLLOW,
        target_type="user",
        target_id=data["user_id"],
    )


def notify_join_request(event: DomainEvent) -> None:
    data = event.payload
    managers = Membership.objects.filter(
        group_id=data["group_id"],
        status=Membership.Status.ACTIVE,
        role__in=[Membership.Role.OWNER, Membership.Role.ADMIN],
    ).values_list("user_id", flat=True)
    notifications_create(
        recipient_ids=list(managers),
        actor_id=data["user_id"],
        verb=Notification.Verb.GROUP_JOIN_REQUEST,
        target_type="group",
        target_id=data["group_id"],
    )


def notify_join_approved(event: DomainEvent) -> None:
    data = event.payload
    notifications_create(
        recipient_ids=[data["user_id"]],
        actor_id=data["approved_by_id"],
        verb=Notification.Verb.GROUP_JOIN_APPROVED,
        target_type="group",
        target_id=data["group_id"],
    )


def notify_achievement(event: DomainEvent) -> None:
    """Gamification's unlocks (granted once per person and achievement) become notifications,
    one each for good: with no actor, the unread-unique index cannot tell a redelivered
    event's notification from a new one (NULLs are distinct), so an existing one is looked for."""
    data = event.payload
    announced = Notification.objects.filter(
        recipient_id=data["user_id"],
        verb=Notification.Verb.ACHIEVEMENT,
        target_type="achievement",
        target_id=data["achievement_id"],
    )
    if announced.exists():
        return
    notifications_create(
        recipient_ids=[data["user_id"]],
        actor_id=None,
        verb=Notification.Verb.ACHIEVEMENT,
        target_type="achievement",
        target_id=data["achievement_id"],
    )


SUBSCRIPTIONS = {
    "like.created": notify_like,
    "comment.created": notify_comment,
    "follow.created": notify_follow,
    "group.join_requested": notify_join_request,
    "group.join_approved": notify_join_approved,
    "achievement.unlocked": notify_achievement,
}


def subscribe_all() -> None:
    for name, handler in SUBSCRIPTIONS.items():
        events.subscribe(name, handler, durable=True)
