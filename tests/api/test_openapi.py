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
