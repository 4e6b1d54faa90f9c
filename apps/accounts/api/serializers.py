import zoneinfo

from rest_framework import serializers

from apps.accounts import roles
from apps.accounts.selectors import user_role_names
from apps.media.api.serializers import MediaRefOutput

_MAX_PASSWORD = 256  # long passphrases welcome; bounded so hashing cannot be abused


class RegisterInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=_MAX_PASSWORD, trim_whitespace=False)
    display_name = serializers.CharField(max_length=80)


class RegisterOutput(serializers.Serializer):
    email = serializers.EmailField()
    display_name = serializers.CharField()
    verification_email_sent = serializers.BooleanField()


class TokenObtainInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=_MAX_PASSWORD, trim_whitespace=False)


class RefreshInput(serializers.Serializer):
    refresh = serializers.CharField(max_length=2048)


class TokenPairOutput(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class EmailInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class AcceptedOutput(serializers.Serializer):
    detail = serializers.CharField()


class PasswordChangeInput(serializers.Serializer):
    old_password = serializers.CharField(max_length=_MAX_PASSWORD, trim_whitespace=False)
    new_password = serializers.CharField(max_length=_MAX_PASSWORD, trim_whitespace=False)


class MeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    display_name = serializers.CharField()
    bio = serializers.CharField()
    avatar = MediaRefOutput(allow_null=True)
    timezone = serializers.CharField()
    roles = serializers.SerializerMethodField()
    date_joined = serializers.DateTimeField()
    last_login = serializers.DateTimeField(allow_null=True)

    def get_roles(self, user) -> list[str]:
        return user_role_names(user=user)


class MeUpdateInput(serializers.Serializer):
    display_name = serializers.CharField(max_length=80, required=False)
    bio = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    timezone = serializers.CharField(max_length=64, required=False)
    avatar = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="Id of a ready media file uploaded with purpose avatar; null removes it.",
    )

    def validate_timezone(self, value: str) -> str:
        if value not in zoneinfo.available_timezones():
            raise serializers.ValidationError("Not a known IANA time zone, e.g. Europe/Paris.")
        return value


class PublicUserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    display_name = serializers.CharField()
    bio = serializers.CharField()
    avatar = MediaRefOutput(allow_null=True)
    roles = serializers.SerializerMethodField()
    date_joined = serializers.DateTimeField()
    follower_count = serializers.IntegerField()
    following_count = serializers.IntegerField()
    level = serializers.IntegerField()
    xp = serializers.IntegerField()

    def get_roles(self, user) -> list[str]:
        return user_role_names(user=user)


class RolesInput(serializers.Serializer):
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=roles.ALL_ROLES), min_length=1, max_length=4
    )


class RolesOutput(serializers.Serializer):
    id = serializers.IntegerField()
    roles = serializers.ListField(child=serializers.CharField())
