"""The families of actions Guard itself writes to the audit log: the part of an action before its first
dot (`access.view`, `vault.tamper`, `keys.rotate`).

Events from other systems (POST /events) may not use them, so nothing another system sends can pass for
one of Guard's own entries. tests/guard/test_action_families.py reads Guard's source for every action it
records and checks this registry names exactly those families: a new family cannot be forgotten here.
"""

from __future__ import annotations

GUARD_ACTION_FAMILIES = frozenset(
    {
        "access",  # access requests: view, download, export, approve, reject, deny, cancel, expire, void
        "agreement",  # confidentiality agreement accepted
        "alert",  # alerts acknowledged and resolved
        "apikey",  # API keys created
        "audit",  # audit log exports
        "auth",  # logins, refreshes, logouts and their failures
        "content",  # content delivered through a grant
        "customer",  # customers created, updated, transferred
        "detection",  # alerts raised, responses, watches, look-backs, failing rules
        "document",  # documents created, custody (and a decoy's cover custody) transferred
        "hr",  # HR events, imports, departures, handover acknowledgements
        "keys",  # key rotation from the command line
        "policy",  # policy and rule files reloaded (or refused)
        "user",  # people created and updated, holds placed and lifted
        "vault",  # vault scrubs, tampering and damage
    }
)

# Names a reader would take for Guard's own although Guard writes no entries under them (yet): Guard
# itself, its plural and collection names (`users.delete` reads like `user.update`), and its subsystems.
ALSO_RESERVED = frozenset({"guard", "system", "rules", "notification", "events", "ingest", "broker"})

RESERVED_ACTION_FAMILIES = frozenset(
    GUARD_ACTION_FAMILIES
    | ALSO_RESERVED
    | {f"{family}s" for family in GUARD_ACTION_FAMILIES if not family.endswith("s")}
    | {"policies", "customers", "documents"}
)

# The `source` of an external event may not claim to be Guard.
RESERVED_SOURCES = frozenset({"guard"})


def family_of(action: str) -> str:
    return action.split(".", 1)[0]
