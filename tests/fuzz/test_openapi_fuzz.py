"""Fuzz every operation of the served OpenAPI schema with schemathesis, in process.

For each operation (one test each, so pytest-xdist spreads them) and each of three callers
(a student who owns the world's posts and groups, the instructor of its course, a moderator),
schemathesis generates requests from `/api/schema/`: schema-valid ones and schema-violating
("negative") ones, with path parameters pointing at real objects (tests/security/world.py) so
the requests get past the 404s. Every response must:

- not be a 5xx;
- have a status code, content type, headers and body the schema documents for it (errors
  included: apps.core.openapi documents the ErrorResponse shape for every operation);
- be a 4xx for negative data.

Authentication is not fuzzed here (tests/security/test_authorization_sweep.py covers who may
do what): the schema's security requirements are dropped before generation and each caller's
token is sent as is. Lenient readings that DRF documents are not counted as accepting
negative data: a number sent for a string field (read as its text), an array or object sent
for a query parameter (a query string has neither: it arrives as repeated or spread keys), an
empty query value (read as "not given") and a blank string (whitespace is trimmed) where the
schema offers blank or null as an alternative (anyOf/oneOf).

Deterministic: Hypothesis derandomised (the same examples every run), no example database.
Bounded: FUZZ_EXAMPLES examples per operation, caller and mode (default 6; raise it locally,
e.g. `FUZZ_EXAMPLES=100 pytest tests/fuzz`, to search harder).
"""

import os
import re

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.throttling import SimpleRateThrottle
from rest_framework_simplejwt.tokens import AccessToken
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.security.world import build_world

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
CALLERS = ("owner", "instructor", "moderator")


def _sent_value(case, mutation):
    """The value the mutated parameter or body property had in the request (or None)."""
    if mutation.parameter_location == ParameterLocation.QUERY:
        return (case.query or {}).get(mutation.parameter)
    if mutation.parameter_location == ParameterLocation.BODY and isinstance(case.body, dict):
        names = re.findall(r"/properties/([^/]+)", mutation.schema_pointer)
        return case.body.get(names[0]) if len(names) == 1 else None
    return None


def _tolerated(case, mutation) -> bool:
    """Mutations DRF reads as valid input, by design (see the module docstring)."""
    query = mutation.parameter_location == ParameterLocation.QUERY
    sent = _sent_value(case, mutation)
    if isinstance(sent, str) and not sent.strip():
        if query:
            return True  # an empty query value means "not given" (DRF's form semantics)
        if "/anyOf/" in mutation.schema_pointer or "/oneOf/" in mutation.schema_pointer:
            return True  # blank (after trimming) where blank or null is a documented choice
    if mutation.keywords != ("type",):
        return False
    if mutation.original_value == "string" and mutation.new_value in ("integer", "number"):
        return True  # a number sent for a string field is read as its text
    return query and mutation.new_value in ("array", "object")  # no such thing in a query


@schemathesis.check
def negative_data_rejected(ctx, response, case):
    """schemathesis' negative_data_rejection, minus the lenient readings described above."""
    data = getattr(getattr(getattr(case, "meta", None), "phase", None), "data", None)
    mutations = getattr(data, "mutations", None) or ()
    if mutations and all(_tolerated(case, mutation) for mutation in mutations):
        return None
    return negative_data_rejection(ctx, response, case)


CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _operations() -> list[str]:
    """Labels of every documented operation (generated without a request, as served)."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return [
        f"{method.upper()} {path}"
        for path, item in sorted(document["paths"].items())
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]


_SERVED: dict = {}


def _served_document() -> dict:
    """/api/schema/ as served, without its security requirements (see the module docstring)."""
    if "document" not in _SERVED:
        from django.test import Client

        response = Client().get("/api/schema/", {"format": "json"})
        assert response.status_code == 200
        document = response.json()
        document.pop("security", None)
        document.get("components", {}).pop("securitySchemes", None)
        for item in document["paths"].values():
            for operation in item.values():
                if isinstance(operation, dict):
                    operation.pop("security", None)
        _SERVED["document"] = document
    return _SERVED["document"]


@pytest.fixture
def served_schema():
    """The schema, bound to Django's WSGI app served in this thread inside the test's
    transaction: the handler must not close the test's connection after each request
    (Django's test client disconnects the same signal handlers for the same reason)."""
    schema = schemathesis.openapi.from_dict(_served_document())
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        schema.app = WSGIHandler()
        yield schema
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def unthrottled(monkeypatch):
    """Rate limits would turn most examples into (documented) 429s; fuzz the code instead."""
    monkeypatch.setattr(SimpleRateThrottle, "allow_request", lambda self, request, view: True)
    monkeypatch.setattr(
        "allauth.core.ratelimit.consume", lambda *args, **kwargs: True, raising=False
    )


def _fuzz(operation, mode, headers, path_parameters):
    checks = CONFORMANCE + ([negative_data_rejected] if mode == "negative" else [])
    try:
        strategy = operation.as_strategy(
            generation_mode=schemathesis.GenerationMode(mode), path_parameters=path_parameters
        )
    except Unsatisfiable:
        return

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=strategy)
    def run(case):
        case.call_and_validate(headers=headers, checks=checks)

    try:
        run()
    except Unsatisfiable:
        # Every parameter is pinned to a real object and there is no body or query to
        # violate: no negative request exists for this operation.
        assert mode == "negative"


