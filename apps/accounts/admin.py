from allauth.account.models import EmailAddress
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef

from . import privileges, roles
from .models import AuditEvent, User
from .services import (
    PrivilegeDenied,
    audit_record,
    user_access_change_record,
    user_password_set_by_admin_record,
    user_roles_change_check,
    user_set_roles,
)


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
        users = list(queryset.prefetch_related("groups"))
        refused = []
        for user in users:
            current = {g.name for g in user.groups.all() if g.name in roles.ALL_ROLES}
            try:
                user_roles_change_check(
                    request=request, actor=request.user, user=user, role_names={*current, role}
                )
            except PrivilegeDenied:
                refused.append(user.email)
        if refused:  # all or nothing: a partly applied bulk change is hard to reason about
            messages.error(
                request,
                f"Nothing changed: your role may not grant {role} to {', '.join(refused)}.",
            )
            return
        for user in users:
            current = [g.name for g in user.groups.all() if g.name in roles.ALL_ROLES]
            user_set_roles(
                request=request, actor=request.user, user=user, role_names=[*current, role]
            )
        messages.success(request, f"Granted {role} to {len(users)} user(s).")

    action.__name__ = f"grant_{role}"
    action.short_description = f"Grant the {role} role"
    action.allowed_permissions = ("manage_roles",)
    return action


# Only a superuser edits these, on anyone (apps.accounts.privileges).
SUPERUSER_ONLY_FIELDS = ("is_staff", "is_superuser")
ACCESS_FIELDS = ("is_active", "is_staff", "is_superuser")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """People and their access. What a role admin may change is apps.accounts.privileges':
    learners' and instructors' accounts, the student and instructor roles, nothing of staff."""

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

    def has_change_permission(self, request, obj=None) -> bool:
        # Covers the change form, the password form (UserAdmin checks this) and saving.
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or privileges.may_manage(request.user, obj))

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += SUPERUSER_ONLY_FIELDS
        return fields

    def get_actions(self, request):
        actions = super().get_actions(request)
        grantable = privileges.grantable_roles(request.user)
        for role in roles.ALL_ROLES:
            if role not in grantable:
                actions.pop(f"grant_{role}", None)
        return actions

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups" and not request.user.is_superuser:
            kwargs["queryset"] = Group.objects.filter(
                name__in=privileges.grantable_roles(request.user)
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        changed = [name for name in ACCESS_FIELDS if name in form.changed_data]
        before = {name: form.initial.get(name) for name in changed}
        super().save_model(request, obj, form, change)
        if change and changed:
            user_access_change_record(
                request=request,
                actor=request.user,
                user=obj,
                before=before,
                after={name: getattr(obj, name) for name in changed},
            )

    def save_related(self, request, form, formsets, change):
        user = form.instance
        before = set(user.groups.all()) if change else set()
        if change and "groups" in form.changed_data:
            # The roles API's rule, and its audit of a refusal (the form offers only what
            # the actor may grant; a forged POST ends here).
            wanted = {g.name for g in form.cleaned_data["groups"] if g.name in roles.ALL_ROLES}
            try:
                user_roles_change_check(
                    request=request, actor=request.user, user=user, role_names=wanted
                )
            except PrivilegeDenied as denied:
                raise PermissionDenied(str(denied)) from denied
        super().save_related(request, form, formsets, change)
        # Groups the actor was not offered stay as they were.
        offered = set(form.fields["groups"].queryset) if "groups" in form.fields else set()
        user.groups.add(*(before - offered))
        after = set(user.groups.all())
        if change and before != after:
            audit_record(
                action="roles.changed",
                actor=request.user,
                target=user,
                request=request,
                metadata={
                    "before": sorted(g.name for g in before),
                    "after": sorted(g.name for g in after),
                    "channel": "admin",
                },
            )

    def user_change_password(self, request, id, form_url=""):
        hash_before = User.objects.filter(pk=id).values_list("password", flat=True).first()
        response = super().user_change_password(request, id, form_url)
        user = User.objects.filter(pk=id).first()
        if request.method == "POST" and user is not None and user.password != hash_before:
            user_password_set_by_admin_record(request=request, actor=request.user, user=user)
        return response


admin.site.unregister(Group)


@admin.register(Group)
class RoleGroupAdmin(GroupAdmin):
    """Roles are Groups: their permissions decide what every holder may do, so only a
    superuser edits them, whatever permissions a staff account was given."""

    def has_add_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser


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
