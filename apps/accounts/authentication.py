"""API authentication: a JWT access token names the user; the user row comes from the cache.

Every authenticated API request needs its user. Reading the row from PostgreSQL costs a query
and, inside the request transaction, a BEGIN and COMMIT even for a view that asks the database
nothing else; a cached copy costs one Redis GET. The copy is dropped as soon as the row changes
or goes (`user_cache_forget`, connected to the User model's save and delete in
AccountsConfig.ready(), so admin edits and bulk deletes are covered too) and again when that
transaction commits, and it expires after AUTH_USER_CACHE_SECONDS whatever happens, which
bounds how long a change made without save() (a queryset update) can go unseen.

The user's permissions (what role checks read) are cached the same way, under their own key
and only once something asked for them (`CachedPermissionsBackend`, the first entry of
AUTHENTICATION_BACKENDS); a change of the user's groups or permissions drops both copies like
a change of the row does (m2m_changed). A change to a role's own permissions (roles_sync after
a deploy) reaches cached users within AUTH_USER_CACHE_SECONDS.
"""

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db.models import Q
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from apps.core.cache import forget

from .models import User
from .tokens import token_user_id, token_version

_KEY = "auth:user:v1:{}"
_PERMISSIONS_KEY = "auth:permissions:v1:{}"


def user_cache_forget(user_id) -> None:
    forget(_KEY.format(user_id), _PERMISSIONS_KEY.format(user_id))


def forget_changed_user(sender, instance, action: str = "post_save", **kwargs) -> None:
    """post_save / post_delete of a user, or m2m_changed of their groups or permissions.

    From the group's side (group.user_set.add/remove) the users are in pk_set; a whole group
    cleared from that side names no one, and its members' copies just expire."""
    if not action.startswith("post_"):
        return
    if kwargs.get("reverse"):
        user_ids = kwargs.get("pk_set") or ()
    else:
        user_ids = [instance.pk] if instance.pk is not None else []
    for user_id in user_ids:
        user_cache_forget(user_id)


def _permissions_of(user) -> set[str]:
    """ModelBackend's answer ("app_label.codename" of the user's own and their groups'
    permissions; every permission for a superuser) in one query instead of two."""
    permissions = Permission.objects.all()
    if not user.is_superuser:
        permissions = permissions.filter(Q(user=user) | Q(group__user=user))
    rows = permissions.order_by().values_list("content_type__app_label", "codename").distinct()
    return {f"{app_label}.{codename}" for app_label, codename in rows}


class CachedPermissionsBackend(ModelBackend):
    """Django's ModelBackend with the set of an active user's permissions cached."""

    def get_all_permissions(self, user_obj, obj=None):
        if obj is not None or not user_obj.is_active or user_obj.is_anonymous:
            return super().get_all_permissions(user_obj, obj)
        if not hasattr(user_obj, "_perm_cache"):
            key = _PERMISSIONS_KEY.format(user_obj.pk)
            permissions = cache.get(key)
            if permissions is None:
                permissions = _permissions_of(user_obj)
                cache.set(key, permissions, settings.AUTH_USER_CACHE_SECONDS)
            user_obj._perm_cache = permissions
        return user_obj._perm_cache


class CachedUserJWTAuthentication(JWTAuthentication):
    """simplejwt's authentication, with the user row read through the cache, and tokens of an
    older token version refused (apps.accounts.tokens): the version is compared with the
    cached row, so revocation costs no query and is seen by the very next request."""

    def get_user(self, validated_token):
        user_id = token_user_id(validated_token)  # a malformed claim is a 401, not a 500
        version = token_version(validated_token)
        key = _KEY.format(user_id)
        user = cache.get(key)
        if user is None:
            user = User.objects.filter(pk=user_id).first()
            if user is None:
                raise AuthenticationFailed("User not found", code="user_not_found")
            cache.set(key, user, settings.AUTH_USER_CACHE_SECONDS)
        if not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        if version != user.token_version:
            raise AuthenticationFailed("Token has been revoked", code="token_revoked")
        return user


class CachedUserJWTScheme(SimpleJWTScheme):
    """OpenAPI: documented like simplejwt's own authentication (bearer JWT)."""

    target_class = "apps.accounts.authentication.CachedUserJWTAuthentication"
