from django.utils import timezone
from django.utils.functional import cached_property
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.input import IdField, InputSerializer
from apps.media.api.serializers import MediaRefOutput
from apps.social import selectors
from apps.social.models import Membership, Post, Report
from apps.social.services import COMMENT_BODY_MAX, POST_BODY_MAX

# --- Summaries shared by several outputs -------------------------------------------------------


class UserSummaryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    display_name = serializers.CharField()


class GroupSummaryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CourseSummaryOutput(serializers.Serializer):
    """Only the id for now: the course summary grows once the courses app has landed."""

    id = serializers.IntegerField()


@extend_schema_field(CourseSummaryOutput(allow_null=True))
class CourseSummaryField(serializers.Field):
    """`{"id": course_id}` or null, read from the object's `course_id`."""

    def __init__(self, **kwargs):
        super().__init__(source="course_id", read_only=True, **kwargs)

    def to_representation(self, value):
        return {"id": value}


class _CourseReferenceInput(InputSerializer):
    """`course` (the contract's name) or `course_id`: the id of a course, optional."""

    course = IdField(required=False, allow_null=True)
    course_id = IdField(required=False, allow_null=True, write_only=True)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        alias = attrs.pop("course_id", None)
        if attrs.get("course") is None and alias is not None:
            attrs["course"] = alias
        return attrs


# --- Posts ----------------------------------------------------------------------------------


class PostOutput(serializers.Serializer):
    id = serializers.IntegerField()
    author = UserSummaryOutput()
    body = serializers.CharField(help_text="Sanitized HTML fragment.")
    visibility = serializers.ChoiceField(choices=Post.Visibility.choices)
    group = GroupSummaryOutput(allow_null=True)
    course = CourseSummaryField(allow_null=True)
    media = MediaRefOutput(allow_null=True, help_text="The post's image.")
    like_count = serializers.IntegerField()
    comment_count = serializers.IntegerField()
    liked_by_me = serializers.BooleanField()
    is_hidden = serializers.BooleanField(help_text="Hidden by a moderator (author's view).")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, instance):
        if isinstance(instance, dict):
            return self._feed_row_representation(instance)
        return super().to_representation(instance)

    def _feed_row_representation(self, row: dict) -> dict:
        """A feed row (selectors.Feed: plain values under the fields' sources) as the fields
        above render it, without their per-field machinery (over a tenth of a feed request).
        A field added above needs its value in the feed's statement and a line here:
        tests/social/test_feed.py compares the two renderings on every kind of post."""
        course_id = row["course_id"]
        return {
            "id": row["id"],
            "author": row["author"],
            "body": row["body"],
            "visibility": row["visibility"],
            "group": row["group"],
            "course": None if course_id is None else {"id": course_id},
            "media": None if row["media"] is None else MediaRefOutput(row["media"]).data,
            "like_count": row["like_count"],
            "comment_count": row["comment_count"],
            "liked_by_me": row["liked_by_me"],
            "is_hidden": row["is_hidden"],
            "created_at": self._iso_8601(row["created_at"]),
            "updated_at": self._iso_8601(row["updated_at"]),
        }

    def _iso_8601(self, moment) -> str:
        """DateTimeField's rendering with the default format: ISO 8601 in the current time
        zone, UTC as "Z"."""
        text = moment.astimezone(self._time_zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    @cached_property
    def _time_zone(self):
        return timezone.get_current_timezone()  # once per page, not per value


class PostCreateInput(_CourseReferenceInput):
    body = serializers.CharField(max_length=POST_BODY_MAX)
    group = IdField(required=False, allow_null=True)
    visibility = serializers.ChoiceField(choices=Post.Visibility.choices, required=False)
    media = serializers.UUIDField(
        required=False, allow_null=True, help_text="Id of your uploaded post_image media file."
    )


class PostUpdateInput(InputSerializer):
    body = serializers.CharField(max_length=POST_BODY_MAX, required=False)
    visibility = serializers.ChoiceField(choices=Post.Visibility.choices, required=False)
    media = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="Id of another of your post_image uploads, or null to remove the image.",
    )
    is_hidden = serializers.BooleanField(required=False, help_text="Moderators only.")


class PostListQuery(serializers.Serializer):
    author = IdField(required=False)


class LikeOutput(serializers.Serializer):
    liked = serializers.BooleanField()
    like_count = serializers.IntegerField()


# --- Comments -------------------------------------------------------------------------------


class CommentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    post_id = serializers.IntegerField()
    parent_id = serializers.IntegerField(allow_null=True)
    author = UserSummaryOutput()
    body = serializers.CharField(help_text="Sanitized HTML fragment.")
    created_at = serializers.DateTimeField()


class CommentCreateInput(InputSerializer):
    body = serializers.CharField(max_length=COMMENT_BODY_MAX)
    parent = IdField(required=False, allow_null=True)


# --- Follows --------------------------------------------------------------------------------


class FollowOutput(serializers.Serializer):
    following = serializers.BooleanField()


class FollowerOutput(serializers.Serializer):
    """A person in a followers/following list."""

    id = serializers.IntegerField()
    display_name = serializers.CharField()
    followed_at = serializers.DateTimeField()
    followed_by_me = serializers.BooleanField()


# --- Study groups ---------------------------------------------------------------------------


