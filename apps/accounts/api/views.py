from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import selectors, services
from apps.accounts.permissions import has_perm
from apps.core.api import NonAtomicAPIView
from apps.core.throttling import WriteThrottled

from . import serializers as s
from .throttles import AuthEmailThrottle, AuthIpThrottle

ACCEPTED = {"detail": "If the address can receive it, an email is on its way."}


class RegisterView(APIView):
    permission_classes = [permissions.AllowAny]
    throttle_classes = [AuthIpThrottle]
    throttle_scope = "account_email_ip"

    @extend_schema(request=s.RegisterInput, responses={201: s.RegisterOutput}, tags=["auth"])
    def post(self, request):
        data = s.RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        sent = services.user_register(request=request._request, **data.validated_data)
        # Same answer whether or not the address already had an account (no enumeration).
        body = {
            "email": data.validated_data["email"],
            "display_name": data.validated_data["display_name"],
            "verification_email_sent": sent,
        }
        return Response(s.RegisterOutput(body).data, status=status.HTTP_201_CREATED)


class TokenObtainView(NonAtomicAPIView):
    """Outside the request transaction: failed attempts must stay recorded."""

    permission_classes = [permissions.AllowAny]
    throttle_classes = [AuthIpThrottle, AuthEmailThrottle]
    throttle_scope = "auth_ip"

    @extend_schema(request=s.TokenObtainInput, responses={200: s.TokenPairOutput}, tags=["auth"])
    def post(self, request):
        data = s.TokenObtainInput(data=request.data)
        data.is_valid(raise_exception=True)
        tokens = services.token_obtain(request=request, **data.validated_data)
        return Response(s.TokenPairOutput(tokens).data)


class TokenRefreshView(APIView):
    permission_classes = [permissions.AllowAny]
    throttle_classes = [AuthIpThrottle]
    throttle_scope = "auth_ip"

    @extend_schema(request=s.RefreshInput, responses={200: s.TokenPairOutput}, tags=["auth"])
    def post(self, request):
        data = s.RefreshInput(data=request.data)
        data.is_valid(raise_exception=True)
        tokens = services.token_refresh(refresh=data.validated_data["refresh"])
        return Response(s.TokenPairOutput(tokens).data)


class LogoutView(WriteThrottled, APIView):
    @extend_schema(request=s.RefreshInput, responses={204: None}, tags=["auth"])
    def post(self, request):
        data = s.RefreshInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.token_logout(
            request=request, user=request.user, refresh=data.validated_data["refresh"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class _AccountEmailView(APIView):
    """Takes an email address and always answers 202 alike, whatever the address is."""

    permission_classes = [permissions.AllowAny]
    throttle_classes = [AuthIpThrottle, AuthEmailThrottle]
    throttle_scope = "account_email_ip"
    send = staticmethod(lambda *, request, email: None)

    @extend_schema(request=s.EmailInput, responses={202: s.AcceptedOutput}, tags=["auth"])
    def post(self, request):
        data = s.EmailInput(data=request.data)
        data.is_valid(raise_exception=True)
        self.send(request=request._request, email=data.validated_data["email"])
        return Response(ACCEPTED, status=status.HTTP_202_ACCEPTED)


class EmailResendView(_AccountEmailView):
    send = staticmethod(services.email_verification_resend)


class PasswordResetView(_AccountEmailView):
    send = staticmethod(services.password_reset_request)


class PasswordChangeView(WriteThrottled, NonAtomicAPIView):
    """Outside the request transaction: wrong current passwords must stay counted."""

    @extend_schema(request=s.PasswordChangeInput, responses={204: None}, tags=["auth"])
    def post(self, request):
        data = s.PasswordChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_change(request=request, user=request.user, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(WriteThrottled, APIView):
    @extend_schema(responses={200: s.MeOutput}, tags=["me"])
    def get(self, request):
        user = selectors.users_with_roles().select_related("avatar").get(pk=request.user.pk)
        return Response(s.MeOutput(user).data)

    @extend_schema(request=s.MeUpdateInput, responses={200: s.MeOutput}, tags=["me"])
    def patch(self, request):
        data = s.MeUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.user_update_profile(user=request.user, data=data.validated_data)
        user = selectors.users_with_roles().select_related("avatar").get(pk=request.user.pk)
        return Response(s.MeOutput(user).data)

    @extend_schema(responses={204: None}, tags=["me"])
    def delete(self, request):
        services.user_delete(request=request, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeExportView(APIView):
    @extend_schema(responses={200: s.MeExportOutput}, tags=["me"])
    def get(self, request):
        user = selectors.users_with_roles().get(pk=request.user.pk)
        return Response(s.MeExportOutput(selectors.user_export_data(user=user)).data)


class UserDetailView(APIView):
    @extend_schema(responses={200: s.PublicUserOutput}, tags=["users"])
    def get(self, request, user_id: int):
        user = selectors.user_public_get(user_id=user_id)
        if user is None:
            raise Http404
        from apps.gamification.selectors import level_and_xp
        from apps.social.selectors import follow_counts

        user.follower_count, user.following_count = follow_counts(user_ids=[user.pk])[user.pk]
        user.level, user.xp = level_and_xp(user_id=user.pk)
        return Response(s.PublicUserOutput(user).data)


class UserRolesView(WriteThrottled, NonAtomicAPIView):
    """Outside the request transaction: a refused change stays audited."""

    permission_classes = [has_perm("accounts.manage_roles")]

    @extend_schema(request=s.RolesInput, responses={200: s.RolesOutput}, tags=["users"])
    def put(self, request, user_id: int):
        user = get_object_or_404(selectors.users_with_roles(), pk=user_id)
        data = s.RolesInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_set_roles(
            request=request, actor=request.user, user=user, role_names=data.validated_data["roles"]
        )
        user = selectors.users_with_roles().get(pk=user.pk)
        body = {"id": user.pk, "roles": selectors.user_role_names(user=user)}
        return Response(s.RolesOutput(body).data)
