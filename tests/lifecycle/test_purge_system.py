"""Issue 15: a chain used as a chain uses Kassa, then terminated and purged, leaves nothing.

Built through the admin (every model on the admin site, walked from its registry: the add form
of each the owner can add, its list, and one object's change form, or view page where the owner
may only look), the API (catalogue, stock, customers, sales, refunds, a transfer), an integrator
key, the register, an export, a customer erasure, MFA enrolment and web sign-ins, failed sign-ins
(django-axes), a backup and its restore drill; ended by the owner on the admin's termination
page (slug and a fresh code), which hands out the certificate's claim token. After the purge,
every text, JSON, bytea,
UUID and address column of every table of the database, every object of the storage, every key
and value in Redis and the work folder are searched for the tenant's id, its users' ids, its
slug and name, its customer's name and e-mail and what the admin added: only the purged tenant
row, the purge certificate and the certificate's claim (the tenant's id beside the token's
SHA-256, nothing the certificate does not hold) may name the tenant. The claim token fetches the
certificate on the platform host. The backup taken before does not decrypt.
"""

import io
import json

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import connections

from accounts.models import Role, User
from core.storage import storage_for_tenant
from exports.customers import customer_erasure_run
from exports.services import export_run
from inventory.models import Supplier
from lifecycle import tasks
from lifecycle.archive import ArchiveError
from lifecycle.models import PurgeCertificate
from lifecycle.services.backups import archive_verify, backup_create, backup_run
from lifecycle.services.drills import restore_drill_run
from tenants.context import tenant_context
from tenants.maintenance import as_maintenance
from tenants.models import Tenant
from tests.conftest import DATABASES, PASSWORD, HttpsApiClient, key_for, mfa_enrol, signed_in
from tests.exports.conftest import CUSTOMER
from tests.factories import ServiceUserFactory
from tests.lifecycle.conftest import owner_browser, tenant_rows

pytestmark = pytest.mark.django_db(transaction=True, databases=DATABASES)
TERMINATION_PAGE = "/admin/lifecycle/termination/"


@pytest.fixture
def sent(monkeypatch):
    """The termination task's messages (the test runs the task as the privileged worker would)."""
    calls = []
    monkeypatch.setattr(tasks.tenant_terminate_task, "delay", lambda *args: calls.append(args))
    return calls


# Every model on the admin site, with what the owner types into its add form (None: no add form
# for the owner) and into one change form (None: view only). `test_every_admin_model_is_walked`
# fails on a model registered later and missing here. Values are callables of the ids at hand.
ADMIN = {
    "inventory/category": ({"name": "Xyzzy Teas"}, {"name": "Xyzzy Teas and Herbs"}),
    "inventory/supplier": ({"name": "Xyzzy Wholesale", "email": "orders@xyzzy.test", "phone": ""}, {}),
    "tenants/store": (
        {"name": "Xyzzy Harbour", "code": "XYZ", "address": "1 Xyzzy Quay", "time_zone": "Europe/Helsinki"},
        {"address": "2 Xyzzy Quay"},
    ),
    "accounts/role": ({"name": "Xyzzy night shift", "permissions": ["sell"]}, {}),
    "inventory/customer": ({"name": "Xyzzy Walkin", "email": "walkin@xyzzy.test", "phone": ""}, {}),
    "inventory/product": (
        {"sku": "XYZ-1", "name": "Xyzzy Oolong", "price": "4.50", "tax_rate": "14.00"},
        {"name": "Xyzzy Oolong Reserve"},
    ),
    "accounts/user": (
        {
            "username": "xyzzy-clerk",
            "full_name": "Xyzzy Clerk",
            "email": "clerk@xyzzy.test",
            "roles": lambda ids: [ids["cashier_role"]],
            "stores": lambda ids: [ids["store"]],
            "password": "Xyzzy-password-4711",
        },
        {"full_name": "Xyzzy Clerk Senior"},
    ),
    "inventory/stockmovement": (
        {
            "reason": "xyzzy delivery",
            "store": lambda ids: ids["store"],
            "product": lambda ids: ids["product"],
            "operation": "receive",
            "amount": "5",
        },
        None,
    ),
    "inventory/stocklevel": (None, {"reorder_point": "7"}),
    "backoffice/purchaseorder": (
        {"supplier": lambda ids: ids["supplier"], "store": lambda ids: ids["store"], "notes": "xyzzy order"},
        {"notes": "xyzzy order, revised"},
    ),
    "backoffice/stocktake": (
        {"store": lambda ids: ids["store"], "note": "xyzzy count"},
        None,
    ),  # counted on /backoffice/
    "exports/export": ({"kind": "full"}, None),
    "lifecycle/backup": ({}, None),  # "back up now": a confirmation page
    "accounts/integratorkey": (None, None),
    "auditlog/signinevent": (None, None),
    "auditlog/accessevent": (None, None),
    "inventory/sale": (None, None),
    "backoffice/transfer": (None, None),
    "lifecycle/restoredrill": (None, None),
}
SCANNED_TYPES = ("text", "character varying", "character", "json", "jsonb", "bytea", "uuid", "inet")


