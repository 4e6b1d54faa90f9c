"""Models of the social domain: posts, comments, likes, follows, study groups, reports,
notifications.

Deletion is soft for user content (`deleted_at`), so threads, counters and moderation history
stay coherent; hidden-by-moderation is a separate flag that a moderator can undo.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

# Rows the feed and every list may show. The partial indexes below are declared with exactly
# this condition, so PostgreSQL can use them for any query that filters on it.
VISIBLE = Q(is_hidden=False, deleted_at__isnull=True)


class StudyGroup(models.Model):
    """A group of learners. Public groups are open to all; private ones by approved request."""

    name = models.CharField(max_length=120)
    description = models.TextField(max_length=2000, blank=True)
    is_private = models.BooleanField(default=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="owned_study_groups"
    )
    # The course the group studies; a deleted course leaves the group (without a course).
    course = models.ForeignKey(
        "courses.Course", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["name", "id"], name="social_group_name")]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending approval"
        ACTIVE = "active", "Active"

    group = models.ForeignKey(StudyGroup, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="study_group_memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="social_membership_unique"),
            models.UniqueConstraint(
                fields=["group"], condition=Q(role="owner"), name="social_membership_one_owner"
            ),
            models.CheckConstraint(
                condition=~Q(role="owner") | Q(status="active"),
                name="social_membership_owner_is_active",
            ),
        ]
        indexes = [
            # The feed's "groups I am an active member of" subquery: an index-only scan.
            models.Index(fields=["user", "status", "group"], name="social_membership_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.group_id} ({self.role}, {self.status})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def can_manage(self) -> bool:
        return self.is_active and self.role in (self.Role.OWNER, self.Role.ADMIN)


class Post(models.Model):
    class Visibility(models.TextChoices):
        PUBLIC = "public", "Everyone"
        FOLLOWERS = "followers", "Followers"
        GROUP = "group", "Group"  # who may see it follows the group's privacy

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="posts"
    )
    body = models.TextField()  # sanitized HTML fragment (see apps.social.sanitize)
    group = models.ForeignKey(
        StudyGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="posts"
    )
    # The course the post is about; a deleted course leaves the post (without a course).
    course = models.ForeignKey(
        "courses.Course", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    # An image (purpose post_image), attached and released by the post services.
    media = models.ForeignKey(
        "media.MediaFile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_hidden = models.BooleanField(default=False, help_text="Hidden by a moderator.")
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Denormalized; changed only with F() expressions in the transaction that writes the row.
    like_count = models.PositiveIntegerField(default=0)
    comment_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A post belongs to a group exactly when its visibility is "group".
            models.CheckConstraint(
                condition=Q(group__isnull=True, visibility__in=["public", "followers"])
                | Q(group__isnull=False, visibility="group"),
                name="social_post_group_visibility",
            ),
        ]
        indexes = [
            # Newest-first walks over visible posts (see selectors.feed_for_user).
            models.Index(
                F("created_at").desc(), F("id").desc(), condition=VISIBLE, name="social_post_recent"
            ),
            models.Index(
                "author",
                F("created_at").desc(),
                F("id").desc(),
                condition=VISIBLE,
                name="social_post_author_recent",
            ),
            models.Index(
                "group",
                F("created_at").desc(),
                F("id").desc(),
                condition=VISIBLE & Q(group__isnull=False),
                name="social_post_group_recent",
            ),
            models.Index(
                F("created_at").desc(),
                F("id").desc(),
                condition=VISIBLE & Q(visibility="public"),
                name="social_post_public_recent",
            ),
        ]

    def __str__(self) -> str:
        return f"Post {self.pk} by {self.author_id}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class Comment(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="post_comments"
    )
    # One level of replies: a parent is always a top-level comment of the same post.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    body = models.TextField()  # sanitized HTML fragment
    is_hidden = models.BooleanField(default=False, help_text="Hidden by a moderator.")
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                "post", "created_at", "id", condition=VISIBLE, name="social_comment_post_thread"
            ),
        ]

    def __str__(self) -> str:
        return f"Comment {self.pk} on {self.post_id}"

    @property
    def is_removed(self) -> bool:
        return self.is_hidden or self.deleted_at is not None


class Like(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="post_likes"
    )
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="likes")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            # Also the index behind liked_by_me (user_id, post_id) lookups.
            models.UniqueConstraint(fields=["user", "post"], name="social_like_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} likes {self.post_id}"


class Follow(models.Model):
    follower = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="following_set"
    )
    followee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="follower_set"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            # (follower, followee) also serves the feed's "whom do I follow" index-only scan.
            models.UniqueConstraint(fields=["follower", "followee"], name="social_follow_unique"),
            models.CheckConstraint(
                condition=~Q(follower=F("followee")), name="social_follow_not_self"
            ),
        ]
        indexes = [
            models.Index("followee", F("created_at").desc(), name="social_follow_followers"),
            models.Index("follower", F("created_at").desc(), name="social_follow_following"),
        ]

    def __str__(self) -> str:
        return f"{self.follower_id} follows {self.followee_id}"


class Report(models.Model):
    class TargetType(models.TextChoices):
        POST = "post", "Post"
        COMMENT = "comment", "Comment"
        USER = "user", "User"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Dismissed"

    class Action(models.TextChoices):
        HIDE = "hide", "Hide the content"
        DISMISS = "dismiss", "Dismiss"
        SUSPEND_USER = "suspend_user", "Suspend the user"

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports_made"
    )
    target_type = models.CharField(max_length=10, choices=TargetType.choices)
    target_id = models.PositiveBigIntegerField()
    reason = models.TextField(max_length=1000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    resolver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports_resolved",
    )
    resolution_action = models.CharField(max_length=16, choices=Action.choices, blank=True)
    resolution_note = models.TextField(max_length=1000, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["reporter", "target_type", "target_id"],
                condition=Q(status="open"),
                name="social_report_one_open_per_reporter",
            ),
        ]
        indexes = [
            models.Index(
                "created_at", "id", condition=Q(status="open"), name="social_report_queue"
            ),
            models.Index(fields=["target_type", "target_id"], name="social_report_target"),
        ]

    def __str__(self) -> str:
        return f"Report {self.pk}: {self.target_type} {self.target_id} ({self.status})"


class Notification(models.Model):
    class Verb(models.TextChoices):
        LIKE = "like", "liked your post"
        COMMENT = "comment", "commented on your post"
        REPLY = "reply", "replied to your comment"
        FOLLOW = "follow", "started following you"
        GROUP_JOIN_REQUEST = "group_join_request", "asked to join your group"
        GROUP_JOIN_APPROVED = "group_join_approved", "approved your request to join"
        ACHIEVEMENT = "achievement", "unlocked an achievement"

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    # Null for system notifications (e.g. an achievement).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications_caused",
    )
    verb = models.CharField(max_length=32)  # Verb values; other apps may add their own verbs
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # At most one unread notification per (recipient, actor, verb, target): liking,
            # unliking and liking again does not notify twice.
            models.UniqueConstraint(
                fields=["recipient", "actor", "verb", "target_type", "target_id"],
                condition=Q(read_at__isnull=True),
                name="social_notification_unread_unique",
            ),
        ]
        indexes = [
            models.Index(
                "recipient", F("created_at").desc(), F("id").desc(), name="social_notif_inbox"
            ),
            models.Index(
                fields=["recipient"],
                condition=Q(read_at__isnull=True),
                name="social_notif_unread",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.verb} for {self.recipient_id}"
