from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save


def _sync_roles(sender, using="default", **kwargs) -> None:
    # After migrate — and after `flush`, which empties every table — put the roles back.
    from django.contrib.auth.models import Group, Permission

    from .roles import roles_sync

    roles_sync(group_model=Group, permission_model=Permission)


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"

    def ready(self) -> None:
        # allauth announces a completed browser password reset with its own signal; that is
        # where the reset is audited (the new password itself revokes tokens in the adapter).
        from allauth.account.signals import password_reset

        from .services import audit_password_reset

        password_reset.connect(audit_password_reset, dispatch_uid="lyo-audit-password-reset")
        # Runs after auth's own post_migrate handler (which creates the permissions), since
        # accounts comes later in INSTALLED_APPS.
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="lyo-sync-roles")
        # Cache coherence, not business logic: the API's cached user copy goes with the row.
        from .authentication import forget_changed_user
        from .models import User

        for signal in (post_save, post_delete):
            signal.connect(forget_changed_user, sender=User, dispatch_uid="lyo-user-cache")
        for through in (User.groups.through, User.user_permissions.through):
            m2m_changed.connect(forget_changed_user, sender=through, dispatch_uid="lyo-user-cache")
