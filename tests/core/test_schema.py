import pytest
from django.test import Client
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db


def test_openapi_schema_is_valid_openapi_3():
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_interactive_docs_are_served_from_our_own_static_files():
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html


def test_ids_in_paths_and_bodies_document_their_range():
    """The schema says what the API enforces (apps.core.input): ids from 1 to 2**63 - 1."""
    schema = Client().get("/api/schema/", {"format": "json"}).json()
    id_parameters = [
        parameter
        for item in schema["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict)
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path"
        and parameter["name"].endswith("_id")
        and parameter["name"] != "media_id"
    ]
    assert len(id_parameters) >= 20
    for parameter in id_parameters:
        assert parameter["schema"]["type"] == "integer"
        assert (parameter["schema"]["minimum"], parameter["schema"]["maximum"]) == (1, 2**63 - 1)
    components = schema["components"]["schemas"]
    for component, field in [
        ("PostCreateInputRequest", "course"),
        ("PostCreateInputRequest", "group"),
        ("GroupTransferInputRequest", "user_id"),
        ("ReportCreateInputRequest", "target_id"),
    ]:
        assert components[component]["properties"][field]["maximum"] == 2**63 - 1
