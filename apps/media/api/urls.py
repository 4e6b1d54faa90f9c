"""Media endpoints."""

from django.urls import path

from . import views

urlpatterns = [
    path("media/", views.MediaListCreateView.as_view(), name="media-list"),
    path("media/uploads/", views.DirectUploadCreateView.as_view(), name="media-upload-create"),
    path(
        "media/uploads/<uuid:media_id>/complete/",
        views.DirectUploadCompleteView.as_view(),
        name="media-upload-complete",
    ),
    path("media/<uuid:media_id>/", views.MediaDetailView.as_view(), name="media-detail"),
    path("media/<uuid:media_id>/content/", views.MediaContentView.as_view(), name="media-content"),
]
