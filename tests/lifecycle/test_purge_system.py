"""Issue 15: a chain used as a chain uses Kassa, then terminated and purged, leaves nothing.

Built through the admin (an add form of each model it can add), the API (catalogue, stock,
customers, sales, refunds), the register, an export, a customer erasure, MFA enrolment and web
sign-ins, failed sign-ins (django-axes), a backup. After the purge, every text, JSON, bytea,
UUID and address column of every table of the database, every object of the storage, every key
and value in Redis and the work folder are searched for the tenant's id, its users' ids, its
slug and name, its customer's name and e-mail and what the admin added: only the purged tenant
row and the purge certificate may name the tenant. The backup taken before does not decrypt.
"""

import io
import json

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import connections

from accounts.models import User
from core.storage import storage_for_tenant
from exports.customers import customer_erasure_run
from exports.services import export_run
from lifecycle.archive import ArchiveError
from lifecycle.models import PurgeCertificate
from lifecycle.services.backups import archive_verify, backup_create, backup_run
from tenants.context import tenant_context
from tenants.maintenance import as_maintenance
from tenants.models import Tenant
from tests.conftest import DATABASES, HttpsApiClient, mfa_signed_in, mfa_token_for, signed_in
from tests.exports.conftest import CUSTOMER
from tests.lifecycle.conftest import tenant_rows

pytestmark = pytest.mark.django_db(transaction=True, databases=DATABASES)

ADMIN_ADDS = [  # each model whose admin add form an owner can use
    ("inventory/category", {"name": "Xyzzy Teas"}),
    ("inventory/supplier", {"name": "Xyzzy Wholesale", "email": "orders@xyzzy.test", "phone": ""}),
    (
        "tenants/store",
        {"name": "Xyzzy Harbour", "code": "XYZ", "address": "1 Xyzzy Quay", "time_zone": "Europe/Helsinki"},
    ),
    ("accounts/role", {"name": "Xyzzy night shift", "permissions": ["sell"]}),
    ("inventory/customer", {"name": "Xyzzy Walkin", "email": "walkin@xyzzy.test", "phone": ""}),
    ("inventory/product", {"sku": "XYZ-1", "name": "Xyzzy Oolong", "price": "4.50", "tax_rate": "14.00"}),
]
SCANNED_TYPES = ("text", "character varying", "character", "json", "jsonb", "bytea", "uuid", "inet")


def admin_add(browser, model, data):
    url = f"/admin/{model}/add/"
    page = browser.get(url, secure=True)
    assert page.status_code == 200, (url, page.status_code)
    form = page.context_data["adminform"].form
    body = {}
    for name, field in form.fields.items():
        value = form.get_initial_for_field(field, name)
        if value not in (None, ""):
            body[name] = [str(v) for v in value] if isinstance(value, (list, tuple)) else str(value)
    body.update({k: v for k, v in data.items() if k in form.fields})
    answer = browser.post(url, body, secure=True)
    assert answer.status_code == 302, (url, answer.content.decode()[:2000])


def columns_to_scan(cursor):
    cursor.execute(
        """
        SELECT c.relname, a.attname, format_type(a.atttypid, NULL)
        FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
        ORDER BY 1, 2
        """
    )
    return [(t, c, kind) for t, c, kind in cursor.fetchall() if kind in SCANNED_TYPES]


def database_findings(tenant, needles: list[str]) -> dict[str, int]:
    """table.column -> rows holding any needle (as text, or its bytes in hex for bytea)."""
    text_patterns = [f"%{n.lower()}%" for n in needles]
    hex_patterns = [f"%{n.encode().hex()}%" for n in needles]
    found = {}
    with tenant_context(tenant), connections["owner"].cursor() as cursor:
        for table, column, kind in columns_to_scan(cursor):
            patterns = hex_patterns if kind == "bytea" else text_patterns
            cursor.execute(
                f'SELECT count(*) FROM "{table}" WHERE lower("{column}"::text) LIKE ANY(%s)',
                [patterns],
            )
            count = cursor.fetchone()[0]
            if count:
                found[f"{table}.{column}"] = count
    return found


