"""Staff views of the social domain. Moderation actions go through the services, so counters
stay exact and every hide/unhide/resolution is audited like its API counterpart."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import strip_tags
from django.utils.text import Truncator

from apps.core.errors import ApplicationError

from . import services
from .models import Comment, Follow, Membership, Notification, Post, Report, StudyGroup


def _excerpt(html: str) -> str:
    return Truncator(strip_tags(html)).chars(80)


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return (("yes", "Deleted"), ("no", "Not deleted"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        return queryset


class ModerationActions:
    """Read-only content with hide/unhide actions for people whose role allows moderating.
    Bodies are not editable here: they are stored sanitized by the services, and hard deletes
    would skew the posts' counters (authors and moderators soft-delete through the API)."""

    actions = ("hide", "unhide")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.moderate_content")

    def set_hidden(self, request, obj, hidden: bool) -> None:
        raise NotImplementedError

    def _apply(self, request: HttpRequest, queryset: QuerySet, hidden: bool) -> None:
        for obj in queryset:
            self.set_hidden(request, obj, hidden)
        verb = "Hid" if hidden else "Unhid"
        self.message_user(request, f"{verb} {len(queryset)} item(s).", messages.SUCCESS)

    @admin.action(description="Hide selected (moderation)", permissions=["moderate"])
    def hide(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, hidden=True)

    @admin.action(description="Unhide selected (moderation)", permissions=["moderate"])
    def unhide(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, hidden=False)


@admin.register(Post)
class PostAdmin(ModerationActions, admin.ModelAdmin):
    list_display = (
        "id",
        "author",
        "excerpt",
        "group",
        "visibility",
        "is_hidden",
        "deleted_at",
        "like_count",
        "comment_count",
        "created_at",
    )
    list_filter = ("visibility", "is_hidden", DeletedFilter, "created_at")
    search_fields = ("body", "author__email", "author__display_name")
    list_select_related = ("author", "group")
    raw_id_fields = ("author", "group", "course")
    # The image changes through the API, which attaches and releases the file.
    readonly_fields = (
        "media",
        "like_count",
        "comment_count",
        "is_hidden",
        "created_at",
        "updated_at",
    )
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")

    @admin.display(description="body")
    def excerpt(self, post: Post) -> str:
        return _excerpt(post.body)

    def set_hidden(self, request, obj, hidden: bool) -> None:
        services.post_set_hidden(post=obj, actor=request.user, hidden=hidden, request=request)


@admin.register(Comment)
class CommentAdmin(ModerationActions, admin.ModelAdmin):
    list_display = ("id", "author", "excerpt", "post", "parent", "is_hidden", "deleted_at")
    list_filter = ("is_hidden", DeletedFilter, "created_at")
    search_fields = ("body", "author__email", "author__display_name")
    list_select_related = ("author",)
    raw_id_fields = ("author", "post", "parent")
    readonly_fields = ("is_hidden", "created_at", "updated_at")
    ordering = ("-created_at", "-id")

    @admin.display(description="body")
    def excerpt(self, comment: Comment) -> str:
        return _excerpt(comment.body)

    def set_hidden(self, request, obj, hidden: bool) -> None:
        services.comment_set_hidden(comment=obj, actor=request.user, hidden=hidden, request=request)


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    """The moderation queue. Resolving goes through the same service as the API (audited)."""

    list_display = (
        "id",
        "target_type",
        "target_id",
        "reporter",
        "status",
        "resolution_action",
        "resolver",
        "created_at",
    )
    list_filter = ("status", "target_type", "resolution_action")
    search_fields = ("reason", "reporter__email")
    list_select_related = ("reporter", "resolver")
    ordering = ("status", "created_at", "id")
    actions = ("resolve_hide", "resolve_dismiss")
    readonly_fields = [field.name for field in Report._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.moderate_content")

    def _resolve(self, request: HttpRequest, queryset: QuerySet[Report], action: str) -> None:
        done = 0
        for report in queryset.filter(status=Report.Status.OPEN):
            try:
                services.report_resolve(
                    report_id=report.pk, moderator=request.user, action=action, request=request
                )
            except ApplicationError as error:
                self.message_user(request, f"Report {report.pk}: {error.detail}", messages.WARNING)
            else:
                done += 1
        self.message_user(request, f"Resolved {done} report(s).")

    @admin.action(description="Hide the reported content", permissions=["moderate"])
    def resolve_hide(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        self._resolve(request, queryset.exclude(target_type=Report.TargetType.USER), "hide")

    @admin.action(description="Dismiss", permissions=["moderate"])
    def resolve_dismiss(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        self._resolve(request, queryset, "dismiss")


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)
    fields = ("user", "role", "status", "created_at", "approved_at")
    readonly_fields = ("created_at",)


@admin.register(StudyGroup)
class StudyGroupAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "is_private", "owner", "course_id", "created_at")
    list_filter = ("is_private",)
    search_fields = ("name", "owner__email")
    list_select_related = ("owner",)
    raw_id_fields = ("owner", "course")
    inlines = (MembershipInline,)


@admin.register(Follow)
class FollowAdmin(admin.ModelAdmin):
    list_display = ("follower", "followee", "created_at")
    search_fields = ("follower__email", "followee__email")
    list_select_related = ("follower", "followee")
    raw_id_fields = ("follower", "followee")
    ordering = ("-created_at",)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Read-only: notifications are records of what people were told."""

    list_display = (
        "recipient",
        "verb",
        "actor",
        "target_type",
        "target_id",
        "created_at",
        "read_at",
    )
    list_filter = ("verb", "target_type")
    search_fields = ("recipient__email",)
    list_select_related = ("recipient", "actor")
    ordering = ("-created_at",)
    readonly_fields = [field.name for field in Notification._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
