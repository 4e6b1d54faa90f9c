"""Reads of the social domain. Every list returns one queryset whose rows carry what the API
shows (authors, groups, liked_by_me, member counts) so list endpoints run a constant number of
queries whatever the page size."""

from collections import defaultdict
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from .models import (
    VISIBLE,
    Comment,
    Follow,
    Like,
    Membership,
    Notification,
    Post,
    Report,
    StudyGroup,
)

User = get_user_model()


def user_is_moderator(*, user) -> bool:
    return user.has_perm("accounts.moderate_content")


def user_get_active(*, user_id: int):
    """A person others may interact with (follow, report); None for unknown or inactive."""
    return User.objects.filter(pk=user_id, is_active=True).first()


def _followee_ids(user) -> QuerySet:
    return Follow.objects.filter(follower=user).values("followee_id")


def _active_group_ids(user) -> QuerySet:
    return Membership.objects.filter(user=user, status=Membership.Status.ACTIVE).values("group_id")


# --- Posts -----------------------------------------------------------------------------------


def posts_for_viewer(*, viewer) -> QuerySet[Post]:
    """Posts with what every API row shows: author, group, image and whether the viewer
    liked it."""
    return Post.objects.select_related("author", "group", "media").annotate(
        liked_by_me=Exists(Like.objects.filter(post=OuterRef("pk"), user=viewer))
    )


def _post_audience_q(viewer) -> Q:
    """Who may read a post, apart from hidden/deleted state: its author; anyone for public
    posts and posts in public groups; followers for followers-only posts; active members for
    posts in private groups."""
    return (
        Q(author=viewer)
        | Q(visibility=Post.Visibility.PUBLIC)
        | Q(visibility=Post.Visibility.FOLLOWERS, author_id__in=_followee_ids(viewer))
        | Q(visibility=Post.Visibility.GROUP, group__is_private=False)
        | Q(visibility=Post.Visibility.GROUP, group_id__in=_active_group_ids(viewer))
    )


def _post_readable_q(viewer) -> Q:
    """Posts the viewer may read unless deleted (moderators also read the rest): their own,
    and the audience's posts that are not hidden and whose author is active."""
    return Q(author=viewer) | (
        Q(is_hidden=False, author__is_active=True) & _post_audience_q(viewer)
    )


def _listed(queryset: QuerySet[Post]) -> QuerySet[Post]:
    """What lists may show: not hidden, not deleted, by an active account."""
    return queryset.filter(VISIBLE, author__is_active=True)


def post_get_visible(*, viewer, post_id: int, to_render: bool = True) -> Post | None:
    """The post if the viewer may read it, else None (the API answers 404 either way).

    Deleted posts are gone for everyone. Moderators read everything else (they act on
    reports). Authors still see their own post once a moderator hid it (flagged is_hidden).
    With to_render=False (likes: only the check and the author matter) see
    `_post_get_readable_facts`.
    """
    if not to_render:
        return _post_get_readable_facts(viewer=viewer, post_id=post_id)
    queryset = posts_for_viewer(viewer=viewer).filter(pk=post_id, deleted_at__isnull=True)
    post = queryset.filter(_post_readable_q(viewer)).first()
    # Ask for the viewer's permissions only when the audience rule said no: likes, comments
    # and post pages of ordinary members then cost one query.
    if post is None and user_is_moderator(user=viewer):
        post = queryset.first()
    return post


def _post_get_readable_facts(*, viewer, post_id: int) -> Post | None:
    """post_get_visible's rule (`_post_readable_q`) applied in Python to one plain row, for
    requests that only act on the post: a simple primary-key query instead of the audience
    expression, whose construction costs more than the query itself, plus one indexed check
    only for followers-only and private-group posts. Returns a Post carrying id, author_id,
    group_id and visibility. tests/social/test_posts.py's visibility matrix runs both paths.
    """
    row = (
        Post.objects.filter(pk=post_id, deleted_at__isnull=True)
        .values("author_id", "group_id", "visibility", "is_hidden")
        .annotate(author_active=F("author__is_active"), group_private=F("group__is_private"))
        .first()
    )
    if row is None:
        return None
    post = Post(
        id=post_id,
        author_id=row["author_id"],
        group_id=row["group_id"],
        visibility=row["visibility"],
    )
    if row["author_id"] == viewer.pk or _audience_admits(viewer=viewer, row=row):
        return post
    return post if user_is_moderator(user=viewer) else None


