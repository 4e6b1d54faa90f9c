"""Social use cases: posts, comments, likes, follows, study groups, reports, notifications.

Authorization lives here next to the rule it protects (views only parse and render). Counters
on posts change with F() expressions in the transaction that writes the like/comment row, so
they stay exact under concurrency; repeated likes/follows/joins are idempotent thanks to the
unique constraints (get_or_create inserts in a savepoint and falls back to the existing row).
Domain events are published inside the transaction and delivered after it commits.
"""

from typing import Any
from uuid import UUID

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError

from apps.accounts.services import audit_record, tokens_revoke_all
from apps.core import events
from apps.core.db import increment, insert_or_skip
from apps.core.errors import Conflict
from apps.courses.selectors import course_referable
from apps.media.services import media_attach, media_detach

from . import selectors
from .models import Comment, Follow, Like, Membership, Notification, Post, Report, StudyGroup
from .sanitize import has_text, sanitize_body

User = get_user_model()

POST_BODY_MAX = 5000
COMMENT_BODY_MAX = 2000

UNCHANGED: Any = object()  # "leave as is", where None means "clear"


def _clean_body(body: str, *, field: str = "body") -> str:
    cleaned = sanitize_body(body)
    if not has_text(cleaned):
        raise ValidationError({field: ["Write something: the text is empty once cleaned."]})
    return cleaned


def _require_moderator(user) -> None:
    if not selectors.user_is_moderator(user=user):
        raise PermissionDenied("Only moderators can do this.")


def _audit_moderation(action: str, *, actor, target: Post | Comment, request) -> None:
    """A moderator acting on someone's post or comment ("moderation.hide", ...)."""
    audit_record(
        action=f"moderation.{action}",
        actor=actor,
        target=target,
        request=request,
        metadata={"target_type": target._meta.model_name, "target_id": target.pk},
    )


def _check_course(*, course_id: int | None, user) -> None:
    if course_id is not None and not course_referable(course_id=course_id, user=user):
        raise ValidationError({"course": ["No such course."]})


# --- Posts -----------------------------------------------------------------------------------


def _active_membership(*, group: StudyGroup, user) -> Membership | None:
    return Membership.objects.filter(
        group=group, user=user, status=Membership.Status.ACTIVE
    ).first()


@transaction.atomic
def post_create(
    *,
    author,
    body: str,
    group_id: int | None = None,
    course_id: int | None = None,
    visibility: str | None = None,
    media_id: UUID | None = None,
) -> Post:
    """Publish a post. In a group (active members only) its visibility is "group" and the
    group's privacy decides who reads it; elsewhere it is "public" (default) or "followers".
    `media_id`: the author's uploaded post_image file, attached to the post."""
    group = None
    if group_id is not None:
        group = selectors.group_get(group_id=group_id)
        if group is None:
            raise ValidationError({"group": ["No such group."]})
        if _active_membership(group=group, user=author) is None:
            raise PermissionDenied("Only active members can post in this group.")
        if visibility not in (None, Post.Visibility.GROUP):
            raise ValidationError({"visibility": ['Posts in a group have visibility "group".']})
        visibility = Post.Visibility.GROUP
    elif visibility == Post.Visibility.GROUP:
        raise ValidationError({"visibility": ['"group" needs a group.']})
    _check_course(course_id=course_id, user=author)
    body = _clean_body(body)
    media = None
    if media_id is not None:
        media = media_attach(media_id=media_id, owner=author, purpose="post_image", field="media")
    post = Post.objects.create(
        author=author,
        body=body,
        group=group,
        course_id=course_id,
        visibility=visibility or Post.Visibility.PUBLIC,
        media=media,
    )
    events.publish(
        "post.created",
        post_id=post.pk,
        user_id=author.pk,
        group_id=post.group_id,
        course_id=post.course_id,
    )
    return post


