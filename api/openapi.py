"""The OpenAPI document describes the answers Guard really gives.

FastAPI documents only the success answer and a 422 whose `detail` is a list. Guard's errors all carry a
string `detail` (plus `rule` when a policy rule refused, and `errors` with the field locations for a 422),
and any operation can meet 400, 401, 403, 404, 409, 413, 422, 429 and 503. Each operation also gets a
one-line description: its route's docstring, or the line below.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "description": "what went wrong, written for the person acting"},
        "rule": {"type": "string", "description": "the policy rule that refused, when one did"},
        "errors": {
            "type": "array",
            "description": "422 only: each invalid field with its location",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}
ERRORS = {
    "400": "the body is not valid JSON",
    "401": "missing, expired, forged or revoked credentials, or a person who can no longer act",
    "403": "outside the caller's role, against separation of duties, or refused by the rules in force",
    "404": "no such thing, or not one the caller may know about",
    "409": "clashes with the current state (already decided, already taken, refused on a later step)",
    "410": "a one-time thing already used, expired or voided",
    "413": "the body is larger than the configured limit",
    "422": "a field is missing, out of range or not acceptable",
    "429": "too many attempts; try again later",
    "503": "the database, the keys or the vault cannot be used right now: nothing was changed",
}
DESCRIPTIONS = {
    ("get", "/healthz"): "The process is up (no dependency is checked).",
    ("get", "/readyz"): "Whether Guard can do its work now: database, audit writes, keys, master key, disk.",
    ("get", "/metrics"): "Prometheus metrics of requests, latencies and decisions.",
    ("post", "/access-requests"): "Ask to view or download one document, with a reason; decided at once.",
    ("get", "/access-requests"): "Requests: one's own, or everyone's for approvers, security and admins.",
    ("post", "/exports"): "Ask to export several documents as one archive; all or nothing.",
    ("get", "/access-requests/{request_id}"): "One request; its requester collects a granted one here.",
    ("post", "/access-requests/{request_id}/approve"): "Add an approval; the policy in force decides again.",
    ("post", "/access-requests/{request_id}/reject"): "Reject a pending request; it ends there.",
    ("post", "/access-requests/{request_id}/cancel"): "The requester withdraws their pending request.",
    ("get", "/content/{token}"): "Exchange a content token for the grant's bytes, once.",
    ("post", "/auth/login"): "Log in with a username and password; returns an access and a refresh token.",
    ("post", "/auth/refresh"): "Swap a refresh token for a new pair; the old one stops working.",
    ("post", "/auth/logout-all"): "End every session of the caller, on every device.",
    ("post", "/auth/logout"): "End this session: every access and refresh token issued in it stops working.",
    ("get", "/me"): "The caller: roles, status, lifecycle and holds.",
    ("post", "/users"): "Create a person (admin).",
    ("get", "/users"): "List people with their status, lifecycle and holds (admin).",
    ("get", "/users/{user_id}"): "One person with their holds and any team watch (admin, security).",
    ("patch", "/users/{user_id}"): "Change roles, manager, names, or suspend and reactivate (admin).",
    ("post", "/users/{user_id}/holds"): "Put a suspended or review hold on a person (security, admin).",
    ("delete", "/users/{user_id}/holds/{kind}"): "Lift a person's holds of one kind, with a reason.",
    ("post", "/users/{user_id}/api-keys"): "Make an API key, optionally expiring; its secret is shown once.",
    ("get", "/users/{user_id}/api-keys"): "List a person's API keys: who made them, last use, expiry, state.",
    ("delete", "/users/{user_id}/api-keys/{key_id}"): "Revoke an API key, with a reason.",
    ("post", "/role-changes"): "Propose new admin or security roles for a person; another admin confirms.",
    ("get", "/role-changes"): "Role changes waiting for a second admin, and their outcomes.",
    ("post", "/role-changes/{change_id}/confirm"): "Confirm another admin's role change: it applies now.",
    ("post", "/role-changes/{change_id}/reject"): "Reject (or, as its proposer, withdraw) a role change.",
    ("get", "/notifications"): "The caller's notifications.",
    ("post", "/notifications/{notification_id}/read"): "Mark one of the caller's notifications read.",
    ("get", "/alerts"): "The alert queue (security).",
    ("get", "/alerts/{alert_id}"): "One alert with its evidence entries and the holds it set (security).",
    ("post", "/alerts/{alert_id}/ack"): "Acknowledge an open alert (security).",
    ("post", "/alerts/{alert_id}/resolve"): "Resolve an alert; a false positive lifts the holds it set.",
    ("post", "/events"): "Events from other systems, chained into the audit log (ingest API key).",
    ("get", "/rules"): "The detection rules in force and the last reload's outcome (security).",
    ("post", "/customers"): "Create a customer with its owner.",
    ("get", "/customers"): "Customers: one's portfolio, or all of them for overseeing roles.",
    ("get", "/customers/{customer_id}"): "One customer.",
    ("patch", "/customers/{customer_id}"): "Rename a customer or change its owner.",
    ("post", "/documents"): "Upload a document into the encrypted vault; the caller is its author.",
    ("get", "/documents"): "Document metadata with the caller's looks left.",
    ("get", "/documents/{document_id}"): "One document's metadata.",
    ("get", "/agreements/current"): "The confidentiality agreement in force.",
    ("post", "/me/agreements"): "Accept the confidentiality agreement in force.",
    ("post", "/hr/events"): "A resignation, termination or withdrawal from HR; applied once.",
    ("get", "/hr/departures"): "The departures archive.",
    ("get", "/hr/departures/{username}/exposure"): "What a leaver touched, before and after the notice.",
    ("get", "/hr/watchlist"): "People on the leaver watchlist.",
    ("get", "/handovers"): "Handovers the caller must acknowledge (all of them for HR, security, admins).",
    ("get", "/handovers/{handover_id}"): "One handover with its items.",
    ("post", "/handovers/{handover_id}/items/{item_id}/ack"): "Acknowledge one item of a handover.",
    ("get", "/audit"): "Search the audit log (security).",
    ("get", "/audit/{seq}"): "One audit entry with the hash that links it to the one before (security).",
    ("get", "/audit/verify"): "Verify the audit log's chain, checkpoints and witness file (security).",
    ("get", "/audit/export"): "Export matching audit entries as CSV or JSON lines (security).",
}


# Operations whose success answer is not JSON.
SUCCESS_CONTENT = {
    ("get", "/metrics"): {"text/plain": {"schema": {"type": "string"}}},
    ("get", "/content/{token}"): {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    ("get", "/audit/export"): {
        "text/csv": {"schema": {"type": "string"}},
        "application/x-ndjson": {"schema": {"type": "string"}},
    },
}


def install_openapi(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe(
                get_openapi(
                    title=app.title, version=app.version, description=app.description, routes=app.routes
                )
            )
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "the access_token from POST /auth/login",
    },
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "machine accounts: the value `ApiKey <key>`",
    },
}
# Operations that take no credential (the content token travels in the path).
PUBLIC = {
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("post", "/auth/login"),
    ("post", "/auth/refresh"),
    ("get", "/content/{token}"),
}


def describe(spec: dict[str, Any]) -> dict[str, Any]:
    components = spec.setdefault("components", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    spec["security"] = [{"bearer": []}, {"apiKey": []}]
    schemas = components.setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    reference = {"$ref": "#/components/schemas/Error"}
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            if not operation.get("description"):
                operation["description"] = DESCRIPTIONS.get((method, path), "")
            if (method, path) in PUBLIC:
                operation["security"] = []
            responses = operation.setdefault("responses", {})
            if (method, path) in SUCCESS_CONTENT:
                success = responses.setdefault("200", {"description": "the content"})
                success["content"] = SUCCESS_CONTENT[method, path]
            for status, meaning in ERRORS.items():
                responses[status] = {
                    "description": meaning,
                    "content": {"application/json": {"schema": reference}},
                }
    return spec
