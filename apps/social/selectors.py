"""Reads of the social domain. Every list returns one queryset whose rows carry what the API
shows (authors, groups, liked_by_me, member counts) so list endpoints run a constant number of
queries whatever the page size."""

import functools
from collections import defaultdict
from contextlib import contextmanager
from typing import Any

import psycopg
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from psycopg.types.numeric import Int8

from apps.media import selectors as media_selectors

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


_POST_FACTS = ("author_id", "group_id", "visibility", "is_hidden", "author_active", "group_private")
_POST_FACTS_SQL = """
SELECT p.author_id, p.group_id, p.visibility, p.is_hidden, a.is_active, g.is_private
  FROM social_post p
  JOIN accounts_user a ON a.id = p.author_id
  LEFT JOIN social_studygroup g ON g.id = p.group_id
 WHERE p.id = %s AND p.deleted_at IS NULL
"""


def _post_get_readable_facts(*, viewer, post_id: int) -> Post | None:
    """post_get_visible's rule (`_post_readable_q`) applied in Python to one plain row, for
    requests that only act on the post: a simple primary-key query instead of the audience
    expression, whose construction costs more than the query itself, plus one indexed check
    only for followers-only and private-group posts. Returns a Post carrying id, author_id,
    group_id and visibility. tests/social/test_posts.py's visibility matrix runs both paths.
    """
    with connection.cursor() as cursor:  # plain SQL: this is the whole cost of a like's check
        cursor.execute(_POST_FACTS_SQL, [post_id])
        found = cursor.fetchone()
    if found is None:
        return None
    row = dict(zip(_POST_FACTS, found, strict=True))
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
            # A group that is not private (None: no group; SQLite answers 0/1, not booleans).
            if row["group_private"] is not None and not row["group_private"]:
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
    # No ORDER BY inside the union (the models' default ordering): SQLite refuses it.
    rows = (
        followees.order_by()
        .values_list("kind", "followee_id")
        .union(groups.order_by().values_list("kind", "group_id"), all=True)
    )
    followee_ids, group_ids = [], []
    for kind, source_id in rows:
        (followee_ids if kind == "f" else group_ids).append(source_id)
    return followee_ids, group_ids


# Up to this many sources (people followed and groups), a feed page is merged from each
# source's own newest posts: about 0.02 ms a source at most, whatever they posted (4 ms at
# 200 on the bench data). Beyond, it comes from one walk over everyone's recent posts, which
# is quick when the sources post much (2 ms for 1000 people) and slow when they post little
# (6 ms for 200 people with one post each, more as the table grows).
FEED_MAX_MERGED_SOURCES = 200