@transaction.atomic
def post_update(
    *,
    post: Post,
    actor,
    body: str | None = None,
    visibility: str | None = None,
    media_id: UUID | None = UNCHANGED,
    is_hidden: bool | None = None,
    request=None,
) -> Post:
    """Authors edit their text, image (`media_id`: another of their post_image uploads, or
    None to remove it; the previous one is released) and audience; moderators hide or unhide
    (audited)."""
    is_author = post.author_id == actor.pk
    if not is_author and not selectors.user_is_moderator(user=actor):
        raise PermissionDenied("Only the author can edit this post.")
    edits = body is not None or visibility is not None or media_id is not UNCHANGED
    if edits and not is_author:
        raise PermissionDenied("Only the author can edit this post.")
    if is_hidden is not None:
        _require_moderator(actor)
    fields = []
    if body is not None:
        post.body = _clean_body(body)
        fields.append("body")
    if visibility is not None and visibility != post.visibility:
        allowed = [Post.Visibility.GROUP] if post.group_id else ["public", "followers"]
        if visibility not in allowed:
            raise ValidationError(
                {"visibility": [f"Choose one of: {', '.join(allowed)} for this post."]}
            )
        post.visibility = visibility
        fields.append("visibility")
    if media_id is not UNCHANGED:
        # Re-read under a lock: of two concurrent changes, the second releases what the first
        # attached (nothing stays attached that no post uses).
        current = Post.objects.select_for_update().values_list("media_id", flat=True)
        post.media_id = current.get(pk=post.pk)
        if media_id != post.media_id:
            if post.media_id is not None:
                media_detach(media_id=post.media_id)
            post.media = (
                media_attach(media_id=media_id, owner=actor, purpose="post_image", field="media")
                if media_id is not None
                else None
            )
            fields.append("media")
    if fields:
        post.save(update_fields=[*fields, "updated_at"])
    if is_hidden is not None:
        post_set_hidden(post=post, actor=actor, hidden=is_hidden, request=request)
    return post


def _post_hide(post: Post, *, hidden: bool) -> bool:
    """Set the moderation flag; returns whether it changed."""
    changed = Post.objects.filter(pk=post.pk, is_hidden=not hidden).update(is_hidden=hidden)
    post.is_hidden = hidden
    return bool(changed)


@transaction.atomic
def post_set_hidden(*, post: Post, actor, hidden: bool, request=None) -> None:
    """Moderation: hide or unhide a post (callers check the actor is a moderator)."""
    if _post_hide(post, hidden=hidden):
        _audit_moderation("hide" if hidden else "unhide", actor=actor, target=post, request=request)


@transaction.atomic
def post_delete(*, post: Post, actor, request=None) -> None:
    """Soft-delete. The author or a moderator (audited when it is not their own post). The
    image is released (the media orphan cleanup deletes it later)."""
    is_author = post.author_id == actor.pk
    if not is_author:
        _require_moderator(actor)
    live = Post.objects.select_for_update().filter(pk=post.pk, deleted_at__isnull=True)
    media_id = live.values_list("media_id", flat=True).first()
    if live.update(deleted_at=timezone.now(), media=None) and media_id is not None:
        media_detach(media_id=media_id)
    if not is_author:
        _audit_moderation("delete", actor=actor, target=post, request=request)


# --- Likes -----------------------------------------------------------------------------------


def _like_count(post: Post) -> int:
    return Post.objects.values_list("like_count", flat=True).get(pk=post.pk)


# No savepoints: these run inside the request's transaction, and any error ends the request.
@transaction.atomic(savepoint=False)
def like_create(*, user, post: Post) -> tuple[bool, int]:
    """Like a post; returns (created, like_count). Liking twice changes nothing.

    The like row skips an existing one (ON CONFLICT DO NOTHING) and the post's counter moves
    only when it was inserted, so concurrent likes stay exact; on PostgreSQL both happen in
    one statement."""
    like_count = _like_insert_counted(user_id=user.pk, post_id=post.pk)
    if like_count is None:
        return False, _like_count(post)
    events.publish("like.created", user_id=user.pk, post_id=post.pk, post_author_id=post.author_id)
    return True, like_count


def _like_insert_counted(*, user_id: int, post_id: int) -> int | None:
    """Insert the like and bump the counter; the new count, or None if the like existed."""
    if connection.vendor != "postgresql":
        if insert_or_skip(Like, user_id=user_id, post_id=post_id) is None:
            return None
        return increment(Post, pk=post_id, field="like_count")
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH liked AS ("
            " INSERT INTO social_like (user_id, post_id, created_at) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING post_id)"
            " UPDATE social_post SET like_count = like_count + 1"
            " FROM liked WHERE social_post.id = liked.post_id RETURNING like_count",
            [user_id, post_id, timezone.now()],
        )
        row = cursor.fetchone()
    return row[0] if row else None