def _audience_admits(*, viewer, row: dict) -> bool:
    """The audience half of `_post_readable_q` for one post (author_id, group_id, visibility,
    is_hidden, author_active, group_private) when the viewer is not its author."""
    if row["is_hidden"] or not row["author_active"]:
        return False
    match row["visibility"]:
        case Post.Visibility.PUBLIC:
            return True
        case Post.Visibility.FOLLOWERS:
            return Follow.objects.filter(follower=viewer, followee_id=row["author_id"]).exists()
        case Post.Visibility.GROUP:
            if row["group_private"] is False:
                return True
            return (
                row["group_id"] is not None
                and Membership.objects.filter(
                    group_id=row["group_id"], user=viewer, status=Membership.Status.ACTIVE
                ).exists()
            )
    return False


def post_image_is_visible(user, media) -> bool:
    """Media visibility rule: a post's image is for whoever may read the post (the rule of
    post_get_visible). One query; moderators' permissions are read only when it says no."""
    if not user.is_authenticated:
        return False
    posts = Post.objects.filter(media=media, deleted_at__isnull=True)
    if posts.filter(_post_readable_q(user)).exists():
        return True
    return user_is_moderator(user=user) and posts.exists()


def _feed_sources(user) -> tuple[list[int], list[int]]:
    """Whom the user follows and which groups they are an active member of, in one query."""
    followees = Follow.objects.filter(follower=user).annotate(kind=Value("f"))
    groups = Membership.objects.filter(user=user, status=Membership.Status.ACTIVE).annotate(
        kind=Value("g")
    )
    rows = followees.values_list("kind", "followee_id").union(
        groups.values_list("kind", "group_id"), all=True
    )
    followee_ids, group_ids = [], []
    for kind, source_id in rows:
        (followee_ids if kind == "f" else group_ids).append(source_id)
    return followee_ids, group_ids


def feed_for_user(*, user) -> QuerySet[Post]:
    """Posts of the people `user` follows, their own, and their active groups' posts.

    Followed people's posts in private groups the viewer is not in are excluded; public and
    followers-only posts of followed people are included. Shape of the query (ordered
    ("-created_at", "-id") by the cursor paginator, LIMIT n+1), after one query that reads the
    viewer's followees and active groups (index-only scans):

        WHERE NOT is_hidden AND deleted_at IS NULL AND author.is_active
          AND (author_id = me
               OR (author_id IN (<followee ids>) AND group_id IS NULL)
               OR (author_id IN (<followee ids>) AND NOT group.is_private)
               OR group_id IN (<group ids>))
          [AND created_at < cursor]
        ORDER BY created_at DESC, id DESC LIMIT n+1

    Why literal id lists rather than IN-subqueries: with the ids in the query, PostgreSQL
    estimates from its statistics how many posts those very authors and groups have, and
    picks the cheaper of two plans per viewer. A sparse feed (a few quiet people followed)
    reads just their posts through the author and group indexes and sorts that handful; a
    dense one walks the partial index `social_post_recent` (created_at DESC, id DESC WHERE
    visible) newest-first from the cursor and stops after n+1 matches. With subqueries the
    planner cannot know the ids' selectivity and always walked: for someone following 5 of
    20k people at 200k posts, that walk filtered out 137k rows (62 ms; 0.6 ms now). Measured
    with `make bench` (README "Performance"); tests/social/test_feed.py checks both plans.
    """
    followee_ids, group_ids = _feed_sources(user)
    audience = (
        Q(author=user)
        | Q(author_id__in=followee_ids, group__isnull=True)
        | Q(author_id__in=followee_ids, group__is_private=False)
    )
    if group_ids:
        audience |= Q(group_id__in=group_ids)
    return _listed(posts_for_viewer(viewer=user)).filter(audience)


