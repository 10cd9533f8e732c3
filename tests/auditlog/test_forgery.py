"""A seal chain an insider cannot forge (issue 14, item 3).

Attacked as the app role and as the owner role (who owns the tables and can switch their
triggers off): a recomputed chain, a deleted tail, an orphan sealed entry, a forged exemption
event. Each is found by `verify_audit`, naming what it found.
"""

import hashlib
import json

import pytest
from django.core.management import call_command
from django.db import ProgrammingError, connections, transaction
from django.utils import timezone

from auditlog import sealing
from auditlog.models import AccessEvent, Seal
from core.storage import tenant_prefix
from tenants.context import tenant_context
from tests.auditlog.test_integrity import _sealed_activity, _verify
from tests.conftest import transactional


def _owner_sql(tenant, *statements):
    """As the owner role, with every audit trigger off: what an insider with the owner's
    credentials can do to the tables directly."""
    with tenant_context(tenant), transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
        for table in ("auditlog_access", "auditlog_seal", "auditlog_sealedentry", "auditlog_platformevent"):
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER auditlog_append_only")
        for statement, params in statements:
            cursor.execute(statement, params)
        for table in ("auditlog_access", "auditlog_seal", "auditlog_sealedentry", "auditlog_platformevent"):
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER auditlog_append_only")


def _app_sql(tenant, statement, params):
    with tenant_context(tenant), transaction.atomic(), connections["default"].cursor() as cursor:
        cursor.execute(statement, params)


@transactional
def test_every_seal_is_keyed_and_anchored_outside_the_database(tenant_a, cast_a, api, file_storage, capsys):
    _sealed_activity(tenant_a, api, cast_a["owner"])
    with tenant_context(tenant_a):
        seal = Seal.objects.order_by("-number").first()
    assert len(seal.mac) == 64 and seal.key_id
    anchor = file_storage / tenant_prefix(tenant_a.pk) / "audit" / "anchors" / f"{seal.number:012d}.json"
    body = json.loads(anchor.read_text())
    assert body["hash"] == seal.hash and body["mac"] == seal.mac and body["number"] == seal.number
    assert oct(anchor.stat().st_mode)[-3:] == "400"  # written once
    code, output = _verify(tenant_a, capsys)
    assert code == 0, output


@transactional
def test_a_recomputed_chain_is_found_by_its_mac(tenant_a, cast_a, api, capsys, file_storage):
    _sealed_activity(tenant_a, api, cast_a["owner"])
    with tenant_context(tenant_a):
        entry = AccessEvent.objects.order_by("id").first()
        seal = Seal.objects.get(number=1)
    # The insider changes an entry, then recomputes its digest, the seal's entries hash and hash.
    _owner_sql(tenant_a, ("UPDATE auditlog_access SET status = 299 WHERE id = %s", [entry.pk]))
    with tenant_context(tenant_a), connections["owner"].cursor() as cursor:
        cursor.execute("SET TimeZone = 'UTC'")
        cursor.execute(f"SELECT {sealing.DIGEST} FROM auditlog_access e WHERE e.id = %s", [entry.pk])
        new_digest = cursor.fetchone()[0]
    _owner_sql(
        tenant_a,
        (
            "UPDATE auditlog_sealedentry SET digest = %s WHERE kind = 'access' AND entry_id = %s",
            [new_digest, entry.pk],
        ),
    )
    with tenant_context(tenant_a), connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT kind, entry_id, digest FROM auditlog_sealedentry WHERE seal_id = %s ORDER BY kind, entry_id",
            [seal.pk],
        )
        batch = sealing.entries_hash(cursor.fetchall())
    forged = sealing.seal_hash(
        previous_hash=seal.previous_hash, entries_hash=batch, number=1, tenant_id=str(tenant_a.pk)
    )
    # Later seals chain to the old hash: recompute them too (an insider would).
    _owner_sql(
        tenant_a,
        ("UPDATE auditlog_seal SET entries_hash = %s, hash = %s WHERE id = %s", [batch, forged, seal.pk]),
    )
    with tenant_context(tenant_a):
        later = list(Seal.objects.filter(number__gt=1).order_by("number"))
    previous = forged
    for other in later:
        rehash = sealing.seal_hash(
            previous_hash=previous,
            entries_hash=other.entries_hash,
            number=other.number,
            tenant_id=str(tenant_a.pk),
        )
        _owner_sql(
            tenant_a,
            (
                "UPDATE auditlog_seal SET previous_hash = %s, hash = %s WHERE id = %s",
                [previous, rehash, other.pk],
            ),
        )
        previous = rehash
    code, output = _verify(tenant_a, capsys)
    assert code == 1
    assert "seal_forged: seal 1 has no valid MAC" in output or "seal 1 differs from its anchor" in output, (
        output
    )


@transactional
def test_a_deleted_tail_is_found_by_the_anchor(tenant_a, cast_a, api, capsys):
    _sealed_activity(tenant_a, api, cast_a["owner"])
    api(cast_a["owner"]).get("/api/v1/me/")
    call_command("seal_audit", tenant_a.slug)
    with tenant_context(tenant_a):
        newest = Seal.objects.order_by("-number").first()
        assert newest.number >= 2
        entry_ids = list(
            AccessEvent.objects.filter(
                created_at__gte=Seal.objects.get(number=newest.number - 1).sealed_through
            ).values_list("id", flat=True)
        )
    _owner_sql(
        tenant_a,
        ("DELETE FROM auditlog_sealedentry WHERE seal_id = %s", [newest.pk]),
        ("DELETE FROM auditlog_seal WHERE id = %s", [newest.pk]),
        ("DELETE FROM auditlog_access WHERE id = ANY(%s)", [entry_ids]),
    )
    code, output = _verify(tenant_a, capsys)
    assert code == 1
    assert f"the anchor names seal {newest.number}; the newest seal here is {newest.number - 1}" in output