@transaction.atomic(savepoint=False)
def like_delete(*, user, post: Post) -> int:
    """Take a like back; returns like_count. Unliking twice changes nothing."""
    deleted, _ = Like.objects.filter(user=user, post=post).delete()
    if deleted:
        return increment(Post, pk=post.pk, field="like_count", by=-1)
    return _like_count(post)


# --- Comments --------------------------------------------------------------------------------


@transaction.atomic
def comment_create(*, author, post: Post, body: str, parent_id: int | None = None) -> Comment:
    """Comment on a post, or reply to one of its top-level comments (one level deep)."""
    parent = None
    if parent_id is not None:
        parent = Comment.objects.filter(
            pk=parent_id, post=post, deleted_at__isnull=True, is_hidden=False
        ).first()
        if parent is None:
            raise ValidationError({"parent": ["No such comment on this post."]})
        if parent.parent_id is not None:
            raise ValidationError({"parent": ["Reply to a top-level comment."]})
    comment = Comment.objects.create(
        post=post, author=author, parent=parent, body=_clean_body(body)
    )
    Post.objects.filter(pk=post.pk).update(comment_count=F("comment_count") + 1)
    events.publish(
        "comment.created",
        comment_id=comment.pk,
        post_id=post.pk,
        user_id=author.pk,
        post_author_id=post.author_id,
        parent_author_id=parent.author_id if parent else None,
    )
    return comment


def _comment_counted(comment: Comment) -> bool:
    """comment_count counts the comments a reader can see: neither hidden nor deleted."""
    return not comment.is_hidden and comment.deleted_at is None


@transaction.atomic
def comment_delete(*, comment: Comment, actor, request=None) -> None:
    """Soft-delete. The author or a moderator (audited when it is not their own comment)."""
    is_author = comment.author_id == actor.pk
    if not is_author:
        _require_moderator(actor)
    locked = Comment.objects.select_for_update().get(pk=comment.pk)
    if locked.deleted_at is not None:
        return
    was_counted = _comment_counted(locked)
    locked.deleted_at = timezone.now()
    locked.save(update_fields=["deleted_at", "updated_at"])
    if was_counted:
        Post.objects.filter(pk=locked.post_id).update(comment_count=F("comment_count") - 1)
    if not is_author:
        _audit_moderation("delete", actor=actor, target=locked, request=request)


def _comment_hide(comment: Comment, *, hidden: bool) -> bool:
    """Set the moderation flag (row locked) and keep the post's comment_count exact; returns
    whether it changed."""
    locked = Comment.objects.select_for_update().get(pk=comment.pk)
    comment.is_hidden = hidden
    if locked.is_hidden == hidden:
        return False
    was_counted = _comment_counted(locked)
    locked.is_hidden = hidden
    locked.save(update_fields=["is_hidden", "updated_at"])
    if was_counted != _comment_counted(locked):
        delta = 1 if _comment_counted(locked) else -1
        Post.objects.filter(pk=locked.post_id).update(comment_count=F("comment_count") + delta)
    return True


@transaction.atomic
def comment_set_hidden(*, comment: Comment, actor, hidden: bool, request=None) -> None:
    """Moderation: hide or unhide a comment (callers check the actor is a moderator)."""
    if _comment_hide(comment, hidden=hidden):
        action = "hide" if hidden else "unhide"
        _audit_moderation(action, actor=actor, target=comment, request=request)


# --- Follows ---------------------------------------------------------------------------------


def _followee_or_error(*, follower, user_id: int):
    if user_id == follower.pk:
        raise ValidationError({"user": ["You cannot follow yourself."]})
    followee = selectors.user_get_active(user_id=user_id)
    if followee is None:
        raise NotFound()
    return followee


