"""Leaderboards: Redis sorted sets per period and scope, with the SQL ledger as the truth.

Keys: `lb:<period>:<period start>:<scope>` — period `daily` (UTC day), `weekly` (ISO week
starting Monday, UTC) or `all-time`; scope `global` or `course:<id>`. Each award is added to
its sets after the ledger row commits; daily and weekly sets expire once their period is well
over. With no Redis (the embedded local default) the same questions are answered from the
ledger. `rebuild` recreates the live sets from the ledger, so losing Redis loses nothing.

Only active accounts are ranked: the SQL paths (fallback, rebuild, week close) skip inactive
users, and a deleted account is removed from every set (`remove_user`, on "account.deleted").

Ranking is competition ranking (1, 2, 2, 4): equal XP share a rank, listed by user id.

Redis unreachable (or frozen): readers get the same answers from the ledger (`top` takes the
SQL path whenever `redis_client()` is None or a Redis call fails), awards and removals are not
written to the sets, and the process that skipped one records that durably: a
"leaderboards.behind" event in the outbox, whose handler rebuilds the sets from the ledger once
Redis answers (and fails, staying pending, while it does not). Whichever process sees Redis
answer again first hands those events off at once (`rebuild_after_outage`, the cache's recovery
hook); the sweeper resends them otherwise. So the boards are exact again without anyone's
intervention, even when the process that missed the write is idle or gone.

Reading a board (`top_page`): the rendered top N is shared by every viewer for
LEADERBOARD_CACHE_SECONDS (a few seconds behind the live set at most), while the viewer's own
standing is always live; both come back in one Redis round trip.
"""

import json
import time as time_module
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Sum
from django.utils import timezone

from apps.core.cache import (
    REDIS_UNREACHABLE,
    redis_client,
    redis_client_now,
    redis_configured,
    redis_unreachable,
)

from .models import UserStats, XPTransaction

PERIODS = ("daily", "weekly", "all-time")
PERIOD_LENGTH = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
EXPIRY = {"daily": timedelta(days=3), "weekly": timedelta(days=15)}


@dataclass(frozen=True)
class Standing:
    user_id: int
    xp: int
    rank: int


def redis_enabled() -> bool:
    return redis_client() is not None


BEHIND = "leaderboards.behind"  # the event: some process could not write to the sets
_REBUILT_AT = "lb-meta:rebuilt-at"  # when the sets were last rebuilt (epoch seconds)


class LeaderboardsUnreachable(Exception):
    """The sets cannot be rebuilt yet: the BEHIND event stays pending in the outbox."""


def _missed_write(error: BaseException | None = None) -> None:
    """One BEHIND event per missed write: a rebuild covers the events older than its start, so
    any deduplication here could let a rebuild mark as covered a write it never saw. The
    rebuild runs once; the other events find it done (`catch_up`)."""
    if error is not None:
        redis_unreachable(error)
    if not redis_configured():
        return
    from apps.core import events

    events.publish(BEHIND)


def rebuild_after_outage() -> None:
    """Recovery hook (GamificationConfig.ready), in whichever process sees Redis answer again:
    hand off the pending BEHIND events now instead of at the sweeper's next resend."""
    from apps.core.outbox import relay_undelivered

    relay_undelivered(BEHIND)


def catch_up(event) -> None:
    """Durable handler of BEHIND: rebuild the sets unless a rebuild since covered the event.
    Asks Redis itself: this process's breaker may still hold from its own missed write."""
    client = redis_client_now()
    if client is None:
        raise LeaderboardsUnreachable("Redis is unreachable; the rebuild waits for it.")
    rebuilt_at = client.get(_REBUILT_AT)
    if rebuilt_at is not None and float(rebuilt_at) >= event.occurred_at.timestamp():
        return
    rebuild()


def period_start(period: str, when: datetime) -> date | None:
    day = when.astimezone(UTC).date()
    if period == "daily":
        return day
    if period == "weekly":
        return day - timedelta(days=day.weekday())
    return None


def _bounds(period: str, when: datetime) -> tuple[datetime, datetime] | None:
    start = period_start(period, when)
    if start is None:
        return None
    begin = datetime.combine(start, time.min, tzinfo=UTC)
    return begin, begin + PERIOD_LENGTH[period]


def key(period: str, scope: str, when: datetime) -> str:
    start = period_start(period, when)
    return f"lb:{period}:{start.isoformat() if start else 'all'}:{scope}"


def _expire_at(period: str, when: datetime) -> datetime:
    return _bounds(period, when)[1] + EXPIRY[period]