# A feed page (see Feed). Only SQL text is formatted in (orderings, literal limits, the
# visibility and cursor conditions): the viewer and the cursor are parameters, so the text is
# the same for every viewer and the statement stays prepared on the connection. "followee"
# and "group" arms name their source as a range (author_id >= s.id AND author_id <= s.id):
# for `author_id = s.id` the generic plan would assume the average author's ~10 posts, read
# a prolific author's thousands through a bitmap and sort them; for a range it assumes many,
# and walks the source's index newest first, stopping after {k}.
_FEED_PAGE_SQL = """
WITH followees AS MATERIALIZED (
    SELECT f.followee_id AS id FROM social_follow f
      JOIN accounts_user u ON u.id = f.followee_id
     WHERE f.follower_id = %(viewer)s AND u.is_active
), my_groups AS MATERIALIZED (
    SELECT m.group_id AS id FROM social_membership m
     WHERE m.user_id = %(viewer)s AND m.status = 'active'
), merged AS (
    SELECT (SELECT count(*) FROM followees) + (SELECT count(*) FROM my_groups)
           <= {max_merged} AS yes
), candidates AS (
    SELECT x.* FROM followees s CROSS JOIN LATERAL (
        SELECT {post} FROM social_post p
         WHERE p.author_id >= s.id AND p.author_id <= s.id AND {visible}
           AND (p.group_id IS NULL OR p.group_id IN (SELECT id FROM my_groups)
                OR EXISTS (SELECT 1 FROM social_studygroup g
                            WHERE g.id = p.group_id AND NOT g.is_private))
         ORDER BY p.author_id {reverse}, p.created_at {direction}, p.id {direction} LIMIT {k}
    ) AS x WHERE (SELECT yes FROM merged)
    UNION ALL
    (SELECT {post} FROM social_post p
      WHERE p.author_id = %(viewer)s AND {visible} AND (SELECT yes FROM merged)
        AND EXISTS (SELECT 1 FROM accounts_user u WHERE u.id = %(viewer)s AND u.is_active)
      ORDER BY p.created_at {direction}, p.id {direction} LIMIT {k})
    UNION ALL
    SELECT x.* FROM my_groups s CROSS JOIN LATERAL (
        SELECT {post} FROM social_post p JOIN accounts_user a ON a.id = p.author_id
         WHERE p.group_id >= s.id AND p.group_id <= s.id AND {visible} AND a.is_active
           AND p.author_id <> %(viewer)s AND p.author_id NOT IN (SELECT id FROM followees)
         ORDER BY p.group_id {reverse}, p.created_at {direction}, p.id {direction} LIMIT {k}
    ) AS x WHERE (SELECT yes FROM merged)
    UNION ALL
    (SELECT {post} FROM social_post p
       JOIN accounts_user a ON a.id = p.author_id
       LEFT JOIN social_studygroup g ON g.id = p.group_id
      WHERE NOT (SELECT yes FROM merged) AND {visible} AND a.is_active
        AND (p.author_id = %(viewer)s
             OR (p.author_id IN (SELECT id FROM followees)
                 AND (p.group_id IS NULL OR NOT g.is_private))
             OR p.group_id IN (SELECT id FROM my_groups))
      ORDER BY p.created_at {direction}, p.id {direction} LIMIT {k})
)
SELECT p.id, p.author_id, a.display_name, p.body, p.visibility, p.group_id, g.name,
       p.course_id, p.like_count, p.comment_count, p.is_hidden, p.created_at, p.updated_at,
       EXISTS (SELECT 1 FROM social_like l WHERE l.user_id = %(viewer)s AND l.post_id = p.id),
       {media_columns}
  FROM (SELECT * FROM candidates
         ORDER BY created_at {direction}, id {direction} LIMIT {limit} OFFSET {offset}) AS p
  JOIN accounts_user a ON a.id = p.author_id
  LEFT JOIN social_studygroup g ON g.id = p.group_id
  LEFT JOIN media_mediafile m ON m.id = p.media_id
 ORDER BY p.created_at {direction}, p.id {direction}
"""


@functools.lru_cache(maxsize=64)
def _feed_page_sql(*, newest_first: bool, bounded: bool, offset: int, k: int) -> str:
    visible = "NOT p.is_hidden AND p.deleted_at IS NULL"  # models.VISIBLE, as indexed
    if bounded:
        visible += " AND p.created_at " + ("<" if newest_first else ">") + " %(bound)s"
    return _FEED_PAGE_SQL.format(
        max_merged=FEED_MAX_MERGED_SOURCES,
        media_columns=", ".join(f"m.{column}" for column in media_selectors.REFERENCE_COLUMNS),
        post=(
            "p.id, p.author_id, p.body, p.visibility, p.group_id, p.course_id, p.media_id,"
            " p.like_count, p.comment_count, p.is_hidden, p.created_at, p.updated_at"
        ),
        visible=visible,
        direction="DESC" if newest_first else "ASC",
        reverse="" if newest_first else "DESC",  # the index order, scanned backwards if ASC
        k=k,
        limit=k - offset,
        offset=offset,
    )


@contextmanager
def _preparable_cursor():
    """A Django cursor (its queries logged and counted as usual) that binds parameters
    server-side, so psycopg prepares a statement it runs repeatedly on the connection
    (DATABASES OPTIONS prepare_threshold): PostgreSQL then neither parses nor plans it again,
    which was most of a feed page's database time. Django's own cursors bind client-side and
    are never prepared; without prepare_threshold this one is not either. Results come in
    binary, read by psycopg's C loaders (a page of posts a quarter faster than as text)."""
    with connection.cursor():  # Django's checks first: health check, connection, thread
        pass
    cursor = psycopg.Cursor(connection.connection)
    cursor.format = psycopg.pq.Format.BINARY
    if connection.queries_logged:
        wrapped = connection.make_debug_cursor(cursor)
    else:
        wrapped = connection.make_cursor(cursor)
    with wrapped:
        yield wrapped