@transaction.atomic
def follow_create(*, follower, user_id: int) -> bool:
    """Follow someone; returns whether a new follow was created (repeating is harmless)."""
    followee = _followee_or_error(follower=follower, user_id=user_id)
    _, created = Follow.objects.get_or_create(follower=follower, followee=followee)
    if created:
        events.publish("follow.created", user_id=follower.pk, followee_id=followee.pk)
    return created


@transaction.atomic
def follow_delete(*, follower, user_id: int) -> None:
    """Unfollow; repeating is harmless."""
    followee = _followee_or_error(follower=follower, user_id=user_id)
    Follow.objects.filter(follower=follower, followee=followee).delete()


# --- Study groups ----------------------------------------------------------------------------


@transaction.atomic
def group_create(
    *,
    owner,
    name: str,
    description: str = "",
    is_private: bool = False,
    course_id: int | None = None,
) -> StudyGroup:
    _check_course(course_id=course_id, user=owner)
    group = StudyGroup.objects.create(
        owner=owner,
        name=name.strip(),
        description=description.strip(),
        is_private=is_private,
        course_id=course_id,
    )
    Membership.objects.create(
        group=group,
        user=owner,
        role=Membership.Role.OWNER,
        status=Membership.Status.ACTIVE,
        approved_at=group.created_at,
    )
    events.publish("group.created", group_id=group.pk, user_id=owner.pk)
    return group


def _require_manager(*, group: StudyGroup, user) -> Membership:
    membership = Membership.objects.filter(group=group, user=user).first()
    if membership is None or not membership.can_manage:
        raise PermissionDenied("Only the group's owner and admins can do this.")
    return membership


@transaction.atomic
def group_update(*, group: StudyGroup, actor, data: dict[str, Any]) -> StudyGroup:
    _require_manager(group=group, user=actor)
    fields = [name for name in ("name", "description") if name in data]
    for name in fields:
        setattr(group, name, data[name].strip())
    if fields:
        group.save(update_fields=[*fields, "updated_at"])
    return group


@transaction.atomic
def group_join(*, group: StudyGroup, user) -> tuple[Membership, bool]:
    """Join a public group (active at once) or ask to join a private one (pending until an
    owner/admin approves). Returns (membership, created); repeating changes nothing."""
    now = timezone.now()
    pending = group.is_private
    membership, created = Membership.objects.get_or_create(
        group=group,
        user=user,
        defaults={
            "role": Membership.Role.MEMBER,
            "status": Membership.Status.PENDING if pending else Membership.Status.ACTIVE,
            "approved_at": None if pending else now,
        },
    )
    if created and pending:
        events.publish("group.join_requested", group_id=group.pk, user_id=user.pk)
    elif created:
        events.publish("group.member_joined", group_id=group.pk, user_id=user.pk)
    return membership, created


@transaction.atomic
def group_leave(*, group: StudyGroup, user) -> None:
    """Leave a group or withdraw a join request; repeating is harmless. The owner must hand
    the group over first (409)."""
    membership = Membership.objects.select_for_update().filter(group=group, user=user).first()
    if membership is None:
        return
    if membership.role == Membership.Role.OWNER:
        raise Conflict("Transfer the ownership of the group before leaving it.")
    membership.delete()


def _membership_for_update(*, group: StudyGroup, user_id: int) -> Membership:
    membership = (
        Membership.objects.select_for_update()
        .select_related("user")
        .filter(group=group, user_id=user_id, user__is_active=True)
        .first()
    )
    if membership is None:
        raise NotFound("This person is not a member of the group and did not ask to join.")
    return membership


@transaction.atomic
def membership_approve(*, group: StudyGroup, actor, user_id: int) -> Membership:
    """An owner/admin approves a pending join request (approving twice is harmless)."""
    _require_manager(group=group, user=actor)
    membership = _membership_for_update(group=group, user_id=user_id)
    if membership.status == Membership.Status.PENDING:
        membership.status = Membership.Status.ACTIVE
        membership.approved_at = timezone.now()
        membership.save(update_fields=["status", "approved_at"])
        events.publish(
            "group.join_approved", group_id=group.pk, user_id=user_id, approved_by_id=actor.pk
        )
        events.publish("group.member_joined", group_id=group.pk, user_id=user_id)
    return membership


