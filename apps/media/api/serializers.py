from rest_framework import serializers

from apps.core.input import InputSerializer
from apps.media import selectors
from apps.media.models import MediaFile
from apps.media.policies import Purpose


class MediaUploadInput(InputSerializer):
    file = serializers.FileField(
        help_text="The file. Its type is recognised from its content, not its name."
    )
    purpose = serializers.ChoiceField(choices=Purpose.choices)


class MediaListFilterInput(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=Purpose.choices, required=False)
    status = serializers.ChoiceField(choices=MediaFile.Status.choices, required=False)


class MediaOutput(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.SerializerMethodField(
        help_text="Signed URL of the content, valid for a few minutes; null while pending."
    )
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    status = serializers.ChoiceField(choices=MediaFile.Status.choices)
    content_type = serializers.CharField(help_text="Recognised from the content.")
    size = serializers.IntegerField(help_text="Bytes.")
    checksum = serializers.CharField(source="sha256", help_text="SHA-256 (hex) of the content.")
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    filename = serializers.CharField(source="original_filename")
    attached = serializers.BooleanField(source="is_attached")
    created_at = serializers.DateTimeField()

    def get_url(self, media: MediaFile) -> str | None:
        return selectors.media_url(media=media)


class MediaRefOutput(serializers.Serializer):
    """A file as other resources embed it (avatar, course cover, post image, ...)."""

    id = serializers.UUIDField()
    url = serializers.SerializerMethodField(help_text="Signed URL, valid for a few minutes.")
    content_type = serializers.CharField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)

    def get_url(self, media: MediaFile) -> str | None:
        return selectors.media_url(media=media)


class DirectUploadInput(InputSerializer):
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    content_type = serializers.CharField(max_length=100)
    size = serializers.IntegerField(min_value=1, help_text="Exact size in bytes.")
    filename = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class PresignedPostOutput(serializers.Serializer):
    url = serializers.URLField()
    fields = serializers.DictField(
        child=serializers.CharField(),
        help_text="Send these as form fields, then the file as the last field, named `file`.",
    )


class DirectUploadOutput(serializers.Serializer):
    id = serializers.UUIDField()
    upload = PresignedPostOutput()
    expires_at = serializers.DateTimeField()
