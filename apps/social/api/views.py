"""Social endpoints: thin views that parse input, call one service or selector, render output.

Visibility rule used throughout: something the caller may not see answers 404 (not 403), so
private posts and private groups do not reveal that they exist. A 403 means "you can see it
but your role does not allow this action".
"""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import has_perm
from apps.core.api import NonAtomicAPIView
from apps.core.pagination import CursorPagination, PageNumberPagination
from apps.core.throttling import WriteThrottled
from apps.social import selectors, services
from apps.social.models import Membership

from . import serializers as s

# --- Shared view plumbing --------------------------------------------------------------------


class NewestFirst(CursorPagination):
    ordering = ("-created_at", "-id")


class OldestFirst(CursorPagination):
    ordering = ("created_at", "id")


class NotificationPagination(NewestFirst):
    """Cursor pages of notifications with the caller's unread count alongside."""

    def get_paginated_response_schema(self, schema):
        schema = super().get_paginated_response_schema(schema)
        schema["properties"]["unread_count"] = {"type": "integer", "example": 3}
        schema["required"] = [*schema.get("required", []), "unread_count"]
        return schema


def paginated(view: APIView, queryset, serializer_class, context: dict | None = None):
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, view.request, view=view)
    data = serializer_class(page, many=True, context=context or {}).data
    return paginator.get_paginated_response(data)


def _group_data(request, group) -> dict:
    return s.GroupOutput(group, context={"viewer": request.user}).data


def _query(serializer_class, request) -> dict:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


def _input(serializer_class, request) -> dict:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data


def _visible_post(request, post_id: int, *, to_render: bool = True):
    post = selectors.post_get_visible(viewer=request.user, post_id=post_id, to_render=to_render)
    if post is None:
        raise Http404
    return post


def _visible_group(request, group_id: int):
    group = selectors.group_get_visible(viewer=request.user, group_id=group_id)
    if group is None:
        raise Http404
    return group


def _existing_group(group_id: int):
    """For join/leave: private groups are joined by request, so they must be addressable."""
    group = selectors.group_get(group_id=group_id)
    if group is None:
        raise Http404
    return group


def _active_user(user_id: int):
    user = selectors.user_get_active(user_id=user_id)
    if user is None:
        raise Http404
    return user


# --- Feed and posts --------------------------------------------------------------------------


class FeedView(NonAtomicAPIView):
    """Read-only, one statement: outside the request transaction, whose BEGIN and COMMIT
    would add two round trips to PostgreSQL to the feed's one."""

    pagination_class = NewestFirst

    @extend_schema(responses=s.PostOutput(many=True), tags=["social"])
    def get(self, request):
        """Posts of people you follow, your own and your groups', newest first."""
        return paginated(self, selectors.feed_for_user(user=request.user), s.PostOutput)


class PostListCreateView(WriteThrottled, APIView):
    pagination_class = NewestFirst
    throttle_scope = "posts"

    @extend_schema(
        parameters=[s.PostListQuery],
        responses=s.PostOutput(many=True),
        tags=["social"],
        description=(
            "Without `author`: everyone's public posts (outside groups), newest first. "
            "With `author=<user id>`: that person's posts you may read (your own: author="
            "your id), including followers-only and group posts where you qualify."
        ),
    )
    def get(self, request):
        query = _query(s.PostListQuery, request)
        if "author" in query:
            posts = selectors.posts_by_author(viewer=request.user, author_id=query["author"])
        else:
            posts = selectors.posts_public(viewer=request.user)
        return paginated(self, posts, s.PostOutput)

    @extend_schema(request=s.PostCreateInput, responses={201: s.PostOutput}, tags=["social"])
    def post(self, request):
        data = _input(s.PostCreateInput, request)
        post = services.post_create(
            author=request.user,
            body=data["body"],
            group_id=data.get("group"),
            course_id=data.get("course"),
            visibility=data.get("visibility"),
            media_id=data.get("media"),
        )
        post = selectors.post_get_visible(viewer=request.user, post_id=post.pk)
        return Response(s.PostOutput(post).data, status=status.HTTP_201_CREATED)


