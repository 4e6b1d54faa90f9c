"""Social endpoints."""

from django.urls import path

from . import views

urlpatterns = [
    path("feed/", views.FeedView.as_view(), name="feed"),
    path("posts/", views.PostListCreateView.as_view(), name="post-list"),
    path("posts/<id:post_id>/", views.PostDetailView.as_view(), name="post-detail"),
    path("posts/<id:post_id>/like/", views.PostLikeView.as_view(), name="post-like"),
    path("posts/<id:post_id>/comments/", views.PostCommentsView.as_view(), name="post-comments"),
    path("comments/<id:comment_id>/", views.CommentDetailView.as_view(), name="comment-detail"),
    path("users/<id:user_id>/follow/", views.UserFollowView.as_view(), name="user-follow"),
    path("users/<id:user_id>/followers/", views.UserFollowersView.as_view(), name="user-followers"),
    path("users/<id:user_id>/following/", views.UserFollowingView.as_view(), name="user-following"),
    path("groups/", views.GroupListCreateView.as_view(), name="group-list"),
    path("groups/<id:group_id>/", views.GroupDetailView.as_view(), name="group-detail"),
    path("groups/<id:group_id>/join/", views.GroupJoinView.as_view(), name="group-join"),
    path("groups/<id:group_id>/leave/", views.GroupLeaveView.as_view(), name="group-leave"),
    path(
        "groups/<id:group_id>/transfer/", views.GroupTransferView.as_view(), name="group-transfer"
    ),
    path("groups/<id:group_id>/posts/", views.GroupPostsView.as_view(), name="group-posts"),
    path("groups/<id:group_id>/members/", views.GroupMembersView.as_view(), name="group-members"),
    path(
        "groups/<id:group_id>/members/<id:user_id>/",
        views.GroupMemberDetailView.as_view(),
        name="group-member-detail",
    ),
    path(
        "groups/<id:group_id>/members/<id:user_id>/approve/",
        views.GroupMemberApproveView.as_view(),
        name="group-member-approve",
    ),
    path("reports/", views.ReportCreateView.as_view(), name="report-create"),
    path("moderation/reports/", views.ModerationReportsView.as_view(), name="moderation-reports"),
    path(
        "moderation/reports/<id:report_id>/resolve/",
        views.ModerationReportResolveView.as_view(),
        name="moderation-report-resolve",
    ),
    path("notifications/", views.NotificationsView.as_view(), name="notifications"),
    path("notifications/read/", views.NotificationsReadView.as_view(), name="notifications-read"),
]
