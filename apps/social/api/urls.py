"""Social endpoints."""

from django.urls import path

from . import views

urlpatterns = [
    path("feed/", views.FeedView.as_view(), name="feed"),
    path("posts/", views.PostListCreateView.as_view(), name="post-list"),
    path("posts/<int:post_id>/", views.PostDetailView.as_view(), name="post-detail"),
    path("posts/<int:post_id>/like/", views.PostLikeView.as_view(), name="post-like"),
    path("posts/<int:post_id>/comments/", views.PostCommentsView.as_view(), name="post-comments"),
    path("comments/<int:comment_id>/", views.CommentDetailView.as_view(), name="comment-detail"),
    path("users/<int:user_id>/follow/", views.UserFollowView.as_view(), name="user-follow"),
    path(
        "users/<int:user_id>/followers/", views.UserFollowersView.as_view(), name="user-followers"
    ),
    path(
        "users/<int:user_id>/following/", views.UserFollowingView.as_view(), name="user-following"
    ),
    path("groups/", views.GroupListCreateView.as_view(), name="group-list"),
    path("groups/<int:group_id>/", views.GroupDetailView.as_view(), name="group-detail"),
    path("groups/<int:group_id>/join/", views.GroupJoinView.as_view(), name="group-join"),
    path("groups/<int:group_id>/leave/", views.GroupLeaveView.as_view(), name="group-leave"),
    path(
        "groups/<int:group_id>/transfer/", views.GroupTransferView.as_view(), name="group-transfer"
    ),
    path("groups/<int:group_id>/posts/", views.GroupPostsView.as_view(), name="group-posts"),
    path("groups/<int:group_id>/members/", views.GroupMembersView.as_view(), name="group-members"),
    path(
        "groups/<int:group_id>/members/<int:user_id>/",
        views.GroupMemberDetailView.as_view(),
        name="group-member-detail",
    ),
    path(
        "groups/<int:group_id>/members/<int:user_id>/approve/",
        views.GroupMemberApproveView.as_view(),
        name="group-member-approve",
    ),
    path("reports/", views.ReportCreateView.as_view(), name="report-create"),
    path("moderation/reports/", views.ModerationReportsView.as_view(), name="moderation-reports"),
    path(
        "moderation/reports/<int:report_id>/resolve/",
        views.ModerationReportResolveView.as_view(),
        name="moderation-report-resolve",
    ),
    path("notifications/", views.NotificationsView.as_view(), name="notifications"),
    path("notifications/read/", views.NotificationsReadView.as_view(), name="notifications-read"),
]