def record_award(*, user_id: int, points: int, course_id: int | None, when: datetime) -> None:
    """Add an award to every set it counts in (called after the ledger row commits)."""
    if not points:
        return
    client = redis_client()
    if client is None:
        _missed_write()
        return
    scopes = ["global"] + ([f"course:{course_id}"] if course_id else [])
    pipe = client.pipeline(transaction=False)
    for period in PERIODS:
        for scope in scopes:
            name = key(period, scope, when)
            pipe.zincrby(name, points, user_id)
            if period in EXPIRY:
                pipe.expireat(name, _expire_at(period, when))
    try:
        pipe.execute()
    except REDIS_UNREACHABLE as error:
        _missed_write(error)


# --- Queries ---------------------------------------------------------------------------------


def _ledger(period: str, scope: str, when: datetime):
    rows = XPTransaction.objects.filter(points__gt=0, user__is_active=True)
    bounds = _bounds(period, when)
    if bounds is not None:
        rows = rows.filter(created_at__gte=bounds[0], created_at__lt=bounds[1])
    if scope.startswith("course:"):
        rows = rows.filter(course_id=int(scope.split(":", 1)[1]))
    return rows


def sql_scores(*, period: str, scope: str, when: datetime, user_ids=None) -> dict[int, int]:
    """XP per user for a board, straight from the ledger (the source of truth)."""
    if period == "all-time" and scope == "global":
        stats = UserStats.objects.filter(xp_total__gt=0, user__is_active=True)
        if user_ids is not None:
            stats = stats.filter(user_id__in=user_ids)
        return dict(stats.values_list("user_id", "xp_total"))
    rows = _ledger(period, scope, when)
    if user_ids is not None:
        rows = rows.filter(user_id__in=user_ids)
    return dict(rows.values("user_id").annotate(xp=Sum("points")).values_list("user_id", "xp"))


def ledger_scores(*, period: str, scope: str, when: datetime) -> dict[int, int]:
    """XP per user for a board summed from the ledger, as `rebuild` writes it to Redis."""
    rows = _ledger(period, scope, when).order_by().values("user_id").annotate(xp=Sum("points"))
    return dict(rows.values_list("user_id", "xp"))


def redis_scores(*, period: str, scope: str, when: datetime) -> dict[int, int]:
    raw = redis_client().zrange(key(period, scope, when), 0, -1, withscores=True)
    return {int(member): int(score) for member, score in raw}


def ranked(scores: dict[int, int]) -> list[Standing]:
    ordered = sorted(((u, xp) for u, xp in scores.items() if xp > 0), key=lambda i: (-i[1], i[0]))
    standings: list[Standing] = []
    for position, (user_id, xp) in enumerate(ordered, start=1):
        rank = standings[-1].rank if standings and standings[-1].xp == xp else position
        standings.append(Standing(user_id=user_id, xp=xp, rank=rank))
    return standings


def top(
    *,
    period: str,
    scope: str,
    limit: int,
    viewer_id: int,
    members: list[int] | None = None,
    when: datetime | None = None,
) -> tuple[list[Standing], Standing | None]:
    """The top `limit` and the viewer's own standing (None when they have no XP there).

    `members` restricts the board to those users (the friends scope: a few hundred at most).
    """
    when = when or timezone.now()
    client = redis_client()
    if client is not None:
        try:
            return _top_in_redis(client, period, scope, limit, viewer_id, members, when)
        except REDIS_UNREACHABLE as error:
            redis_unreachable(error)
    scores = sql_scores(
        period=period, scope="global" if members is not None else scope, when=when, user_ids=members
    )
    standings = ranked(scores)
    return standings[:limit], next((s for s in standings if s.user_id == viewer_id), None)


def _top_in_redis(client, period, scope, limit, viewer_id, members, when):
    if members is not None:
        values = client.zmscore(key(period, "global", when), members)
        scores = {m: int(v) for m, v in zip(members, values, strict=True) if v}
        standings = ranked(scores)
        return standings[:limit], next((s for s in standings if s.user_id == viewer_id), None)

    name = key(period, scope, when)
    pipe = client.pipeline(transaction=False)
    pipe.zrevrange(name, 0, limit - 1, withscores=True)
    pipe.zscore(name, viewer_id)
    raw, own = pipe.execute()
    entries = {int(member): int(score) for member, score in raw}
    # Everyone scoring more than a listed member is listed too (the list is the top by score),
    # so the listed ranks need no further Redis call; only a viewer below the list does.
    standings = ranked(entries)
    mine = None
    if own:
        own = int(own)
        listed_all = len(raw) < limit
        if listed_all or (entries and own >= min(entries.values())):
            higher = sum(1 for xp in entries.values() if xp > own)
        else:
            higher = client.zcount(name, f"({own}", "+inf")
        mine = Standing(viewer_id, own, higher + 1)
    return standings, mine


