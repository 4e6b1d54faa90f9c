"""DRF permission classes that check permissions (granted through roles), never group names."""

from rest_framework.permissions import BasePermission


def has_perm(codename: str) -> type[BasePermission]:
    """`permission_classes = [has_perm("accounts.manage_roles")]`."""

    class HasPerm(BasePermission):
        message = "Your role does not allow this."

        def has_permission(self, request, view) -> bool:
            user = request.user
            return bool(user and user.is_authenticated and user.has_perm(codename))

    HasPerm.__name__ = f"HasPerm[{codename}]"
    return HasPerm