def posts_public(*, viewer) -> QuerySet[Post]:
    """Public posts of everyone (outside groups), newest first: the "explore" timeline."""
    return _listed(posts_for_viewer(viewer=viewer)).filter(visibility=Post.Visibility.PUBLIC)


def posts_by_author(*, viewer, author_id: int) -> QuerySet[Post]:
    """One person's posts that the viewer may read (a profile timeline)."""
    return _listed(posts_for_viewer(viewer=viewer)).filter(
        _post_audience_q(viewer), author_id=author_id
    )


def posts_in_group(*, viewer, group: StudyGroup) -> QuerySet[Post]:
    """A group's posts; the caller checked that the viewer may read the group's content."""
    return _listed(posts_for_viewer(viewer=viewer)).filter(group=group)


# --- Comments --------------------------------------------------------------------------------


def comments_for_post(*, post: Post) -> QuerySet[Comment]:
    return Comment.objects.select_related("author").filter(
        VISIBLE, post=post, author__is_active=True
    )


def comment_get_visible(*, viewer, comment_id: int) -> Comment | None:
    """The comment if its post is readable by the viewer and it is not deleted; hidden
    comments stay visible to their author and to moderators."""
    comment = (
        Comment.objects.select_related("author")
        .filter(pk=comment_id, deleted_at__isnull=True)
        .first()
    )
    if comment is None:
        return None
    post = post_get_visible(viewer=viewer, post_id=comment.post_id)
    if post is None:
        return None
    restricted = comment.is_hidden or not comment.author.is_active
    if restricted and comment.author_id != viewer.pk and not user_is_moderator(user=viewer):
        return None
    comment.post = post
    return comment


# --- Follows ---------------------------------------------------------------------------------


def _followed_by(viewer, user_ref: str) -> Exists:
    return Exists(Follow.objects.filter(follower=viewer, followee_id=OuterRef(user_ref)))


def followers_of(*, user, viewer) -> QuerySet[Follow]:
    """Follow rows whose `follower` is shown; newest follow first (cursor-paginated)."""
    return (
        Follow.objects.filter(followee=user, follower__is_active=True)
        .select_related("follower")
        .annotate(followed_by_me=_followed_by(viewer, "follower_id"))
    )


def following_of(*, user, viewer) -> QuerySet[Follow]:
    """Follow rows whose `followee` is shown; newest follow first (cursor-paginated)."""
    return (
        Follow.objects.filter(follower=user, followee__is_active=True)
        .select_related("followee")
        .annotate(followed_by_me=_followed_by(viewer, "followee_id"))
    )


def follow_counts(*, user_ids) -> dict[int, tuple[int, int]]:
    """{user_id: (followers, following)} for each id, counting active counterparts only.
    Two grouped queries whatever the number of ids (for profiles and user lists)."""
    ids = list(set(user_ids))
    counts = {user_id: [0, 0] for user_id in ids}
    followers = (
        Follow.objects.filter(followee_id__in=ids, follower__is_active=True)
        .values("followee_id")
        .annotate(n=Count("id"))
    )
    for row in followers:
        counts[row["followee_id"]][0] = row["n"]
    following = (
        Follow.objects.filter(follower_id__in=ids, followee__is_active=True)
        .values("follower_id")
        .annotate(n=Count("id"))
    )
    for row in following:
        counts[row["follower_id"]][1] = row["n"]
    return {user_id: (pair[0], pair[1]) for user_id, pair in counts.items()}


def followee_ids(*, user_id: int) -> QuerySet:
    """Ids of the active people `user_id` follows (gamification's friends leaderboard)."""
    return Follow.objects.filter(follower_id=user_id, followee__is_active=True).values_list(
        "followee_id", flat=True
    )


# --- Study groups ----------------------------------------------------------------------------


