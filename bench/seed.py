"""Create, migrate and fill a benchmark database with a realistic Lyo dataset, fast.

    python -m bench.seed --database lyo_bench --scale 1.0 [--force]

At scale 1: 20k users, 500 published courses with 10k lessons, ~100k enrollments with ~300k
lesson completions, 200k posts, 1M likes, 50k comments, 100k follows, 200 study groups, and an
XP ledger of >500k rows (one row per completion, post and streak day), with every denormalised
counter (lesson/enrollment/rating counts, like/comment counts, progress, XP totals and levels)
equal to what the services would have written. Rows are generated in Python from a fixed seed
and streamed with PostgreSQL COPY (psycopg 3 `cursor.copy()`); foreign-key triggers are off
while copying (the rows are consistent by construction) and the tables are ANALYZEd after.

The database is dropped and recreated when it is missing, was filled at another scale or by
an older version of this script, or was filled in an earlier ISO week (the weekly leaderboard
and streaks are about "now"); otherwise it is kept, so repeated `make bench` runs are quick.
"""

import argparse
import io
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta

SEED_VERSION = 3
ADMIN_DSN = os.environ.get("BENCH_ADMIN_DSN", "postgres://postgres@127.0.0.1:5432/postgres")

WORDS = [
    "python",
    "django",
    "data",
    "science",
    "design",
    "music",
    "history",
    "physics",
    "algebra",
    "cooking",
    "photography",
    "writing",
    "spanish",
    "french",
    "japanese",
    "chess",
    "finance",
    "marketing",
    "biology",
    "chemistry",
    "drawing",
    "guitar",
    "statistics",
    "machine",
    "learning",
    "web",
    "mobile",
    "cloud",
    "security",
    "networks",
    "databases",
    "geometry",
    "poetry",
]
LEVELS = ("beginner", "intermediate", "advanced")
CATEGORIES = (
    "Programming",
    "Data",
    "Design",
    "Languages",
    "Music",
    "Science",
    "Business",
    "Arts",
    "Mathematics",
    "Lifestyle",
)


def database_url(name: str) -> str:
    base = ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base}/{name}"


def log(message: str) -> None:
    print(f"[seed] {message}", flush=True)


# --- Database lifecycle --------------------------------------------------------------------------


def _admin_connection():
    import psycopg

    return psycopg.connect(ADMIN_DSN, autocommit=True)


def database_exists(name: str) -> bool:
    with _admin_connection() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()


def recreate_database(name: str) -> None:
    from psycopg import sql

    with _admin_connection() as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
        )
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def seeded_marker(name: str) -> dict | None:
    """What the database was filled with, or None (no marker table: not filled, or partly)."""
    import psycopg

    with psycopg.connect(database_url(name), autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('bench_seed') IS NOT NULL").fetchone()[0]
        if not exists:
            return None
        row = conn.execute("SELECT version, scale, seeded_at FROM bench_seed").fetchone()
    if row is None:
        return None
    return {"version": row[0], "scale": row[1], "seeded_at": row[2]}


def _iso_week(moment: datetime) -> tuple[int, int]:
    year, week, _ = moment.astimezone(UTC).isocalendar()
    return year, week


def needs_seeding(name: str, scale: float) -> str | None:
    """Why the database must be (re)filled, or None when it can be reused."""
    if not database_exists(name):
        return "missing"
    marker = seeded_marker(name)
    if marker is None:
        return "not seeded (or an earlier seed was interrupted)"
    if marker["version"] != SEED_VERSION:
        return f"seeded by version {marker['version']} of the seeder"
    if abs(marker["scale"] - scale) > 1e-9:
        return f"seeded at scale {marker['scale']}"
    if _iso_week(marker["seeded_at"]) != _iso_week(datetime.now(UTC)):
        return "seeded in an earlier week (weekly leaderboards and streaks would be empty)"
    return None


# --- COPY helpers ------------------------------------------------------------------------------


def _text(value) -> str:
    if value is None:
        return r"\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = (
            text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "")
        )
    return text


