"""Verify the audit log: the chain, the searchable columns, the signed checkpoints and the witness file.

Incremental mode (the default) starts from the last signed checkpoint that an earlier run found good (kept
in a small state file outside the database) and checks that this anchor still matches the table; `full`
checks everything from the first entry. The first problem in seq order is reported with its kind:
modified, deleted, inserted, reordered, truncated (the witness or a checkpoint knows a longer chain),
rewritten (a consistent chain that no longer matches a signed checkpoint) and bad_signature.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from guard.audit.chain import GENESIS_HASH, entry_hash
from guard.audit.checkpoints import Checkpoint, signature_problem
from guard.audit.damage import BAD_SIGNATURE, MODIFIED, REWRITTEN, TRUNCATED, Damage, classify
from guard.audit.log import HEAD_ID
from guard.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from guard.audit.scan import ColumnCheck, column_mismatch, definition_changed, scan_chain
from guard.audit.witness import Witness
from guard.settings import Settings

log = logging.getLogger("guard.audit")


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    entries: int
    verified_through: int
    checkpoints: int
    mode: str  # "full" or "incremental"
    started_from: int  # entries up to this seq were covered by an earlier good run
    first_bad_seq: int | None = None
    problem: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class _Finding:
    position: int  # where in seq order it was noticed; the earliest one wins
    rank: int  # tie-break: damage to entries first, then checkpoint findings
    damage: Damage


def verify_log(
    *,
    session: Session,
    public_keys: dict[str, Ed25519PublicKey],
    log_id: str,
    witness: Witness,
    state_path: Path,
    full: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """`progress(done, total)` is called as entries are checked."""
    connection = session.connection()
    # Checkpoints first, then the head: every genuine checkpoint is then at or below the head we read.
    claims, witness_findings, witness_gaps = _checkpoint_claims(connection, witness, log_id)
    head = connection.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID)
    ).one_or_none()
    head_seq, head_hash = (int(head.seq), str(head.hash)) if head else (0, GENESIS_HASH)
    anchor = None if full else _usable_anchor(connection, state_path, log_id, public_keys)
    start, start_hash = (anchor.size, anchor.head_hash) if anchor else (0, GENESIS_HASH)
    mode = "incremental" if anchor else "full"
    # A witness that lost lines is damage however far an earlier run got: it is the copy outside the database.
    findings = [f for f in witness_findings if anchor is None or f.position > start] + witness_gaps
    claims = [c for c in claims if c.size > start]

    good_claims: list[Checkpoint] = []
    for claim in claims:
        problem = signature_problem(claim, public_keys)
        if problem is None:
            good_claims.append(claim)
        else:
            detail = f"the checkpoint at {claim.size} is not genuine: {problem}"
            findings.append(_Finding(claim.size, 2, Damage(claim.size, BAD_SIGNATURE, detail)))

    sqlite = connection.dialect.name == "sqlite"
    columns = None if sqlite else ColumnCheck(connection.engine, start=start, stop=head_seq).start()
    total = max(head_seq - start, 0)
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total)

    scan = scan_chain(
        connection,
        start=start,
        start_hash=start_hash,
        stop=head_seq,
        wanted=[c.size for c in good_claims],
        progress=advance,
    )
    if scan.problem_at is not None:
        damage = classify(connection, at=scan.problem_at, prev_hash=scan.end_hash, floor=start)
        findings.append(_Finding(scan.problem_at, 0, damage))
    elif scan.end_hash != head_hash:
        detail = f"the chain head records a different hash for entry {head_seq} than the entry has"
        findings.append(_Finding(head_seq, 0, Damage(head_seq, MODIFIED, detail)))
    if columns is not None:
        findings.extend(_column_findings(columns.result()))
    elif sqlite and definition_changed(connection):
        findings.extend(_definition_findings(connection, start=start, stop=head_seq))
    findings.extend(
        _checkpoint_findings(connection, good_claims, scan.hashes, start=start, head_seq=head_seq)
    )

    first = min(findings, key=lambda f: (f.position, f.rank)) if findings else None
    if first is None:
        best = max((c for c in good_claims if c.size <= head_seq), key=lambda c: c.size, default=anchor)
        if best is not None:
            _save_anchor(state_path, log_id, best)
        checked = len({c.identity for c in good_claims})
        return VerifyReport(True, head_seq, head_seq, checked, mode, start)
    damage = first.damage
    log.warning("audit log damaged", extra={"first_bad_seq": damage.first_bad_seq, "problem": damage.kind})
    return VerifyReport(
        ok=False,
        entries=head_seq,
        verified_through=max(min(damage.first_bad_seq - 1, scan.end), start),
        checkpoints=len({c.identity for c in good_claims if c.size < damage.first_bad_seq}),
        mode=mode,
        started_from=start,
        first_bad_seq=damage.first_bad_seq,
        problem=damage.kind,
        detail=damage.detail,
    )


def _column_findings(mismatch: int | None) -> list[_Finding]:
    if mismatch is None:
        return []
    detail = (
        f"entry {mismatch}'s searchable columns (actor, action, target, ts) disagree with its hashed body"
    )
    return [_Finding(mismatch, 0, Damage(mismatch, MODIFIED, detail))]


def _definition_findings(connection: Connection, *, start: int, stop: int) -> list[_Finding]:
    """SQLite's table definition was edited: name the first entry it now misreports, else the first one."""
    try:
        with connection.begin_nested():
            findings = _column_findings(column_mismatch(connection, start=start, stop=stop))
    except DBAPIError:
        findings = []
    if findings:
        return findings
    first = start + 1
    detail = (
        "the definition of the audit_entries table was changed: its actor, action, target and ts "
        "columns may no longer be derived from the hashed bodies"
    )
    return [_Finding(first, 0, Damage(first, MODIFIED, detail))]


