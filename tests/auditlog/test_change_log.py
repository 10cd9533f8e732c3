from django.conf import settings
from django.db import connection

from auditlog.models import ChangeEvent
from auditlog.tracking import tables_without_change_trigger, tracked_models
from tenants.context import tenant_context
from tenants.models import Store, TenantOwnedModel


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def test_every_tenant_owned_model_is_tracked():
    concrete = {m for m in _all_subclasses(TenantOwnedModel) if not m._meta.abstract and not m._meta.proxy}
    untracked = {m._meta.label for m in concrete} - {m._meta.label for m in tracked_models()}
    untracked -= {"auditlog.SignInEvent", "auditlog.ChangeEvent"}  # the audit log itself
    # The webhook outbox and its delivery log (auditlog.tracking.UNTRACKED_TABLES); endpoints are tracked.
    untracked -= {"integrations.Event", "integrations.Delivery", "integrations.DeliveryAttempt"}
    assert untracked == set()


def test_every_table_with_a_tenant_id_has_the_change_trigger(db):
    assert tables_without_change_trigger() == []


def test_create_update_and_delete_are_logged_with_actor_and_request(db, cast_a, api, stores_a):
    owner = cast_a["owner"]
    response = api(owner).patch(f"/api/v1/users/{cast_a['cashier'].pk}/", {"full_name": "Cody Cash"})
    assert response.status_code == 200
    with tenant_context(owner.tenant):
        change = ChangeEvent.objects.get(model="accounts.user", request_id=response["X-Request-ID"])
    assert change.operation == "update"
    assert change.before == {"full_name": ""} and change.after == {"full_name": "Cody Cash"}
    assert change.user_id == owner.pk and change.token_id is not None
    assert change.object_id == str(cast_a["cashier"].pk)


def test_queryset_update_is_logged(db, tenant_a, stores_a):
    with tenant_context(tenant_a):
        Store.objects.filter(pk=stores_a[0].pk).update(name="Renamed")
        change = ChangeEvent.objects.filter(model="tenants.store", operation="update").get()
    assert change.before == {"name": "Main street"} and change.after == {"name": "Renamed"}
    assert change.store_id == stores_a[0].pk
    assert change.user_id is None and change.request_id is None  # no request: the system


def test_raw_sql_update_is_logged(db, tenant_a, stores_a):
    with tenant_context(tenant_a):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE tenants_store SET address = 'Quay 1' WHERE id = %s", [stores_a[1].pk])
        change = ChangeEvent.objects.get(model="tenants.store", operation="update")
    assert change.object_id == str(stores_a[1].pk) and change.after == {"address": "Quay 1"}
    assert change.database_user == settings.KASSA_DB_ROLES["app"]  # the role that wrote it


def test_bulk_create_and_delete_are_logged(db, tenant_a):
    with tenant_context(tenant_a):
        Store.objects.bulk_create([Store(tenant=tenant_a, name=f"S{i}") for i in range(3)])
        Store.objects.filter(name__startswith="S").delete()
        operations = sorted(
            ChangeEvent.objects.filter(model="tenants.store").values_list("operation", flat=True)
        )
    assert operations == ["delete"] * 3 + ["insert"] * 3


def test_secrets_are_masked(db, cast_a):
    with tenant_context(cast_a["owner"].tenant):
        user_insert = ChangeEvent.objects.get(
            model="accounts.user", operation="insert", object_id=cast_a["cashier"].pk
        )
        key = ChangeEvent.objects.filter(model="tenants.tenantkey", operation="insert").first()
    assert user_insert.after["password"] == "[masked]"
    assert key.after["wrapped_key"] == "[masked]"


def test_secret_columns_of_models_are_known():
    from accounts.models import ApiToken, BackupCode, PasswordHistory, TotpDevice, User, UserSession
    from auditlog.tracking import masked_columns
    from tenants.models import TenantKey

    assert masked_columns(User) == ["password"]
    assert masked_columns(ApiToken) == ["token_hash"]
    assert masked_columns(PasswordHistory) == ["password"]
    assert masked_columns(UserSession) == ["key_hash"]
    assert masked_columns(BackupCode) == ["code_hash"]
    assert "secret" in masked_columns(TotpDevice)
    assert masked_columns(TenantKey) == ["wrapped_key"]


def test_another_tenants_changes_are_invisible(db, tenant_a, tenant_b, stores_a):
    with tenant_context(tenant_b):
        assert not ChangeEvent.objects.filter(model="tenants.store").exists()
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM auditlog_change WHERE tenant_id = %s", [tenant_a.pk])
            assert cursor.fetchone() == (0,)
