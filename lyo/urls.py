from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.accounts.views import EmailConfirmedView

api_v1 = [
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.courses.api.urls")),
    path("", include("apps.social.api.urls")),
    path("", include("apps.media.api.urls")),
    path("", include("apps.gamification.api.urls")),
]

urlpatterns = [
    path("", include("apps.core.urls")),
    path(settings.ADMIN_URL, admin.site.urls),
    path(
        "accounts/confirmed/",
        EmailConfirmedView.as_view(),
        name="account_email_confirmed",
    ),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler400 = "apps.core.errors.bad_request"
handler403 = "apps.core.errors.permission_denied"
handler404 = "apps.core.errors.page_not_found"
handler500 = "apps.core.errors.server_error"
