"""`make run`'s embedded mode (SQLite, local-memory cache, eager Celery) serves the API's main
flows: the code paths written for PostgreSQL (the feed's prepared statement, single-statement
likes) have SQLite fallbacks, and this is where they run."""

import subprocess
import sys

from .conftest import ROOT, clean_env

SCRIPT = r"""
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken
from apps.accounts.models import User
from apps.courses.models import Course, Lesson
from apps.social.models import Notification, Post, StudyGroup

author = User.objects.create_user("author@example.com", "a-long-password-1")
reader = User.objects.create_user("reader@example.com", "a-long-password-1")
group = StudyGroup.objects.create(name="Open group", owner=author, is_private=False)
public = Post.objects.create(author=author, body="hello")
in_group = Post.objects.create(author=author, body="group", group=group, visibility="group")
client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(reader)}")

for post in (public, in_group):
    url = f"/api/v1/posts/{post.pk}/like/"
    first, again = client.post(url), client.post(url)
    assert (first.status_code, again.status_code) == (201, 200), (first.content, again.content)
    assert first.json()["like_count"] == again.json()["like_count"] == 1
assert Notification.objects.filter(recipient=author, verb="like").count() == 2

assert client.post(f"/api/v1/users/{author.pk}/follow/").status_code in (200, 201)
feed = client.get("/api/v1/feed/")
assert feed.status_code == 200, feed.content
assert [row["id"] for row in feed.json()["results"]] == [in_group.pk, public.pk]

course = Course.objects.create(
    title="C", slug="c", instructor=author, status="published", lesson_count=2
)
first_lesson = Lesson.objects.create(course=course, title="One", position=1)
Lesson.objects.create(course=course, title="Two", position=2)
assert client.post("/api/v1/courses/c/enrollment/").status_code == 201
done = client.post(f"/api/v1/lessons/{first_lesson.pk}/complete/")
assert done.status_code == 200 and done.json()["progress_percent"] == 50, done.content
assert client.get("/api/v1/me/gamification/").json()["xp"] > 0
assert client.get("/api/v1/leaderboards/weekly/").json()["me"]["rank"] == 1
print("LOCAL MODE OK")
"""


def run_in_local_mode(script: str, tmp_path) -> subprocess.CompletedProcess:
    """`script` with make run's settings on a fresh SQLite database, in a process of its own."""
    env = clean_env(
        DJANGO_SETTINGS_MODULE="lyo.settings.local",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def test_main_api_flows_work_in_local_mode_on_sqlite(tmp_path):
    result = run_in_local_mode(SCRIPT, tmp_path)
    assert "LOCAL MODE OK" in result.stdout


HUGE_IDS_SCRIPT = r"""
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken
from apps.accounts.models import User
from apps.social.models import StudyGroup

owner = User.objects.create_user("owner@example.com", "a-long-password-1")
group = StudyGroup.objects.create(name="Mine", owner=owner)
client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(owner)}")
huge = "12345678901234567890123"  # 23 digits: beyond SQLite's 64-bit INTEGER
cases = [
    ("get", f"/api/v1/posts/?author={huge}", None, 400),
    ("get", f"/api/v1/courses/?instructor={huge}", None, 400),
    ("post", f"/api/v1/posts/{huge}/like/", None, 404),
    ("delete", f"/api/v1/posts/{huge}/like/", None, 404),
    ("post", "/api/v1/notifications/read/", '{"ids": [%s]}' % huge, 400),
    ("post", f"/api/v1/groups/{group.pk}/transfer/", '{"user_id": %s}' % huge, 400),
    ("post", "/api/v1/posts/", '{"body": "x", "course": %s}' % huge, 400),
    ("post", f"/api/v1/users/{huge}/follow/", None, 404),
]
for method, path, body, expected in cases:
    kwargs = {"data": body, "content_type": "application/json"} if body else {}
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == expected, (method, path, response.status_code, response.content)
    # Unknown URLs too: under DEBUG (make run's default) Django's own page was HTML.
    assert set(response.json()["error"]) == {"code", "message", "details", "request_id"}
unknown = client.get("/api/v1/no-such-thing/")
assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found", unknown
print("HUGE IDS OK", len(cases))
"""


def test_23_digit_ids_are_4xx_not_500_on_sqlite(tmp_path):
    """SQLite's INTEGER is 64 bits: a bigger id in a query, path or body used to overflow (500).
    Under DEBUG (make run) unknown API paths answer the JSON 404 too, not Django's HTML page."""
    result = run_in_local_mode(HUGE_IDS_SCRIPT, tmp_path)
    assert "HUGE IDS OK 8" in result.stdout
