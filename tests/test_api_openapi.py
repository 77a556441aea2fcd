"""The OpenAPI document at /api/v1/openapi.json and the readable page at /api/v1/ (offline)."""

from __future__ import annotations

import re

import schemathesis

from statsservice.domain.registry import TYPE_NAMES

OWN_OPERATIONS = {
    ("/api/v1/client/", "post"),
    ("/api/v1/client/me", "get"),
    ("/api/v1/client/me", "patch"),
    ("/api/v1/stats/", "get"),
    ("/api/v1/stats/", "post"),
    ("/api/v1/stats/{anr}", "delete"),
}
ERROR_BODIES = {"#/components/schemas/Error", "#/components/schemas/UploadReport"}


def spec_of(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def test_document_is_valid_openapi(client):
    spec = spec_of(client)
    assert spec["openapi"].startswith("3.")
    schemathesis.openapi.from_dict(spec).validate()  # raises on an invalid document
    operations = {
        (path, method) for path, item in spec["paths"].items() for method in item if method != "parameters"
    }
    assert operations >= OWN_OPERATIONS


def _schema_ref(spec: dict, response: dict) -> str | None:
    if "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    return schema.get("$ref") if schema else None


def test_every_operation_documents_security_and_errors(client):
    spec = spec_of(client)
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-KEY",
    }
    for path, method in OWN_OPERATIONS:
        operation = spec["paths"][path][method]
        assert operation["security"] == [{"ApiKey": []}], (path, method)
        assert {"401", "403", "426", "default"} <= set(map(str, operation["responses"])), (path, method)
        for status, response in operation["responses"].items():
            if str(status).startswith(("4", "5")) or status == "default":
                assert _schema_ref(spec, response) in ERROR_BODIES, (path, method, status)


def test_upload_is_described_per_stats_type(client):
    spec = spec_of(client)
    body = spec["paths"]["/api/v1/stats/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["type"] == "array" and body["minItems"] == 1
    refs = [item["$ref"].rsplit("/", 1)[-1] for item in body["items"]["oneOf"]]
    assert refs == [f"{name.capitalize()}Record" for name in TYPE_NAMES]
    schemas = spec["components"]["schemas"]
    for name in TYPE_NAMES:
        record = schemas[f"{name.capitalize()}Record"]
        assert record["properties"]["type"]["enum"] == [name]
        assert set(record["required"]) == {"anr", "type", "date", "data"}
        assert record["additionalProperties"] is False
    statuses = set(spec["paths"]["/api/v1/stats/"]["post"]["responses"])
    assert {"201", "207", "400", "413", "422"} <= set(map(str, statuses))


def test_readable_page_works_offline(client):
    spec = spec_of(client)
    response = client.get("/api/v1/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    for path in spec["paths"]:
        assert path in html
    for name in spec["components"]["schemas"]:
        assert f'id="schema-{name}"' in html
    # nothing fetched from elsewhere: no scripts, no remote styles, images or fonts
    assert "<script" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html
    assert client.get("/api/v1").status_code in (301, 308)