def _value(value, ids):
    return value(ids) if callable(value) else value


def form_body(context) -> dict:
    """What a browser sends back for an admin form as it was shown: its initial values, and
    each inline formset's management data and forms."""
    body: dict = {}

    def add(form):
        for name, field in form.fields.items():
            value = form.get_initial_for_field(field, name)
            key = form.add_prefix(name)
            if value in (None, "") or value is False:
                continue
            if value is True:
                body[key] = "on"
            elif isinstance(value, (list, tuple, set)) or hasattr(value, "all"):
                items = value.all() if hasattr(value, "all") else value
                body[key] = [str(getattr(v, "pk", v)) for v in items]
            else:
                body[key] = str(getattr(value, "pk", value))

    add(context["adminform"].form)
    for inline in context.get("inline_admin_formsets", None) or []:
        formset = inline.formset
        for name, value in formset.management_form.initial.items():
            body[f"{formset.prefix}-{name}"] = str(value)
        for form in formset.initial_forms:
            add(form)
    return body


def admin_post(browser, url, data, ids):
    page = browser.get(url, secure=True)
    assert page.status_code == 200, (url, page.status_code)
    body = form_body(page.context) if "adminform" in page.context else {}  # a confirmation page: none
    body.update({k: _value(v, ids) for k, v in data.items()})
    answer = browser.post(url, body, secure=True)
    assert answer.status_code == 302, (url, answer.content.decode()[:3000])


def admin_walk(browser, ids) -> dict[str, int]:
    """Every admin model as the owner: its add form, its list, one object's change (or view) page
    and, where the owner may change it, that change form sent back with a change."""
    walked = {"add": 0, "change": 0, "view": 0}
    for model, (add, _) in ADMIN.items():
        if add is not None:
            admin_post(browser, f"/admin/{model}/add/", add, ids)
            walked["add"] += 1
    for model, (_, change) in ADMIN.items():
        listing = browser.get(f"/admin/{model}/", secure=True)
        assert listing.status_code == 200, model
        objects = list(listing.context["cl"].result_list)
        assert objects, f"{model}: the chain made none, so its change page goes unseen"
        url = f"/admin/{model}/{objects[0].pk}/change/"
        if change is None:
            assert browser.get(url, secure=True).status_code == 200, url
            walked["view"] += 1
        else:
            admin_post(browser, url, change, ids)
            walked["change"] += 1
    return walked