class Copier:
    """COPY rows of a Django model, filling unspecified columns with the field defaults."""

    def __init__(self, cursor, model, now: datetime):
        self.cursor = cursor
        self.model = model
        self.now = now
        self.count = 0

    def columns_and_defaults(self, given: list[str]):
        defaults = {}
        fields = list(self.model._meta.concrete_fields)
        for field in fields:
            if field.attname in given:
                continue
            if field.has_default():
                value = field.get_default()
            elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                value = self.now
            elif field.null:
                value = None
            else:
                value = field.get_default()
                if value is None:
                    raise ValueError(f"{self.model.__name__}.{field.attname} needs a value")
            if isinstance(value, dict | list):
                import json

                value = json.dumps(value)
            defaults[field.column] = _text(value)
        given_columns = [self.model._meta.get_field(name).column for name in given]
        return given_columns + list(defaults), list(defaults.values())

    def copy(self, given: list[str], rows) -> int:
        from psycopg import sql

        columns, tail = self.columns_and_defaults(given)
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(self.model._meta.db_table),
            sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        )
        suffix = ("\t" + "\t".join(tail)) if tail else ""
        count = 0
        with self.cursor.copy(statement) as copy:
            buffer = io.StringIO()
            for row in rows:
                buffer.write("\t".join(_text(v) for v in row))
                buffer.write(suffix)
                buffer.write("\n")
                count += 1
                if count % 50_000 == 0:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        self.count = count
        return count


# --- The dataset -------------------------------------------------------------------------------


class Dataset:
    def __init__(self, scale: float, now: datetime, rng: random.Random):
        self.scale = scale
        self.now = now
        self.rng = rng
        self.n_users = max(200, int(20_000 * scale))
        self.n_instructors = max(5, int(100 * scale))
        self.n_courses = max(10, int(500 * scale))
        self.lessons_per_course = 20
        self.n_posts = int(200_000 * scale)
        self.n_likes = int(1_000_000 * scale)
        self.n_follows = int(100_000 * scale)
        self.n_groups = max(5, int(200 * scale))
        self.members_per_group = 20
        self.n_comments = int(50_000 * scale)
        self.n_reviews_per_course = 8
        # Popularity: a few people post and are followed a lot (Zipf-like weights).
        weights = [1.0 / (rank**0.9) for rank in range(1, self.n_users + 1)]
        order = list(range(1, self.n_users + 1))
        rng.shuffle(order)
        self.popular_users = order  # popular_users[0] is the most popular
        self.popularity_cum = list(_accumulate(weights))
        course_weights = [1.0 / (rank**0.8) for rank in range(1, self.n_courses + 1)]
        self.course_cum = list(_accumulate(course_weights))

    def popular_user(self) -> int:
        return self.rng.choices(self.popular_users, cum_weights=self.popularity_cum)[0]

    def moment(self, days_back: float) -> datetime:
        return self.now - timedelta(seconds=self.rng.uniform(0, days_back * 86400))

    def recent_moment(self) -> datetime:
        """70% over the last 4 weeks, 30% within the current ISO week so far (weekly board)."""
        week_start = (self.now - timedelta(days=self.now.weekday())).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        if self.rng.random() < 0.3:
            span = max((self.now - week_start).total_seconds(), 60.0)
            return self.now - timedelta(seconds=self.rng.uniform(0, span))
        return self.moment(28)


def _accumulate(values):
    total = 0.0
    for value in values:
        total += value
        yield total


