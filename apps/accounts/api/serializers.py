import zoneinfo

from rest_framework import serializers

from apps.accounts import roles
from apps.accounts.email_identity import canonical_email
from apps.accounts.selectors import user_role_names
from apps.core.input import InputSerializer
from apps.media.api.serializers import MediaRefOutput

_MAX_PASSWORD = 256  # long passphrases welcome; bounded so hashing cannot be abused


class CanonicalEmailField(serializers.EmailField):
    """An address in its canonical form (apps.accounts.email_identity), validated once folded:
    fullwidth, long-s or upper-case spellings of `dana@mail.test` are that one input."""

    def to_internal_value(self, data):
        return super().to_internal_value(canonical_email(data) if isinstance(data, str) else data)


class RegisterInput(InputSerializer):
    email = CanonicalEmailField(max_length=254)
    password = serializers.CharField(max_length=_MAX_PASSWORD, trim_whitespace=False)
    display_name = serializers.CharField(max_length=80)


class RegisterOutput(serializers.Serializer):
    email = serializers.EmailField(help_text="The address in its canonical form.")
    display_name = serializers.CharField()
    verification_email_sent = serializers.BooleanField(
        help_text="Whether this request sent an email to the address: false when one already "
        "went out in the last 3 minutes (the same for new and registered addresses)."
    )


class TokenObtainInput(InputSerializer):
    email = CanonicalEmailField(max_length=254)
    password = serializers.CharField(max_length=_MAX_PASSWORD, trim_whitespace=False)


class RefreshInput(InputSerializer):
    refresh = serializers.CharField(max_length=2048)


class TokenPairOutput(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class EmailInput(InputSerializer):
    email = CanonicalEmailField(max_length=254)


class AcceptedOutput(serializers.Serializer):
    detail = serializers.CharField()


class PasswordChangeInput(InputSerializer):
    old_password = serializers.CharField(max_length=_MAX_PASSWORD, trim_whitespace=False)
    new_password = serializers.CharField(max_length=_MAX_PASSWORD, trim_whitespace=False)


class MeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    display_name = serializers.CharField()
    bio = serializers.CharField()
    avatar = MediaRefOutput(allow_null=True)
    timezone = serializers.CharField()
    roles = serializers.SerializerMethodField()
    date_joined = serializers.DateTimeField()
    last_login = serializers.DateTimeField(allow_null=True)

    def get_roles(self, user) -> list[str]:
        return user_role_names(user=user)


class MeUpdateInput(InputSerializer):
    display_name = serializers.CharField(max_length=80, required=False)
    bio = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    timezone = serializers.CharField(max_length=64, required=False)
    avatar = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="Id of a ready media file uploaded with purpose avatar; null removes it.",
    )

    def validate_timezone(self, value: str) -> str:
        if value not in zoneinfo.available_timezones():
            raise serializers.ValidationError("Not a known IANA time zone, e.g. Europe/Paris.")
        return value


class PublicUserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    display_name = serializers.CharField()
    bio = serializers.CharField()
    avatar = MediaRefOutput(allow_null=True)
    roles = serializers.SerializerMethodField()
    date_joined = serializers.DateTimeField()
    follower_count = serializers.IntegerField()
    following_count = serializers.IntegerField()
    level = serializers.IntegerField()
    xp = serializers.IntegerField()

    def get_roles(self, user) -> list[str]:
        return user_role_names(user=user)


class RolesInput(InputSerializer):
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=roles.ALL_ROLES), min_length=1, max_length=4
    )


class RolesOutput(serializers.Serializer):
    id = serializers.IntegerField()
    roles = serializers.ListField(child=serializers.CharField())


# --- GET /me/export/ (apps.accounts.selectors.user_export_data) ------------------------------