class MembershipOutput(serializers.Serializer):
    group_id = serializers.IntegerField()
    user = UserSummaryOutput()
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    status = serializers.ChoiceField(choices=Membership.Status.choices)
    created_at = serializers.DateTimeField(help_text="When they joined or asked to join.")
    approved_at = serializers.DateTimeField(allow_null=True)


_SEALED = "Null when the group is sealed: a private group you only asked to join."


class GroupOutput(serializers.Serializer):
    """A group; sealed (only `id`, `is_private` and `my_membership`, the rest null) for someone
    whose request to join a private group is pending. Needs context {"viewer": user}."""

    id = serializers.IntegerField()
    name = serializers.CharField(allow_null=True, help_text=_SEALED)
    description = serializers.CharField(allow_null=True, help_text=_SEALED)
    is_private = serializers.BooleanField()
    owner = UserSummaryOutput(allow_null=True, help_text=_SEALED)
    course = CourseSummaryField(allow_null=True)
    member_count = serializers.IntegerField(allow_null=True, help_text=_SEALED)
    my_membership = serializers.SerializerMethodField(
        help_text="Your membership (or join request); null when you have none."
    )
    created_at = serializers.DateTimeField(allow_null=True, help_text=_SEALED)

    SEALED_FIELDS = ("name", "description", "owner", "course", "member_count", "created_at")

    def to_representation(self, group):
        data = super().to_representation(group)
        if not selectors.group_details_visible(viewer=self.context["viewer"], group=group):
            data.update(dict.fromkeys(self.SEALED_FIELDS))
        return data

    @extend_schema_field(MembershipOutput(allow_null=True))
    def get_my_membership(self, group) -> dict | None:
        mine = group.viewer_memberships  # prefetched by the selectors
        return MembershipOutput(mine[0]).data if mine else None


class GroupListQuery(serializers.Serializer):
    q = serializers.CharField(required=False, max_length=100, allow_blank=True)
    mine = serializers.BooleanField(required=False, default=False)


class GroupCreateInput(_CourseReferenceInput):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    is_private = serializers.BooleanField(required=False, default=False)


class GroupUpdateInput(InputSerializer):
    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class MembersQuery(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=Membership.Status.choices,
        required=False,
        default=Membership.Status.ACTIVE,
        help_text="pending: join requests (owner and admins only).",
    )


class MemberRoleInput(InputSerializer):
    role = serializers.ChoiceField(
        choices=Membership.Role.choices, help_text="admin or member (ownership is transferred)"
    )

    def validate_role(self, value: str) -> str:
        if value == Membership.Role.OWNER:
            raise serializers.ValidationError("Transfer the ownership instead.")
        return value


class GroupTransferInput(InputSerializer):
    user_id = IdField()


# --- Reports and moderation -----------------------------------------------------------------


class ReportCreateInput(InputSerializer):
    target_type = serializers.ChoiceField(choices=Report.TargetType.choices)
    target_id = IdField()
    reason = serializers.CharField(max_length=1000)


class ReportTargetOutput(serializers.Serializer):
    """What the report points at; the fields depend on target_type."""

    id = serializers.IntegerField()
    body = serializers.CharField(required=False, help_text="post, comment")
    author = UserSummaryOutput(required=False, help_text="post, comment")
    is_hidden = serializers.BooleanField(required=False, help_text="post, comment")
    is_deleted = serializers.BooleanField(required=False, help_text="post, comment")
    group_id = serializers.IntegerField(required=False, allow_null=True, help_text="post")
    post_id = serializers.IntegerField(required=False, help_text="comment")
    display_name = serializers.CharField(required=False, help_text="user")
    is_active = serializers.BooleanField(required=False, help_text="user")


class ReportOutput(serializers.Serializer):
    """A report, for its reporter (while open) and for moderators (with the decision)."""

    id = serializers.IntegerField()
    target_type = serializers.ChoiceField(choices=Report.TargetType.choices)
    target_id = serializers.IntegerField()
    target = serializers.SerializerMethodField()
    reason = serializers.CharField()
    reporter = UserSummaryOutput()
    status = serializers.ChoiceField(choices=Report.Status.choices)
    resolution_action = serializers.CharField(help_text="Empty while the report is open.")
    resolution_note = serializers.CharField()
    resolver = UserSummaryOutput(allow_null=True)
    created_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(ReportTargetOutput(allow_null=True))
    def get_target(self, report) -> dict | None:
        """Null when the target no longer exists."""
        targets = self.context.get("targets", {})
        return targets.get((report.target_type, report.target_id))


class ModerationQueueQuery(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=Report.Status.choices, required=False, default=Report.Status.OPEN
    )


class ReportResolveInput(InputSerializer):
    action = serializers.ChoiceField(choices=Report.Action.choices)
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


# --- Notifications --------------------------------------------------------------------------


class NotificationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    verb = serializers.CharField()
    actor = UserSummaryOutput(allow_null=True)
    target_type = serializers.CharField()
    target_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)
    is_read = serializers.SerializerMethodField()

    def get_is_read(self, notification) -> bool:
        return notification.read_at is not None


class NotificationsQuery(serializers.Serializer):
    unread = serializers.BooleanField(required=False, default=False)


class NotificationsReadInput(InputSerializer):
    ids = serializers.ListField(child=IdField(), required=False, max_length=500)
    all = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if attrs.get("all") == ("ids" in attrs):
            raise serializers.ValidationError('Send either "ids" or "all": true.')
        return attrs


class NotificationsReadOutput(serializers.Serializer):
    marked = serializers.IntegerField()
