"""Seal audit entries into a hash chain, and verify it.

Each tenant has its own chain; the platform (entries with no tenant and the platform log) has
one more. A seal takes every entry not sealed yet that was created before `sealed_through`,
stores each entry's digest (SHA-256 of the row's canonical form, `to_jsonb(row)::text` with the
session in UTC), and chains: hash = SHA-256(previous hash | entries hash | number | chain).

Verification recomputes everything and reports the first problem: an entry altered (digest
differs), missing (sealed, now gone, and not removed by a logged retention purge), or inserted
(created before the last seal's `sealed_through` but never sealed), or a seal altered or
missing from the chain.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from auditlog.models import PlatformEvent, Seal
from tenants.context import tenant_context

GENESIS = "0" * 64
BATCH = 50_000
# Entries younger than this stay for the next seal: a request's transaction may still commit them.
SEAL_DELAY = timedelta(seconds=60)
# How far back a seal looks for entries committed late (after a seal covering their time).
LATE_WINDOW = timedelta(hours=1)

TENANT_KINDS = {
    "access": "auditlog_access",
    "apicall": "auditlog_apicall",
    "signin": "auditlog_signinevent",
    "change": "auditlog_change",
}
PLATFORM_KINDS = {
    "access": "auditlog_access",
    "apicall": "auditlog_apicall",
    "platform": "auditlog_platformevent",
}


def _kinds(tenant) -> dict[str, str]:
    return TENANT_KINDS if tenant is not None else PLATFORM_KINDS


def _tenant_filter(kind: str) -> str:
    return "" if kind == "platform" else "AND e.tenant_id IS NOT DISTINCT FROM %(tenant)s"


DIGEST = "encode(sha256(convert_to(to_jsonb(e)::text, 'UTF8')), 'hex')"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def seal_hash(*, previous_hash: str, entries_hash: str, number: int, tenant_id) -> str:
    return _sha(f"{previous_hash}|{entries_hash}|{number}|{tenant_id or 'platform'}")


def entries_hash(rows) -> str:
    digest = hashlib.sha256()
    for kind, entry_id, entry_digest in rows:
        digest.update(f"{kind}:{entry_id}:{entry_digest}\n".encode())
    return digest.hexdigest()


def _utc(cursor) -> None:
    cursor.execute("SET LOCAL TimeZone = 'UTC'")  # digests do not depend on a session setting


def seal_create(*, tenant=None, delay: timedelta = SEAL_DELAY) -> list[Seal]:
    """Seal the chain's unsealed entries (of `tenant`, or the platform's); return the new seals."""
    seals = []
    with tenant_context(tenant):
        while True:
            seal = _seal_batch(tenant, timezone.now() - delay)
            if seal is None:
                return seals
            seals.append(seal)


def _seal_batch(tenant, sealed_through) -> Seal | None:
    tenant_id = str(tenant.pk) if tenant is not None else None
    with transaction.atomic(), connection.cursor() as cursor:
        _utc(cursor)
        # One sealer per chain at a time (the beat task and a command may overlap).
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"auditlog.seal:{tenant_id}"])
        last = Seal.objects.order_by("-number").first()
        since = (last.sealed_through if last else sealed_through - timedelta(days=36500)) - LATE_WINDOW
        parts = []
        for kind, table in _kinds(tenant).items():
            parts.append(
                f"SELECT '{kind}' AS kind, e.id, e.created_at, {DIGEST} AS digest FROM {table} e "  # noqa: S608
                f"WHERE e.created_at >= %(since)s AND e.created_at < %(through)s {_tenant_filter(kind)} "
                f"AND NOT EXISTS (SELECT 1 FROM auditlog_sealedentry s WHERE s.kind = '{kind}' AND s.entry_id = e.id)"
            )
        cursor.execute(
            " UNION ALL ".join(parts) + " ORDER BY kind, id LIMIT %(batch)s",
            {"since": since, "through": sealed_through, "tenant": tenant_id, "batch": BATCH},
        )
        rows = cursor.fetchall()
        if not rows:
            return None
        number = last.number + 1 if last else 1
        previous = last.hash if last else GENESIS
        batch_hash = entries_hash((kind, entry_id, digest) for kind, entry_id, _, digest in rows)
        seal = Seal.objects.create(
            tenant_id=tenant_id,
            number=number,
            sealed_through=sealed_through,
            entry_count=len(rows),
            previous_hash=previous,
            entries_hash=batch_hash,
            hash=seal_hash(
                previous_hash=previous, entries_hash=batch_hash, number=number, tenant_id=tenant_id
            ),
        )
        cursor.execute(
            "INSERT INTO auditlog_sealedentry (tenant_id, seal_id, kind, entry_id, entry_created_at, digest) "
            "SELECT %s, %s, unnest(%s::text[]), unnest(%s::bigint[]), unnest(%s::timestamptz[]), unnest(%s::text[])",
            [
                tenant_id,
                seal.pk,
                [r[0] for r in rows],
                [r[1] for r in rows],
                [r[2] for r in rows],
                [r[3] for r in rows],
            ],
        )
    return seal


@dataclass
class Problem:
    what: str  # altered, missing, inserted, seal_altered, seal_missing
    detail: str

    def __str__(self):
        return f"{self.what}: {self.detail}"


def _purged_before(tenant):
    if tenant is None:
        return None
    event = (
        PlatformEvent.objects.filter(kind=PlatformEvent.Kind.AUDIT_PURGED, subject_tenant=tenant.pk)
        .order_by("-created_at")
        .first()
    )
    if event is None:
        return None
    from django.utils.dateparse import parse_datetime

    return parse_datetime(event.detail["cutoff"])


def _redacted_entries(tenant) -> set[tuple[str, int]]:
    """(table, entry id) of every entry a logged erasure rewrote (platform log, itself sealed)."""
    if tenant is None:
        return set()
    events = PlatformEvent.objects.filter(kind=PlatformEvent.Kind.AUDIT_REDACTED, subject_tenant=tenant.pk)
    return {
        (table, int(entry_id))
        for event in events
        for table, ids in (event.detail or {}).get("entries", {}).items()
        for entry_id in ids
    }


def verify(*, tenant=None) -> tuple[list[Problem], dict]:
    """Recompute the chain of `tenant` (or the platform's); problems in order, first one first."""
    tenant_id = str(tenant.pk) if tenant is not None else None
    problems: list[Problem] = []
    stats = {"seals": 0, "entries": 0, "unsealed": 0, "redacted": 0}
    with tenant_context(tenant), transaction.atomic(), connection.cursor() as cursor:
        _utc(cursor)
        purged_before = _purged_before(tenant)
        redacted = _redacted_entries(tenant)
        seals = list(Seal.objects.order_by("number"))
        stats["seals"] = len(seals)
        previous = GENESIS
        for expected, seal in enumerate(seals, start=1):
            if seal.number != expected:
                problems.append(
                    Problem("seal_missing", f"seal {expected} is missing before seal {seal.number}")
                )
            if seal.previous_hash != previous or seal.hash != seal_hash(
                previous_hash=seal.previous_hash,
                entries_hash=seal.entries_hash,
                number=seal.number,
                tenant_id=tenant_id,
            ):
                problems.append(
                    Problem("seal_altered", f"seal {seal.number} does not chain to its predecessor")
                )
            previous = seal.hash
        # Every sealed digest against the entry as it is now (LEFT JOIN: gone entries show NULL).
        by_seal: dict[int, list] = {}
        seal_numbers = {seal.pk: seal.number for seal in seals}
        for kind, table in _kinds(tenant).items():
            cursor.execute(
                f"SELECT s.seal_id, s.kind, s.entry_id, s.digest, s.entry_created_at, "  # noqa: S608
                f"CASE WHEN e.id IS NULL THEN NULL ELSE {DIGEST} END "
                f"FROM auditlog_sealedentry s LEFT JOIN {table} e ON e.id = s.entry_id "
                "WHERE s.kind = %(kind)s AND s.tenant_id IS NOT DISTINCT FROM %(tenant)s",
                {"kind": kind, "tenant": tenant_id},
            )
            for seal_id, row_kind, entry_id, sealed_digest, created_at, current in cursor.fetchall():
                by_seal.setdefault(seal_id, []).append((row_kind, entry_id, sealed_digest))
                stats["entries"] += 1
                where = f"{row_kind} entry {entry_id} (seal {seal_numbers.get(seal_id, '?')})"
                if current is None:
                    if purged_before is None or created_at >= purged_before:
                        problems.append(Problem("missing", where))
                elif current != sealed_digest:
                    if (table, entry_id) in redacted:
                        stats["redacted"] += 1  # rewritten by a logged erasure, not tampered with
                    else:
                        problems.append(Problem("altered", where))
        for seal in seals:
            rows = sorted(by_seal.get(seal.pk, []))
            if len(rows) != seal.entry_count or entries_hash(rows) != seal.entries_hash:
                problems.append(
                    Problem("seal_altered", f"the sealed digests of seal {seal.number} were changed")
                )
        if seals:
            through = seals[-1].sealed_through
            for kind, table in _kinds(tenant).items():
                cursor.execute(
                    f"SELECT e.id, e.created_at < %(through)s FROM {table} e "  # noqa: S608
                    f"WHERE NOT EXISTS (SELECT 1 FROM auditlog_sealedentry s WHERE s.kind = %(kind)s "
                    f"AND s.entry_id = e.id) {_tenant_filter(kind)} ORDER BY e.id",
                    {"through": through, "kind": kind, "tenant": tenant_id},
                )
                for entry_id, before_last_seal in cursor.fetchall():
                    if before_last_seal:
                        problems.append(Problem("inserted", f"{kind} entry {entry_id} is not in any seal"))
                    else:
                        stats["unsealed"] += 1
        else:
            stats["unsealed"] = None
    order = {"seal_missing": 0, "seal_altered": 1, "missing": 2, "altered": 2, "inserted": 3}
    problems.sort(key=lambda p: order[p.what])
    return problems, stats
