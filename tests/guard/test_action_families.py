"""Every family of actions Guard records is in the registry that POST /events keeps other systems out of.

Guard's source is read, not run: every `action=` given to a call (a string, or an f-string starting with
its family such as f"access.{verb}"), and every string handed first to a function that records or audits
(`self._audit("policy.reloaded", ...)`). A new family in the code fails here until it is registered."""

from __future__ import annotations

import ast
from pathlib import Path

from guard.audit.actions import GUARD_ACTION_FAMILIES, RESERVED_ACTION_FAMILIES

GUARD = Path(__file__).resolve().parents[2] / "guard"
RECORDERS = ("record", "audit")  # callee names containing one of these take the action first


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _head(node: ast.expr) -> str | None:
    """The literal text an expression starts with: a string, or the first literal part of an f-string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
        return ""  # an f-string that starts with a value: its family cannot be read
    return None


def written_families() -> dict[str, set[str]]:
    """family -> the places (file:line) that write it."""
    found: dict[str, set[str]] = {}
    for path in sorted(GUARD.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            candidates = [k.value for k in node.keywords if k.arg == "action"]
            if node.args and any(word in _callee(node).lower() for word in RECORDERS):
                candidates.append(node.args[0])
            for candidate in candidates:
                head = _head(candidate)
                if head is None or ("." not in head and not isinstance(candidate, ast.JoinedStr)):
                    continue  # a variable (checked where it is set) or a broker verb such as "view"
                where = f"{path.relative_to(GUARD.parent)}:{node.lineno}"
                assert "." in head, f"{where}: an f-string action must start with its family, e.g. 'x.'"
                found.setdefault(head.split(".", 1)[0], set()).add(where)
    return found


def test_every_family_guard_writes_is_registered() -> None:
    written = written_families()
    missing = {
        family: sorted(places) for family, places in written.items() if family not in GUARD_ACTION_FAMILIES
    }
    assert missing == {}, "add these families to guard/audit/actions.py"
    assert set(written) <= RESERVED_ACTION_FAMILIES


def test_the_registry_names_only_families_guard_writes() -> None:
    assert set(written_families()) == GUARD_ACTION_FAMILIES


def test_the_scan_sees_every_way_an_action_is_written() -> None:
    written = written_families()
    assert any("access/service.py" in p for p in written["access"])  # f"access.{request.action}"
    assert any("detection/alerts.py" in p for p in written["alert"])  # f"alert.{...}"
    assert any("detection/reload.py" in p for p in written["policy"])  # self._audit("policy.reloaded", ...)
    assert any("cli/main.py" in p for p in written["keys"])  # record_cli_event(action="keys.rotate")
    assert any("documents/service.py" in p for p in written["document"])  # pass_on(action=...)
