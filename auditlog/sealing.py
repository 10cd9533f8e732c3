"""Seal audit entries into a keyed, anchored hash chain, and verify it.

Each tenant has its own chain; the platform (entries with no tenant and the platform log) has
one more. A seal takes every entry not sealed yet that was created before `sealed_through`,
stores each entry's digest (SHA-256 of the row's canonical form, `to_jsonb(row)::text` with the
session in UTC), and chains: hash = SHA-256(previous hash | entries hash | number | chain).

What an insider with the database cannot forge:
- Each seal carries an HMAC-SHA256 of "hash|number|chain" under a key that lives outside the
  database (tenants.crypto.seal_mac: derived from the master key, or an HMAC key in KMS), so a
  recomputed chain does not verify.
- After each sealing, the chain's newest seal is published outside the database — an anchor
  object written once to object storage (`<prefix>audit/anchors/<number>.json`, S3 Object Lock
  where configured) — so deleting the newest seals with their entries is found.

Verification recomputes everything and reports the first problem: an entry altered (digest
differs), missing (sealed, now gone, and not removed by a sealed retention purge), inserted
(created before the last seal's `sealed_through` but never sealed), a sealed entry of no seal,
a seal altered, unkeyed, missing from the chain, or behind its anchor. Exemptions (a purge's
cutoff, an erasure's rewritten entries) count only when their platform event is itself sealed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from auditlog.models import PlatformEvent, Seal
from core.storage import PLATFORM_PREFIX, StorageError, storage_for_region, storage_for_tenant, tenant_prefix
from tenants import crypto
from tenants.context import tenant_context
from tenants.maintenance import as_maintenance

logger = logging.getLogger("auditlog")

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


def mac_message(*, seal_hash_value: str, number: int, tenant_id) -> bytes:
    return f"{seal_hash_value}|{number}|{tenant_id or 'platform'}".encode()


def entries_hash(rows) -> str:
    digest = hashlib.sha256()
    for kind, entry_id, entry_digest in rows:
        digest.update(f"{kind}:{entry_id}:{entry_digest}\n".encode())
    return digest.hexdigest()


def _utc(cursor) -> None:
    cursor.execute("SET LOCAL TimeZone = 'UTC'")  # digests do not depend on a session setting


def seal_create(*, tenant=None, delay: timedelta = SEAL_DELAY) -> list[Seal]:
    """Seal the chain's unsealed entries (of `tenant`, or the platform's); return the new seals.

    As the maintenance role: only it may write seals (migration 0013), so sealing runs in the
    privileged worker (audit_seal_task) or manage.py (seal_audit)."""
    seals = []
    with as_maintenance(), tenant_context(tenant):
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
        # A chain sealed before seals were keyed gets a keyed seal at once, entries or not: its
        # hash chains every earlier seal, so its MAC vouches for them all.
        if not rows and (last is None or last.mac):
            return None
        number = last.number + 1 if last else 1
        previous = last.hash if last else GENESIS
        batch_hash = entries_hash((kind, entry_id, digest) for kind, entry_id, _, digest in rows)
        hash_value = seal_hash(
            previous_hash=previous, entries_hash=batch_hash, number=number, tenant_id=tenant_id
        )
        key_id, mac = crypto.seal_mac(
            mac_message(seal_hash_value=hash_value, number=number, tenant_id=tenant_id)
        )
        seal = Seal.objects.create(
            tenant_id=tenant_id,
            number=number,
            sealed_through=sealed_through,
            entry_count=len(rows),
            previous_hash=previous,
            entries_hash=batch_hash,
            hash=hash_value,
            mac=mac,
            key_id=key_id,
        )
        transaction.on_commit(lambda: anchor_publish(tenant=tenant, seal=seal))
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


def _anchor_store(tenant):
    if tenant is None:
        return storage_for_region(settings.KASSA_REGION), f"{PLATFORM_PREFIX}audit/anchors/"
    return storage_for_tenant(tenant), f"{tenant_prefix(tenant.pk)}audit/anchors/"


def anchor_publish(*, tenant, seal: Seal) -> bool:
    """Write the seal's anchor once, outside the database; a failure is logged and alerted (the
    next sealing publishes its own, and verification names the gap)."""
    from auditlog.services import platform_event_record

    body = {
        "chain": str(seal.tenant_id) if seal.tenant_id else "platform",
        "number": seal.number,
        "hash": seal.hash,
        "mac": seal.mac,
        "key_id": seal.key_id,
        "sealed_through": seal.sealed_through.isoformat(),
    }
    try:
        storage, prefix = _anchor_store(tenant)
        written = storage.put_once(
            f"{prefix}{seal.number:012d}.json", json.dumps(body).encode(), tenant=tenant
        )
    except (StorageError, OSError) as error:
        from core.alerts import alert_send

        logger.exception("audit anchor of seal %s not published", seal.number)
        alert_send(
            "audit_anchor_failed",
            tenant=tenant.slug if tenant else "(platform)",
            detail=f"seal {seal.number}: {error}",
        )
        return False
    if written and tenant is not None:
        platform_event_record(
            kind=PlatformEvent.Kind.AUDIT_ANCHORED,
            tenant=tenant,
            detail={"number": seal.number, "hash": seal.hash},
        )
    return written


def anchor_latest(tenant) -> dict | None:
    """The newest anchor of the chain in object storage, or None."""
    storage, prefix = _anchor_store(tenant)
    keys = sorted(key for key in storage.list(prefix) if key.endswith(".json"))
    if not keys:
        return None
    return json.loads(b"".join(storage.get(keys[-1])))


@dataclass
class Problem:
    what: str  # altered, missing, inserted, seal_altered, seal_missing
    detail: str

    def __str__(self):
        return f"{self.what}: {self.detail}"


def _sealed_events(kind: str, tenant):
    """The chain's platform events of `kind` that are sealed in the platform chain, as sealed.

    An exemption (a purge's cutoff, an erasure's rewritten entries) that nobody sealed, that was
    changed after sealing, or whose sealed digest its seal does not vouch for (entries hash and
    MAC), is not taken: nobody with the database alone can write one to excuse their work.
    """
    with tenant_context(None), connection.cursor() as cursor:
        _utc(cursor)
        cursor.execute(
            f"SELECT e.id, s.seal_id FROM auditlog_platformevent e JOIN auditlog_sealedentry s "  # noqa: S608
            f"ON s.kind = 'platform' AND s.entry_id = e.id AND s.tenant_id IS NULL AND s.digest = {DIGEST} "
            "WHERE e.kind = %s AND e.subject_tenant = %s ORDER BY e.created_at",
            [kind, tenant.pk],
        )
        found = cursor.fetchall()
        vouched = {seal_id for seal_id in {seal_id for _, seal_id in found} if _seal_vouches(cursor, seal_id)}
        ids = [event_id for event_id, seal_id in found if seal_id in vouched]
        return list(PlatformEvent.objects.filter(pk__in=ids).order_by("created_at"))


def _seal_vouches(cursor, seal_id) -> bool:
    """Whether a platform seal's stored digests are the ones it sealed and its MAC is valid."""
    seal = Seal.unscoped.filter(pk=seal_id, tenant_id__isnull=True).first()
    if seal is None or not seal.mac:
        return False
    cursor.execute(
        "SELECT kind, entry_id, digest FROM auditlog_sealedentry WHERE seal_id = %s AND tenant_id IS NULL",
        [seal_id],
    )
    rows = sorted(cursor.fetchall())
    if len(rows) != seal.entry_count or entries_hash(rows) != seal.entries_hash:
        return False
    expected = seal_hash(
        previous_hash=seal.previous_hash, entries_hash=seal.entries_hash, number=seal.number, tenant_id=None
    )
    message = mac_message(seal_hash_value=seal.hash, number=seal.number, tenant_id=None)
    return seal.hash == expected and bool(crypto.seal_mac_valid(message, key_id=seal.key_id, mac=seal.mac))