class PostDetailView(WriteThrottled, APIView):
    throttle_scope = "posts"

    @extend_schema(responses={200: s.PostOutput}, tags=["social"])
    def get(self, request, post_id: int):
        return Response(s.PostOutput(_visible_post(request, post_id)).data)

    @extend_schema(request=s.PostUpdateInput, responses={200: s.PostOutput}, tags=["social"])
    def patch(self, request, post_id: int):
        post = _visible_post(request, post_id)
        data = _input(s.PostUpdateInput, request)
        if "media" in data:
            data["media_id"] = data.pop("media")
        services.post_update(post=post, actor=request.user, request=request, **data)
        post = selectors.post_get_visible(viewer=request.user, post_id=post.pk)
        return Response(s.PostOutput(post).data)

    @extend_schema(responses={204: None}, tags=["social"])
    def delete(self, request, post_id: int):
        post = _visible_post(request, post_id)
        services.post_delete(post=post, actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PostLikeView(WriteThrottled, APIView):
    throttle_scope = "likes"

    @extend_schema(request=None, responses={200: s.LikeOutput, 201: s.LikeOutput}, tags=["social"])
    def post(self, request, post_id: int):
        """Like (idempotent): 201 when this call created the like, 200 when it existed."""
        post = _visible_post(request, post_id, to_render=False)
        created, like_count = services.like_create(user=request.user, post=post)
        return Response(
            s.LikeOutput({"liked": True, "like_count": like_count}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(responses={200: s.LikeOutput}, tags=["social"])
    def delete(self, request, post_id: int):
        """Unlike (idempotent)."""
        post = _visible_post(request, post_id, to_render=False)
        like_count = services.like_delete(user=request.user, post=post)
        return Response(s.LikeOutput({"liked": False, "like_count": like_count}).data)


class PostCommentsView(WriteThrottled, APIView):
    pagination_class = OldestFirst
    throttle_scope = "comments"

    @extend_schema(responses=s.CommentOutput(many=True), tags=["social"])
    def get(self, request, post_id: int):
        """Comments and replies, oldest first; a reply carries its parent_id."""
        post = _visible_post(request, post_id)
        return paginated(self, selectors.comments_for_post(post=post), s.CommentOutput)

    @extend_schema(request=s.CommentCreateInput, responses={201: s.CommentOutput}, tags=["social"])
    def post(self, request, post_id: int):
        post = _visible_post(request, post_id)
        data = _input(s.CommentCreateInput, request)
        comment = services.comment_create(
            author=request.user, post=post, body=data["body"], parent_id=data.get("parent")
        )
        return Response(s.CommentOutput(comment).data, status=status.HTTP_201_CREATED)


class CommentDetailView(WriteThrottled, APIView):
    throttle_scope = "comments"

    @extend_schema(responses={204: None}, tags=["social"])
    def delete(self, request, comment_id: int):
        comment = selectors.comment_get_visible(viewer=request.user, comment_id=comment_id)
        if comment is None:
            raise Http404
        services.comment_delete(comment=comment, actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Follows ---------------------------------------------------------------------------------


class UserFollowView(WriteThrottled, APIView):
    throttle_scope = "follows"

    @extend_schema(
        request=None, responses={200: s.FollowOutput, 201: s.FollowOutput}, tags=["social"]
    )
    def post(self, request, user_id: int):
        """Follow (idempotent): 201 when this call started following, 200 when it already was."""
        created = services.follow_create(follower=request.user, user_id=user_id)
        return Response(
            s.FollowOutput({"following": True}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(responses={200: s.FollowOutput}, tags=["social"])
    def delete(self, request, user_id: int):
        """Unfollow (idempotent)."""
        services.follow_delete(follower=request.user, user_id=user_id)
        return Response(s.FollowOutput({"following": False}).data)


def _people(follows, person_field: str) -> list[dict]:
    return [
        {
            "id": getattr(follow, person_field).pk,
            "display_name": getattr(follow, person_field).display_name,
            "followed_at": follow.created_at,
            "followed_by_me": follow.followed_by_me,
        }
        for follow in follows
    ]


class _FollowListView(APIView):
    pagination_class = NewestFirst
    person_field: str

    def rows(self, user):
        raise NotImplementedError

    @extend_schema(responses=s.FollowerOutput(many=True), tags=["social"])
    def get(self, request, user_id: int):
        user = _active_user(user_id)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(self.rows(user), request, view=self)
        data = s.FollowerOutput(_people(page, self.person_field), many=True).data
        return paginator.get_paginated_response(data)


class UserFollowersView(_FollowListView):
    """People following this user, most recent first."""

    person_field = "follower"

    def rows(self, user):
        return selectors.followers_of(user=user, viewer=self.request.user)


class UserFollowingView(_FollowListView):
    """People this user follows, most recent first."""

    person_field = "followee"

    def rows(self, user):
        return selectors.following_of(user=user, viewer=self.request.user)


# --- Study groups ----------------------------------------------------------------------------


class GroupListCreateView(WriteThrottled, APIView):
    throttle_scope = "groups"
    pagination_class = PageNumberPagination

    @extend_schema(
        parameters=[s.GroupListQuery],
        responses=s.GroupOutput(many=True),
        tags=["groups"],
        description="Public groups and yours (member or pending), by name; `mine=true` keeps "
        "only yours, `q` searches names.",
    )
    def get(self, request):
        query = _query(s.GroupListQuery, request)
        groups = selectors.groups_list(
            viewer=request.user, q=query.get("q", ""), mine=query["mine"]
        )
        return paginated(self, groups, s.GroupOutput, context={"viewer": request.user})

    @extend_schema(request=s.GroupCreateInput, responses={201: s.GroupOutput}, tags=["groups"])
    def post(self, request):
        data = _input(s.GroupCreateInput, request)
        group = services.group_create(
            owner=request.user,
            name=data["name"],
            description=data.get("description", ""),
            is_private=data["is_private"],
            course_id=data.get("course"),
        )
        group = selectors.group_get_visible(viewer=request.user, group_id=group.pk)
        return Response(_group_data(request, group), status=status.HTTP_201_CREATED)


class GroupDetailView(WriteThrottled, APIView):
    @extend_schema(responses={200: s.GroupOutput}, tags=["groups"])
    def get(self, request, group_id: int):
        """A private group is visible to its members; to someone who asked to join it, sealed
        (its id and their request, nothing of what the group is)."""
        return Response(_group_data(request, _visible_group(request, group_id)))

    @extend_schema(request=s.GroupUpdateInput, responses={200: s.GroupOutput}, tags=["groups"])
    def patch(self, request, group_id: int):
        """Owner and admins rename or redescribe the group."""
        group = _visible_group(request, group_id)
        data = _input(s.GroupUpdateInput, request)
        services.group_update(group=group, actor=request.user, data=data)
        return Response(_group_data(request, _visible_group(request, group_id)))


class GroupJoinView(WriteThrottled, APIView):
    throttle_scope = "follows"  # joining and leaving are social-graph writes, like follows

    @extend_schema(
        request=None,
        responses={200: s.MembershipOutput, 201: s.MembershipOutput},
        tags=["groups"],
    )
    def post(self, request, group_id: int):
        """Join a public group (active at once) or ask to join a private one (pending; the
        owner and admins are notified). Idempotent: 201 when created, 200 when it existed.
        The answer is the caller's own membership (group id, role, status): asking to join a
        private group reveals nothing of it, and the group stays sealed until approved."""
        group = _existing_group(group_id)
        membership, created = services.group_join(group=group, user=request.user)
        return Response(
            s.MembershipOutput(membership).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class GroupLeaveView(WriteThrottled, APIView):
    throttle_scope = "follows"

    @extend_schema(request=None, responses={204: None}, tags=["groups"])
    def post(self, request, group_id: int):
        """Leave the group or withdraw a join request (idempotent). The owner gets 409 until
        they transfer the group."""
        services.group_leave(group=_existing_group(group_id), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupMembersView(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(
        parameters=[s.MembersQuery], responses=s.MembershipOutput(many=True), tags=["groups"]
    )
    def get(self, request, group_id: int):
        """Active members (for members); `status=pending` lists join requests (owner and
        admins)."""
        group = _visible_group(request, group_id)
        query = _query(s.MembersQuery, request)
        is_moderator = selectors.user_is_moderator(user=request.user)
        mine = selectors.membership_get(group=group, user_id=request.user.pk)
        if query["status"] == Membership.Status.PENDING:
            if not (is_moderator or (mine is not None and mine.can_manage)):
                raise PermissionDenied("Only the group's owner and admins see join requests.")
        elif not (is_moderator or (mine is not None and mine.is_active)):
            raise PermissionDenied("Only members see who else is in the group.")
        members = selectors.group_members(group=group, status=query["status"])
        return paginated(self, members, s.MembershipOutput)


class GroupMemberDetailView(WriteThrottled, APIView):
    @extend_schema(request=s.MemberRoleInput, responses={200: s.MembershipOutput}, tags=["groups"])
    def patch(self, request, group_id: int, user_id: int):
        """The owner makes a member an admin or an admin a member."""
        group = _visible_group(request, group_id)
        data = _input(s.MemberRoleInput, request)
        membership = services.membership_set_role(
            group=group, actor=request.user, user_id=user_id, role=data["role"]
        )
        return Response(s.MembershipOutput(membership).data)

    @extend_schema(responses={204: None}, tags=["groups"])
    def delete(self, request, group_id: int, user_id: int):
        """Owner/admins remove a member or decline a join request."""
        group = _visible_group(request, group_id)
        services.membership_remove(group=group, actor=request.user, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupMemberApproveView(WriteThrottled, APIView):
    @extend_schema(request=None, responses={200: s.MembershipOutput}, tags=["groups"])
    def post(self, request, group_id: int, user_id: int):
        """Owner/admins approve a pending join request; the requester is notified."""
        group = _visible_group(request, group_id)
        membership = services.membership_approve(group=group, actor=request.user, user_id=user_id)
        return Response(s.MembershipOutput(membership).data)


class GroupTransferView(WriteThrottled, APIView):
    @extend_schema(request=s.GroupTransferInput, responses={200: s.GroupOutput}, tags=["groups"])
    def post(self, request, group_id: int):
        """The owner hands the group to an active member and becomes an admin."""
        group = _visible_group(request, group_id)
        data = _input(s.GroupTransferInput, request)
        services.group_transfer_ownership(group=group, actor=request.user, **data)
        return Response(_group_data(request, _visible_group(request, group_id)))


class GroupPostsView(APIView):
    pagination_class = NewestFirst

    @extend_schema(responses=s.PostOutput(many=True), tags=["groups"])
    def get(self, request, group_id: int):
        """The group's posts, newest first (private groups: active members only)."""
        group = _visible_group(request, group_id)
        if not selectors.group_content_readable(viewer=request.user, group=group):
            raise PermissionDenied("Only members read this group's posts.")
        posts = selectors.posts_in_group(viewer=request.user, group=group)
        return paginated(self, posts, s.PostOutput)


# --- Reports and moderation ------------------------------------------------------------------


class ReportCreateView(WriteThrottled, APIView):
    throttle_scope = "reports"

    @extend_schema(
        request=s.ReportCreateInput,
        responses={201: s.ReportOutput, 200: s.ReportOutput},
        tags=["moderation"],
    )
    def post(self, request):
        """Report a post, comment or person. While your earlier report on the same target is
        still open, that report is returned with 200 instead of a second one."""
        data = _input(s.ReportCreateInput, request)
        report, created = services.report_create(reporter=request.user, **data)
        targets = selectors.report_targets(reports=[report])
        return Response(
            s.ReportOutput(report, context={"targets": targets}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ModerationReportsView(APIView):
    permission_classes = [has_perm("accounts.moderate_content")]
    pagination_class = PageNumberPagination

    @extend_schema(
        parameters=[s.ModerationQueueQuery],
        responses=s.ReportOutput(many=True),
        tags=["moderation"],
    )
    def get(self, request):
        """The moderation queue: open reports oldest first, each with what it points at."""
        query = _query(s.ModerationQueueQuery, request)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.reports_queue(status=query["status"]), request, view=self
        )
        targets = selectors.report_targets(reports=page)
        data = s.ReportOutput(page, many=True, context={"targets": targets}).data
        return paginator.get_paginated_response(data)


class ModerationReportResolveView(WriteThrottled, APIView):
    permission_classes = [has_perm("accounts.moderate_content")]

    @extend_schema(
        request=s.ReportResolveInput, responses={200: s.ReportOutput}, tags=["moderation"]
    )
    def post(self, request, report_id: int):
        """hide: hide the post/comment; suspend_user: deactivate the person (or the content's
        author); dismiss: no action. Closes every open report on the same target; audited.
        409 when the report was already resolved."""
        data = _input(s.ReportResolveInput, request)
        report = services.report_resolve(
            report_id=report_id, moderator=request.user, request=request, **data
        )
        targets = selectors.report_targets(reports=[report])
        return Response(s.ReportOutput(report, context={"targets": targets}).data)


# --- Notifications ---------------------------------------------------------------------------


class NotificationsView(APIView):
    pagination_class = NotificationPagination

    @extend_schema(
        parameters=[s.NotificationsQuery],
        responses=s.NotificationOutput(many=True),
        tags=["notifications"],
    )
    def get(self, request):
        """Your notifications, newest first, with `unread_count` next to the results."""
        query = _query(s.NotificationsQuery, request)
        notifications = selectors.notifications_for_user(
            user=request.user, unread_only=query["unread"]
        )
        response = paginated(self, notifications, s.NotificationOutput)
        response.data["unread_count"] = selectors.notifications_unread_count(user=request.user)
        return response


class NotificationsReadView(WriteThrottled, APIView):
    @extend_schema(
        request=s.NotificationsReadInput,
        responses={200: s.NotificationsReadOutput},
        tags=["notifications"],
    )
    def post(self, request):
        """Mark `ids` (yours; others are ignored) or `all: true` as read, in one update."""
        data = _input(s.NotificationsReadInput, request)
        marked = services.notifications_mark_read(
            user=request.user, ids=data.get("ids"), everything=data["all"]
        )
        return Response(s.NotificationsReadOutput({"marked": marked}).data)
