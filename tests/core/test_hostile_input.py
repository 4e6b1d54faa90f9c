"""Hostile input (issue 17, items 4-6): bad input always gets a clear 4xx in the error envelope,
never a 500, on PostgreSQL. One test per finding; each failed before the fix."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from apps.core.input import StrictInput
from apps.courses.models import Course
from apps.social.models import Post, StudyGroup
from tests.courses.factories import CourseFactory, add_quiz, course_with_lessons, enroll
from tests.factories import UserFactory, client_for

pytestmark = pytest.mark.django_db

TOO_BIG = 9223372036854775808  # 2**63: one past PostgreSQL's bigint
DIGITS_23 = 12345678901234567890123


def error_of(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details", "request_id"}
    return error


def post_raw(client: APIClient, path: str, body: bytes | str):
    return client.post(path, body, content_type="application/json")


# --- Item 4: deep JSON, NUL bytes, invalid UTF-8 --------------------------------------------


@pytest.mark.parametrize("body", ["[" * 50_000, '{"a":' * 50_000, '["' * 50_000])
def test_deeply_nested_json_to_the_anonymous_token_endpoint_is_a_400(api_client, body):
    error = error_of(post_raw(api_client, "/api/v1/auth/token/", body), 400)
    assert error["code"] in {"malformed_request", "parse_error"}


def test_json_deeper_than_the_limit_is_refused_and_names_the_limit(user_client, settings):
    nested = "[" * (settings.MAX_JSON_DEPTH + 1) + "]" * (settings.MAX_JSON_DEPTH + 1)
    error = error_of(post_raw(user_client, "/api/v1/posts/", nested), 400)
    assert error["code"] == "malformed_request"
    assert error["details"] == {"reason": "too_deep", "max_depth": settings.MAX_JSON_DEPTH}
    within = "[" * settings.MAX_JSON_DEPTH + "]" * settings.MAX_JSON_DEPTH
    # Within the limit the body is parsed and judged by the endpoint (a list is not a post).
    assert error_of(post_raw(user_client, "/api/v1/posts/", within), 400)["code"] == (
        "validation_error"
    )


def test_a_json_body_over_the_limit_is_a_413(user_client, settings):
    settings.MAX_JSON_BODY_BYTES = 1000
    error = error_of(post_raw(user_client, "/api/v1/posts/", '{"body": "' + "x" * 1000 + '"}'), 413)
    assert error["code"] == "payload_too_large"
    assert error["details"] == {"max_bytes": 1000}


def test_nul_in_the_catalog_search_is_a_400_not_a_database_error(api_client):
    error = error_of(api_client.get("/api/v1/courses/?q=a%00b"), 400)
    assert error["code"] == "malformed_request"
    assert error["details"] == {"reason": "nul_character", "location": "query"}


def test_nul_in_the_leaderboard_course_scope_is_a_400(user_client):
    error = error_of(user_client.get("/api/v1/leaderboards/weekly/?scope=course:a%00b"), 400)
    assert error["code"] == "malformed_request"


@pytest.mark.parametrize(
    "path", ["/api/v1/posts/%00/", "/api/v1/courses/a%00b/", "/accounts/login/%00"]
)
def test_nul_in_the_path_is_a_400(user_client, path):
    error = error_of(user_client.get(path), 400)
    assert error["details"] == {"reason": "nul_character", "location": "path"}


@pytest.mark.parametrize(
    ("path", "location"),
    [("/api/v1/courses/?q=%ff%fe", "query"), ("/api/v1/courses/caf%e9/", "path")],
)
def test_invalid_utf8_in_the_path_or_query_is_a_400(api_client, path, location):
    error = error_of(api_client.get(path), 400)
    assert error["details"] == {"reason": "invalid_encoding", "location": location}


@pytest.mark.parametrize(
    "body",
    [
        b'{"body": "caf\xe9"}',  # latin-1, not UTF-8
        '{"body": "a\\u0000b"}',  # NUL in a value
        '{"body": "x", "a\\u0000": 1}',  # NUL in a key
        '{"body": "\\ud800"}',  # a lone surrogate: not a character
    ],
)
def test_bodies_with_invalid_text_are_a_400_malformed_request(user_client, body):
    assert error_of(post_raw(user_client, "/api/v1/posts/", body), 400)["code"] == (
        "malformed_request"
    )
    assert not Post.objects.exists()


def test_nul_in_a_dict_key_the_serializer_does_not_check_is_refused(user, user_client):
    """Quiz answers are a dict keyed by question id: keys were never validated as text."""
    course, lessons = course_with_lessons(1)
    add_quiz(lessons[0])
    enroll(user, course)
    body = '{"answers": {"1\\u0000": [1]}}'
    lesson_path = f"/api/v1/lessons/{lessons[0].pk}/quiz/attempts/"
    assert error_of(post_raw(user_client, lesson_path, body), 400)["code"] == "malformed_request"


@pytest.mark.parametrize("path", ["/api/v1/posts/", "/api/v1/groups/"])
@pytest.mark.parametrize("field", ["course", "course_id"])
def test_an_out_of_range_course_id_is_a_400_on_the_field(user_client, path, field):
    body = {"body": "x", "name": "x", field: TOO_BIG}
    if path.endswith("groups/"):
        body.pop("body")
    else:
        body.pop("name")
    error = error_of(user_client.post(path, body, format="json"), 400)
    assert error["code"] == "validation_error"
    assert list(error["details"]) == [field]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", f"/api/v1/posts/?author={DIGITS_23}", None),
        ("get", f"/api/v1/courses/?instructor={DIGITS_23}", None),
        ("post", "/api/v1/notifications/read/", {"ids": [DIGITS_23]}),
        (
            "post",
            "/api/v1/reports/",
            {"target_type": "post", "target_id": DIGITS_23, "reason": "x"},
        ),
        ("post", "/api/v1/posts/", {"body": "x", "group": DIGITS_23}),
    ],
)
def test_23_digit_ids_in_queries_and_bodies_are_a_400(user_client, method, path, body):
    response = getattr(user_client, method)(path, body, format="json")
    assert error_of(response, 400)["code"] == "validation_error"


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/posts/{DIGITS_23}/like/",
        f"/api/v1/posts/{TOO_BIG}/",
        f"/api/v1/users/{DIGITS_23}/follow/",
        f"/api/v1/groups/{DIGITS_23}/transfer/",
        f"/api/v1/lessons/{DIGITS_23}/complete/",
    ],
)
def test_out_of_range_ids_in_paths_are_404(user_client, path):
    assert error_of(user_client.post(path, {"user_id": 1}, format="json"), 404)["code"] == (
        "not_found"
    )


def test_group_transfer_to_a_23_digit_user_is_a_400(user):
    group = client_for(user).post("/api/v1/groups/", {"name": "Mine"}, format="json").json()
    response = client_for(user).post(
        f"/api/v1/groups/{group['id']}/transfer/", {"user_id": DIGITS_23}, format="json"
    )
    assert list(error_of(response, 400)["details"]) == ["user_id"]


# --- Item 5: unknown fields are refused; courses are real foreign keys -----------------------


def test_an_unknown_field_on_group_creation_is_refused_by_name(user_client):
    response = user_client.post(
        "/api/v1/groups/", {"name": "Secret club", "visibility": "private"}, format="json"
    )
    error = error_of(response, 400)
    assert error["code"] == "validation_error"
    assert list(error["details"]) == ["visibility"]
    assert not StudyGroup.objects.exists()  # no public group made by mistake


def test_unknown_fields_are_named_each_and_nested_inputs_are_strict_too(user):
    instructor = UserFactory(roles=["instructor"])
    course = CourseFactory(instructor=instructor)
    response = client_for(instructor).post(
        f"/api/v1/courses/{course.slug}/lessons/",
        {
            "title": "One",
            "colour": "red",
            "zzz": 1,
            "quiz": {"questions": [{"text": "Q", "choices": [{"text": "A"}, {"text": "B"}]}]},
        },
        format="json",
    )
    details = error_of(response, 400)["details"]
    assert {"colour", "zzz"} <= set(details)
    response = client_for(instructor).post(
        f"/api/v1/courses/{course.slug}/lessons/",
        {
            "title": "One",
            "quiz": {
                "questions": [
                    {"text": "Q", "choices": [{"text": "A", "right": True}, {"text": "B"}]}
                ]
            },
        },
        format="json",
    )
    assert "right" in str(error_of(response, 400)["details"]["quiz"])


@pytest.mark.parametrize(
    ("path", "body", "unknown"),
    [
        ("/api/v1/me/", {"display_name": "D", "nickname": "x"}, "nickname"),
        ("/api/v1/posts/", {"body": "x", "title": "t"}, "title"),
        ("/api/v1/notifications/read/", {"all": True, "every": True}, "every"),
        ("/api/v1/me/gamification/", {"streak_reminders": True, "reminders": False}, "reminders"),
    ],
)
def test_unknown_fields_are_refused_on_writes_across_apps(user_client, path, body, unknown):
    method = user_client.patch if path.startswith("/api/v1/me/") else user_client.post
    details = error_of(method(path, body, format="json"), 400)["details"]
    assert list(details) == [unknown]


def test_unknown_fields_in_a_multipart_upload_are_refused(user_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\n", content_type="image/png")
    response = user_client.post(
        "/api/v1/media/", {"file": upload, "purpose": "avatar", "public": "yes"}, format="multipart"
    )
    assert list(error_of(response, 400)["details"]) == ["public"]


def _input_serializers():
    import importlib

    for app in ("accounts", "courses", "gamification", "media", "social"):
        module = importlib.import_module(f"apps.{app}.api.serializers")
        for name, value in vars(module).items():
            if (
                isinstance(value, type)
                and name.endswith("Input")
                and value.__module__ == (module.__name__)
            ):
                yield f"{app}.{name}", value


def test_every_write_input_serializer_refuses_unknown_fields():
    """Query-string inputs (`*Query`) may carry unknown parameters; write inputs may not."""
    serializers = dict(_input_serializers())
    assert len(serializers) >= 25
    lax = [name for name, cls in serializers.items() if not issubclass(cls, StrictInput)]
    assert lax == ["media.MediaListFilterInput"]  # the query of GET /media/, despite its name


def test_a_post_or_group_must_name_an_existing_visible_course(user):
    client = client_for(user)
    for path, body in (("/api/v1/posts/", {"body": "x"}), ("/api/v1/groups/", {"name": "G"})):
        missing = client.post(path, {**body, "course": 999_999}, format="json")
        assert error_of(missing, 400)["details"] == {"course": ["No such course."]}
        draft = CourseFactory(status=Course.Status.DRAFT)  # someone else's draft: not revealed
        hidden = client.post(path, {**body, "course": draft.pk}, format="json")
        assert error_of(hidden, 400)["details"] == {"course": ["No such course."]}
        course = CourseFactory(status=Course.Status.PUBLISHED)
        created = client.post(path, {**body, "course": course.pk}, format="json")
        assert created.status_code == 201, created.content
        assert created.json()["course"] == {"id": course.pk}
    assert Post.objects.get().course_id is not None
    assert StudyGroup.objects.get().course_id is not None


def test_deleting_a_course_keeps_its_posts_and_groups():
    course = CourseFactory(status=Course.Status.PUBLISHED)
    author = UserFactory()
    post = Post.objects.create(author=author, body="x", course=course)
    group = StudyGroup.objects.create(owner=author, name="G", course=course)
    course.delete()
    post.refresh_from_db()
    group.refresh_from_db()
    assert post.course_id is None and group.course_id is None


@pytest.mark.django_db(transaction=True)
def test_the_migration_reports_orphan_course_ids_and_clears_them(capsys):
    executor = MigrationExecutor(connection)
    before = ("social", "0002_post_media")
    after = ("social", "0004_validate_course_foreign_keys")
    executor.migrate([before])
    try:
        courses = [node for node in executor.loader.graph.leaf_nodes() if node[0] == "courses"]
        old_apps = executor.loader.project_state([before, *courses]).apps
        OldUser = old_apps.get_model("accounts", "User")
        OldCourse = old_apps.get_model("courses", "Course")
        OldPost = old_apps.get_model("social", "Post")
        OldGroup = old_apps.get_model("social", "StudyGroup")
        author = OldUser.objects.create(email="orphans@mail.test", password="x")
        course = OldCourse.objects.create(title="Real", slug="real", instructor=author)
        kept = OldPost.objects.create(author=author, body="kept", course_id=course.pk)
        orphan = OldPost.objects.create(author=author, body="orphan", course_id=999_999)
        group = OldGroup.objects.create(owner=author, name="G", course_id=888_888)

        executor = MigrationExecutor(connection)
        executor.migrate([after])
        output = capsys.readouterr().out
    finally:
        MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())

    courses = dict(Post.objects.values_list("pk", "course_id"))
    assert courses == {kept.pk: course.pk, orphan.pk: None}
    assert StudyGroup.objects.get(pk=group.pk).course_id is None
    assert f"social.Post {orphan.pk}: course 999999 does not exist" in output
    assert f"social.StudyGroup {group.pk}: course 888888 does not exist" in output
    assert f"social.Post {kept.pk}:" not in output
    with connection.cursor() as cursor:  # added NOT VALID (no long lock), then validated
        cursor.execute(
            "SELECT conrelid::regclass::text, convalidated FROM pg_constraint WHERE contype = 'f'"
            " AND confrelid = 'courses_course'::regclass"
            " AND conrelid IN ('social_post'::regclass, 'social_studygroup'::regclass)"
        )
        assert sorted(cursor.fetchall()) == [("social_post", True), ("social_studygroup", True)]


# --- Item 6: per-user write limits, bounded catalog cache -----------------------------------


def test_creating_groups_quickly_hits_429(user_client, settings):
    limit = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["groups"].split("/")[0])
    statuses = [
        user_client.post("/api/v1/groups/", {"name": f"G{n}"}, format="json").status_code
        for n in range(limit + 1)
    ]
    assert statuses[:limit] == [201] * limit
    refused = user_client.post("/api/v1/groups/", {"name": "one more"}, format="json")
    assert error_of(refused, 429)["code"] == "throttled"
    assert refused["Retry-After"]
    assert StudyGroup.objects.count() == limit
    assert user_client.get("/api/v1/groups/").status_code == 200  # reading is not capped


def _api_views():
    def walk(patterns, prefix=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern) and hasattr(entry.callback, "cls"):
                yield prefix + str(entry.pattern), entry.callback.cls

    return [(route, cls) for route, cls in walk(get_resolver().url_patterns) if "api/" in route]


def test_every_api_write_has_a_scoped_throttle():
    """Every unsafe method of every API view passes a per-scope rate (a write cap, or the
    sign-in/account-email throttles of the anonymous auth endpoints)."""
    from django.test import RequestFactory
    from rest_framework.request import Request

    checked, missing = 0, []
    for route, view_class in _api_views():
        for method in ("post", "put", "patch", "delete"):
            if not hasattr(view_class, method):
                continue
            view = view_class()
            view.request = Request(getattr(RequestFactory(), method)("/"))
            view.format_kwarg = None
            view.args, view.kwargs = (), {}
            throttles = view.get_throttles()
            checked += 1
            if not any(isinstance(t, ScopedRateThrottle) for t in throttles):
                missing.append(f"{method.upper()} {route} ({view_class.__name__})")
    assert checked >= 40
    assert missing == []


def _catalog_keys() -> set[str]:
    return set(cache.keys("courses:v*"))


def test_junk_catalog_parameters_do_not_fill_the_cache(api_client):
    CourseFactory(status=Course.Status.PUBLISHED)
    assert api_client.get("/api/v1/courses/").status_code == 200
    baseline = _catalog_keys()
    assert len(baseline) == 1
    for n in range(30):
        response = api_client.get(f"/api/v1/courses/?junk{n}={n}&utm_source=x{n}&page=1")
        assert response.status_code == 200
        assert "junk" not in str(response.json()["next"])
    assert _catalog_keys() == baseline  # the same page, the same single entry


def test_invalid_catalog_parameters_are_400_and_not_cached(api_client):
    for query in ("level=expert", "instructor=x", f"instructor={DIGITS_23}", "ordering=zzz"):
        assert error_of(api_client.get(f"/api/v1/courses/?{query}"), 400)["code"] == (
            "validation_error"
        )
    assert _catalog_keys() == set()


def test_catalog_links_carry_only_the_known_parameters(api_client):
    for n in range(3):
        CourseFactory(status=Course.Status.PUBLISHED, title=f"Course {n}")
    body = api_client.get("/api/v1/courses/?page_size=1&level=&junk=1&ordering=title").json()
    assert body["next"].endswith("/api/v1/courses/?ordering=title&page=2&page_size=1")
    again = api_client.get("/api/v1/courses/?ordering=title&page_size=1&page=2").json()
    assert again["previous"].endswith("/api/v1/courses/?ordering=title&page_size=1")