class Feed:
    """One person's feed (PostgreSQL), read the way DRF's CursorPagination reads a queryset:
    `order_by` ("-created_at", "-id") or its reverse, `filter` on the cursor's created_at,
    then a slice, which runs one query.

    Feed posts: the viewer's own; their followees' outside groups (public and followers-only)
    and in public groups, not in private groups the viewer is not in; every post of the
    groups the viewer is an active member of. Never hidden or deleted posts, nor posts of
    inactive accounts. Rows are dicts of plain values under the names PostOutput reads
    (`_row`), from one raw statement, rendered by PostOutput's fast path: building ORM
    queries and model instances and DRF's per-field rendering were 40% of a feed request.

    The statement (_FEED_PAGE_SQL) reads the viewer's followees and active groups, then, with
    a few sources (at most FEED_MAX_MERGED_SOURCES, like every viewer of the benchmark), each
    source's newest posts past the cursor on their own, k = offset + page size + 1 each,
    through the partial indexes `social_post_author_recent` / `social_post_group_recent`
    ((author or group, created_at DESC, id DESC) WHERE visible), and cuts the page from their
    union. Each post comes from one source only (a group's posts exclude the viewer's and
    their followees', whose own sources include them). A page then costs at most k index
    entries per source, whatever the sources posted in all: the former single query
    (`author_id IN (<followees>) OR ...`) misjudged how many posts a handful of prolific
    people have (62 estimated, 1895 real), then read and sorted them all, ~10 ms for a bench
    viewer following 7 popular people. With very many sources, k per source adds up: the
    page then walks `social_post_recent` (created_at DESC, id DESC WHERE visible) newest
    first from the cursor, filtering on the sources. The text of the statement does not
    depend on the viewer, so it is prepared once per connection (_preparable_cursor) and
    planned generically, which is what the plan is written for; tests/social/test_feed.py
    checks it.
    """

    def __init__(self, user, *, newest_first: bool = True, bound=None):
        self.user = user
        self.newest_first = newest_first
        self.bound = bound  # the cursor: created_at strictly before (newest first) or after

    def order_by(self, *fields: str) -> "Feed":
        if fields in (("-created_at", "-id"), ("created_at", "id")):
            return Feed(self.user, newest_first=fields[0].startswith("-"), bound=self.bound)
        raise ValueError(f"The feed is ordered by (created_at, id), not {fields}.")

    def filter(self, **lookups) -> "Feed":
        expected = "created_at__lt" if self.newest_first else "created_at__gt"
        if list(lookups) != [expected]:
            raise ValueError(f"The feed filters on {expected} only, not {list(lookups)}.")
        # Parsed as the ORM parses a lookup value: a forged cursor is a ValidationError (400).
        bound = Post._meta.get_field("created_at").get_prep_value(lookups[expected])
        return Feed(self.user, newest_first=self.newest_first, bound=bound)

    def __getitem__(self, window: slice) -> list[dict[str, Any]]:
        with _preparable_cursor() as cursor:
            cursor.execute(*self.sql(window))
            return [self._row(row) for row in cursor.fetchall()]

    def sql(self, window: slice) -> tuple[str, dict[str, Any]]:
        """The page query for `window`: [offset:offset + page size + 1]."""
        offset, k = window.start or 0, window.stop
        if window.step is not None or k is None or not 0 <= offset < k:
            raise ValueError("The feed is read in slices [offset:offset + n].")
        bounded = self.bound is not None
        sql = _feed_page_sql(newest_first=self.newest_first, bounded=bounded, offset=offset, k=k)
        # Always bigint: psycopg keeps one prepared statement per text and parameter types.
        params = {"viewer": Int8(self.user.pk)}
        if bounded:
            params["bound"] = self.bound
        return sql, params

    @staticmethod
    def _row(row: tuple) -> dict[str, Any]:
        post_id, author_id, display_name, body, visibility, group_id, group_name, *rest = row
        course_id, like_count, comment_count, is_hidden, created_at, updated_at, liked, *image = (
            rest
        )
        return {
            "id": post_id,
            "author": {"id": author_id, "display_name": display_name},
            "body": body,
            "visibility": visibility,
            "group": None if group_id is None else {"id": group_id, "name": group_name},
            "course_id": course_id,
            "media": media_selectors.media_from_columns(image),
            "like_count": like_count,
            "comment_count": comment_count,
            "liked_by_me": liked,
            "is_hidden": is_hidden,
            "created_at": created_at,
            "updated_at": updated_at,
        }


