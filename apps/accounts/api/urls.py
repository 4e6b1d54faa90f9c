from django.urls import path

from . import views

urlpatterns = [
    path("auth/register/", views.RegisterView.as_view(), name="auth-register"),
    path("auth/token/", views.TokenObtainView.as_view(), name="auth-token"),
    path("auth/token/refresh/", views.TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("auth/logout/", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/email/resend/", views.EmailResendView.as_view(), name="auth-email-resend"),
    path("auth/password/reset/", views.PasswordResetView.as_view(), name="auth-password-reset"),
    path("auth/password/change/", views.PasswordChangeView.as_view(), name="auth-password-change"),
    path("me/", views.MeView.as_view(), name="me"),
    path("me/export/", views.MeExportView.as_view(), name="me-export"),
    path("users/<id:user_id>/", views.UserDetailView.as_view(), name="user-detail"),
    path("users/<id:user_id>/roles/", views.UserRolesView.as_view(), name="user-roles"),
]
