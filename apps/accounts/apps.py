from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"

    def ready(self) -> None:
        # allauth announces a completed browser password reset with its own signal; that is
        # where the reset is audited (the new password itself revokes tokens in the adapter).
        from allauth.account.signals import password_reset

        from .services import audit_password_reset

        password_reset.connect(audit_password_reset, dispatch_uid="lyo-audit-password-reset")