def _purged_before(tenant):
    if tenant is None:
        return None
    events = _sealed_events(PlatformEvent.Kind.AUDIT_PURGED, tenant)
    if not events:
        return None
    from django.utils.dateparse import parse_datetime

    return parse_datetime(events[-1].detail["cutoff"])


LEGACY = "legacy"


def _redacted_entries(tenant) -> dict[tuple[str, int], str]:
    """(table, entry id) -> the digest a sealed erasure event recorded for the rewritten entry.

    An entry counts as rightly rewritten only while it still has exactly that digest: a later
    change is tampering again. Events from before digests were recorded name ids only
    (`LEGACY`: accepted as they were then).
    """
    if tenant is None:
        return {}
    found: dict[tuple[str, int], str] = {}
    for event in _sealed_events(PlatformEvent.Kind.AUDIT_REDACTED, tenant):
        detail = event.detail or {}
        digests = detail.get("digests")
        for table, ids in detail.get("entries", {}).items():
            for entry_id in ids:
                recorded = (
                    (digests or {}).get(table, {}).get(str(entry_id)) if digests is not None else LEGACY
                )
                if recorded:
                    found[(table, int(entry_id))] = recorded
    return found


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
        keyed_after: int | None = None  # the newest keyed seal: every seal before it is vouched for
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
            if seal.mac:
                valid = crypto.seal_mac_valid(
                    mac_message(seal_hash_value=seal.hash, number=seal.number, tenant_id=tenant_id),
                    key_id=seal.key_id,
                    mac=seal.mac,
                )
                if valid is None:
                    problems.append(
                        Problem("seal_unverifiable", f"seal {seal.number}: key {seal.key_id} is not here")
                    )
                elif not valid:
                    problems.append(
                        Problem("seal_forged", f"seal {seal.number} has no valid MAC (a recomputed chain)")
                    )
                keyed_after = seal.number
            previous = seal.hash
        if seals and keyed_after != seals[-1].number:
            unkeyed = [
                s.number for s in seals if not s.mac and (keyed_after is None or s.number > keyed_after)
            ]
            if unkeyed:
                problems.append(
                    Problem("seal_forged", f"seal {unkeyed[0]} has no MAC and no keyed seal follows")
                )
        problems.extend(_anchor_problems(tenant, seals))
        cursor.execute(
            "SELECT s.kind, s.entry_id, s.seal_id FROM auditlog_sealedentry s LEFT JOIN auditlog_seal z "
            "ON z.id = s.seal_id AND z.tenant_id IS NOT DISTINCT FROM s.tenant_id "
            "WHERE s.tenant_id IS NOT DISTINCT FROM %s AND z.id IS NULL ORDER BY s.seal_id, s.entry_id LIMIT 100",
            [tenant_id],
        )
        for kind, entry_id, seal_id in cursor.fetchall():
            problems.append(
                Problem(
                    "seal_missing",
                    f"{kind} entry {entry_id} is sealed by seal id {seal_id}, which does not exist",
                )
            )
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
                    recorded = redacted.get((table, entry_id))
                    if recorded is not None and recorded in (current, LEGACY):
                        stats["redacted"] += 1  # rewritten by a sealed erasure, exactly as it left it
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
    order = {
        "seal_forged": 0,
        "seal_missing": 0,
        "seal_altered": 1,
        "seal_unverifiable": 1,
        "missing": 2,
        "altered": 2,
        "inserted": 3,
    }
    problems.sort(key=lambda p: order[p.what])
    return problems, stats


def _anchor_problems(tenant, seals: list[Seal]) -> list[Problem]:
    """The chain against its newest anchor outside the database."""
    try:
        anchor = anchor_latest(tenant)
    except (StorageError, OSError, ValueError) as error:
        return [Problem("seal_unverifiable", f"the anchors cannot be read: {error}")]
    if anchor is None:
        return []
    by_number = {seal.number: seal for seal in seals}
    sealed = by_number.get(anchor["number"])
    if sealed is None:
        newest = seals[-1].number if seals else 0
        return [
            Problem(
                "seal_missing", f"the anchor names seal {anchor['number']}; the newest seal here is {newest}"
            )
        ]
    if sealed.hash != anchor["hash"] or sealed.mac != anchor["mac"]:
        return [Problem("seal_altered", f"seal {anchor['number']} differs from its anchor")]
    return []