def _checkpoint_claims(
    connection: Connection, witness: Witness, log_id: str
) -> tuple[list[Checkpoint], list[_Finding], list[_Finding]]:
    """Every checkpoint the database and the witness know, once each, in size order; findings about the
    witness's lines; and the witness's gaps (checkpoints the database holds and it lacks)."""
    stored: list[Checkpoint] = []
    table = AuditCheckpoint.__table__
    for row in connection.execute(select(table).where(table.c.log_id == log_id)):
        stored.append(Checkpoint(row.log_id, row.size, row.head_hash, row.ts, row.kid, row.signature))
    witnessed, findings = _read_witness(witness, log_id)
    unique = {c.identity: c for c in [*stored, *witnessed]}
    return (
        sorted(unique.values(), key=lambda c: c.size),
        findings,
        _witness_gaps(stored, witnessed, witness),
    )


def _witness_gaps(stored: list[Checkpoint], witnessed: list[Checkpoint], witness: Witness) -> list[_Finding]:
    """A missing or shortened witness is damage. Only the newest stored checkpoint may be absent: a
    crash between its commit and its witness line leaves it so until the next checkpoint catches up."""
    if not stored:
        return []
    newest = max(c.size for c in stored)
    have = {c.identity for c in witnessed}
    lacking = sorted(c.size for c in stored if c.identity not in have and c.size < newest)
    if not lacking:
        return []
    state = "is missing" if not witness.exists() else "was shortened or replaced"
    detail = (
        f"{witness.description} {state}: it lacks {len(lacking)} checkpoint(s) the database holds, "
        f"the first at {lacking[0]}"
    )
    return [_Finding(lacking[0], 2, Damage(lacking[0], TRUNCATED, detail))]


def _read_witness(witness: Witness, log_id: str) -> tuple[list[Checkpoint], list[_Finding]]:
    checkpoints: list[Checkpoint] = []
    findings: list[_Finding] = []
    for number, line in witness.lines():
        try:
            checkpoint = Checkpoint.from_json(orjson.loads(line))
        except (orjson.JSONDecodeError, ValueError, KeyError, TypeError, AttributeError):
            size = _claimed_size(line)
            detail = f"line {number} of {witness.description} is not a valid checkpoint"
            findings.append(_Finding(size, 2, Damage(size, BAD_SIGNATURE, detail)))
            continue
        if checkpoint.log_id == log_id:
            checkpoints.append(checkpoint)
    return checkpoints, findings


