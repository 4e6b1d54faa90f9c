"""Roles are Django Groups; what each may do is the permissions listed here.

Views never check group names: they check permissions (apps.accounts.permissions).
`roles_sync` writes this declaration to the database: run by the data migration that created
the roles and again after every `migrate`/`flush` (post_migrate), so code and database agree.
"""

STUDENT = "student"
INSTRUCTOR = "instructor"
MODERATOR = "moderator"
ADMIN = "admin"
ALL_ROLES = (STUDENT, INSTRUCTOR, MODERATOR, ADMIN)
DEFAULT_ROLE = STUDENT
# Roles that may open the Django admin (staff flag follows the role).
STAFF_ROLES = frozenset({ADMIN})

ROLE_PERMISSIONS: dict[str, list[str]] = {
    STUDENT: [],
    INSTRUCTOR: ["accounts.author_courses"],
    MODERATOR: ["accounts.moderate_content", "accounts.view_audit_log"],
    ADMIN: [
        "accounts.author_courses",
        "accounts.manage_all_courses",
        "accounts.moderate_content",
        "accounts.view_audit_log",
        "accounts.manage_roles",
        # Django admin access to people and the audit trail.
        "accounts.view_user",
        "accounts.change_user",
        "accounts.view_auditevent",
    ],
}


def roles_sync(*, group_model, permission_model) -> None:
    """Create missing role groups and grant their declared permissions (never revokes)."""
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = [perm.split(".", 1) for perm in perms]
        found = [
            permission
            for app_label, codename in wanted
            for permission in permission_model.objects.filter(
                content_type__app_label=app_label, codename=codename
            )
        ]
        if len(found) != len(wanted):
            raise RuntimeError(f"Missing permissions for role {role}: {perms}")
        group.permissions.add(*found)