class ExportProfile(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    display_name = serializers.CharField()
    bio = serializers.CharField()
    timezone = serializers.CharField()
    avatar_id = serializers.UUIDField(allow_null=True, help_text="See media_files.")
    date_joined = serializers.DateTimeField()
    last_login = serializers.DateTimeField(allow_null=True)
    roles = serializers.ListField(child=serializers.CharField())


class ExportEmailAddress(serializers.Serializer):
    email = serializers.EmailField()
    verified = serializers.BooleanField()
    primary = serializers.BooleanField()


class ExportSecurityEvent(serializers.Serializer):
    action = serializers.CharField()
    at = serializers.DateTimeField()
    ip = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField()


class ExportCourseRef(serializers.Serializer):
    slug = serializers.SlugField()
    title = serializers.CharField()


class ExportCompletedLesson(serializers.Serializer):
    lesson_id = serializers.IntegerField()
    title = serializers.CharField()
    completed_at = serializers.DateTimeField()


class ExportEnrollment(serializers.Serializer):
    course = ExportCourseRef()
    status = serializers.CharField(help_text="active, completed or cancelled")
    progress_percent = serializers.IntegerField()
    enrolled_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    completed_lessons = ExportCompletedLesson(many=True)


class ExportQuizAttempt(serializers.Serializer):
    course_slug = serializers.SlugField()
    lesson_id = serializers.IntegerField()
    lesson_title = serializers.CharField()
    answers = serializers.JSONField(help_text="Question id to the chosen choice ids.")
    score = serializers.IntegerField()
    passed = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class ExportCourseReview(serializers.Serializer):
    course = ExportCourseRef()
    rating = serializers.IntegerField()
    text = serializers.CharField()
    created_at = serializers.DateTimeField()


class ExportAuthoredCourse(serializers.Serializer):
    slug = serializers.SlugField()
    title = serializers.CharField()
    status = serializers.CharField(help_text="draft, published or archived")
    created_at = serializers.DateTimeField()
    published_at = serializers.DateTimeField(allow_null=True)


class ExportGroupRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(
        allow_null=True, help_text="Null for a private group you only asked to join."
    )


class ExportPost(serializers.Serializer):
    id = serializers.IntegerField()
    body = serializers.CharField()
    visibility = serializers.CharField()
    group = ExportGroupRef(allow_null=True)
    course_id = serializers.IntegerField(allow_null=True)
    is_hidden = serializers.BooleanField(help_text="Hidden by a moderator.")
    deleted_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ExportComment(serializers.Serializer):
    id = serializers.IntegerField()
    post_id = serializers.IntegerField()
    parent_id = serializers.IntegerField(allow_null=True)
    body = serializers.CharField()
    group = ExportGroupRef(allow_null=True, help_text="The group of the post, if any.")
    is_hidden = serializers.BooleanField(help_text="Hidden by a moderator.")
    deleted_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ExportLike(serializers.Serializer):
    post_id = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class ExportFollowedUser(serializers.Serializer):
    user_id = serializers.IntegerField()
    display_name = serializers.CharField(help_text="Blank for a deleted account.")
    since = serializers.DateTimeField()


class ExportFollows(serializers.Serializer):
    following = ExportFollowedUser(many=True)
    followers = ExportFollowedUser(many=True)


class ExportGroupMembership(serializers.Serializer):
    group = ExportGroupRef()
    role = serializers.CharField()
    status = serializers.CharField()
    requested_at = serializers.DateTimeField()
    approved_at = serializers.DateTimeField(allow_null=True)


class ExportReport(serializers.Serializer):
    target_type = serializers.CharField()
    target_id = serializers.IntegerField()
    reason = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)


class ExportAchievement(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    unlocked_at = serializers.DateTimeField()


class ExportWeeklyRanking(serializers.Serializer):
    week_start = serializers.DateField()
    rank = serializers.IntegerField()
    xp = serializers.IntegerField()


class ExportXPEntry(serializers.Serializer):
    action = serializers.CharField(help_text="What earned the XP, e.g. lesson.completed.")
    points = serializers.IntegerField()
    source_key = serializers.CharField(help_text="The one thing this award was for.")
    course_id = serializers.IntegerField(allow_null=True)
    activity_date = serializers.DateField(help_text="The day in your own time zone.")
    created_at = serializers.DateTimeField()


class ExportGamification(serializers.Serializer):
    xp = serializers.IntegerField()
    level = serializers.IntegerField()
    current_streak = serializers.IntegerField()
    longest_streak = serializers.IntegerField()
    last_active_date = serializers.DateField(allow_null=True)
    streak_reminders = serializers.BooleanField()
    achievements = ExportAchievement(many=True)
    weekly_rankings = ExportWeeklyRanking(many=True)
    xp_ledger = ExportXPEntry(many=True)


class ExportMediaFile(serializers.Serializer):
    id = serializers.UUIDField()
    purpose = serializers.CharField()
    status = serializers.CharField()
    original_filename = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField(help_text="Bytes.")
    checksum = serializers.CharField(
        source="sha256", help_text="SHA-256 (hex); blank while pending."
    )
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    attached_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class MeExportOutput(serializers.Serializer):
    """Everything Lyo holds about the caller, oldest first in every list."""

    exported_at = serializers.DateTimeField()
    profile = ExportProfile()
    email_addresses = ExportEmailAddress(many=True)
    security_events = ExportSecurityEvent(many=True)
    enrollments = ExportEnrollment(many=True)
    quiz_attempts = ExportQuizAttempt(many=True)
    course_reviews = ExportCourseReview(many=True)
    authored_courses = ExportAuthoredCourse(many=True)
    posts = ExportPost(many=True)
    comments = ExportComment(many=True)
    likes = ExportLike(many=True)
    follows = ExportFollows()
    group_memberships = ExportGroupMembership(many=True)
    reports = ExportReport(many=True, help_text="Reports you filed.")
    gamification = ExportGamification()
    media_files = ExportMediaFile(many=True)