def _claimed_size(line: bytes) -> int:
    """The size a damaged witness line still names, else 1 (it may have covered any entry)."""
    try:
        size = orjson.loads(line).get("size")
    except (orjson.JSONDecodeError, AttributeError):
        return 1
    return size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else 1


def _checkpoint_findings(
    connection: Connection,
    claims: Iterable[Checkpoint],
    hashes: dict[int, str],
    *,
    start: int,
    head_seq: int,
) -> list[_Finding]:
    """Genuine checkpoints the table no longer agrees with: a rewrite or a removed tail."""
    findings: list[_Finding] = []
    last_good = start
    for claim in sorted(claims, key=lambda c: c.size):
        if claim.size > head_seq:
            end = min(head_seq, _last_seq(connection))
            detail = (
                f"a signed checkpoint covers {claim.size} entries but the log ends at {end}: "
                "its tail was removed"
            )
            findings.append(_Finding(end + 1, 1, Damage(end + 1, TRUNCATED, detail)))
            break
        stored = hashes.get(claim.size)
        if stored is None:
            continue  # the scan stopped before this checkpoint; the scan's finding comes first
        if stored != claim.head_hash:
            detail = (
                f"the chain no longer matches the checkpoint signed at {claim.size}: entries between "
                f"{last_good + 1} and {claim.size} were rewritten and re-hashed"
            )
            findings.append(_Finding(claim.size, 1, Damage(last_good + 1, REWRITTEN, detail)))
            break
        last_good = claim.size
    return findings


def _last_seq(connection: Connection) -> int:
    return int(connection.execute(select(func.max(AuditEntry.seq))).scalar() or 0)


def _usable_anchor(
    connection: Connection, state_path: Path, log_id: str, public_keys: dict[str, Ed25519PublicKey]
) -> Checkpoint | None:
    """The checkpoint an earlier run verified, if it is genuine and its entry still carries its hash."""
    anchor = _load_anchor(state_path, log_id)
    if anchor is None or signature_problem(anchor, public_keys) is not None:
        return None
    table = AuditEntry.__table__
    row = connection.execute(
        select(table.c.body, table.c.prev_hash, table.c.hash).where(table.c.seq == anchor.size)
    ).one_or_none()
    if row is None or row.hash != anchor.head_hash:
        log.warning("the last verified checkpoint no longer matches; verifying everything")
        return None
    try:
        recomputed = entry_hash(anchor.size, row.prev_hash, row.body.encode())
    except (ValueError, AttributeError):
        return None
    return anchor if recomputed == anchor.head_hash else None


def _load_anchor(state_path: Path, log_id: str) -> Checkpoint | None:
    try:
        state = orjson.loads(state_path.read_bytes())
        return Checkpoint.from_json(state[log_id]["checkpoint"])
    except (FileNotFoundError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def _save_anchor(state_path: Path, log_id: str, checkpoint: Checkpoint) -> None:
    try:
        state = orjson.loads(state_path.read_bytes())
        if not isinstance(state, dict):
            state = {}
    except (FileNotFoundError, orjson.JSONDecodeError):
        state = {}
    state[log_id] = {"checkpoint": checkpoint.as_json(), "verified_at": datetime.now(UTC).isoformat()}
    state_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = state_path.with_name(state_path.name + ".tmp")
    tmp.write_bytes(orjson.dumps(state, option=orjson.OPT_INDENT_2))
    os.replace(tmp, state_path)


def state_path(settings: Settings) -> Path:
    """Where verification remembers its last good checkpoint: outside the database, beside the witness."""
    return settings.witness_path.with_name("audit-verified.json")
