"""Write the request lists the load generator rotates through, from a seeded bench database.

    python -m bench.workload --database lyo_bench --out bench/results/work/lyo_bench

One file per endpoint and phase (`<name>.<warmup|measure|profile>.tsv`), one request a
line: method, path, access token, JSON body (tab-separated). Reads rotate over many users and
objects. Writes are fresh work by the same active users (the READERS sample: the people using
the app during the run both read and write): each line is a (user, lesson) not yet completed
by an enrolled learner, or a (user, post) not yet liked, never repeated across the phases, so
every measured write really inserts rows (and the idempotent "already done" path is not what
is measured).
"""

import argparse
import os
import random
import sys
from pathlib import Path

READERS = 3000  # distinct users whose tokens the read endpoints rotate through
# Disjoint slices of fresh write work per phase: the load test's warm-up and measured window,
# and a few hundred for the in-process cost measurement (bench/profile.py).
WRITES = {"warmup": 8_000, "profile": 400, "measure": 29_600}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--writes", action="store_true", help="also write-endpoint workloads")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: fresh)")
    args = parser.parse_args(argv)

    from bench.seed import database_url

    os.environ["BENCH_DATABASE_URL"] = database_url(args.database)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from django.db import connection
    from rest_framework_simplejwt.tokens import AccessToken

    from apps.accounts.models import User
    from apps.courses.models import Course

    rng = random.Random(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tokens: dict[int, str] = {}

    def token(user_id: int) -> str:
        if user_id not in tokens:
            tokens[user_id] = str(AccessToken.for_user(User(pk=user_id, is_active=True)))
        return tokens[user_id]

    def write(name: str, phase: str, lines: list[tuple]) -> None:
        path = out / f"{name}.{phase}.tsv"
        with path.open("w") as handle:
            for method, url, user_id, body in lines:
                handle.write(f"{method}\t{url}\t{token(user_id) if user_id else ''}\t{body}\n")

    user_ids = list(User.objects.filter(is_active=True).values_list("id", flat=True))
    readers = rng.sample(user_ids, min(READERS, len(user_ids)))
    # Course pages are visited like courses are taken: popular ones far more often.
    courses = list(
        Course.objects.filter(status="published").values_list("slug", "enrollment_count")
    )
    slugs = [slug for slug, _ in courses]
    slug_weights = [count + 1 for _, count in courses]

    reads = {
        "baseline": lambda u: ("GET", f"/bench/baseline/{rng.choice(user_ids)}/", None, ""),
        "courses_list": lambda u: ("GET", "/api/v1/courses/", u, ""),
        "course_detail": lambda u: (
            "GET",
            f"/api/v1/courses/{rng.choices(slugs, weights=slug_weights)[0]}/",
            u,
            "",
        ),
        "feed": lambda u: ("GET", "/api/v1/feed/", u, ""),
        "leaderboard_weekly": lambda u: ("GET", "/api/v1/leaderboards/weekly/", u, ""),
        "me_gamification": lambda u: ("GET", "/api/v1/me/gamification/", u, ""),
    }
    for name, make in reads.items():
        for phase in ("warmup", "measure", "profile"):
            write(name, phase, [make(rng.choice(readers)) for _ in range(len(readers))])

    if args.writes:
        total = sum(WRITES.values())
        with connection.cursor() as cursor:
            # Up to 8 lessons not yet completed per active enrollment of an active user: unique
            # (user, lesson) pairs, in random order.
            cursor.execute(
                "SELECT setseed(%s)", [rng.random() * 2 - 1]
            )  # reproducible sample when --seed is given
            cursor.execute(
                """
                WITH e AS (
                    SELECT id, user_id, course_id FROM courses_enrollment
                    WHERE status = 'active' AND user_id = ANY(%s)
                )
                SELECT e.user_id, l.id FROM e CROSS JOIN LATERAL (
                    SELECT l.id FROM courses_lesson l
                    WHERE l.course_id = e.course_id AND NOT EXISTS (
                        SELECT 1 FROM courses_lessonprogress p
                        WHERE p.user_id = e.user_id AND p.lesson_id = l.id)
                    ORDER BY l.position, l.id LIMIT 8) l
                ORDER BY random() LIMIT %s
                """,
                [readers, total],
            )
            completions = cursor.fetchall()
            # Public posts outside groups by active people, liked by someone who has not yet.
            cursor.execute(
                "SELECT p.id, p.author_id FROM social_post p JOIN accounts_user a"
                " ON a.id = p.author_id WHERE p.visibility = 'public' AND p.group_id IS NULL"
                " AND NOT p.is_hidden AND p.deleted_at IS NULL AND a.is_active"
            )
            posts = cursor.fetchall()
            candidates: set[tuple[int, int]] = set()
            while len(candidates) < total * 1.2 and posts:
                post_id, author_id = rng.choice(posts)
                user_id = rng.choice(readers)
                if user_id != author_id:
                    candidates.add((user_id, post_id))
            pairs = list(candidates)
            cursor.execute(
                "SELECT user_id, post_id FROM social_like WHERE (user_id, post_id) IN"
                " (SELECT * FROM unnest(%s::bigint[], %s::bigint[]))",
                [[u for u, _ in pairs], [p for _, p in pairs]],
            )
            taken = set(cursor.fetchall())
            likes = [pair for pair in pairs if pair not in taken][:total]
        rng.shuffle(completions)
        start = 0
        for phase, size in WRITES.items():
            chunk = completions[start : start + size]
            write(
                "lesson_complete",
                phase,
                [
                    ("POST", f"/api/v1/lessons/{lesson}/complete/", user, "")
                    for user, lesson in chunk
                ],
            )
            chunk = likes[start : start + size]
            write(
                "post_like",
                phase,
                [("POST", f"/api/v1/posts/{post}/like/", user, "") for user, post in chunk],
            )
            start += size
        print(f"[workload] {len(completions)} lesson completions, {len(likes)} likes prepared")
    print(f"[workload] {len(tokens)} access tokens minted into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