def feed_for_user(*, user) -> "Feed | QuerySet[Post]":
    """Posts of the people `user` follows, their own, and their active groups' posts, for
    CursorPagination ordered ("-created_at", "-id"): see Feed. On SQLite (`make run`), the
    same posts as a queryset (followed people's posts in private groups the viewer is not in
    excluded, public and followers-only ones included)."""
    if connection.vendor == "postgresql":
        return Feed(user)
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
    only the latter. Ordered by name; `q` searches the names the viewer may read (not those
    of private groups they only asked to join: see `group_details_visible`)."""
    has_membership = Exists(Membership.objects.filter(group=OuterRef("pk"), user=viewer))
    queryset = _groups_for_viewer(viewer)
    queryset = (
        queryset.filter(has_membership)
        if mine
        else queryset.filter(Q(is_private=False) | has_membership)
    )
    readable = Q(is_private=False) | Q(pk__in=_active_group_ids(viewer))
    if q:
        queryset = queryset.filter(readable, name__icontains=q)
    # Sealed groups come last, by id: their place among the others must not hint at the name.
    sealed = Case(When(readable, then=Value(False)), default=Value(True))
    sort_name = Case(When(readable, then=F("name")), default=Value(""))
    return queryset.order_by(sealed, sort_name, "id")


def group_details_visible(*, viewer, group: StudyGroup) -> bool:
    """Whether the viewer may read what a group is (name, description, owner, course, member
    count): anyone for a public group; for a private one its active members and moderators.
    Someone who asked to join a private group sees its id and their own request, nothing more,
    so a join request never reveals what the group is (GroupOutput renders it sealed).
    Uses the membership `_groups_for_viewer` prefetched; asks for permissions last."""
    if not group.is_private:
        return True
    mine = group.viewer_memberships
    if mine and mine[0].is_active:
        return True
    return user_is_moderator(user=viewer)


def group_get_visible(*, viewer, group_id: int) -> StudyGroup | None:
    """The group if the viewer may see it: public groups, groups they belong to or asked to
    join (sealed, see `group_details_visible`), and every group for moderators. Others get
    None (404: private groups stay secret)."""
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

    def people(other: str, **mine) -> list[dict]:
        rows = (
            Follow.objects.filter(**mine)
            .order_by("created_at", "id")
            .values(
                "created_at", user_id=F(f"{other}_id"), display_name=F(f"{other}__display_name")
            )
        )
        return [
            {"user_id": r["user_id"], "display_name": r["display_name"], "since": r["created_at"]}
            for r in rows.iterator(chunk_size=2000)
        ]

    return {
        "following": people("followee", follower=user),
        "followers": people("follower", followee=user),
    }


def memberships_for_export(*, user) -> list[dict]:
    """The person's memberships and join requests; a private group they only asked to join
    is named by its id alone (see `group_details_visible`)."""
    memberships = (
        Membership.objects.filter(user=user)
        .order_by("created_at", "id")
        .values(
            "group_id",
            "group__name",
            "group__is_private",
            "role",
            "status",
            "created_at",
            "approved_at",
        )
    )

    def name(row) -> str | None:
        sealed = row["group__is_private"] and row["status"] == Membership.Status.PENDING
        return None if sealed else row["group__name"]

    return [
        {
            "group": _group_ref(row["group_id"], name(row)),
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


def post_facts():
    """Every post ever written (deleted ones too: XP is never clawed back) as (payload of its
    "post.created" event, when), oldest first, for reconciliation."""
    rows = Post.objects.order_by("created_at", "pk").values_list(
        "pk", "author_id", "group_id", "course_id", "created_at"
    )
    for post_id, user_id, group_id, course_id, when in rows.iterator(chunk_size=2000):
        payload = {"post_id": post_id, "user_id": user_id, "group_id": group_id}
        yield {**payload, "course_id": course_id}, when


def comment_facts():
    """Every comment as (payload of its "comment.created" event, when), oldest first."""
    rows = Comment.objects.order_by("created_at", "pk").values_list(
        "pk", "post_id", "author_id", "post__author_id", "parent__author_id", "created_at"
    )
    for comment_id, post_id, user_id, post_author, parent_author, when in rows.iterator(
        chunk_size=2000
    ):
        payload = {"comment_id": comment_id, "post_id": post_id, "user_id": user_id}
        yield {**payload, "post_author_id": post_author, "parent_author_id": parent_author}, when
