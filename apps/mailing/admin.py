from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.core.errors import ApplicationError

from .models import OutboundEmail
from .services import email_resend


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    """The outbox, read-only: staff can look at emails and resend failed or sent ones."""

    list_display = ("recipients", "subject", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status",)
    search_fields = ("subject", "to")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    actions = ("resend",)
    readonly_fields = [field.name for field in OutboundEmail._meta.fields]

    @admin.display(description="to")
    def recipients(self, email: OutboundEmail) -> str:
        return ", ".join(email.to)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # emails are records of what was sent; only resending changes them

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("mailing.change_outboundemail")

    @admin.action(description="Resend selected emails", permissions=["resend"])
    def resend(self, request: HttpRequest, queryset: QuerySet[OutboundEmail]) -> None:
        resent = 0
        for email_id in queryset.values_list("pk", flat=True):
            try:
                email_resend(email_id=email_id)
            except ApplicationError as error:
                self.message_user(request, f"{email_id}: {error.detail}", messages.WARNING)
            else:
                resent += 1
        if resent:
            self.message_user(request, f"{resent} email(s) queued for delivery again.")