@transaction.atomic
def membership_remove(*, group: StudyGroup, actor, user_id: int) -> None:
    """An owner/admin removes a member or declines a join request. Nobody removes the owner;
    only the owner removes admins."""
    manager = _require_manager(group=group, user=actor)
    membership = _membership_for_update(group=group, user_id=user_id)
    if membership.role == Membership.Role.OWNER:
        raise Conflict("The owner cannot be removed from their group.")
    if membership.role == Membership.Role.ADMIN and manager.role != Membership.Role.OWNER:
        raise PermissionDenied("Only the owner can remove an admin.")
    membership.delete()


@transaction.atomic
def membership_set_role(*, group: StudyGroup, actor, user_id: int, role: str) -> Membership:
    """The owner makes an active member an admin, or an admin a member again."""
    if group.owner_id != actor.pk:
        raise PermissionDenied("Only the owner can change roles.")
    membership = _membership_for_update(group=group, user_id=user_id)
    if membership.role == Membership.Role.OWNER:
        raise Conflict("Transfer the ownership instead.")
    if membership.status != Membership.Status.ACTIVE:
        raise Conflict("Approve the join request first.")
    if membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def group_transfer_ownership(*, group: StudyGroup, actor, user_id: int) -> StudyGroup:
    """The owner hands the group to an active member and stays on as an admin."""
    group = StudyGroup.objects.select_for_update().get(pk=group.pk)
    if group.owner_id != actor.pk:
        raise PermissionDenied("Only the owner can transfer the group.")
    if user_id == actor.pk:
        return group
    target = _membership_for_update(group=group, user_id=user_id)
    if target.status != Membership.Status.ACTIVE:
        raise Conflict("Approve the join request first.")
    # Demote first: the database allows a single owner membership per group.
    Membership.objects.filter(group=group, user=actor).update(role=Membership.Role.ADMIN)
    target.role = Membership.Role.OWNER
    target.save(update_fields=["role"])
    group.owner_id = user_id
    group.save(update_fields=["owner", "updated_at"])
    return group


# --- Reports and moderation ------------------------------------------------------------------


def _require_reportable(*, reporter, target_type: str, target_id: int) -> None:
    if target_type == Report.TargetType.POST:
        post = selectors.post_get_visible(viewer=reporter, post_id=target_id)
        if post is None:
            raise ValidationError({"target_id": ["No such post."]})
    elif target_type == Report.TargetType.COMMENT:
        comment = selectors.comment_get_visible(viewer=reporter, comment_id=target_id)
        if comment is None:
            raise ValidationError({"target_id": ["No such comment."]})
    else:
        if target_id == reporter.pk:
            raise ValidationError({"target_id": ["You cannot report yourself."]})
        if selectors.user_get_active(user_id=target_id) is None:
            raise ValidationError({"target_id": ["No such user."]})


@transaction.atomic
def report_create(
    *, reporter, target_type: str, target_id: int, reason: str
) -> tuple[Report, bool]:
    """Report content or a person to the moderators; returns (report, created). While the
    reporter's earlier report on the same target is open, that one is returned instead."""
    _require_reportable(reporter=reporter, target_type=target_type, target_id=target_id)
    return Report.objects.get_or_create(
        reporter=reporter,
        target_type=target_type,
        target_id=target_id,
        status=Report.Status.OPEN,
        defaults={"reason": reason.strip()},
    )


def _report_target(report: Report):
    models = {"post": Post, "comment": Comment}
    if report.target_type == Report.TargetType.USER:
        return User.objects.filter(pk=report.target_id).first()
    return models[report.target_type].objects.filter(pk=report.target_id).first()


def _user_suspend(*, user, moderator) -> None:
    if user.pk == moderator.pk:
        raise ValidationError({"action": ["You cannot suspend yourself."]})
    if user.is_staff or user.is_superuser or selectors.user_is_moderator(user=user):
        raise PermissionDenied("Staff and moderators cannot be suspended here.")
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    tokens_revoke_all(user=user)