def seed(scale: float) -> dict:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.db import connection, transaction

    from apps.accounts.models import User
    from apps.courses.models import (
        Category,
        Course,
        Enrollment,
        Lesson,
        LessonProgress,
        Review,
    )
    from apps.gamification.levels import level_for_xp
    from apps.gamification.models import UserStats, XPRule, XPTransaction
    from apps.social.models import Comment, Follow, Like, Membership, Post, StudyGroup

    try:
        from allauth.account.models import EmailAddress
    except ImportError:  # pragma: no cover
        EmailAddress = None

    rng = random.Random(20_260_101)
    now = datetime.now(UTC).replace(microsecond=0)
    data = Dataset(scale, now, rng)
    counts: dict[str, int] = {}
    points = dict(XPRule.objects.values_list("action", "points"))
    lesson_points = points.get("lesson.completed", 10)
    post_points = points.get("post.created", 2)
    streak_points = points.get("streak.daily", 5)
    password = make_password("bench-password-0123")

    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as django_cursor:
        cursor = django_cursor.cursor  # the psycopg 3 cursor underneath
        # Rows are consistent by construction; skip per-row FK triggers while copying.
        cursor.execute("SET LOCAL session_replication_role = replica")

        def copy(model, given, rows) -> int:
            count = Copier(cursor, model, now).copy(given, rows)
            counts[model._meta.db_table] = counts.get(model._meta.db_table, 0) + count
            return count

        # Users: the first n_instructors teach, everyone is a student.
        def users():
            for uid in range(1, data.n_users + 1):
                joined = data.moment(365)
                yield (
                    uid,
                    password,
                    f"bench{uid}@example.com",
                    f"Bench Learner {uid}",
                    "UTC",
                    True,
                    False,
                    False,
                    joined,
                )

        copy(
            User,
            [
                "id",
                "password",
                "email",
                "display_name",
                "timezone",
                "is_active",
                "is_staff",
                "is_superuser",
                "date_joined",
            ],
            users(),
        )
        groups = dict(Group.objects.values_list("name", "id"))
        user_groups = User.groups.through

        def roles():
            row_id = 0
            for uid in range(1, data.n_users + 1):
                row_id += 1
                yield row_id, uid, groups["student"]
                if uid <= data.n_instructors:
                    row_id += 1
                    yield row_id, uid, groups["instructor"]

        copy(user_groups, ["id", "user_id", "group_id"], roles())
        if EmailAddress is not None:
            copy(
                EmailAddress,
                ["id", "user_id", "email", "verified", "primary"],
                (
                    (uid, uid, f"bench{uid}@example.com", True, True)
                    for uid in range(1, data.n_users + 1)
                ),
            )
        log(f"users: {data.n_users} ({time.monotonic() - started:.1f}s)")

        # Catalog.
        copy(
            Category,
            ["id", "name", "slug"],
            ((i, name, name.lower()) for i, name in enumerate(CATEGORIES, start=1)),
        )
        courses = []
        for cid in range(1, data.n_courses + 1):
            topic = " ".join(rng.sample(WORDS, 3)).title()
            courses.append(
                {
                    "id": cid,
                    "slug": f"bench-{cid}-{topic.lower().replace(' ', '-')}",
                    "title": f"{topic} {cid}",
                    "summary": f"Learn {topic.lower()} step by step.",
                    "description": " ".join(rng.choices(WORDS, k=120)),
                    "level": LEVELS[cid % 3],
                    "category_id": 1 + cid % len(CATEGORIES),
                    "instructor_id": 1 + cid % data.n_instructors,
                    "published_at": data.moment(365),
                    "enrollments": 0,
                    "ratings": [],
                }
            )
        n_lessons = data.lessons_per_course

        def lessons():
            lid = 0
            for course in courses:
                for position in range(1, n_lessons + 1):
                    lid += 1
                    words = " ".join(rng.choices(WORDS, k=60))
                    yield (
                        lid,
                        course["id"],
                        position,
                        f"Lesson {position}: {rng.choice(WORDS).title()}",
                        f"## Part {position}\n\n{words}",
                        f"<h2>Part {position}</h2>\n<p>{words}</p>",
                        rng.randint(120, 1800),
                        position == 1,
                    )

        copy(
            Lesson,
            [
                "id",
                "course_id",
                "position",
                "title",
                "body_markdown",
                "body_html",
                "duration_seconds",
                "is_preview",
            ],
            lessons(),
        )

        def lesson_id(course_id: int, position: int) -> int:
            return (course_id - 1) * n_lessons + position

        # Enrollments and progress (progress_percent as lesson_complete computes it), and the
        # ledger rows those completions earned.
        enrollments = []
        progress = []
        xp_rows = []  # (user, action, points, source_key, course_id, when)
        course_ids = [c["id"] for c in courses]
        eid = 0
        for uid in range(1, data.n_users + 1):
            k = min(rng.randint(1, 9), data.n_courses)
            chosen: set[int] = set()
            while len(chosen) < k:
                chosen.add(rng.choices(course_ids, cum_weights=data.course_cum)[0])
            for cid in chosen:
                eid += 1
                done = min(n_lessons, int(rng.expovariate(1 / 3.6)))
                enrolled_at = data.moment(60)
                completed_at = None
                status = "active"
                if done == n_lessons:
                    status, completed_at = "completed", data.recent_moment()
                enrollments.append(
                    (
                        eid,
                        uid,
                        cid,
                        status,
                        done * 100 // n_lessons,
                        completed_at,
                        enrolled_at,
                        enrolled_at,
                    )
                )
                courses[cid - 1]["enrollments"] += 1
                for position in range(1, done + 1):
                    when = data.recent_moment()
                    lid = lesson_id(cid, position)
                    progress.append((uid, lid, eid, when))
                    xp_rows.append(
                        (
                            uid,
                            "lesson.completed",
                            lesson_points,
                            f"lesson.completed:{uid}:{lid}",
                            cid,
                            when,
                        )
                    )
        copy(
            Enrollment,
            [
                "id",
                "user_id",
                "course_id",
                "status",
                "progress_percent",
                "completed_at",
                "created_at",
                "updated_at",
            ],
            enrollments,
        )
        copy(
            LessonProgress,
            ["id", "user_id", "lesson_id", "enrollment_id", "completed_at"],
            ((i, *row) for i, row in enumerate(progress, start=1)),
        )
        del progress

        # Reviews: a few per course from enrolled learners; rating counters to match.
        reviews = []
        by_course: dict[int, list[int]] = {}
        for row in enrollments:
            by_course.setdefault(row[2], []).append(row[1])
        rid = 0
        for course in courses:
            learners = by_course.get(course["id"], [])
            for uid in rng.sample(learners, min(len(learners), data.n_reviews_per_course)):
                rid += 1
                rating = rng.choices((1, 2, 3, 4, 5), weights=(1, 1, 3, 6, 6))[0]
                course["ratings"].append(rating)
                reviews.append((rid, uid, course["id"], rating, "Useful course.", data.moment(60)))
        copy(Review, ["id", "user_id", "course_id", "rating", "text", "created_at"], reviews)
        del enrollments, by_course

        def course_rows():
            for c in courses:
                ratings = c["ratings"]
                avg = sum(ratings) * 1.0 / len(ratings) if ratings else 0
                yield (
                    c["id"],
                    c["slug"],
                    c["title"],
                    c["summary"],
                    c["description"],
                    c["level"],
                    "en",
                    c["category_id"],
                    c["instructor_id"],
                    "published",
                    c["published_at"],
                    c["published_at"],
                    c["published_at"],
                    n_lessons,
                    c["enrollments"],
                    len(ratings),
                    sum(ratings),
                    avg,
                )

        copy(
            Course,
            [
                "id",
                "slug",
                "title",
                "summary",
                "description",
                "level",
                "language",
                "category_id",
                "instructor_id",
                "status",
                "published_at",
                "created_at",
                "updated_at",
                "lesson_count",
                "enrollment_count",
                "rating_count",
                "rating_sum",
                "rating_avg",
            ],
            course_rows(),
        )
        # The search document, as apps.courses.services._refresh_search_vector writes it.
        cursor.execute(
            "UPDATE courses_course SET search_vector ="
            " setweight(to_tsvector('english', coalesce(title, '')), 'A')"
            " || setweight(to_tsvector('english', coalesce(summary, '')), 'B')"
            " || setweight(to_tsvector('english', coalesce(description, '')), 'C')"
        )
        log(f"catalog and progress ({time.monotonic() - started:.1f}s)")

        # Study groups: owner + members (active), some private.
        memberships = []
        group_members: dict[int, list[int]] = {}
        group_private: dict[int, bool] = {}
        mid = 0
        group_rows = []
        for gid in range(1, data.n_groups + 1):
            owner = data.popular_user()
            private = gid % 4 == 0
            group_private[gid] = private
            group_rows.append(
                (gid, f"Study group {gid}", "We learn together.", private, owner, now, now)
            )
            members = {owner}
            while len(members) < min(data.members_per_group, data.n_users):
                members.add(rng.randint(1, data.n_users))
            group_members[gid] = sorted(members)
            for uid in group_members[gid]:
                mid += 1
                role = "owner" if uid == owner else "member"
                memberships.append((mid, gid, uid, role, "active", data.moment(90), None))
        copy(
            StudyGroup,
            ["id", "name", "description", "is_private", "owner_id", "created_at", "updated_at"],
            group_rows,
        )
        copy(
            Membership,
            ["id", "group_id", "user_id", "role", "status", "created_at", "approved_at"],
            memberships,
        )

        # Posts: popular people post more; newest last (ids follow time).
        post_times = sorted(data.recent_moment() for _ in range(data.n_posts))
        post_authors = []
        like_counts = []
        comment_counts = [0] * (data.n_posts + 1)
        post_rows = []
        for pid, when in enumerate(post_times, start=1):
            roll = rng.random()
            if roll < 0.05:
                gid = rng.randint(1, data.n_groups)
                author = rng.choice(group_members[gid])
                visibility = "group"
            else:
                gid = None
                author = data.popular_user()
                visibility = "followers" if roll < 0.15 else "public"
            post_authors.append(author)
            likes = min(data.n_users - 1, int(rng.expovariate(1 / (data.n_likes / data.n_posts))))
            like_counts.append(likes)
            post_rows.append(
                [
                    pid,
                    author,
                    f"<p>{' '.join(rng.choices(WORDS, k=25))}</p>",
                    gid,
                    visibility,
                    when,
                    when,
                ]
            )
            key = f"post.created:{author}:{pid}"
            xp_rows.append((author, "post.created", post_points, key, None, when))
        # Exactly n_likes in total: trim or top up the drawn per-post counts.
        surplus = sum(like_counts) - data.n_likes
        index = 0
        while surplus != 0 and data.n_posts:
            i = index % data.n_posts
            if surplus > 0 and like_counts[i] > 0:
                like_counts[i] -= 1
                surplus -= 1
            elif surplus < 0 and like_counts[i] < data.n_users - 1:
                like_counts[i] += 1
                surplus += 1
            index += 1

        def like_rows():
            like_id = 0
            stride = 7919 if data.n_users % 7919 else 7907
            for pid in range(1, data.n_posts + 1):
                start = rng.randint(0, data.n_users - 1)
                author = post_authors[pid - 1]
                when = post_times[pid - 1]
                made = 0
                j = 0
                while made < like_counts[pid - 1]:
                    uid = (start + j * stride) % data.n_users + 1
                    j += 1
                    if uid == author:
                        continue
                    like_id += 1
                    made += 1
                    yield like_id, uid, pid, when

        # Likes skip the author; the author slot may cost one candidate, never a duplicate.
        copy(Like, ["id", "user_id", "post_id", "created_at"], like_rows())

        def comment_rows():
            for cid in range(1, data.n_comments + 1):
                pid = rng.randint(1, data.n_posts)
                comment_counts[pid] += 1
                when = post_times[pid - 1] + timedelta(minutes=rng.randint(1, 600))
                author = data.popular_user()
                yield cid, pid, author, None, "<p>Nice one!</p>", when, when

        if data.n_posts:
            copy(
                Comment,
                ["id", "post_id", "author_id", "parent_id", "body", "created_at", "updated_at"],
                comment_rows(),
            )
        for pid, row in enumerate(post_rows, start=1):
            row.insert(5, like_counts[pid - 1])
            row.insert(6, comment_counts[pid])
        copy(
            Post,
            [
                "id",
                "author_id",
                "body",
                "group_id",
                "visibility",
                "like_count",
                "comment_count",
                "created_at",
                "updated_at",
            ],
            post_rows,
        )
        log(f"posts, likes, comments ({time.monotonic() - started:.1f}s)")

        # Follows: everyone follows a few people, mostly popular ones.
        follows: set[tuple[int, int]] = set()
        while len(follows) < data.n_follows:
            follower = rng.randint(1, data.n_users)
            followee = data.popular_user() if rng.random() < 0.8 else rng.randint(1, data.n_users)
            if follower != followee:
                follows.add((follower, followee))
        copy(
            Follow,
            ["id", "follower_id", "followee_id", "created_at"],
            (
                (i, follower, followee, data.moment(120))
                for i, (follower, followee) in enumerate(sorted(follows), start=1)
            ),
        )
        del follows

        # Streak days: a run of consecutive recent days for some learners.
        streaks: dict[int, tuple[int, datetime | None]] = {}
        today = now.date()
        for uid in range(1, data.n_users + 1):
            run = int(rng.expovariate(1 / 4.0)) if rng.random() < 0.6 else 0
            for back in range(run):
                day = today - timedelta(days=back)
                when = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
                when = min(when, now)
                xp_rows.append(
                    (
                        uid,
                        "streak.daily",
                        streak_points,
                        f"streak.daily:{uid}:{day.isoformat()}",
                        None,
                        when,
                    )
                )
            streaks[uid] = (run, today if run else None)

        # The ledger and the per-user totals derived from it.
        totals = [0] * (data.n_users + 1)
        for row in xp_rows:
            totals[row[0]] += row[2]
        copy(
            XPTransaction,
            [
                "id",
                "user_id",
                "action",
                "points",
                "source_key",
                "course_id",
                "activity_date",
                "created_at",
            ],
            (
                (i, uid, action, pts, key, course, when.date(), when)
                for i, (uid, action, pts, key, course, when) in enumerate(xp_rows, start=1)
            ),
        )
        del xp_rows
        copy(
            UserStats,
            [
                "user_id",
                "xp_total",
                "level",
                "current_streak",
                "longest_streak",
                "last_active_date",
                "streak_reminders",
                "updated_at",
            ],
            (
                (
                    uid,
                    totals[uid],
                    level_for_xp(totals[uid]),
                    streaks[uid][0],
                    max(streaks[uid][0], rng.randint(0, 12)),
                    streaks[uid][1],
                    True,
                    now,
                )
                for uid in range(1, data.n_users + 1)
            ),
        )
        log(f"XP ledger and stats ({time.monotonic() - started:.1f}s)")

        # Identity sequences continue after the copied ids.
        for model in (
            User,
            user_groups,
            Category,
            Course,
            Lesson,
            Enrollment,
            LessonProgress,
            Review,
            StudyGroup,
            Membership,
            Post,
            Like,
            Comment,
            Follow,
            XPTransaction,
            *([EmailAddress] if EmailAddress is not None else []),
        ):
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
                f" (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
        cursor.execute("SET LOCAL session_replication_role = origin")
        cursor.execute(
            "CREATE TABLE bench_seed (version int, scale double precision,"
            " seeded_at timestamptz, counts jsonb)"
        )
        import json

        cursor.execute(
            "INSERT INTO bench_seed VALUES (%s, %s, %s, %s)",
            [SEED_VERSION, scale, now, json.dumps(counts)],
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    log(f"done in {time.monotonic() - started:.1f}s: {counts}")
    return counts


def check_consistency() -> list[str]:
    """Denormalised counters against the rows they count (empty list when all agree)."""
    checks = {
        "post.like_count": "SELECT count(*) FROM social_post p WHERE like_count <>"
        " (SELECT count(*) FROM social_like l WHERE l.post_id = p.id)",
        "post.comment_count": "SELECT count(*) FROM social_post p WHERE comment_count <>"
        " (SELECT count(*) FROM social_comment c WHERE c.post_id = p.id"
        " AND c.deleted_at IS NULL)",
        "course.enrollment_count": "SELECT count(*) FROM courses_course c WHERE"
        " enrollment_count <> (SELECT count(*) FROM courses_enrollment e WHERE"
        " e.course_id = c.id AND e.status <> 'cancelled')",
        "course.lesson_count": "SELECT count(*) FROM courses_course c WHERE lesson_count <>"
        " (SELECT count(*) FROM courses_lesson l WHERE l.course_id = c.id)",
        "userstats.xp_total": "SELECT count(*) FROM gamification_userstats s WHERE xp_total <>"
        " (SELECT coalesce(sum(points), 0) FROM gamification_xptransaction x"
        " WHERE x.user_id = s.user_id)",
    }
    from django.db import connection

    problems = []
    with connection.cursor() as cursor:
        for name, query in checks.items():
            cursor.execute(query)
            wrong = cursor.fetchone()[0]
            if wrong:
                problems.append(f"{name}: {wrong} rows disagree")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="lyo_bench")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--force", action="store_true", help="drop and refill even if current")
    parser.add_argument("--check", action="store_true", help="verify counters after seeding")
    args = parser.parse_args(argv)

    reason = "forced" if args.force else needs_seeding(args.database, args.scale)
    os.environ["BENCH_DATABASE_URL"] = database_url(args.database)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    if reason is not None:
        log(f"{args.database} at scale {args.scale}: (re)creating ({reason})")
        recreate_database(args.database)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    if reason is None:
        log(f"{args.database} at scale {args.scale}: already seeded this week, reused")
    else:
        seed(args.scale)
    if args.check:
        problems = check_consistency()
        if problems:
            log("INCONSISTENT: " + "; ".join(problems))
            return 1
        log("counters consistent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