def remove_user(*, user_id: int) -> int:
    """Take the user off every leaderboard set (a deleted account). Returns how many sets
    listed them. Rare, so a scan of the `lb:*` keys is fine (as in `rebuild`)."""
    client = redis_client()
    if client is None:
        _missed_write()  # the rebuild after the outage leaves inactive accounts out
        return 0
    names = list(client.scan_iter(match="lb:*", count=1000))
    removed = 0
    for start in range(0, len(names), 500):
        pipe = client.pipeline(transaction=False)
        for name in names[start : start + 500]:
            pipe.zrem(name, user_id)
        removed += sum(pipe.execute())
    _drop_pages(client)
    return removed


def _drop_pages(client) -> None:
    """Forget the shared rendered pages (`top_page`), e.g. once someone must leave them now."""
    pages = list(client.scan_iter(match=cache.make_key("lb-page:*"), count=1000))
    if pages:
        client.delete(*pages)


# The viewer's score and how many score more (competition rank - 1), in one round trip.
_STANDING_SCRIPT = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return false end
return {score, redis.call('ZCOUNT', KEYS[1], '(' .. score, '+inf')}
"""


def top_page(
    *,
    period: str,
    scope: str,
    limit: int,
    viewer_id: int,
    render: Callable[[list[Standing]], list],
    when: datetime | None = None,
) -> tuple[list, Standing | None]:
    """The top `limit` as `render(standings)` made it, cached for every viewer, and the
    viewer's live standing. Computed from the ledger when Redis is unreachable."""
    when = when or timezone.now()
    client = redis_client()
    if client is not None:
        try:
            return _top_page_in_redis(client, period, scope, limit, viewer_id, render, when)
        except REDIS_UNREACHABLE as error:
            redis_unreachable(error)
    standings, mine = top(period=period, scope=scope, limit=limit, viewer_id=viewer_id, when=when)
    return render(standings), mine


def _top_page_in_redis(client, period, scope, limit, viewer_id, render, when):
    name = key(period, scope, when)
    page_key = cache.make_key(f"lb-page:{name}:{limit}")
    pipe = client.pipeline(transaction=False)
    pipe.get(page_key)
    client.register_script(_STANDING_SCRIPT)(keys=[name], args=[viewer_id], client=pipe)
    page, own = pipe.execute()
    if page is None:
        standings, _ = top(period=period, scope=scope, limit=limit, viewer_id=viewer_id, when=when)
        page = render(standings)
        client.set(page_key, json.dumps(page), ex=settings.LEADERBOARD_CACHE_SECONDS)
    else:
        page = json.loads(page)
    mine = Standing(viewer_id, int(float(own[0])), int(own[1]) + 1) if own else None
    return page, mine


# --- Rebuild ---------------------------------------------------------------------------------


def rebuild(*, when: datetime | None = None) -> int:
    """Drop every leaderboard set and recompute the live ones from the ledger."""
    if not redis_enabled():
        return 0
    when = when or timezone.now()
    client = redis_client()
    started = time_module.time()
    for name in client.scan_iter(match="lb:*", count=1000):
        client.delete(name)
    _drop_pages(client)
    written = 0
    # The current and the previous day/week (a late reader may still ask for those).
    for period, back in (("daily", 2), ("weekly", 1), ("all-time", 0)):
        for steps in range(back + 1):
            moment = when - steps * PERIOD_LENGTH.get(period, timedelta(0))
            written += _write(client, period, moment)
    client.set(_REBUILT_AT, started)
    return written


def _write(client, period: str, when: datetime) -> int:
    rows = _ledger(period, "global", when)
    boards: dict[str, dict[int, int]] = {}
    for row in rows.values("user_id").annotate(xp=Sum("points")):
        boards.setdefault(key(period, "global", when), {})[row["user_id"]] = row["xp"]
    per_course = rows.exclude(course_id=None).values("course_id", "user_id")
    for row in per_course.annotate(xp=Sum("points")):
        name = key(period, f"course:{row['course_id']}", when)
        boards.setdefault(name, {})[row["user_id"]] = row["xp"]
    pipe = client.pipeline(transaction=False)
    for name, scores in boards.items():
        pipe.zadd(name, scores)
        if period in EXPIRY:
            pipe.expireat(name, _expire_at(period, when))
    pipe.execute()
    return sum(len(scores) for scores in boards.values())
