"""The OpenAPI document describes the answers Guard really gives."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from tests.support.people import People

ERROR_STATUSES = {"400", "401", "403", "404", "409", "410", "413", "422", "429", "503"}


def test_every_operation_has_a_description_and_documents_the_error_answers(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operations = [(m, p, op) for p, ops in spec["paths"].items() for m, op in ops.items()]
    assert len(operations) > 40
    undescribed = [f"{m.upper()} {p}" for m, p, op in operations if not op.get("description", "").strip()]
    assert undescribed == []
    for method, path, operation in operations:
        documented = set(operation["responses"])
        assert documented >= ERROR_STATUSES, f"{method} {path}"
        schema = operation["responses"]["422"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}
    text = json.dumps(spec)
    for ref in set(re.findall(r'"#/components/schemas/([^"]+)"', text)):
        assert ref in spec["components"]["schemas"], ref


def test_real_error_answers_have_the_documented_shape(client: TestClient, people: People) -> None:
    spec = client.get("/openapi.json").json()
    error = spec["components"]["schemas"]["Error"]
    answers = [
        client.post("/users", json={"username": "x"}, headers=people.admin.auth),  # 422
        client.get("/users/nobody", headers=people.admin.auth),  # 404
        client.get("/me"),  # 401
    ]
    assert [a.status_code for a in answers] == [422, 404, 401]
    for answer in answers:
        body = answer.json()
        assert set(error["required"]) <= set(body)
        assert isinstance(body["detail"], str)
    assert isinstance(answers[0].json()["errors"], list)


def test_the_document_names_how_to_authenticate_and_which_operations_need_nothing(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "the access_token from POST /auth/login",
    }
    assert (schemes["apiKey"]["in"], schemes["apiKey"]["name"]) == ("header", "Authorization")
    assert spec["security"] == [{"bearer": []}, {"apiKey": []}]
    public = {(m, p) for p, ops in spec["paths"].items() for m, op in ops.items() if op.get("security") == []}
    assert public == {
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("post", "/auth/login"),
        ("post", "/auth/refresh"),
        ("get", "/content/{token}"),
    }
    for method, path in public - {("get", "/content/{token}")}:
        assert client.request(method.upper(), path, json={}).status_code not in (401, 403), path


def test_docs_are_served_from_local_assets_under_a_strict_policy(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "https://" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for asset in ("/assets/swagger-ui/swagger-ui-bundle.js", "/assets/guard/docs.js"):
        assert client.get(asset).status_code == 200, asset