def test_every_admin_model_is_walked():
    from django.contrib import admin

    registered = {f"{m._meta.app_label}/{m._meta.model_name}" for m in admin.site._registry}
    assert registered == set(ADMIN), f"add these admin models to ADMIN: {registered ^ set(ADMIN)}"


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
    sent,
    django_capture_on_commit_callbacks,
):
    settings.KASSA_WORK_DIR = tmp_path / "work"
    owner = cast_a["owner"]
    # The web admin, signed in with a second factor (MFA enrolment, a session in Redis).
    browser, _ = owner_browser(owner)
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
    codes = mfa_enrol(owner)  # enrolled again: a code for the API's sign-in, one for the termination
    signin = {"tenant": tenant_a.slug, "username": owner.username, "password": PASSWORD, "otp": codes[0]}
    client = HttpsApiClient(HttpsApiClient().post("/api/v1/auth/token/", signin).json()["token"])
    export = client.post("/api/v1/exports/", {"kind": "full"})
    assert export.status_code == 202, export.content
    assert export_run(tenant=tenant_a, export_id=export.json()["id"]).status == "done"
    erased_customer = shop_a["customer"]["id"]
    erasure = client.post(f"/api/v1/customers/{erased_customer}/erase/", {"reason": "data-subject request"})
    assert erasure.status_code == 202, erasure.content
    with as_maintenance():
        assert customer_erasure_run(tenant=tenant_a, erasure_id=erasure.json()["id"]).status == "done"
    # A transfer between stores and an integrator's key (so their admin pages have objects).
    moved = client.post(
        "/api/v1/transfers/",
        {
            "from_store": str(stores_a[0].pk),
            "to_store": str(stores_a[1].pk),
            "lines": [{"product": shop_a["products"][1]["id"], "quantity": 1}],
        },
    )
    assert moved.status_code == 201, moved.content
    key_for(ServiceUserFactory(tenant=tenant_a, username="xyzzy-erp"))
    # Failed sign-ins: a wrong password for a user, an unknown name.
    for username in ("alice", "alice", "zelda-typo"):
        refused = HttpsApiClient().post(
            "/api/v1/auth/token/", {"tenant": tenant_a.slug, "username": username, "password": "wrong!"}
        )
        assert refused.status_code in (400, 401, 403), refused.content
    # A backup, a copy of it that escaped deletion, and its restore drill.
    backup = backup_create(tenant=tenant_a, enqueue=False)
    backup = backup_run(tenant=tenant_a, backup_id=backup.pk)
    old_copy = b"".join(storage_for_tenant(tenant_a).get(backup.object_key))
    with as_maintenance():
        assert restore_drill_run(tenant=tenant_a).status == "passed"
    # Every admin model: add forms, lists, change forms (or view pages).
    with tenant_context(tenant_a):
        ids = {
            "store": str(stores_a[0].pk),
            "product": shop_a["products"][1]["id"],
            "supplier": str(Supplier.objects.order_by("created_at").first().pk),
            "cashier_role": str(Role.objects.get(builtin="cashier").pk),
        }
    walked = admin_walk(browser, ids)
    assert walked == {"add": 12, "change": 9, "view": 10}, walked

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
    assert tenant_rows(tenant_a)["exports_export"] == 2  # the API's and the admin's
    bob_before = tenant_rows(tenant_b)
    objects_before = [p for p in (file_storage / "tenants" / str(tenant_a.pk)).rglob("*") if p.is_file()]

    # The owner ends the subscription on the termination page (slug and a fresh code); the
    # privileged worker terminates; the operator purges.
    with django_capture_on_commit_callbacks(execute=True):
        ended = browser.post(TERMINATION_PAGE, {"confirm": tenant_a.slug, "otp": codes[1]}, secure=True)
    assert not ended.context["form"].errors, ended.context["form"].errors
    token = ended.context["certificate_token"]
    assert token and sent == [(str(tenant_a.pk), str(owner.pk))]
    with as_maintenance():
        assert tasks.tenant_terminate_task(*sent[0]) == "terminated"
    call_command("purge_tenant", tenant_a.slug, "--now", "--yes", stdout=io.StringIO())

    # The database: nothing but the purged tenant row and the certificate names the tenant.
    left = database_findings(tenant_a, needles)
    allowed = {"tenants_tenant.id", "tenants_tenant.slug", "tenants_tenant.name"}
    allowed |= {"lifecycle_purgecertificate.subject_tenant", "lifecycle_purgecertificate.subject_slug"}
    # The certificate's claim: the tenant's id (as on the certificate) and the token's hash.
    allowed |= {"lifecycle_certificateclaim.subject_tenant"}
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
    # The claim token fetches that certificate on the platform host, the users being gone.
    fetched = HttpsApiClient().get("/api/v1/purge-certificate/", HTTP_KASSA_CERTIFICATE_TOKEN=token)
    assert fetched.status_code == 200 and fetched.json()["id"] == str(certificate.pk)
    assert fetched.json()["rows_deleted"] == certificate.rows_deleted
    # The old backup cannot be decrypted: its tenant's data key is gone.
    with tenant_context(tenant_a), pytest.raises(ArchiveError):
        archive_verify(tenant=tenant_a, backup_id=backup.pk, chunks=[old_copy])
