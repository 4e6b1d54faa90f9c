"""Authorization sweep: every object endpoint under /api/v1/, as someone else and anonymously.

Every URL pattern under /api/v1/ with a path parameter must have a rule below, keyed by the
pattern's name: which object of the world (tests/security/world.py, everything created by its
owner) the path points at, a valid request body per method (so that authorization, not input
validation, decides), and the contract's status for each method the view implements, for
`other` (an ordinary signed-in student who owns nothing there) and for `anon` (no
credentials); a body may be a callable of the world. A new endpoint without a rule, or a new
method on a view without an expected status, fails `test_every_object_endpoint_has_a_rule`.

Conventions from the contract: a caller who may see an object but not change it gets 403;
objects the caller may not see at all answer 404 (private media, drafts, private groups);
anonymous callers get 401 wherever an account is needed. Successes listed here are the
contract's "others may": reading a published course or a public profile, enrolling, liking a
visible post, commenting, following, joining or leaving a group.
"""

from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.throttling import SimpleRateThrottle

from tests.security.world import World, build_world

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Rule:
    """`target(world)` -> path kwargs; expected[method] = (status for other, status for anon)."""

    target: object
    expected: dict
    bodies: dict = field(default_factory=dict)


def _course(world: World) -> dict:
    return {"slug": world.course.slug}


def _draft(world: World) -> dict:
    return {"slug": world.draft.slug}


def _lesson(world: World) -> dict:
    return {"lesson_id": world.lesson.pk}


def _post(world: World) -> dict:
    return {"post_id": world.post.pk}


def _group(world: World) -> dict:
    return {"group_id": world.group.pk}


def _owner(world: World) -> dict:
    return {"user_id": world.owner.pk}


def _media(world: World) -> dict:
    return {"media_id": world.media.pk}


RULES: dict[str, list[Rule]] = {
    # --- accounts
    "user-detail": [Rule(_owner, {"get": (200, 401)})],
    "user-roles": [Rule(_owner, {"put": (403, 401)}, {"put": {"roles": ["admin"]}})],
    # --- courses: the published course of the instructor, and the draft
    "course-detail": [
        Rule(
            _course,
            {"get": (200, 200), "patch": (403, 401), "delete": (403, 401)},
            {"patch": {"title": "Taken over"}},
        ),
        Rule(_draft, {"get": (404, 404), "patch": (404, 401), "delete": (404, 401)}),
    ],
    "course-publish": [Rule(_course, {"post": (403, 401)}), Rule(_draft, {"post": (404, 401)})],
    "course-lessons": [
        Rule(
            _course,
            {"get": (200, 200), "post": (403, 401)},
            {"post": {"title": "Injected", "body_markdown": "x"}},
        ),
        Rule(
            _course,
            {"post": (403, 401)},
            {"post": lambda w: {"title": "Files", "attachments": [str(w.preview_attachment.pk)]}},
        ),
        Rule(_draft, {"get": (404, 404), "post": (404, 401)}),
    ],
    "course-enrollment": [
        Rule(_course, {"post": (201, 401), "delete": (204, 401)}),
        Rule(_draft, {"post": (404, 401), "delete": (404, 401)}),
    ],
    "course-reviews": [
        Rule(
            _course,
            {"get": (200, 200), "post": (403, 401)},
            {"post": {"rating": 1, "text": "never took it"}},
        )
    ],
    "course-stats": [Rule(_course, {"get": (403, 401)}), Rule(_draft, {"get": (404, 401)})],
    "lesson-detail": [
        Rule(
            _lesson,
            {"get": (200, 200), "patch": (403, 401), "delete": (403, 401)},
            {"patch": {"title": "Taken over"}},
        ),
        Rule(_lesson, {"patch": (403, 401)}, {"patch": {"attachments": []}}),
    ],
    "lesson-quiz-attempts": [
        Rule(
            lambda w: {"lesson_id": w.quiz_lesson.pk},
            {"post": (403, 401)},
            {"post": {"answers": {}}},
        )
    ],
    "lesson-complete": [Rule(_lesson, {"post": (403, 401)})],
    # --- social: the owner's public post, followers-only post, comment, groups
    "post-detail": [
        Rule(
            _post,
            {"get": (200, 401), "patch": (403, 401), "delete": (403, 401)},
            {"patch": {"body": "Taken over"}},
        ),
        Rule(_post, {"patch": (403, 401)}, {"patch": {"media": None}}),
        Rule(
            lambda w: {"post_id": w.followers_post.pk},
            {"get": (404, 401), "patch": (404, 401), "delete": (404, 401)},
            {"patch": {"body": "Taken over"}},
        ),
    ],
    "post-like": [
        Rule(_post, {"post": (201, 401), "delete": (200, 401)}),
        Rule(
            lambda w: {"post_id": w.followers_post.pk}, {"post": (404, 401), "delete": (404, 401)}
        ),
    ],
    "post-comments": [
        Rule(_post, {"get": (200, 401), "post": (201, 401)}, {"post": {"body": "Hello"}}),
        Rule(
            lambda w: {"post_id": w.followers_post.pk},
            {"get": (404, 401), "post": (404, 401)},
            {"post": {"body": "Hello"}},
        ),
    ],
    "comment-detail": [Rule(lambda w: {"comment_id": w.comment.pk}, {"delete": (403, 401)})],
    "user-follow": [Rule(_owner, {"post": (201, 401), "delete": (200, 401)})],
    "user-followers": [Rule(_owner, {"get": (200, 401)})],
    "user-following": [Rule(_owner, {"get": (200, 401)})],
    "group-detail": [
        Rule(_group, {"get": (200, 401), "patch": (403, 401)}, {"patch": {"name": "Mine now"}}),
        Rule(
            lambda w: {"group_id": w.private_group.pk},
            {"get": (404, 401), "patch": (404, 401)},
            {"patch": {"name": "Mine now"}},
        ),
    ],
    "group-join": [
        Rule(lambda w: {"group_id": w.private_group.pk}, {"post": (201, 401)}),
    ],
    "group-leave": [Rule(_group, {"post": (204, 401)})],
    "group-transfer": [
        Rule(_group, {"post": (403, 401)}, {"post": lambda w: {"user_id": w.other.pk}}),
        Rule(lambda w: {"group_id": w.private_group.pk}, {"post": (404, 401)}),
    ],
    "group-posts": [
        Rule(_group, {"get": (200, 401)}),
        Rule(lambda w: {"group_id": w.private_group.pk}, {"get": (404, 401)}),
    ],
    "group-members": [
        Rule(_group, {"get": (200, 401)}),
        Rule(lambda w: {"group_id": w.private_group.pk}, {"get": (404, 401)}),
    ],
    "group-member-detail": [
        Rule(
            lambda w: {"group_id": w.group.pk, "user_id": w.owner.pk},
            {"patch": (403, 401), "delete": (403, 401)},
            {"patch": {"role": "member"}},
        )
    ],
    "group-member-approve": [
        Rule(lambda w: {"group_id": w.group.pk, "user_id": w.other.pk}, {"post": (403, 401)})
    ],
    "moderation-report-resolve": [
        Rule(
            lambda w: {"report_id": w.report.pk},
            {"post": (403, 401)},
            {"post": {"action": "dismiss"}},
        )
    ],
    # --- media: private to its owner; others cannot tell it exists, except where it is
    # attached to something they may see (they may then read it, never delete it)
    "media-detail": [
        Rule(_media, {"get": (404, 401), "delete": (404, 401)}),
        Rule(lambda w: {"media_id": w.post_image.pk}, {"get": (200, 401), "delete": (403, 401)}),
        Rule(
            lambda w: {"media_id": w.followers_post_image.pk},
            {"get": (404, 401), "delete": (404, 401)},
        ),
        # `other` is not enrolled: the attachment of a lesson they cannot open is hidden...
        Rule(
            lambda w: {"media_id": w.lesson_attachment.pk},
            {"get": (404, 401), "delete": (404, 401)},
        ),
        # ...while a preview lesson's is for everyone signed in.
        Rule(
            lambda w: {"media_id": w.preview_attachment.pk},
            {"get": (200, 401), "delete": (403, 401)},
        ),
    ],
    # Direct uploads need S3: with the tests' local storage every caller gets 409 before any
    # lookup, so the answer tells nothing about the file (tests/media covers it on S3).
    "media-upload-complete": [Rule(_media, {"post": (409, 401)})],
    # The content URL is authorized by its signed token alone: without one, nobody gets it.
    "media-content": [Rule(_media, {"get": (404, 404)})],
    # --- gamification: not an object, but a path parameter (the period)
    "leaderboard-detail": [Rule(lambda w: {"period": "weekly"}, {"get": (200, 401)})],
}


