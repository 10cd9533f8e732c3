"""Erasure is bounded to the customer (issue 14, item 1), tried as an insider would.

A cashier once wiped the chain's log by creating a customer whose notes were the username of a
failed sign-in and erasing them. Now erasing needs `erase_customers` (the owner; MFA; a reason),
rewrites only the customer's own fields in entries provably about them, and leaves every other
entry byte for byte as it was; verification accepts the rewrites and nothing done to them later.
"""

import pytest
from django.core.management import call_command
from django.db import connections, transaction

from accounts.models import Role
from accounts.services import user_create
from auditlog.models import PlatformEvent, SignInEvent
from auditlog.sealing import DIGEST
from inventory.models import Customer
from tenants.context import tenant_context
from tests.auditlog.test_integrity import _verify
from tests.conftest import PASSWORD, HttpsApiClient, mfa_token_for, token_for, transactional

REASON = {"reason": "data-subject request 2026-118"}
TABLES = ("auditlog_access", "auditlog_apicall", "auditlog_signinevent", "auditlog_change")


def erase(owner, tenant, customer_id):
    """Ask for the erasure (202) and run the job as the privileged worker would; its answer."""
    from exports.customers import customer_erasure_run

    answer = owner.post(f"/api/v1/customers/{customer_id}/erase/", REASON)
    assert answer.status_code == 202, answer.content
    assert customer_erasure_run(tenant=tenant, erasure_id=answer.json()["id"]).status == "done"
    return answer


def digests(tenant) -> dict[tuple[str, int], str]:
    """Every audit entry of the tenant (and the platform's) -> its digest, as sealing computes it."""
    found = {}
    for chain in (tenant, None):
        with tenant_context(chain), connections["owner"].cursor() as cursor:
            cursor.execute("SET TimeZone = 'UTC'")
            for table in TABLES:
                if chain is None and table in ("auditlog_signinevent", "auditlog_change"):
                    continue
                cursor.execute(f"SELECT e.id, {DIGEST} FROM {table} e")
                found.update({(table, entry_id): digest for entry_id, digest in cursor.fetchall()})
    return found


@pytest.fixture
def lived_in(cast_a, tenant_a):
    """A chain with a failed sign-in of 'cody' and customers whose notes are what fills its log: a
    username, an IP, an outcome, the tenant's slug, the owner's id (in every entry of theirs)."""
    owner = HttpsApiClient(token_for(cast_a["owner"]))
    failed = HttpsApiClient(host="alice-chain.localhost").post(
        "/api/v1/auth/token/", {"username": "cody", "password": "not-cody's-password"}
    )
    assert failed.status_code == 401
    customers = {}
    for notes in ("cody", "127.0.0.1", "failure", "alice-chain", str(cast_a["owner"].pk)):
        answer = owner.post(
            "/api/v1/customers/",
            {"name": f"Customer {notes}", "email": f"{len(customers)}@x.example", "notes": notes},
        )
        assert answer.status_code == 201, answer.content
        customers[notes] = answer.json()["id"]
    owner.get(f"/api/v1/customers/?email={len(customers) - 1}@x.example")
    call_command("seal_audit", "alice-chain")
    call_command("seal_audit")
    return customers


@transactional
def test_only_the_owner_with_mfa_and_a_reason_erases(cast_a, tenant_a, lived_in):
    customer_id = lived_in["cody"]
    path = f"/api/v1/customers/{customer_id}/erase/"
    for role in ("store_manager", "cashier", "integrator", "auditor"):
        answer = HttpsApiClient(token_for(cast_a[role])).post(path, REASON)
        assert answer.status_code == 403, role
    # A role made to hold everything else still cannot.
    with tenant_context(tenant_a):
        everything_but = Role.objects.create(
            name="All but erase",
            permissions=[p for p in Role.objects.get(builtin="owner").permissions if p != "erase_customers"],
        )
        helper = user_create(
            username="helper", password=PASSWORD, roles=[everything_but], must_change_password=False
        )
    assert HttpsApiClient(token_for(helper)).post(path, REASON).status_code == 403
    no_mfa = HttpsApiClient(token_for(cast_a["owner"])).post(path, REASON)
    assert no_mfa.status_code == 403 and no_mfa.json()["code"] == "second_factor_required"
    owner = HttpsApiClient(mfa_token_for(cast_a["owner"]))
    for bad in ({}, {"reason": ""}, {"reason": "x" * 501}):
        answer = owner.post(path, bad)
        assert answer.status_code == 400 and "reason" in answer.json()["fields"]
    with tenant_context(tenant_a):
        assert Customer.objects.get(pk=customer_id).erased_at is None
    erase(owner, tenant_a, customer_id)
    with tenant_context(tenant_a):
        assert Customer.objects.get(pk=customer_id).erased_at is not None


@pytest.mark.parametrize("notes", ["cody", "127.0.0.1", "failure", "alice-chain", "the owner's id"])
@transactional
def test_an_erasure_leaves_every_other_entry_byte_for_byte_and_verification_passing(
    cast_a, tenant_a, lived_in, capsys, notes
):
    customer_id = lived_in[str(cast_a["owner"].pk) if notes == "the owner's id" else notes]
    owner = HttpsApiClient(mfa_token_for(cast_a["owner"]))
    call_command("seal_audit", "alice-chain")
    before = digests(tenant_a)
    erase(owner, tenant_a, customer_id)
    after = digests(tenant_a)
    with tenant_context(None):
        event = PlatformEvent.objects.filter(kind="audit_redacted", subject_tenant=tenant_a.pk).latest(
            "created_at"
        )
    rewritten = {(table, int(i)) for table, ids in event.detail["entries"].items() for i in ids}
    assert rewritten, "the customer's own change entries were rewritten"
    changed = {entry for entry, digest in before.items() if after.get(entry) != digest}
    # Of what existed before, exactly the rewritten entries changed (the erasure's own writes,
    # such as the anonymised row's change entry, are new and may be rewritten in the same pass).
    assert changed == rewritten & set(before), changed ^ (rewritten & set(before))
    with tenant_context(tenant_a):
        failed = SignInEvent.objects.filter(username="cody", outcome="failure")
        assert failed.exists()  # the failed sign-in of the username in the notes is still there
    assert not {table for table, _ in rewritten} & {"auditlog_signinevent"}  # sign-ins are never rewritten
    code, output = _verify(tenant_a, capsys)
    assert code == 0, output


@transactional
def test_a_later_edit_of_an_erased_entry_is_tampering_again(cast_a, tenant_a, lived_in, capsys):
    owner = HttpsApiClient(mfa_token_for(cast_a["owner"]))
    customer_id = lived_in["cody"]
    erase(owner, tenant_a, customer_id)
    assert _verify(tenant_a, capsys)[0] == 0
    with tenant_context(None):
        event = PlatformEvent.objects.filter(kind="audit_redacted", subject_tenant=tenant_a.pk).latest(
            "created_at"
        )
    table, ids = next((t, ids) for t, ids in event.detail["entries"].items() if ids)
    entry_id = ids[0]
    with tenant_context(tenant_a), transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER auditlog_append_only")
        column = "object_id" if table == "auditlog_change" else "path"
        cursor.execute(f"UPDATE {table} SET {column} = {column} || 'x' WHERE id = %s", [entry_id])
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER auditlog_append_only")
    code, output = _verify(tenant_a, capsys)
    assert code == 1 and f" entry {entry_id} " in output, output
