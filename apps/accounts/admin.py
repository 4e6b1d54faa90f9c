from allauth.account.models import EmailAddress
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Exists, OuterRef

from . import roles
from .models import AuditEvent, User
from .services import user_set_roles


class EmailVerifiedFilter(admin.SimpleListFilter):
    title = "email verified"
    parameter_name = "verified"

    def lookups(self, request, model_admin):
        return (("yes", "Yes"), ("no", "No"))

    def queryset(self, request, queryset):
        verified = Exists(EmailAddress.objects.filter(user=OuterRef("pk"), verified=True))
        if self.value() == "yes":
            return queryset.filter(verified)
        if self.value() == "no":
            return queryset.exclude(verified)
        return queryset


class RoleFilter(admin.SimpleListFilter):
    title = "role"
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return [(name, name.title()) for name in roles.ALL_ROLES]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(groups__name=self.value())
        return queryset


def _role_action(role: str):
    def action(modeladmin, request, queryset):
        for user in queryset.prefetch_related("groups"):
            current = [g.name for g in user.groups.all() if g.name in roles.ALL_ROLES]
            user_set_roles(
                request=request, actor=request.user, user=user, role_names=[*current, role]
            )
        messages.success(request, f"Granted {role} to {queryset.count()} user(s).")

    action.__name__ = f"grant_{role}"
    action.short_description = f"Grant the {role} role"
    action.allowed_permissions = ("manage_roles",)
    return action


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("id",)
    list_display = ("email", "display_name", "is_active", "is_staff", "date_joined", "last_login")
    list_filter = (RoleFilter, EmailVerifiedFilter, "is_active", "is_staff", "is_superuser")
    search_fields = ("email", "display_name")
    readonly_fields = ("last_login", "date_joined")
    actions = [_role_action(role) for role in roles.ALL_ROLES]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("display_name", "bio", "timezone")}),
        ("Roles and access", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    def has_manage_roles_permission(self, request) -> bool:
        return request.user.has_perm("accounts.manage_roles")

    def save_related(self, request, form, formsets, change):
        before = set(form.instance.groups.values_list("name", flat=True)) if change else set()
        super().save_related(request, form, formsets, change)
        after = set(form.instance.groups.values_list("name", flat=True))
        if change and before != after:
            from .services import audit_record

            audit_record(
                action="roles.changed",
                actor=request.user,
                target=form.instance,
                request=request,
                metadata={"before": sorted(before), "after": sorted(after), "channel": "admin"},
            )


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "action", "actor", "target_type", "target_id", "ip")
    list_filter = ("action",)
    search_fields = ("action", "actor__email", "target_id", "request_id", "ip")
    date_hierarchy = "created_at"
    list_select_related = ("actor",)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
