"""The Django admin with the same sign-in lockout as the API and the browser login."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpResponse


class LyoAdminSite(admin.AdminSite):
    site_header = "Lyo administration"
    site_title = "Lyo admin"

    def login(self, request, extra_context=None):
        if request.method != "POST":
            return super().login(request, extra_context)
        from .services import LoginLockedOut, login_attempt_record, login_lockout_check

        email = request.POST.get("username", "")
        try:
            login_lockout_check(request=request, email=email)
        except LoginLockedOut as locked:
            response = HttpResponse(
                "Too many failed sign-in attempts. Try again later.",
                status=429,
                content_type="text/plain",
            )
            response["Retry-After"] = str(locked.wait)
            return response
        response = super().login(request, extra_context)
        user = request.user if request.user.is_authenticated else None
        login_attempt_record(request=request, email=email, user=user, channel="admin")
        return response


class LyoAdminConfig(AdminConfig):
    default_site = "apps.accounts.admin_site.LyoAdminSite"
