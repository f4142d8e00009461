"""Fuzzing the app through its own OpenAPI document, as an admin: no 5xx and no answer the document does
not describe. Bounded: a few examples per operation, no example database."""

from __future__ import annotations

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.people import People

EXAMPLES = 10
# Guard refuses plenty of schema-valid input on purpose (unknown ids, short reasons, other people's
# things): what must never happen is a 5xx or an answer the document does not describe.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def test_no_server_error_and_no_undocumented_answer(app: FastAPI, people: People) -> None:
    admin = people.admin.auth
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation, mode in ((op, mode) for op in operations for mode in GenerationMode):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def check(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(headers=admin, checks=CHECKS)

        try:
            check()
        except Unsatisfiable:  # nothing about this operation can be made invalid (no parameters, no body)
            continue
        except BaseException as exc:  # collect every operation's failure, not only the first
            failures.append(f"{operation.label} ({mode.value}): {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