def test_a_chain_used_for_real_leaves_nothing_after_its_purge(
    cast_a,
    stores_a,
    tenant_a,
    tenant_b,
    shop_a,
    file_storage,
    settings,
    tmp_path,
):
    settings.KASSA_WORK_DIR = tmp_path / "work"
    owner = cast_a["owner"]
    # The web admin, signed in with a second factor (MFA enrolment, a session in Redis).
    browser = mfa_signed_in(owner)
    for model, data in ADMIN_ADDS:
        admin_add(browser, model, data)
    for model in ("inventory/product", "inventory/customer", "accounts/user", "auditlog/accessevent"):
        assert browser.get(f"/admin/{model}/", secure=True).status_code == 200
    # The register: a cashier's sale in the browser.
    cashier = signed_in(cast_a["cashier"])
    sold = cashier.post(
        f"/pos/{stores_a[0].pk}/sales/",
        json.dumps(
            {
                "lines": [{"product": shop_a["products"][1]["id"], "quantity": 1}],
                "payments": [{"method": "cash", "amount": "20"}],
            }
        ),
        content_type="application/json",
        secure=True,
    )
    assert sold.status_code == 201, sold.content
    # An export (run as the worker runs it) and an erasure (as the privileged worker runs it).
    client = HttpsApiClient(mfa_token_for(owner))
    export = client.post("/api/v1/exports/", {"kind": "full"})
    assert export.status_code == 202, export.content
    assert export_run(tenant=tenant_a, export_id=export.json()["id"]).status == "done"
    erased_customer = shop_a["customer"]["id"]
    erasure = client.post(f"/api/v1/customers/{erased_customer}/erase/", {"reason": "data-subject request"})
    assert erasure.status_code == 202, erasure.content
    with as_maintenance():
        assert customer_erasure_run(tenant=tenant_a, erasure_id=erasure.json()["id"]).status == "done"
    # Failed sign-ins: a wrong password for a user, an unknown name.
    for username in ("alice", "alice", "zelda-typo"):
        refused = HttpsApiClient().post(
            "/api/v1/auth/token/", {"tenant": tenant_a.slug, "username": username, "password": "wrong!"}
        )
        assert refused.status_code in (400, 401, 403), refused.content
    # A backup, and a copy of it that escaped deletion.
    backup = backup_create(tenant=tenant_a, enqueue=False)
    backup = backup_run(tenant=tenant_a, backup_id=backup.pk)
    old_copy = b"".join(storage_for_tenant(tenant_a).get(backup.object_key))

    with tenant_context(tenant_a):
        user_ids = [str(pk) for pk in User.objects.values_list("pk", flat=True)]
    needles = [
        str(tenant_a.pk),
        *user_ids,
        tenant_a.slug,
        tenant_a.name,
        "alice",
        CUSTOMER["name"],
        CUSTOMER["email"],
        "zelda-typo",
        "xyzzy",
        "Main street",
    ]
    before = database_findings(tenant_a, needles)
    # The scan finds what it looks for (names in clear, ids; encrypted columns hold ciphertext).
    assert {"inventory_category.name", "tenants_store.address", "accounts_user.username"} <= set(before)
    assert "axes_accessattempt.username" in before and "accounts_usersession.user_id" in before
    assert tenant_rows(tenant_a)["exports_export"] == 1
    bob_before = tenant_rows(tenant_b)
    objects_before = [p for p in (file_storage / "tenants" / str(tenant_a.pk)).rglob("*") if p.is_file()]

    call_command("terminate_tenant", tenant_a.slug, stdout=io.StringIO())
    call_command("purge_tenant", tenant_a.slug, "--now", "--yes", stdout=io.StringIO())

    # The database: nothing but the purged tenant row and the certificate names the tenant.
    left = database_findings(tenant_a, needles)
    allowed = {"tenants_tenant.id", "tenants_tenant.slug", "tenants_tenant.name"}
    allowed |= {"lifecycle_purgecertificate.subject_tenant", "lifecycle_purgecertificate.subject_slug"}
    assert set(left) <= allowed, left
    assert all(count == 1 for count in left.values()), left
    assert Tenant.objects.get(pk=tenant_a.pk).status == Tenant.Status.PURGED
    assert tenant_rows(tenant_a) == {}
    assert tenant_rows(tenant_b) == bob_before
    # Storage: no object of the tenant and no byte of its names in any object left.
    stored = [p for p in file_storage.rglob("*") if p.is_file()]
    assert stored and all(str(tenant_a.pk) not in str(p) for p in stored)
    for path in stored:
        data = path.read_bytes().lower()
        assert not any(n.lower().encode() in data for n in needles), path
    # Redis: no key or value naming the tenant, its users or its customer.
    redis = cache._cache.get_client(write=True)
    prefix = django_settings.CACHES["default"]["KEY_PREFIX"]
    for key in redis.scan_iter(f"{prefix}:*", count=1000):
        value = (redis.get(key) or b"") if redis.type(key) == b"string" else b""
        blob = (key + b" " + value).lower()
        assert not any(n.lower().encode() in blob for n in needles), key
    # The work folder: nothing of the tenant.
    assert not (settings.KASSA_WORK_DIR / str(tenant_a.pk)).exists()
    # The certificate: counts and ids only.
    with as_maintenance():
        certificate = PurgeCertificate.objects.get(subject_tenant=tenant_a.pk)
    text = json.dumps(
        {
            "rows": certificate.rows_deleted,
            "objects": certificate.objects_deleted,
            "keys": certificate.key_ids,
            "cleared": certificate.cleared,
            "by": certificate.requested_by,
        }
    ).lower()
    assert not any(n.lower() in text for n in needles if n not in (str(tenant_a.pk), tenant_a.slug))
    assert certificate.objects_deleted == {"local": len(objects_before)} and objects_before
    assert certificate.cleared["sessions"] >= 1
    # The old backup cannot be decrypted: its tenant's data key is gone.
    with tenant_context(tenant_a), pytest.raises(ArchiveError):
        archive_verify(tenant=tenant_a, backup_id=backup.pk, chunks=[old_copy])
