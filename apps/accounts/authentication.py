"""API authentication: a JWT access token names the user; the user row comes from the cache.

Every authenticated API request needs its user. Reading the row from PostgreSQL costs a query
and, inside the request transaction, a BEGIN and COMMIT even for a view that asks the database
nothing else; a cached copy costs one Redis GET. The copy is dropped as soon as the row changes
or goes (`user_cache_forget`, connected to the User model's save and delete in
AccountsConfig.ready(), so admin edits and bulk deletes are covered too) and again when that
transaction commits, and it expires after AUTH_USER_CACHE_SECONDS whatever happens, which
bounds how long a change made without save() (a queryset update) can go unseen.

The copy carries the user's permissions (Django's per-instance permission cache, filled before
caching), so role checks cost no query either; a change of the user's groups or permissions
drops the copy like a change of the row does (m2m_changed). A change to a role's own
permissions (roles_sync after a deploy) reaches cached users within AUTH_USER_CACHE_SECONDS.
"""

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed
from rest_framework_simplejwt.settings import api_settings

_KEY = "auth:user:v1:{}"


def user_cache_forget(user_id) -> None:
    key = _KEY.format(user_id)
    cache.delete(key)
    # A request that read the old row before this change commits must not keep it cached.
    transaction.on_commit(lambda: cache.delete(key))


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


class CachedUserJWTAuthentication(JWTAuthentication):
    """simplejwt's authentication, with the user row read through the cache."""

    def get_user(self, validated_token):
        key = _KEY.format(validated_token.get(api_settings.USER_ID_CLAIM))
        user = cache.get(key)
        if user is None:
            # Missing claim, unknown or inactive user: simplejwt's own errors.
            user = super().get_user(validated_token)
            user.get_all_permissions()  # fills the instance's permission cache, pickled along
            cache.set(key, user, settings.AUTH_USER_CACHE_SECONDS)
        elif not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        return user