@transaction.atomic
def report_resolve(
    *, report_id: int, moderator, action: str, note: str = "", request=None
) -> Report:
    """Act on a report: hide the post/comment, suspend the person (or the author of the
    content), or dismiss it. Every open report on the same target is closed with it, and the
    decision is audited as "moderation.<action>". A report already closed answers 409."""
    _require_moderator(moderator)
    report = Report.objects.select_for_update().filter(pk=report_id).first()
    if report is None:
        raise NotFound()
    if report.status != Report.Status.OPEN:
        raise Conflict("This report has already been resolved.")

    target = _report_target(report)
    if action == Report.Action.HIDE:
        if report.target_type == Report.TargetType.USER:
            raise ValidationError({"action": ["A person cannot be hidden: suspend them."]})
        # Audited once below, as the report's resolution.
        if isinstance(target, Comment):
            _comment_hide(target, hidden=True)
        elif target is not None:
            _post_hide(target, hidden=True)
    elif action == Report.Action.SUSPEND_USER:
        person = target if report.target_type == Report.TargetType.USER else None
        if target is not None and person is None:
            person = target.author
        if person is None:
            raise Conflict("The reported content no longer exists.")
        _user_suspend(user=person, moderator=moderator)

    status = Report.Status.DISMISSED if action == Report.Action.DISMISS else Report.Status.RESOLVED
    now = timezone.now()
    same_target = Report.objects.filter(
        target_type=report.target_type, target_id=report.target_id, status=Report.Status.OPEN
    )
    closed_ids = sorted(same_target.values_list("pk", flat=True))
    same_target.update(
        status=status,
        resolver=moderator,
        resolution_action=action,
        resolution_note=note,
        resolved_at=now,
    )
    audit_record(
        action=f"moderation.{action}",
        actor=moderator,
        target=target if target is not None else report,
        request=request,
        metadata={
            "report_id": report.pk,
            "reports_closed": closed_ids,
            "target_type": report.target_type,
            "target_id": report.target_id,
            "note": note,
        },
    )
    report.refresh_from_db()
    return report


# --- Notifications ---------------------------------------------------------------------------


def notifications_create(
    *,
    recipient_ids,
    actor_id: int | None,
    verb: str,
    target_type: str = "",
    target_id: int | None = None,
) -> None:
    """Notify several people of one thing, in the caller's transaction: the outbox delivery of
    the event (apps.social.handlers), so the notifications and the event's delivered mark
    commit together and a redelivered event notifies no one twice.

    Never to the actor themselves, never to inactive accounts, and at most one unread
    notification per (recipient, actor, verb, target): a partial unique index backs that, and
    the insert skips rows that would break it (ON CONFLICT DO NOTHING).
    """
    wanted = {pk for pk in recipient_ids if pk is not None and pk != actor_id}
    if not wanted:
        return
    # One INSERT ... SELECT: only active accounts, and the partial unique index turns a
    # duplicate unread notification into a skipped row.
    notifications, users = Notification._meta, User._meta
    qn = connection.ops.quote_name
    sql = (  # identifiers from model metadata; every value is a parameter
        f"INSERT INTO {qn(notifications.db_table)} "  # noqa: S608
        "(recipient_id, actor_id, verb, target_type, target_id, created_at) "
        f"SELECT {qn(users.pk.column)}, %s, %s, %s, %s, %s FROM {qn(users.db_table)} "
        f"WHERE is_active AND {qn(users.pk.column)} IN ({', '.join(['%s'] * len(wanted))})"
        " ON CONFLICT DO NOTHING"
    )
    params = [actor_id, verb, target_type, target_id, timezone.now(), *sorted(wanted)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def notification_create(
    *, recipient, actor=None, verb: str, target_type: str = "", target_id: int | None = None
) -> None:
    """Notify one person (e.g. gamification: verb "achievement", actor None), in the caller's
    transaction; skipped for oneself and for duplicates still unread."""
    notifications_create(
        recipient_ids=[recipient.pk],
        actor_id=actor.pk if actor is not None else None,
        verb=verb,
        target_type=target_type,
        target_id=target_id,
    )


def notifications_mark_read(*, user, ids: list[int] | None = None, everything: bool = False):
    """Mark some (ids) or all of the user's unread notifications read, in one UPDATE.
    Returns how many changed; other people's ids are ignored."""
    queryset = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if not everything:
        queryset = queryset.filter(pk__in=ids or [])
    return queryset.update(read_at=timezone.now())
