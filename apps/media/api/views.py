from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import NonAtomicAPIView
from apps.core.pagination import CursorPagination
from apps.core.throttling import ScopedRateThrottle, UserRateThrottle, WriteThrottled
from apps.media import selectors, services, storage

from . import serializers as s


class MediaCursorPagination(CursorPagination):
    ordering = ("-created_at", "-id")


class UploadThrottleMixin:
    """media_uploads caps writes per person; reads keep the default throttles only."""

    throttle_scope = "media_uploads"

    def get_throttles(self):
        if self.request.method == "POST":
            return [UserRateThrottle(), ScopedRateThrottle()]
        return super().get_throttles()


# Outside the request transaction: the upload service commits the row itself, so a file whose
# row did not commit is known and its stored object deleted.
class MediaListCreateView(UploadThrottleMixin, NonAtomicAPIView):
    parser_classes = [MultiPartParser, FormParser]
    pagination_class = MediaCursorPagination  # also documents the page shape in the schema

    @extend_schema(
        parameters=[s.MediaListFilterInput],
        responses={200: s.MediaOutput(many=True)},
        tags=["media"],
    )
    def get(self, request):
        filters = s.MediaListFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        files = selectors.media_list_for_owner(owner=request.user, **filters.validated_data)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(files, request, view=self)
        return paginator.get_paginated_response(s.MediaOutput(page, many=True).data)

    @extend_schema(
        request={"multipart/form-data": s.MediaUploadInput},
        responses={201: s.MediaOutput},
        tags=["media"],
    )
    def post(self, request):
        data = s.MediaUploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        media = services.media_upload(owner=request.user, **data.validated_data)
        return Response(s.MediaOutput(media).data, status=status.HTTP_201_CREATED)


class MediaDetailView(WriteThrottled, APIView):
    @extend_schema(responses={200: s.MediaOutput}, tags=["media"])
    def get(self, request, media_id):
        media = selectors.media_get_visible(media_id=media_id, user=request.user)
        if media is None:
            raise Http404
        return Response(s.MediaOutput(media).data)

    @extend_schema(responses={204: None}, tags=["media"])
    def delete(self, request, media_id):
        services.media_delete(media_id=media_id, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DirectUploadCreateView(UploadThrottleMixin, APIView):
    @extend_schema(
        request=s.DirectUploadInput, responses={201: s.DirectUploadOutput}, tags=["media"]
    )
    def post(self, request):
        data = s.DirectUploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = services.media_direct_upload_create(owner=request.user, **data.validated_data)
        body = {
            "id": upload.media.pk,
            "upload": {"url": upload.url, "fields": upload.fields},
            "expires_at": upload.media.upload_expires_at,
        }
        return Response(s.DirectUploadOutput(body).data, status=status.HTTP_201_CREATED)


# Outside the request transaction: a refused upload's row deletion must commit although the
# answer is an error (the service opens its own transactions).
class DirectUploadCompleteView(UploadThrottleMixin, NonAtomicAPIView):
    @extend_schema(request=None, responses={200: s.MediaOutput}, tags=["media"])
    def post(self, request, media_id):
        media = services.media_direct_upload_complete(media_id=media_id, owner=request.user)
        return Response(s.MediaOutput(media).data)


class IgnoreAcceptHeader(BaseContentNegotiation):
    """The content endpoint answers with the file whatever the client accepts (an <img> tag
    asks for image/*); errors are still JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class MediaContentView(APIView):
    """The bytes of a file behind a signed, expiring token (what `url` points at when media
    is not on S3). The token is the authorization, so no credentials are needed, which lets
    <img> tags and download links work."""

    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    content_negotiation_class = IgnoreAcceptHeader

    @extend_schema(
        parameters=[OpenApiParameter("token", str, required=True)],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
        auth=[],
        tags=["media"],
    )
    def get(self, request, media_id):
        token = request.query_params.get("token", "")
        if not storage.content_token_is_valid(media_id=media_id, token=token):
            raise Http404
        media = selectors.media_get_ready(media_id=media_id)
        if media is None:
            raise Http404
        response = FileResponse(
            storage.object_open(media.storage_key), content_type=media.content_type
        )
        response["Content-Length"] = str(media.size)
        response["Content-Disposition"] = storage.content_disposition(media)
        response["Cache-Control"] = "private, max-age=300"
        # Served from our own origin: never let the content run anything there.
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["X-Content-Type-Options"] = "nosniff"
        return response
