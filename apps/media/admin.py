from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from . import selectors
from .models import MediaFile
from .services import media_files_delete


@admin.register(MediaFile)
class MediaFileAdmin(admin.ModelAdmin):
    """Uploaded files, read-only. Deleting one here also deletes its stored object."""

    list_display = (
        "id",
        "owner",
        "purpose",
        "status",
        "content_type",
        "size",
        "attached_at",
        "created_at",
    )
    list_filter = ("purpose", "status", "content_type")
    search_fields = ("=id", "owner__email", "original_filename", "=sha256")
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    readonly_fields = [field.name for field in MediaFile._meta.fields] + ["content_link"]

    @admin.display(description="content")
    def content_link(self, media: MediaFile) -> str:
        url = selectors.media_url(media=media)
        if not url:
            return "-"
        return format_html('<a href="{}" target="_blank" rel="noopener">open</a>', url)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: MediaFile) -> None:
        media_files_delete(media_files=[obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[MediaFile]) -> None:
        media_files_delete(media_files=queryset)