def _object_endpoints() -> dict[str, tuple[str, type]]:
    """{url name: (route, view class)} for every pattern under /api/v1/ with a parameter."""
    found: dict[str, tuple[str, type]] = {}

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("api/v1/") and "<" in route:
                view = getattr(pattern.callback, "view_class", None) or getattr(
                    pattern.callback, "cls", None
                )
                found[pattern.name or route] = (route, view)

    walk(get_resolver().url_patterns, "")
    return found


def _implemented(view: type) -> set[str]:
    return {method for method in METHODS if hasattr(view, method)}


def test_every_object_endpoint_has_a_rule():
    endpoints = _object_endpoints()
    assert endpoints, "the resolver walk found no object endpoint under /api/v1/"
    missing = sorted(set(endpoints) - set(RULES))
    assert not missing, f"object endpoints without an authorization rule: {missing}"
    stale = sorted(set(RULES) - set(endpoints))
    assert not stale, f"rules for endpoints that no longer exist: {stale}"
    for name, (route, view) in endpoints.items():
        covered = set().union(*(rule.expected for rule in RULES[name]))
        uncovered = _implemented(view) - covered
        assert not uncovered, f"{name} ({route}): no expected status for {sorted(uncovered)}"


def _cases():
    for name, rules in RULES.items():
        for index, rule in enumerate(rules):
            for method in rule.expected:
                yield pytest.param(name, index, method, id=f"{name}[{index}]-{method}")


@pytest.fixture
def unthrottled(monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "allow_request", lambda self, request, view: True)


@pytest.mark.parametrize(("name", "index", "method"), list(_cases()))
def test_someone_else_and_anonymous_get_the_contract_status(name, index, method, unthrottled):
    from django.urls import reverse

    rule = RULES[name][index]
    world = build_world()
    url = reverse(name, kwargs=rule.target(world))
    body = rule.bodies.get(method)
    if callable(body):
        body = body(world)
    expected_other, expected_anon = rule.expected[method]
    # Anonymous first: a refused request changes nothing, so `other` sees the same world.
    for who, expected in (("anon", expected_anon), ("other", expected_other)):
        client = world.client(None if who == "anon" else "other")
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == expected, (
            f"{method.upper()} {url} as {who}: {response.status_code}, expected {expected}: "
            f"{response.content[:300]!r}"
        )
        if expected >= 400:
            # The contract's error shape; 403s may carry a domain code (e.g. not_enrolled).
            error = response.json()["error"]
            assert set(error) == {"code", "message", "details", "request_id"}
            if expected in (401, 404):
                assert error["code"] == {401: "not_authenticated", 404: "not_found"}[expected]
