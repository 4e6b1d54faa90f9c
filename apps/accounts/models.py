from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone as django_timezone

from .email_identity import canonical_email


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra_fields):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, username: str):
        # The sign-in lookup of the API, the browser and the admin: one account or none.
        user = self.get_by_email(username)
        if user is None:
            raise self.model.DoesNotExist
        return user

    def get_by_email(self, email: str):
        """The account an address names, in any spelling; never more than one."""
        canonical = canonical_email(email)
        user = self.filter(email_canonical=canonical).first()
        if user is None:
            # A row the previous release wrote during a rollout has no identity yet; no one
            # else holds it, so the row stored with exactly this address is the account
            # (`manage.py email_collisions --adopt` gives it its identity).
            user = self.filter(email_canonical__isnull=True, email=canonical).first()
        return user

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        # New addresses are stored in their canonical form (apps.accounts.email_identity).
        return canonical_email(email)


class User(AbstractBaseUser, PermissionsMixin):
    """A Lyo account. Email is the login; there is no username."""

    email = models.EmailField("email address", max_length=254, unique=True)
    # The account's identity (apps.accounts.email_identity), set from `email` in save(). NULL
    # only on a legacy row whose canonical form another account holds (see docs/operations.md).
    email_canonical = models.CharField(  # noqa: DJ001 - NULL, not "", so UNIQUE skips it
        max_length=1024, unique=True, null=True, editable=False
    )
    display_name = models.CharField(max_length=80, blank=True)
    bio = models.TextField(max_length=2000, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    # Daily XP caps and streaks follow the time zone: it changes at most once a day.
    timezone_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set through apps.media.services.media_attach (PATCH /me/); deleting the file clears it.
    avatar = models.ForeignKey(
        "media.MediaFile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=django_timezone.now)
    # Every API token carries the version it was issued at (apps.accounts.tokens); bumping it
    # (services.access_tokens_revoke: logout, a new password, deactivation) ends them at once.
    # db_default: the previous release's code inserts users without the column during a rollout.
    token_version = models.PositiveIntegerField(default=0, db_default=0, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]
        ordering = ["id"]
        # Capabilities granted through roles (Groups); API permission classes check these.
        permissions = [
            ("manage_roles", "Can change users' roles"),
            ("view_audit_log", "Can read the audit log"),
            ("moderate_content", "Can moderate posts, comments and users"),
            ("author_courses", "Can create and manage their own courses"),
            ("manage_all_courses", "Can manage every course"),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = type(self).objects.normalize_email(self.email)
        same_identity = type(self)._default_manager.filter(email_canonical=self.email)
        if same_identity.exclude(pk=self.pk).exists():
            raise ValidationError({"email": "Another account already uses this address."})

    def set_password(self, raw_password) -> None:
        # A new password, whichever path sets it (API, allauth's pages, the admin, manage.py
        # changepassword), ends the API access tokens issued before it once saved.
        self._token_version_bump()
        super().set_password(raw_password)

    def set_unusable_password(self) -> None:
        self._token_version_bump()
        super().set_unusable_password()

    def _token_version_bump(self) -> None:
        # A first password (a new row, or one created without any) ends no token.
        if self.password and not self._state.adding:
            self.token_version = models.F("token_version") + 1

    def save(self, *args, **kwargs) -> None:
        update_fields = kwargs.get("update_fields")
        extra = set()
        if update_fields is None or "email" in update_fields:
            self.email_canonical = canonical_email(self.email)
            extra.add("email_canonical")
        bumped = isinstance(self.token_version, models.expressions.Combinable)
        if bumped:
            extra.add("token_version")
        if update_fields is not None and extra:
            kwargs["update_fields"] = {*update_fields, *extra}
        super().save(*args, **kwargs)
        if bumped:  # the expression's result, for tokens issued from this instance later
            self.refresh_from_db(fields=["token_version"])

    def get_full_name(self) -> str:
        return self.display_name or self.email

    def get_short_name(self) -> str:
        return self.display_name or self.email.split("@", 1)[0]


class AuditEvent(models.Model):
    """Append-only record of security-relevant actions. Never updated, never deleted."""

    created_at = models.DateTimeField(default=django_timezone.now, db_index=True)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events are append-only")
