"""OpenAPI 3 schema at /api/schema/, docs at /api/docs/, and no drf-spectacular warning or
error for any of our views (a view it cannot read is a view the docs get wrong)."""
import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

#: The design's REST table (renders' start/cancel/retry arrive with the render pipeline).
DESIGN_PATHS = {
    "/api/projects/": {"get", "post"},
    "/api/projects/{id}/": {"get", "patch", "delete"},
    "/api/projects/{project_id}/members/": {"get", "post"},
    "/api/projects/{project_id}/members/{member_id}/": {"get", "patch", "delete"},
    "/api/projects/{project_id}/sequences/": {"get", "post"},
    "/api/projects/{project_id}/shots/": {"get", "post"},
    "/api/projects/{project_id}/board/": {"get"},
    "/api/shots/{shot_id}/": {"get", "patch"},
    "/api/shots/{shot_id}/revisions/": {"get", "post"},
    "/api/shots/{shot_id}/revisions/{a}/diff/{b}/": {"get"},
    "/api/renders/{job_id}/": {"get"},
    "/api/shots/{shot_id}/takes/": {"get"},
    "/api/takes/{take_id}/": {"get"},
    "/api/takes/{take_id}/review/": {"post"},
    "/api/shots/{shot_id}/current-take/": {"post"},
    "/api/takes/{take_id}/comments/": {"get", "post"},
    "/api/takes/{take_id}/comments/{comment_id}/": {"get", "patch"},
    "/api/projects/{project_id}/assets/": {"get", "post"},
    "/api/projects/{project_id}/presets/": {"get", "post"},
    "/api/projects/{project_id}/events/": {"get"},
    "/api/me/work/": {"get"},
    "/api/notifications/": {"get"},
    "/api/notifications/read/": {"post"},
    "/api/auth/token/": {"post"},
}


@pytest.fixture(scope="module")
def schema():
    GENERATOR_STATS.reset()
    generated = SchemaGenerator().get_schema(request=None, public=True)
    problems = {"warnings": dict(GENERATOR_STATS._warn_cache), "errors": dict(GENERATOR_STATS._error_cache)}
    return generated, problems


def test_spectacular_reads_every_view_without_a_warning(schema):
    _, problems = schema
    assert problems == {"warnings": {}, "errors": {}}


def test_the_schema_is_valid_openapi_3_and_covers_the_design(schema):
    generated, _ = schema
    validate_schema(generated)
    assert generated["openapi"].startswith("3.")
    for path, methods in DESIGN_PATHS.items():
        assert path in generated["paths"], path
        assert methods <= set(generated["paths"][path]), (path, set(generated["paths"][path]))
    assert "put" not in generated["paths"]["/api/shots/{shot_id}/"]


def test_documented_shapes(schema):
    generated, _ = schema
    components = generated["components"]["schemas"]
    assert set(components["RoleEnum"]["enum"]) == {"owner", "director", "artist", "reviewer", "guest"}
    assert set(components["ShotStatusEnum"]["enum"]) == {"todo", "in_progress", "review", "changes", "approved"}
    diff = generated["paths"]["/api/shots/{shot_id}/revisions/{a}/diff/{b}/"]["get"]["responses"]["200"]
    ref = diff["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert {"from", "to", "prompt", "negative_prompt", "params", "assets"} <= set(components[ref]["properties"])
    patch = generated["paths"]["/api/shots/{shot_id}/"]["patch"]
    assert "409" in patch["responses"]
    upload = generated["paths"]["/api/projects/{project_id}/assets/"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload
    page = generated["paths"]["/api/notifications/"]["get"]["responses"]["200"]["content"]["application/json"]
    page_schema = components[page["schema"]["$ref"].rsplit("/", 1)[-1]]
    assert {"count", "next", "previous", "results", "unread_count"} <= set(page_schema["properties"])


@pytest.mark.django_db
def test_schema_and_docs_are_served(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()