def _groups_for_viewer(viewer) -> QuerySet[StudyGroup]:
    """Groups with owner, active member count and the viewer's own membership (a list of at
    most one, `viewer_memberships`, prefetched in one query for the whole page)."""
    # Correlated subqueries rather than JOIN + GROUP BY: PostgreSQL evaluates them only for
    # the rows of the page, after ORDER BY/LIMIT.
    active_members = (
        Membership.objects.filter(group=OuterRef("pk"), status=Membership.Status.ACTIVE)
        .order_by()
        .values("group")
        .annotate(n=Count("pk"))
        .values("n")
    )
    mine = Membership.objects.filter(user=viewer).select_related("user")
    return (
        StudyGroup.objects.select_related("owner")
        .annotate(member_count=Coalesce(Subquery(active_members), 0))
        .prefetch_related(Prefetch("memberships", queryset=mine, to_attr="viewer_memberships"))
    )


def groups_list(*, viewer, q: str = "", mine: bool = False) -> QuerySet[StudyGroup]:
    """Public groups and the viewer's own (member or with a pending request); `mine` keeps
    only the latter. Ordered by name."""
    has_membership = Exists(Membership.objects.filter(group=OuterRef("pk"), user=viewer))
    queryset = _groups_for_viewer(viewer)
    queryset = (
        queryset.filter(has_membership)
        if mine
        else queryset.filter(Q(is_private=False) | has_membership)
    )
    if q:
        queryset = queryset.filter(name__icontains=q)
    return queryset.order_by("name", "id")


def group_get_visible(*, viewer, group_id: int) -> StudyGroup | None:
    """The group if the viewer may see it: public groups, groups they belong to or asked to
    join, and every group for moderators. Others get None (404: private groups stay secret)."""
    queryset = _groups_for_viewer(viewer).filter(pk=group_id)
    if not user_is_moderator(user=viewer):
        queryset = queryset.filter(
            Q(is_private=False)
            | Exists(Membership.objects.filter(group=OuterRef("pk"), user=viewer))
        )
    return queryset.first()


def group_get(*, group_id: int) -> StudyGroup | None:
    return StudyGroup.objects.filter(pk=group_id).first()


def membership_get(*, group: StudyGroup, user_id: int) -> Membership | None:
    return Membership.objects.filter(group=group, user_id=user_id).first()


def group_content_readable(*, viewer, group: StudyGroup) -> bool:
    """Posts of public groups are public; private groups' posts are for active members."""
    if not group.is_private or user_is_moderator(user=viewer):
        return True
    return Membership.objects.filter(
        group=group, user=viewer, status=Membership.Status.ACTIVE
    ).exists()


def group_members(*, group: StudyGroup, status: str) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(group=group, status=status, user__is_active=True)
        .select_related("user")
        .order_by("created_at", "id")
    )


# --- Moderation ------------------------------------------------------------------------------


def reports_queue(*, status: str) -> QuerySet[Report]:
    return (
        Report.objects.filter(status=status)
        .select_related("reporter", "resolver")
        .order_by("created_at", "id")
    )


