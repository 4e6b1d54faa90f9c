"""The real URLconf plus views that fail on purpose, to exercise the error handling."""

from django.http import HttpResponse
from django.urls import path
from rest_framework import permissions, serializers, throttling
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import User
from lyo.urls import handler400, handler403, handler404, handler500, urlpatterns  # noqa: F401


class EchoSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=5)
    age = serializers.IntegerField(min_value=0)


class ValidatingView(APIView):
    permission_classes = [permissions.AllowAny]

    def post(self, request):
        serializer = EchoSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)


class PrivateView(APIView):
    def get(self, request):
        return Response({"ok": True})


class DenyAll(permissions.BasePermission):
    def has_permission(self, request, view):
        return False


class ForbiddenView(APIView):
    permission_classes = [DenyAll]

    def get(self, request):
        return Response({"ok": True})


class OncePerMinute(throttling.AnonRateThrottle):
    rate = "1/min"
    scope = "test-once"


class ThrottledView(APIView):
    permission_classes = [permissions.AllowAny]
    throttle_classes = [OncePerMinute]

    def get(self, request):
        return Response({"ok": True})


class ExplodingView(APIView):
    """Writes, then fails: the write must be rolled back and the body must not leak details."""

    permission_classes = [permissions.AllowAny]

    def post(self, request):
        User.objects.create_user(email="half-written@example.com", password="x" * 12)
        raise RuntimeError("secret internal detail")


def exploding_plain_view(request):
    raise RuntimeError("secret internal detail")


def plain_ok(request):
    return HttpResponse("ok")


urlpatterns = [
    path("api/test/validate/", ValidatingView.as_view()),
    path("api/test/private/", PrivateView.as_view()),
    path("api/test/forbidden/", ForbiddenView.as_view()),
    path("api/test/throttled/", ThrottledView.as_view()),
    path("api/test/explode/", ExplodingView.as_view()),
    path("api/test/explode-plain/", exploding_plain_view),
    path("api/test/plain/", plain_ok),
    *urlpatterns,
]