@transactional
def test_an_orphan_sealed_entry_is_refused_to_the_app_role_and_found_when_the_owner_inserts_it(
    tenant_a, cast_a, api, capsys
):
    _sealed_activity(tenant_a, api, cast_a["owner"])
    with tenant_context(tenant_a):
        forged = AccessEvent.objects.create(
            tenant_id=tenant_a.pk, request_id="00000000-0000-0000-0000-00000000000f", host="x",
            method="GET", path="/forged/", status=200, duration_ms=1, created_at=timezone.now() - timezone.timedelta(days=2),
        )  # fmt: skip
    orphan = (
        "INSERT INTO auditlog_sealedentry (tenant_id, seal_id, kind, entry_id, entry_created_at, digest) "
        "VALUES (%s, 987654321, 'access', %s, now(), %s)",
        [str(tenant_a.pk), forged.pk, "0" * 64],
    )
    with pytest.raises(ProgrammingError, match="permission denied"):  # only the maintenance role seals
        _app_sql(tenant_a, *orphan)
    _owner_sql(tenant_a, orphan)  # the owner, triggers off, can: verification still finds it
    code, output = _verify(tenant_a, capsys)
    assert code == 1
    assert f"access entry {forged.pk} is sealed by seal id 987654321, which does not exist" in output


@pytest.mark.parametrize("role", ["app", "owner"])
@transactional
def test_a_forged_exemption_event_excuses_nothing(tenant_a, cast_a, api, capsys, role):
    _sealed_activity(tenant_a, api, cast_a["owner"])
    with tenant_context(tenant_a):
        entry = AccessEvent.objects.order_by("id").first()
    event = (
        "INSERT INTO auditlog_platformevent (created_at, kind, subject_tenant, subject_slug, actor, detail) "
        "VALUES (now(), 'audit_redacted', %s, %s, 'system', %s)",
        [str(tenant_a.pk), tenant_a.slug, json.dumps({"entries": {"auditlog_access": [entry.pk]}})],
    )
    if role == "app":  # no INSERT, and the function refuses it the exemption kinds
        with pytest.raises(ProgrammingError, match="permission denied"):
            _app_sql(None, *event)
        with pytest.raises(ProgrammingError, match="only kassa_platform_exemption"):
            _app_sql(
                None,
                "SELECT kassa_platform_event(now(), 'audit_redacted', %s, %s, 'system', NULL, %s)",
                event[1],
            )
        with pytest.raises(ProgrammingError, match="permission denied"):
            _app_sql(
                None,
                "SELECT kassa_platform_exemption(now(), 'audit_redacted', %s, %s, 'system', NULL, %s)",
                event[1],
            )
        return
    _owner_sql(None, event)
    _owner_sql(tenant_a, ("UPDATE auditlog_access SET status = 298 WHERE id = %s", [entry.pk]))
    code, output = _verify(tenant_a, capsys)
    assert code == 1
    assert f"altered: access entry {entry.pk}" in output


@transactional
def test_a_forged_event_given_a_sealed_entry_of_a_real_seal_excuses_nothing(tenant_a, cast_a, api, capsys):
    """The insider also writes a sealed-entry row for the forged event into a real platform seal:
    that seal's digests no longer hash to what it sealed, so the event is still not taken."""
    _sealed_activity(tenant_a, api, cast_a["owner"])
    call_command("seal_audit")  # the platform chain has a seal to abuse
    with tenant_context(tenant_a):
        entry = AccessEvent.objects.order_by("id").first()
    with tenant_context(None):
        platform_seal = Seal.objects.order_by("-number").first()
    _owner_sql(
        None,
        (
            "INSERT INTO auditlog_platformevent (id, created_at, kind, subject_tenant, subject_slug, actor, detail) "
            "VALUES (987654, now(), 'audit_redacted', %s, %s, 'system', %s)",
            [str(tenant_a.pk), tenant_a.slug, json.dumps({"entries": {"auditlog_access": [entry.pk]}})],
        ),
    )
    with tenant_context(None), connections["owner"].cursor() as cursor:
        cursor.execute("SET TimeZone = 'UTC'")
        cursor.execute(f"SELECT {sealing.DIGEST} FROM auditlog_platformevent e WHERE e.id = 987654")
        digest = cursor.fetchone()[0]
    _owner_sql(
        None,
        (
            "INSERT INTO auditlog_sealedentry (tenant_id, seal_id, kind, entry_id, entry_created_at, digest) "
            "VALUES (NULL, %s, 'platform', 987654, now(), %s)",
            [platform_seal.pk, digest],
        ),
    )
    _owner_sql(tenant_a, ("UPDATE auditlog_access SET status = 297 WHERE id = %s", [entry.pk]))
    code, output = _verify(tenant_a, capsys)
    assert code == 1
    assert f"altered: access entry {entry.pk}" in output


def test_the_seal_key_is_not_in_any_table_and_depends_on_the_master_key(settings, tmp_path):
    from tenants import crypto

    key_id, mac = crypto.seal_mac(b"x|1|platform")
    assert crypto.seal_mac_valid(b"x|1|platform", key_id=key_id, mac=mac)
    assert not crypto.seal_mac_valid(b"x|2|platform", key_id=key_id, mac=mac)
    assert crypto.seal_mac_valid(b"x|1|platform", key_id="someone-else", mac=mac) is None
    assert mac != hashlib.sha256(b"x|1|platform").hexdigest()