def report_targets(*, reports) -> dict[tuple[str, int], dict[str, Any]]:
    """Summaries of what a page of reports points at, one query per target type."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for report in reports:
        wanted[report.target_type].add(report.target_id)
    summaries: dict[tuple[str, int], dict[str, Any]] = {}
    if wanted[Report.TargetType.POST]:
        posts = Post.objects.select_related("author").filter(pk__in=wanted["post"])
        for post in posts:
            summaries[("post", post.pk)] = {
                "id": post.pk,
                "body": post.body,
                "author": _user_summary(post.author),
                "is_hidden": post.is_hidden,
                "is_deleted": post.deleted_at is not None,
                "group_id": post.group_id,
            }
    if wanted[Report.TargetType.COMMENT]:
        comments = Comment.objects.select_related("author").filter(pk__in=wanted["comment"])
        for comment in comments:
            summaries[("comment", comment.pk)] = {
                "id": comment.pk,
                "body": comment.body,
                "author": _user_summary(comment.author),
                "is_hidden": comment.is_hidden,
                "is_deleted": comment.deleted_at is not None,
                "post_id": comment.post_id,
            }
    if wanted[Report.TargetType.USER]:
        for user in User.objects.filter(pk__in=wanted["user"]):
            summaries[("user", user.pk)] = {
                "id": user.pk,
                "display_name": user.display_name,
                "is_active": user.is_active,
            }
    return summaries


def _user_summary(user) -> dict[str, Any]:
    return {"id": user.pk, "display_name": user.display_name}


# --- Notifications ---------------------------------------------------------------------------


def notifications_for_user(*, user, unread_only: bool = False) -> QuerySet[Notification]:
    queryset = Notification.objects.filter(recipient=user).select_related("actor")
    if unread_only:
        queryset = queryset.filter(read_at__isnull=True)
    return queryset


def notifications_unread_count(*, user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


# --- Personal-data export (apps.accounts.selectors.user_export_data) ---------------------------
# Everything the person wrote or did, including what they deleted or a moderator hid (Lyo still
# holds it), oldest first; plain dicts from .values(), one query per section.


def _group_ref(group_id, name) -> dict | None:
    return {"id": group_id, "name": name} if group_id is not None else None


def posts_for_export(*, user) -> list[dict]:
    posts = (
        Post.objects.filter(author=user)
        .order_by("created_at", "id")
        .values(
            "id",
            "body",
            "visibility",
            "group_id",
            "group__name",
            "course_id",
            "is_hidden",
            "deleted_at",
            "created_at",
            "updated_at",
        )
    )
    return [
        {
            "id": row["id"],
            "body": row["body"],
            "visibility": row["visibility"],
            "group": _group_ref(row["group_id"], row["group__name"]),
            "course_id": row["course_id"],
            "is_hidden": row["is_hidden"],
            "deleted_at": row["deleted_at"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
        }
        for row in posts.iterator(chunk_size=2000)
    ]


def comments_for_export(*, user) -> list[dict]:
    comments = (
        Comment.objects.filter(author=user)
        .order_by("created_at", "id")
        .values(
            "id",
            "post_id",
            "parent_id",
            "body",
            "post__group_id",
            "post__group__name",
            "is_hidden",
            "deleted_at",
            "created_at",
            "updated_at",
        )
    )
    return [
        {
            "id": row["id"],
            "post_id": row["post_id"],
            "parent_id": row["parent_id"],
            "body": row["body"],
            "group": _group_ref(row["post__group_id"], row["post__group__name"]),
            "is_hidden": row["is_hidden"],
            "deleted_at": row["deleted_at"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
        }
        for row in comments.iterator(chunk_size=2000)
    ]


def likes_for_export(*, user) -> list[dict]:
    likes = Like.objects.filter(user=user).order_by("created_at", "id")
    return list(likes.values("post_id", "created_at").iterator(chunk_size=2000))


def follows_for_export(*, user) -> dict[str, list[dict]]:
    """Whom the person follows and who follows them: the other person's id and display name
    (blank for deleted accounts) and since when."""
    following = (
        Follow.objects.filter(follower=user)
        .order_by("created_at", "id")
        .values("followee_id", "followee__display_name", "created_at")
    )
    followers = (
        Follow.objects.filter(followee=user)
        .order_by("created_at", "id")
        .values("follower_id", "follower__display_name", "created_at")
    )
    return {
        "following": [
            {
                "user_id": row["followee_id"],
                "display_name": row["followee__display_name"],
                "since": row["created_at"],
            }
            for row in following.iterator(chunk_size=2000)
        ],
        "followers": [
            {
                "user_id": row["follower_id"],
                "display_name": row["follower__display_name"],
                "since": row["created_at"],
            }
            for row in followers.iterator(chunk_size=2000)
        ],
    }


def memberships_for_export(*, user) -> list[dict]:
    memberships = (
        Membership.objects.filter(user=user)
        .order_by("created_at", "id")
        .values("group_id", "group__name", "role", "status", "created_at", "approved_at")
    )
    return [
        {
            "group": _group_ref(row["group_id"], row["group__name"]),
            "role": row["role"],
            "status": row["status"],
            "requested_at": row["created_at"],
            "approved_at": row["approved_at"],
        }
        for row in memberships
    ]


def reports_for_export(*, user) -> list[dict]:
    """Reports the person filed (what they reported and why, and whether it was handled)."""
    return list(
        Report.objects.filter(reporter=user)
        .order_by("created_at", "id")
        .values("target_type", "target_id", "reason", "status", "created_at", "resolved_at")
    )
