"""Reconciliation checks of social: the posts' counters against their rows (apps.core.reconcile)."""

from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from apps.core.reconcile import counter_check

from .models import VISIBLE, Comment, Like, Post


def _count(rows):
    per_post = rows.filter(post=OuterRef("pk")).order_by().values("post").annotate(n=Count("pk"))
    return Coalesce(Subquery(per_post.values("n"), output_field=IntegerField()), Value(0))


def register_checks() -> None:
    counter_check(
        "social.post_like_count",
        Post.objects.annotate(expected=_count(Like.objects.all())),
        "like_count",
        label="post",
    )
    # comment_count counts what a reader can see: neither hidden nor deleted.
    counter_check(
        "social.post_comment_count",
        Post.objects.annotate(expected=_count(Comment.objects.filter(VISIBLE))),
        "comment_count",
        label="post",
    )
