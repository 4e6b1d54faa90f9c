"""The Django admin with the same sign-in lockout as the API."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpResponse

from apps.core.http import client_ip

from .lockout import lockout_seconds_remaining, login_failure_record, login_success_record


class LyoAdminSite(admin.AdminSite):
    site_header = "Lyo administration"
    site_title = "Lyo admin"

    def login(self, request, extra_context=None):
        if request.method != "POST":
            return super().login(request, extra_context)
        from .services import audit_record

        email = request.POST.get("username", "").strip().lower()
        ip = client_ip(request)
        wait = lockout_seconds_remaining(email=email, ip=ip)
        if wait:
            response = HttpResponse(
                "Too many failed sign-in attempts. Try again later.",
                status=429,
                content_type="text/plain",
            )
            response["Retry-After"] = str(wait)
            return response
        response = super().login(request, extra_context)
        if request.user.is_authenticated:
            login_success_record(email=email)
            audit_record(
                action="login.succeeded",
                actor=request.user,
                target=request.user,
                request=request,
                metadata={"channel": "admin"},
            )
        else:
            audit_record(
                action="login.failed",
                request=request,
                metadata={"email": email, "channel": "admin"},
            )
            if login_failure_record(email=email, ip=ip):
                audit_record(
                    action="login.locked_out",
                    request=request,
                    metadata={"email": email, "channel": "admin"},
                )
        return response


class LyoAdminConfig(AdminConfig):
    default_site = "apps.accounts.admin_site.LyoAdminSite"