@pytest.mark.parametrize("label", _operations())
def test_operation_conforms_to_its_schema(label, served_schema, unthrottled, settings):
    settings.COURSES_CACHE_SECONDS = 0
    method, path = label.split(" ", 1)
    operation = served_schema[path][method.lower()]
    world = build_world()
    values = world.path_values()
    pinned = {p.name: values[p.name] for p in operation.path_parameters if p.name in values}
    for who in CALLERS:
        user = getattr(world, who)
        headers = {"Authorization": f"Bearer {AccessToken.for_user(user)}"}
        for mode in ("positive", "negative"):
            _fuzz(operation, mode, headers, pinned)


# --- Hostile input on every operation (issue 17) -------------------------------------------
#
# Not generated from the schema but aimed past it: what an attacker sends to any endpoint.
# Each operation gets, as each of the three callers: JSON nested 50,000 deep, every documented
# body property (and an unknown one) holding a NUL, an integer beyond 64 bits, or a lone
# surrogate; a body that is not UTF-8; every documented query parameter as `%00`, `%ff` and a
# 23-digit number; every path parameter as a 23-digit number, 2**63, `%00` and `%ff`. None may
# be a 5xx; every answer is the error envelope or a documented success. The counts are
# reported at the end of the run (tests/fuzz/conftest.py).

HUGE = 12345678901234567890123


def _hostile_bodies(properties: list[str]) -> list[bytes]:
    names = [*properties, "zz_unknown"]
    bodies = [b"[" * 50_000, b'{"a":' * 50_000, b'{"x": "caf\xe9"}']
    for value in ('"a\\u0000b"', str(HUGE), str(-HUGE), '"\\ud800"', "1e999999"):
        bodies.append(("{" + ", ".join(f'"{name}": {value}' for name in names) + "}").encode())
    bodies.append(('{"a\\u0000": 1, "' + names[0] + '": [[[[' + "1]]]]}").encode())
    return bodies


def _hostile_requests(operation: dict, path: str, values: dict) -> list[tuple[str, str, bytes]]:
    """(path with query, content type, body) for one operation."""
    parameters = operation.get("parameters", [])
    path_names = [p["name"] for p in parameters if p["in"] == "path"]
    query_names = [p["name"] for p in parameters if p["in"] == "query"]
    real_path = path
    for name in path_names:
        real_path = real_path.replace("{" + name + "}", str(values[name]))
    requests = []
    for name in path_names:
        for bad in (str(HUGE), str(2**63), "%00", "%ff", "a%00b"):
            bad_path = path
            for other in path_names:
                bad_path = bad_path.replace(
                    "{" + other + "}", bad if other == name else str(values[other])
                )
            requests.append((bad_path, "application/json", b""))
    for name in query_names:
        for bad in ("%00", "a%00b", "%ff%fe", str(HUGE), str(-HUGE), "course:%00"):
            requests.append((f"{real_path}?{name}={bad}", "application/json", b""))
    requests.append((f"{real_path}?junk%00=1&%ff=2", "application/json", b""))
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        schema = content["application/json"].get("schema", {})
        properties = list(_resolved(schema).get("properties", {})) or ["x"]
        requests += [(real_path, "application/json", body) for body in _hostile_bodies(properties)]
    elif content:  # multipart uploads: NUL and invalid UTF-8 in the form fields and filename
        boundary = "lyo-hostile"
        for value in (b"a\x00b", b"caf\xe9", str(HUGE).encode()):
            body = (
                (f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n').encode()
                + value
                + (
                    f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                    f'filename="a\x00.png"\r\nContent-Type: image/png\r\n\r\n'
                ).encode()
                + b"\x89PNG\r\n\x1a\n"
                + f"\r\n--{boundary}--\r\n".encode()
            )
            requests.append((real_path, f"multipart/form-data; boundary={boundary}", body))
    return requests


def _resolved(schema: dict) -> dict:
    reference = schema.get("$ref")
    if not reference:
        return schema
    name = reference.rsplit("/", 1)[1]
    return _served_document()["components"]["schemas"][name]


@pytest.mark.parametrize("label", _operations())
def test_operation_survives_hostile_input(label, unthrottled, settings, record_property):
    from django.test import Client

    settings.COURSES_CACHE_SECONDS = 0
    method, path = label.split(" ", 1)
    operation = _served_document()["paths"][path][method.lower()]
    world = build_world()
    requests = _hostile_requests(operation, path, world.path_values())
    sent, failures = 0, []
    for who in CALLERS:
        token = AccessToken.for_user(getattr(world, who))
        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        for target, content_type, body in requests:
            response = client.generic(method, target, body, content_type=content_type)
            sent += 1
            if response.status_code >= 500:
                failures.append((who, target, body[:80], response.status_code))
            elif response.status_code >= 400 and response["Content-Type"] == "application/json":
                assert set(response.json()["error"]) == {
                    "code",
                    "message",
                    "details",
                    "request_id",
                }
    record_property("hostile_cases", sent)
    record_property("hostile_5xx", len(failures))
    assert failures == [], failures[:5]
